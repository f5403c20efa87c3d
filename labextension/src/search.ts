import type * as Leaflet from 'leaflet';
import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { api, ApiError, describeError, post } from './api';
import { clearInvalid, count, errorSlot, field, h, markInvalid } from './dom';
import { L } from './leaflet';
import { BaseMap, catalogueChanged, IMapConfig } from './map';
import { ResultsView } from './results';
import { FootprintLayer, IResultsEvents, IResultsLayerHost, IResultsMaps, IResultsOnMap } from './resultslayer';
import type { SearchRequest } from '../schema/search_request';

const AOI_STYLE = { color: '#3454d1', weight: 2, fillOpacity: 0.05 };
const COMMON = new Set(['aoi', 'start', 'end', 'max_cloud']);

/** The search form's body: SearchRequest's fields (less the paging state), and a saved AOI by name. */
type SearchForm = Omit<SearchRequest, 'page' | 'cursor'> & { aoi_name: string | null };

/** What `POST search` takes: the form, the token of a page, or the request of a page already run. */
type SearchBody = SearchForm | { token: string } | { request: SearchRequest };

interface IPage {
  type: 'FeatureCollection';
  features: any[];
  count: number;
  page: number;
  next_token: string | null;
  token: string;
  request: SearchRequest;
  notes: string[];
  provider: string;
}

/** No AI4GEO Map to show the results on (the panel alone). */
const NO_MAPS: IResultsMaps = { current: () => null, open: async () => null };

/**
 * The search panel: a map to draw or load an AOI, the search form, the results (a date histogram that filters a
 * sortable table, and footprints) with pages, quicklooks drawn on their footprints, download of the selection with
 * progress, and the code of the search for a notebook. The results are drawn on the AI4GEO Map last used too.
 * All searching happens on the server (the core API); this panel only holds the page tokens of its own results.
 */
export class SearchPanel extends Widget {
  private base: BaseMap | null = null;
  private aoiLayer: Leaflet.FeatureGroup;
  private drawing: FootprintLayer | null = null; // the results on the panel's own map
  private aoi: any = null; // GeoJSON geometry
  private aoiName: string | null = null; // set when the AOI is a saved one
  private page: IPage | null = null;
  private history: SearchRequest[] = []; // requests of the pages before this one
  private pages = 0; // pages shown so far: the key of the one shown
  private selected = new Set<string>();
  private shown = new Set<string>(); // the items the date range keeps
  private looks = new Map<string, string>(); // quicklooks drawn on their footprints: id → image URL
  private lookUrls = new Map<string, string>();
  private host: IResultsLayerHost | null = null; // the AI4GEO Map the results were last sent to
  private onHost = false; // whether that map shows them
  private mapEvents: IResultsEvents = {
    select: id => this.toggle(id),
    gone: () => {
      this.onHost = false;
      this.updateShowOnMap();
    }
  };
  private drawn = 0;

  private mapNode = h('div', { class: 'ai4geo-map' });
  private aoiStatus = h('div', { class: 'ai4geo-aoi-status' }, 'AOI: none — draw a rectangle or polygon');
  private aoiWarning = h('div', { class: 'ai4geo-warning ai4geo-aoi-warning', role: 'status' });
  private aoiError = errorSlot('ai4geo-field-error ai4geo-aoi-error');
  private savedSelect = h('select', { class: 'ai4geo-saved' });
  private aoiNameInput = h('input', { type: 'text', placeholder: 'name', class: 'ai4geo-aoi-name' });
  private nameTyped = false; // the name field holds what the user typed (not a proposal of the panel)
  private aoiShape: Leaflet.Layer | null = null; // the AOI as drawn on the map (editable)
  private editButton = h('button', { class: 'jp-Button ai4geo-button ai4geo-edit-aoi', disabled: true,
    title: 'Move the corners of the AOI on the map' }, 'Edit');
  private fileInput = h('input', { type: 'file', accept: '.geojson,.json,.gpkg,.kml,.kmz,.zip,.fgb' });
  private provider = h('select', { class: 'ai4geo-provider' });
  private collection = h('input', { type: 'text', list: 'ai4geo-collections', class: 'ai4geo-collection' });
  private collectionList = h('datalist', { id: 'ai4geo-collections' });
  private start = h('input', { type: 'date', class: 'ai4geo-start' });
  private end = h('input', { type: 'date', class: 'ai4geo-end' });
  private maxCloud = h('input', { type: 'number', min: '0', max: '100', step: '1', class: 'ai4geo-max-cloud' });
  private limit = h('input', { type: 'number', min: '1', max: '500', value: '20', class: 'ai4geo-limit' });
  private extra = h('div', { class: 'ai4geo-queryables' });
  private status = h('div', { class: 'ai4geo-status' });
  private summary = h('div', { class: 'ai4geo-summary' });
  private results = new ResultsView({
    toggle: (id, on) => this.toggle(id, on),
    focus: id => this.focus(id),
    hover: (id, on) => this.hover(id, on),
    quicklook: (id, show) => this.quicklook(id, show),
    filtered: visible => this.filterFootprints(visible)
  });
  private prevButton = h('button', { class: 'jp-Button ai4geo-prev', disabled: true }, '◀ Previous');
  private nextButton = h('button', { class: 'jp-Button ai4geo-next', disabled: true }, 'Next ▶');
  private downloadButton = h('button', { class: 'jp-Button ai4geo-download', disabled: true }, 'Download selected');
  private showOnMapButton = h('button', { class: 'jp-Button ai4geo-show-on-map', hidden: true,
    title: 'Draw the results on the AI4GEO Map (a map is opened if none is)' }, 'Show on map');
  private progress = h('progress', { class: 'ai4geo-progress', max: 1, value: 0, hidden: true });
  private progressText = h('div', { class: 'ai4geo-progress-text' });
  private localCatalogs = 0;
  private emptyError = h('div', { class: 'ai4geo-empty-error ai4geo-error', role: 'alert' });
  private empty = h(
    'div',
    { class: 'ai4geo-empty-catalogue', hidden: true },
    h('p', { class: 'ai4geo-empty-title' }, 'The local catalogue has no data yet.'),
    h(
      'p',
      {},
      'It searches STAC catalogues on this computer, with no network. Add a folder holding a catalog.json — ' +
        'the sample city that `ai4geo demo` makes is in demo-out/sample.'
    ),
    h(
      'button',
      { class: 'jp-Button jp-mod-styled jp-mod-accept ai4geo-add-catalogue', onclick: () => void this.addCatalogue() },
      'Add a catalogue folder…'
    ),
    this.emptyError
  );

  private started = false;

  constructor(
    private insertCode: (code: string) => Promise<void>,
    private config: () => Promise<IMapConfig>,
    private currentFolder: () => string = () => '',
    private maps: IResultsMaps = NO_MAPS
  ) {
    super();
    this.id = 'ai4geo-search';
    this.addClass('ai4geo-panel');
    this.addClass('ai4geo-lab-search');
    this.title.caption = 'AI4GEO search';
    this.aoiLayer = L.featureGroup();
    this.build();
  }

  private build(): void {
    const node = this.node;
    const button = (label: string, cls: string, onclick: () => void) =>
      h('button', { class: `jp-Button ai4geo-button ${cls}`, onclick }, label);
    node.append(
      h('h2', {}, 'AI4GEO search'),
      this.mapNode,
      this.aoiStatus,
      this.aoiWarning,
      h(
        'div',
        { class: 'ai4geo-row' },
        this.editButton,
        button('Clear', 'ai4geo-clear-aoi', () => this.clearAOI())
      ),
      h(
        'div',
        { class: 'ai4geo-row' },
        this.savedSelect,
        button('Load', 'ai4geo-load-aoi', () => void this.loadSaved()),
        button('Delete', 'ai4geo-delete-aoi', () => void this.deleteSaved())
      ),
      h(
        'div',
        { class: 'ai4geo-row' },
        this.aoiNameInput,
        button('Save AOI', 'ai4geo-save-aoi', () => void this.saveAOI())
      ),
      this.aoiError,
      h('div', { class: 'ai4geo-row' }, field('Upload AOI file', this.fileInput, 'ai4geo-upload')),
      field('Provider', this.provider),
      this.empty,
      field('Collection', this.collection),
      this.collectionList,
      h('div', { class: 'ai4geo-row' }, field('Start', this.start), field('End', this.end)),
      h('div', { class: 'ai4geo-row' }, field('Max cloud %', this.maxCloud), field('Per page', this.limit)),
      this.extra,
      h(
        'div',
        { class: 'ai4geo-row' },
        button('Search', 'ai4geo-search-button jp-mod-styled jp-mod-accept', () => void this.search()),
        button('Insert code', 'ai4geo-insert', () => void this.insert())
      ),
      this.status,
      h('div', { class: 'ai4geo-row ai4geo-summary-row' }, this.summary, this.showOnMapButton),
      this.results.node,
      h('div', { class: 'ai4geo-row' }, this.prevButton, this.nextButton, this.downloadButton),
      this.progress,
      this.progressText
    );
    this.prevButton.onclick = () => void this.previous();
    this.nextButton.onclick = () => void this.next();
    this.downloadButton.onclick = () => void this.download();
    this.showOnMapButton.onclick = () => void this.showOnMap();
    this.fileInput.onchange = () => void this.upload();
    this.aoiNameInput.oninput = () => (this.nameTyped = this.aoiNameInput.value.trim() !== '');
    this.editButton.onclick = () => this.toggleEdit();
    this.provider.onchange = () => void this.refreshCollections();
    this.collection.onchange = () => void this.refreshQueryables();
  }

  /** Start the map and fill the form (called once the panel is attached and has a size). */
  async init(config: IMapConfig): Promise<void> {
    this.base = new BaseMap(this.mapNode, config);
    this.base.onModeChange = (_mode, reason) => this.mapNode.setAttribute('data-base', `offline: ${reason}`);
    this.mapNode.setAttribute('data-base', this.base.mode);
    const map = this.base.map;
    this.aoiLayer.addTo(map);
    this.drawing = new FootprintLayer(map, id => this.toggle(id));
    map.pm.addControls({
      position: 'topleft',
      drawMarker: false,
      drawCircleMarker: false,
      drawPolyline: false,
      drawCircle: false,
      drawText: false,
      drawRectangle: true,
      drawPolygon: true,
      editMode: false,
      dragMode: false,
      cutPolygon: false,
      rotateMode: false,
      removalMode: false
    });
    map.pm.setPathOptions(AOI_STYLE);
    // no snapping: the graticule and footprints would pull corners onto their lines
    map.pm.setGlobalOptions({ snappable: false } as any);
    // while drawing, clicks go to the drawing, not to the footprints under it
    map.on('pm:drawstart', () => map.getContainer().classList.add('ai4geo-drawing'));
    map.on('pm:drawend', () => map.getContainer().classList.remove('ai4geo-drawing'));
    map.on('pm:create', (e: any) => {
      const layer = e.layer as Leaflet.Polygon;
      map.removeLayer(layer);
      this.drawn += 1;
      this.setAOI(layer.toGeoJSON().geometry, null, `drawn-${this.drawn}`);
    });
    await Promise.all([this.refreshProviders(), this.refreshSaved()]);
    this.node.dataset.ready = 'true';
  }

  /** The map of the panel (for tests and other plugins). */
  get leafletMap(): Leaflet.Map | null {
    return this.base?.map ?? null;
  }

  protected onAfterShow(): void {
    if (!this.started) {
      this.started = true;
      void this.config().then(cfg => this.init(cfg)).catch(err => this.say(describeError(err), true));
    }
    this.base?.refresh();
  }

  protected onResize(): void {
    this.base?.refresh();
  }

  private say(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('ai4geo-error', error);
  }

  /** The inputs of the form by the names the server gives fields at fault (and where their message goes). */
  private fieldInput(name: string): [HTMLElement, HTMLElement | null] | null {
    const inputs: Record<string, [HTMLElement, HTMLElement | null]> = {
      collection: [this.collection, null], provider: [this.provider, null], start: [this.start, null],
      end: [this.end, null], max_cloud: [this.maxCloud, null], limit: [this.limit, null], file: [this.fileInput, null],
      aoi: [this.aoiStatus, this.aoiError], aoi_name: [this.savedSelect, this.aoiError],
      name: [this.aoiNameInput, this.aoiError]
    };
    if (inputs[name]) {
      return inputs[name];
    }
    const key = name.startsWith('queryables.') ? name.slice('queryables.'.length) : null;
    const input = key ? this.extra.querySelector<HTMLElement>(`[data-queryable="${CSS.escape(key)}"]`) : null;
    return input ? [input, null] : null;
  }

  /** An error beside the fields it concerns (the status line says where to look), else in the status line. */
  private showError(err: unknown): void {
    const fields = err instanceof ApiError ? Object.entries(err.fields) : [];
    let marked = 0;
    for (const [name, message] of fields) {
      const found = this.fieldInput(name);
      if (found) {
        const own = err instanceof ApiError && err.hint && err.body?.type !== 'ValidationError';
        const hint = fields.length === 1 && own ? ` — ${(err as ApiError).hint}` : '';
        markInvalid(found[0], message + hint, found[1]);
        marked += 1;
      }
    }
    if (marked) {
      this.say(marked > 1 ? 'correct the marked fields' : 'correct the marked field', true);
    } else {
      this.say(describeError(err), true);
    }
  }

  // ---- AOI ------------------------------------------------------------------------------------------------
  private setAOI(geometry: any, savedName: string | null, suggested?: string, warnings: string[] = []): void {
    this.aoi = geometry;
    this.aoiName = savedName;
    this.stopEdit();
    this.aoiLayer.clearLayers();
    const shape = L.geoJSON(geometry, { style: AOI_STYLE, interactive: false, pmIgnore: false } as any);
    this.aoiLayer.addLayer(shape);
    this.aoiShape = shape;
    this.editButton.disabled = false;
    this.aoiWarning.textContent = warnings.join(' ');
    clearInvalid(this.aoiStatus.parentElement ?? this.node);
    const b = shape.getBounds();
    if (!this.base!.map.getBounds().contains(b)) {
      this.base!.map.fitBounds(b, { maxZoom: 17 });
    }
    const sw = b.getSouthWest(), ne = b.getNorthEast();
    const where = `${sw.lng.toFixed(5)}, ${sw.lat.toFixed(5)}, ${ne.lng.toFixed(5)}, ${ne.lat.toFixed(5)}`;
    this.aoiStatus.textContent = savedName ? `AOI: ${savedName} (saved) — ${where}` : `AOI: drawn — ${where}`;
    this.aoiStatus.dataset.aoi = savedName ?? 'drawn';
    if (suggested && (!this.nameTyped || /^drawn-\d+$/.test(this.aoiNameInput.value))) {
      this.aoiNameInput.value = suggested;
      this.nameTyped = false;
    } else if (savedName) {
      this.aoiNameInput.value = savedName;
      this.nameTyped = false;
    }
  }

  /** Forget the AOI: the next search is over everywhere. */
  private clearAOI(): void {
    this.stopEdit();
    this.aoi = null;
    this.aoiName = null;
    this.aoiShape = null;
    this.aoiLayer.clearLayers();
    this.editButton.disabled = true;
    this.aoiWarning.textContent = '';
    this.aoiStatus.textContent = 'AOI: none — draw a rectangle or polygon';
    this.aoiStatus.dataset.aoi = 'none';
  }

  /** Edit the AOI's corners on the map (again: done); an edited AOI is a drawn one until it is saved. */
  private toggleEdit(): void {
    const layers = (this.aoiShape as Leaflet.GeoJSON | null)?.getLayers() ?? [];
    const shape = layers[0] as any;
    if (!shape?.pm) {
      return;
    }
    if (shape.pm.enabled()) {
      this.stopEdit();
      return;
    }
    shape.pm.enable({ snappable: false, allowSelfIntersection: false });
    shape.on('pm:edit', () => {
      this.aoi = shape.toGeoJSON().geometry;
      this.aoiName = null;
      this.aoiStatus.dataset.aoi = 'drawn';
      this.aoiStatus.textContent = 'AOI: drawn (edited) — save it to keep it';
    });
    this.editButton.textContent = 'Done';
    this.editButton.classList.add('jp-mod-styled', 'jp-mod-accept');
    this.aoiStatus.dataset.editing = 'true';
  }

  private stopEdit(): void {
    ((this.aoiShape as Leaflet.GeoJSON | null)?.getLayers() ?? []).forEach((l: any) => {
      l.pm?.disable();
      l.off('pm:edit');
    });
    this.editButton.textContent = 'Edit';
    this.editButton.classList.remove('jp-mod-styled', 'jp-mod-accept');
    delete this.aoiStatus.dataset.editing;
  }

  /** Delete the saved AOI chosen in the list, once confirmed. */
  private async deleteSaved(): Promise<void> {
    const name = this.savedSelect.value;
    if (!name) {
      markInvalid(this.savedSelect, 'choose a saved AOI to delete', this.aoiError);
      return;
    }
    const answer = await showDialog({
      title: 'Delete a saved AOI',
      body: `Delete the AOI '${name}'? Notebooks that load it by name will not find it.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await api(`aois/${encodeURIComponent(name)}`, { method: 'DELETE' });
      if (this.aoiName === name) {
        this.aoiName = null; // the shape stays, as a drawn one
        this.aoiStatus.dataset.aoi = 'drawn';
      }
      await this.refreshSaved();
      this.say(`AOI '${name}' deleted`);
    } catch (err) {
      this.showError(err);
    }
  }

  /**
   * Save with `body`; a name already saved is replaced only once the user says so (null: not saved).
   */
  private async saveWithConfirm(body: Record<string, any>): Promise<any | null> {
    try {
      return await post('aois', { ...body, overwrite: false });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 409) {
        throw err;
      }
      const name = body.name || (err.body?.error?.match(/'([^']+)'/)?.[1] ?? '');
      const answer = await showDialog({
        title: 'Replace a saved AOI',
        body: `An AOI named '${name}' is already saved. Replace it?`,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Replace' })]
      });
      if (!answer.button.accept) {
        markInvalid(this.aoiNameInput, `'${name}' is already saved: choose another name, or replace it`,
          this.aoiError);
        if (!body.name) {
          this.aoiNameInput.value = name;
        }
        return null;
      }
      return await post('aois', { ...body, overwrite: true });
    }
  }

  private async refreshSaved(select?: string): Promise<void> {
    const aois = await api<{ name: string }[]>('aois');
    this.savedSelect.replaceChildren(
      h('option', { value: '' }, aois.length ? 'saved AOIs…' : 'no saved AOI'),
      ...aois.map(a => h('option', { value: a.name }, a.name))
    );
    if (select) {
      this.savedSelect.value = select;
    }
  }

  private async loadSaved(): Promise<void> {
    const name = this.savedSelect.value;
    if (!name) {
      return;
    }
    try {
      const found = await api(`aois/${encodeURIComponent(name)}`);
      this.setAOI(found.feature.geometry, name);
      this.say(`AOI '${name}' loaded (${found.area_km2.toFixed(3)} km²)`);
    } catch (err) {
      this.showError(err);
    }
  }

  /** Save the current AOI under the name field (the code then names it); returns the name. */
  private async saveAOI(): Promise<string | null> {
    if (!this.aoi) {
      this.say('draw, load or upload an AOI first', true);
      return null;
    }
    const name = this.aoiNameInput.value.trim() || `drawn-${this.drawn || 1}`;
    clearInvalid(this.node);
    try {
      const saved = await this.saveWithConfirm({ name, geometry: this.aoi });
      if (!saved) {
        this.say('AOI not saved');
        return null;
      }
      this.setAOI(saved.feature.geometry, name, undefined, saved.warnings);
      await this.refreshSaved(name);
      this.say(`AOI saved as '${name}'`);
      return name;
    } catch (err) {
      this.showError(err);
      return null;
    }
  }

  private async upload(): Promise<void> {
    const file = this.fileInput.files?.[0];
    if (!file) {
      return;
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    clearInvalid(this.node);
    try {
      // the name the user typed, else the server's: the file's name
      const name = this.nameTyped ? this.aoiNameInput.value.trim() : '';
      const saved = await this.saveWithConfirm({ name, filename: file.name, content: btoa(binary) });
      if (!saved) {
        this.say(`${file.name} not saved`);
        return;
      }
      this.setAOI(saved.feature.geometry, saved.name, undefined, saved.warnings);
      await this.refreshSaved(saved.name);
      this.say(`AOI '${saved.name}' read from ${file.name} and saved (${saved.area_km2.toFixed(3)} km²)`);
    } catch (err) {
      this.showError(err);
    } finally {
      this.fileInput.value = '';
    }
  }

  // ---- form -----------------------------------------------------------------------------------------------
  private async refreshProviders(): Promise<void> {
    try {
      const providers = await api<{ name: string; kind: string; offline: boolean; catalogs?: number }[]>('providers');
      this.localCatalogs = providers.find(p => p.name === 'local')?.catalogs ?? 0;
      this.provider.replaceChildren(
        h('option', { value: '' }, 'automatic'),
        ...providers.map(p => h('option', { value: p.name }, p.offline ? `${p.name} (offline)` : p.name))
      );
      if (providers.some(p => p.name === 'local')) {
        this.provider.value = 'local';
      }
      await this.refreshCollections();
    } catch (err) {
      this.say(describeError(err), true);
    }
  }

  /** Ask for a folder of the Lab's root holding a STAC catalogue, and add it to the local catalogue. */
  private async addCatalogue(): Promise<void> {
    const answer = await InputDialog.getText({
      title: 'Add a catalogue folder',
      label: 'Folder holding a catalog.json, relative to the folder JupyterLab was started in:',
      text: this.currentFolder(),
      placeholder: 'e.g. demo-out/sample',
      okLabel: 'Add'
    });
    if (!answer.button.accept || answer.value === null) {
      return;
    }
    const path = answer.value.trim();
    if (!path) {
      this.emptyError.textContent = 'Give a folder, e.g. demo-out/sample.';
      return;
    }
    try {
      const found = await post<{ items: number; catalogs: { title: string }[] }>('catalog/local', { path });
      this.emptyError.textContent = '';
      const title = found.catalogs[found.catalogs.length - 1]?.title ?? path;
      await this.refreshProviders();
      this.say(`catalogue '${title}' added to the local catalogue (${count(found.items, 'item')} in all)`);
      catalogueChanged(); // every map draws the new extent
      if (this.base) {
        await this.base.showCatalogue();
        this.base.zoomToCatalogue();
      }
    } catch (err) {
      this.emptyError.textContent = describeError(err);
    }
  }

  private async refreshCollections(): Promise<void> {
    const provider = this.provider.value;
    const isEmpty = provider === 'local' && this.localCatalogs === 0;
    this.empty.hidden = !isEmpty;
    this.node.dataset.catalogue = isEmpty ? 'empty' : 'ready';
    if (isEmpty) {
      this.collectionList.replaceChildren();
      this.collection.value = '';
      this.extra.replaceChildren();
      this.say('');
      return;
    }
    try {
      const found = await api<{ id: string; title: string }[]>(
        `collections${provider ? `?provider=${encodeURIComponent(provider)}` : ''}`
      );
      this.collectionList.replaceChildren(...found.map(c => h('option', { value: c.id }, c.title)));
      if (found.length && !found.some(c => c.id === this.collection.value)) {
        this.collection.value = found[0].id;
      }
      this.collection.dataset.count = String(found.length);
      await this.refreshQueryables();
    } catch (err) {
      this.say(describeError(err), true);
    }
  }

  private async refreshQueryables(): Promise<void> {
    const collection = this.collection.value.trim();
    this.extra.replaceChildren();
    if (!collection) {
      return;
    }
    try {
      const provider = this.provider.value;
      const q = await api<Record<string, any>>(
        `queryables?collection=${encodeURIComponent(collection)}` +
          (provider ? `&provider=${encodeURIComponent(provider)}` : '')
      );
      for (const [key, schema] of Object.entries(q)) {
        if (COMMON.has(key)) {
          continue;
        }
        const options: any[] | undefined = schema.enum;
        const input = options
          ? h('select', { dataset: { queryable: key } }, h('option', { value: '' }, ''),
              ...options.map(o => h('option', { value: String(o) }, String(o))))
          : h('input', {
              type: schema.type === 'number' || schema.type === 'integer' ? 'number' : 'text',
              dataset: { queryable: key, kind: schema.type ?? 'string' }
            });
        this.extra.append(field(schema.label ?? schema.title ?? key, input, 'ai4geo-queryable'));
      }
    } catch {
      // no queryables: the common fields still work
    }
  }

  private formBody(): SearchForm {
    const queryables: Record<string, any> = {};
    this.extra.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-queryable]').forEach(el => {
      if (el.value !== '') {
        const kind = el.dataset.kind;
        queryables[el.dataset.queryable!] = kind === 'number' || kind === 'integer' ? Number(el.value) : el.value;
      }
    });
    return {
      collection: this.collection.value.trim(),
      provider: this.provider.value || null,
      start: this.start.value || null,
      end: this.end.value || null,
      max_cloud: this.maxCloud.value === '' ? null : Number(this.maxCloud.value),
      limit: Number(this.limit.value || 20),
      queryables,
      aoi: this.aoiName ? null : this.aoi,
      aoi_name: this.aoiName
    };
  }

  // ---- search and results --------------------------------------------------------------------------------
  async search(): Promise<void> {
    this.history = [];
    await this.run(this.formBody());
  }

  private async next(): Promise<void> {
    if (this.page?.next_token) {
      this.history.push(this.page.request);
      await this.run({ token: this.page.next_token });
    }
  }

  private async previous(): Promise<void> {
    const request = this.history.pop();
    if (request) {
      await this.run({ request });
    }
  }

  private async run(body: SearchBody): Promise<void> {
    this.say('searching…');
    clearInvalid(this.node);
    this.node.dataset.searching = 'true';
    try {
      const page = await post<IPage>('search', body);
      this.showPage(page);
      this.say(page.notes.join(' '));
    } catch (err) {
      this.clearResults(); // no results of another search left on screen as if they answered this one
      this.showError(err);
    } finally {
      delete this.node.dataset.searching;
    }
  }

  /** Take the results away (after an error): none stay on screen as if they answered the last search. */
  private clearResults(): void {
    if (!this.page) {
      return;
    }
    this.page = null;
    this.pages += 1;
    this.history = [];
    this.selected.clear();
    this.looks.clear();
    this.lookUrls.clear();
    this.shown = new Set();
    this.results.show([]);
    this.summary.textContent = '';
    this.summary.dataset.count = '';
    this.prevButton.disabled = true;
    this.nextButton.disabled = true;
    this.downloadButton.disabled = true;
    this.drawing?.update({ key: String(this.pages), features: [], shown: this.shown, selected: this.selected,
      looks: this.looks, summary: '' });
    this.mapNode.dataset.footprints = '0';
    if (this.host && !this.host.isDisposed) {
      this.host.showResults(null, this.mapEvents);
    }
    this.onHost = false;
    this.updateShowOnMap();
  }

  private showPage(page: IPage): void {
    this.page = page;
    this.pages += 1;
    this.selected.clear();
    this.looks.clear();
    this.lookUrls.clear();
    this.shown = new Set(page.features.map(f => f.id));
    this.results.show(page.features); // its date range (the whole page) comes back through filterFootprints
    const more = page.next_token ? ', more on the next page' : '';
    this.summary.textContent = `${count(page.count, 'item')} (page ${page.page}${more}) from ${page.provider}`;
    this.summary.dataset.count = String(page.count);
    this.prevButton.disabled = this.history.length === 0;
    this.nextButton.disabled = !page.next_token;
    this.downloadButton.disabled = true;
    const bounds = this.drawing?.bounds();
    if (bounds && !this.aoi) {
      this.base!.map.fitBounds(bounds, { maxZoom: 17 });
    }
  }

  /** The results as the maps draw them (null before the first search). */
  private resultsState(): IResultsOnMap | null {
    const page = this.page;
    if (!page) {
      return null;
    }
    return {
      key: String(this.pages), features: page.features, shown: this.shown, selected: this.selected,
      looks: this.looks, summary: `page ${page.page} · ${page.provider}`
    };
  }

  /** Draw the results as they are now on the panel's map and on the AI4GEO Map last used (if one is open). */
  private sync(reveal = false): void {
    const state = this.resultsState();
    if (state) {
      this.drawing?.update(state);
    }
    this.mapNode.dataset.footprints = String(this.shown.size);
    this.sendToMap(this.maps.current(), state, reveal);
  }

  private sendToMap(host: IResultsLayerHost | null, state: IResultsOnMap | null, reveal: boolean): void {
    if (this.host && this.host !== host && !this.host.isDisposed) {
      this.host.showResults(null, this.mapEvents); // the results move to the map now in use
    }
    this.host = host && !host.isDisposed ? host : null;
    this.onHost = this.host && state ? this.host.showResults(state, this.mapEvents, reveal) : false;
    this.updateShowOnMap();
  }

  /** "Show on map" stays offered while the results are not on the map in use (none open, or removed from it). */
  updateShowOnMap(): void {
    const current = this.maps.current();
    const shown = this.onHost && this.host !== null && !this.host.isDisposed && this.host === current;
    this.showOnMapButton.hidden = !this.page || shown;
  }

  /** Draw the results on the map last used, brought forward, or on a new AI4GEO Map. */
  private async showOnMap(): Promise<void> {
    try {
      const host = await this.maps.open();
      if (!host) {
        this.say('no AI4GEO Map could be opened', true);
        return;
      }
      this.sendToMap(host, this.resultsState(), true);
    } catch (err) {
      this.say(describeError(err), true);
    }
  }

  private hover(id: string, on: boolean): void {
    this.drawing?.hover(id, on);
  }

  private toggle(id: string, on?: boolean): void {
    const want = on ?? !this.selected.has(id);
    if (want) {
      this.selected.add(id);
    } else {
      this.selected.delete(id);
    }
    this.sync();
    this.results.setSelected(id, want);
    this.downloadButton.disabled = this.selected.size === 0;
    this.downloadButton.textContent = this.selected.size ? `Download selected (${this.selected.size})` :
      'Download selected';
  }

  /** A row was clicked: its item is selected and the map zooms to its footprint. */
  private focus(id: string): void {
    this.toggle(id, true);
    const bounds = this.drawing?.boundsOf(id);
    if (bounds && this.base) {
      this.base.map.fitBounds(bounds, { maxZoom: 17, padding: [20, 20] });
      this.drawing!.bringToFront(id);
    }
  }

  /** Only the footprints (and quicklooks) of the rows shown stay on the maps. */
  private filterFootprints(visible: Set<string>): void {
    this.shown = new Set(visible);
    this.sync();
  }

  /** Draw (or take away) the item's quicklook on its footprint; resolves to whether it is drawn. */
  private async quicklook(id: string, show: boolean): Promise<boolean> {
    if (!show) {
      this.looks.delete(id);
      this.sync();
      return false;
    }
    const bounds = this.drawing?.boundsOf(id);
    if (!bounds || !this.base || !this.page) {
      return false;
    }
    try {
      let url = this.lookUrls.get(id);
      if (!url) {
        const urls = await post<Record<string, string>>('quicklooks', { request: this.page.request, ids: [id] });
        url = urls[id];
      }
      if (!url) {
        this.say(`no quicklook for ${id}`);
        return false;
      }
      this.lookUrls.set(id, url);
      this.looks.set(id, url);
      this.sync();
      this.drawing!.bringToFront(id);
      if (!this.base.map.getBounds().intersects(bounds)) {
        this.base.map.fitBounds(bounds, { maxZoom: 17 });
      }
      return true;
    } catch (err) {
      this.say(describeError(err), true);
      return false;
    }
  }

  private async download(): Promise<void> {
    if (!this.page || this.selected.size === 0) {
      return;
    }
    const ids = [...this.selected];
    this.downloadButton.disabled = true;
    this.progress.hidden = false;
    this.progress.max = 1;
    this.progress.value = 0;
    this.progressText.classList.remove('ai4geo-error');
    this.progressText.textContent = `downloading ${count(ids.length, 'item')}…`;
    try {
      let job = await post('downloads', { request: this.page.request, ids });
      while (job.state === 'running') {
        this.showProgress(job);
        await new Promise(resolve => setTimeout(resolve, 400));
        job = await api(`downloads/${job.id}`);
      }
      this.showProgress(job);
      if (job.state === 'error') {
        this.progressText.textContent = `download failed: ${job.error.error}${job.error.hint ? ` — ${job.error.hint}` : ''}`;
        this.progressText.classList.add('ai4geo-error');
      } else {
        const n = Object.values(job.files as Record<string, string[]>).reduce((a, f) => a + f.length, 0);
        this.progress.max = 1; // full: the bar of a finished download
        this.progress.value = 1;
        this.progressText.classList.remove('ai4geo-error');
        this.progressText.textContent = `downloaded ${count(n, 'file')} of ${count(job.items, 'item')} in ${job.seconds} s, ` +
          'recorded in the workspace inventory';
      }
      this.progressText.dataset.state = job.state;
    } catch (err) {
      this.progressText.textContent = describeError(err);
      this.progressText.dataset.state = 'error';
    } finally {
      this.downloadButton.disabled = this.selected.size === 0;
    }
  }

  private showProgress(job: any): void {
    if (job.total_bytes) {
      this.progress.max = job.total_bytes;
      this.progress.value = job.done_bytes;
      const mb = (n: number) => (n / 2 ** 20).toFixed(1);
      this.progressText.textContent = `${mb(job.done_bytes)} / ${mb(job.total_bytes)} MB — ${job.current}`;
    } else {
      this.progress.removeAttribute('value');
      this.progressText.textContent = `${count(job.files_done, 'file')} — ${job.current}`;
    }
  }

  // ---- code ----------------------------------------------------------------------------------------------
  private async insert(): Promise<void> {
    if (this.aoi && !this.aoiName) {
      const saved = await this.saveAOI(); // the code names a saved AOI, never a long WKT
      if (!saved) {
        return;
      }
    }
    try {
      const { code } = await post<{ code: string }>('code', this.formBody());
      await this.insertCode(code);
      this.say('code inserted into the notebook');
    } catch (err) {
      this.say(describeError(err), true);
    }
  }
}
