import type * as Leaflet from 'leaflet';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';
import { api, ApiError, describeError as describeApiError } from './api';
import { h } from './dom';
import { L } from './leaflet';
import { BaseMap, IMapConfig } from './map';
import {
  FOOTPRINT_COLOUR, FootprintLayer, IResultsEvents, IResultsLayerHost, IResultsOnMap, SELECTED_COLOUR
} from './resultslayer';

/** What `raster/info` answers. */
export interface IRasterInfo {
  path: string;
  bounds: [number, number, number, number];
  crs: string;
  width: number;
  height: number;
  count: number;
  dtype: string;
  kind: string;
  range: [number | null, number | null];
  stamp: string;
  legend:
    | { type: 'ramp'; unit: string; stops: { value: number; color: string }[] }
    | { type: 'classes'; name: string; items: { value: number; label: string; color: string }[] }
    | { type: 'image'; label: string };
}

interface IValue {
  inside: boolean;
  value: number | null;
  values: (number | null)[] | null;
  label: string | null;
}

/** The summary `vector` sends with its features (the FeatureCollection's `ai4geo` member). */
export interface IVectorInfo {
  name: string;
  count: number;
  bounds: [number, number, number, number] | null;
  crs: string;
  geometry_types: string[];
  columns: string[];
}

/** What `stac/layers` answers: the layers of the products a STAC catalogue lists. */
export interface ICatalogueLayers {
  path: string;
  title: string;
  items: number;
  layers: { path: string; type: 'raster' | 'vector'; title: string; item: string; asset: string }[];
  left_out: string[];
}

/** The layers of one STAC catalogue, together under its title in the layer list. */
interface IGroup {
  path: string;
  title: string;
  node: HTMLElement;
  body: HTMLElement;
}

/** A layer as the workspace keeps it. */
export interface ISavedLayer {
  path: string;
  type: 'raster' | 'vector';
  opacity: number;
  visible: boolean;
}

/** A map as the workspace keeps it: its view and its layers, bottom to top (a catalogue's layers together). */
export interface ISavedMap {
  center: [number, number];
  zoom: number;
  entries: ({ kind: 'layer' } & ISavedLayer | { kind: 'catalogue'; path: string; layers: ISavedLayer[] })[];
}

/** Where a map keeps its state (JupyterLab's state DB, saved with the workspace). */
export interface IMapStore {
  load(): Promise<ISavedMap | null>;
  save(state: ISavedMap): void;
}

/** How a layer is added: into a catalogue's group, and whether the map zooms to it. */
interface IAddOptions {
  group?: IGroup;
  fit?: boolean;
}

/** A layer of the map: a raster (tiles coloured by the server) or a vector file (features drawn on a canvas). */
interface IMapLayer {
  path: string;
  type: 'raster' | 'vector';
  group: IGroup | null;
  info: IRasterInfo | null; // rasters only
  layer: Leaflet.Layer;
  bounds: Leaflet.LatLngBounds;
  node: HTMLElement;
  opacity: number;
  visible: boolean;
  setOpacity: (value: number) => void;
}

/** The search results on the map: one entry of the layer list, transient (not kept with the workspace). */
interface IResultsEntry {
  state: IResultsOnMap;
  events: IResultsEvents;
  drawing: FootprintLayer | null;
  node: HTMLElement;
  meta: HTMLElement;
  visible: boolean;
}

/** File names the map opens: GeoTIFF rasters, and vectors. */
export const RASTER_FILE = /\.tiff?$/i;
export const VECTOR_FILE = /\.(gpkg|geojson|fgb|shp)$/i;
/** STAC catalogues, collections and items are JSON (the server checks they are STAC). */
export const STAC_FILE = /\.json$/i;

/** One colour per vector layer, in the order they are opened (distinct on the light offline base and on rasters). */
const VECTOR_COLOURS = ['#e6194b', '#1f77b4', '#ff7f0e', '#9b30d9', '#00a3a3', '#d62790', '#6b8e23', '#8c564b'];

const HOVER_MS = 150;

/** An error in one line: the server's message and hint, or a message of the map itself. */
function describeError(err: unknown): string {
  return err instanceof Error && !(err instanceof ApiError) ? err.message : describeApiError(err);
}

function query(params: Record<string, string | number>): string {
  return Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4);
}

/** The legend of a raster layer: a colour bar with its values, class swatches, or the bands shown. */
function legendNode(info: IRasterInfo): HTMLElement {
  const legend = info.legend;
  if (legend.type === 'ramp') {
    const stops = legend.stops;
    const lo = stops[0].value;
    const hi = stops[stops.length - 1].value;
    const gradient = stops.map(s => `${s.color} ${((100 * (s.value - lo)) / (hi - lo || 1)).toFixed(1)}%`);
    const unit = legend.unit ? ` ${legend.unit}` : '';
    return h(
      'div',
      { class: 'ai4geo-legend ai4geo-legend-ramp' },
      h('div', { class: 'ai4geo-legend-bar', style: `background: linear-gradient(to right, ${gradient.join(', ')})` }),
      h(
        'div',
        { class: 'ai4geo-legend-ends' },
        h('span', {}, `${formatNumber(lo)}${unit}`),
        h('span', {}, `${formatNumber(hi)}${unit}`)
      )
    );
  }
  if (legend.type === 'classes') {
    return h(
      'ul',
      { class: 'ai4geo-legend ai4geo-legend-classes' },
      ...legend.items.map(item =>
        h(
          'li',
          { dataset: { value: String(item.value) } },
          h('span', { class: 'ai4geo-swatch', style: `background: ${item.color}` }),
          h('span', {}, `${item.value} ${item.label}`)
        )
      )
    );
  }
  return h('div', { class: 'ai4geo-legend ai4geo-legend-image' }, legend.label);
}

/** A feature's attributes, for its pop-up (values as text: nothing of the file is read as HTML). */
function propertiesNode(name: string, feature: any): HTMLElement {
  const props = Object.entries(feature.properties ?? {});
  return h(
    'div',
    { class: 'ai4geo-feature' },
    h('div', { class: 'ai4geo-feature-title' }, `${name} · feature ${feature.id}`),
    h(
      'table',
      {},
      ...props.map(([k, v]) =>
        h('tr', {}, h('th', {}, k), h('td', {}, v === null || v === undefined ? '–' : String(v)))
      )
    )
  );
}

/**
 * The map document: rasters of the server's root folder as tile layers (coloured by the server per product kind)
 * over the configured base map or the offline one, with a layer list (legend, opacity, remove) and the value under
 * the mouse.
 */
export class MapView extends Widget implements IResultsLayerHost {
  private base: BaseMap | null = null;
  private layers: IMapLayer[] = [];
  private groups: IGroup[] = [];
  private opened = 0; // vector layers opened so far: their colours
  private canvas: Leaflet.Canvas | null = null;
  private started = false;
  private markReady: () => void = () => undefined;
  private ready = new Promise<void>(resolve => (this.markReady = resolve));
  private mapNode = h('div', { class: 'ai4geo-mapview-map' });
  private list = h('div', { class: 'ai4geo-mapview-layers' });
  private status = h('div', { class: 'ai4geo-status' });
  private readout = h('div', { class: 'ai4geo-mapview-value', dataset: { state: 'none' } }, ' ');
  private hoverTimer: number | null = null;
  private hoverAt: Leaflet.LatLng | null = null;
  private hoverSeq = 0;

  private saveTimer: number | null = null;
  private restoring = false;
  private results: IResultsEntry | null = null;
  private removedResults: string | null = null; // the key of the results the user removed

  constructor(private config: () => Promise<IMapConfig>, private store: IMapStore | null = null) {
    super();
    this.addClass('ai4geo-mapview');
    const side = h(
      'div',
      { class: 'ai4geo-mapview-side' },
      h('h2', {}, 'Layers'),
      this.list,
      h(
        'div',
        { class: 'ai4geo-mapview-hint' },
        'Right-click a GeoTIFF, GeoPackage, GeoJSON, FlatGeobuf, Shapefile or STAC catalog.json in the file ' +
          'browser → Open on map.'
      ),
      this.status
    );
    this.node.append(h('div', { class: 'ai4geo-mapview-main' }, this.mapNode, this.readout), side);
    this.node.dataset.layers = '0';
  }

  private async start(): Promise<void> {
    let config: IMapConfig = { tile_url: '', tile_attribution: '' };
    try {
      config = await this.config();
    } catch (err) {
      this.say(describeError(err), true);
    }
    this.base = new BaseMap(this.mapNode, config);
    this.mapNode.dataset.base = this.base.mode;
    this.base.onModeChange = (mode, reason) => {
      this.mapNode.dataset.base = `${mode}: ${reason}`;
    };
    const map = this.base.map;
    map.on('mousemove', e => this.hover((e as Leaflet.LeafletMouseEvent).latlng));
    map.on('moveend', () => {
      const c = map.getCenter();
      this.mapNode.dataset.view = `${c.lat.toFixed(6)},${c.lng.toFixed(6)},${map.getZoom()}`;
      this.changed();
    });
    map.on('mouseout', () => {
      this.hoverAt = null;
      this.showValue(null, null);
    });
    this.node.dataset.ready = 'true';
  }

  /** Add the raster at `path` (relative to the server's root) as a layer on top, and zoom to it. */
  async addRaster(path: string, kind = 'auto'): Promise<void> {
    await this.ready;
    this.say(`opening ${path}…`);
    try {
      await this.openRaster(path, kind, {});
      this.say('');
    } catch (err) {
      this.say(`${path}: ${describeError(err)}`, true);
    }
  }

  private async openRaster(path: string, kind: string, options: IAddOptions): Promise<IMapLayer> {
    const map = this.base!.map;
    const info = await api<IRasterInfo>(`raster/info?${query({ path, kind })}`);
    const existing = this.find(info.path);
    if (existing) {
      this.removeLayer(existing);
    }
    const [west, south, east, north] = info.bounds;
    const bounds = L.latLngBounds([south, west], [north, east]);
    const settings = ServerConnection.makeSettings();
    const url =
      URLExt.join(settings.baseUrl, 'ai4geo', 'tiles') +
      '/{z}/{x}/{y}.png?' +
      query({ path: info.path, kind: info.kind, v: info.stamp });
    const tiles = L.tileLayer(url, {
      bounds: bounds.pad(0.05),
      maxZoom: 24,
      opacity: 1,
      className: 'ai4geo-raster-tiles',
      pmIgnore: true
    } as any);
    const node = this.layerNode(
      info.path,
      'raster',
      `${info.kind} · ${info.width}×${info.height} · ${info.crs}`,
      legendNode(info),
      { kind: info.kind }
    );
    const layer: IMapLayer = {
      path: info.path, type: 'raster', group: options.group ?? null, info, layer: tiles, bounds, node,
      opacity: 1, visible: true, setOpacity: v => tiles.setOpacity(v)
    };
    let loaded = 0;
    tiles.on('tileload', () => {
      loaded += 1;
      node.dataset.tiles = String(loaded);
      node.dataset.state = 'loaded';
    });
    tiles.on('tileerror', () => {
      node.dataset.state = 'error';
      this.say(`${info.path}: some tiles could not be loaded`, true);
    });
    tiles.addTo(map);
    this.push(layer, options);
    return layer;
  }

  private push(layer: IMapLayer, options: IAddOptions): void {
    const map = this.base!.map;
    this.layers.push(layer);
    (options.group?.body ?? this.list).prepend(layer.node);
    this.node.dataset.layers = String(this.layers.length);
    map.invalidateSize();
    if (options.fit !== false) {
      map.fitBounds(layer.bounds, { maxZoom: 22 });
    }
    this.changed();
  }

  /**
   * Show what the workspace kept of this map (its layers, their opacity and visibility, its view); with nothing
   * kept, the file at `path` (a map document's own file) if any.
   */
  async open(path?: string): Promise<void> {
    await this.ready;
    let saved: ISavedMap | null = null;
    try {
      saved = (await this.store?.load()) ?? null;
    } catch {
      saved = null;
    }
    if (saved && saved.entries.length) {
      await this.restore(saved);
    } else if (path) {
      await this.addFile(path);
    }
  }

  private async restore(saved: ISavedMap): Promise<void> {
    this.restoring = true;
    try {
      const kept: ISavedLayer[] = [];
      for (const entry of saved.entries) {
        if (entry.kind === 'catalogue') {
          await this.addCatalogue(entry.path, false);
          kept.push(...entry.layers);
        } else {
          try {
            if (entry.type === 'vector') {
              await this.openVector(entry.path, { fit: false });
            } else {
              await this.openRaster(entry.path, 'auto', { fit: false });
            }
          } catch (err) {
            this.say(`${entry.path}: ${describeError(err)}`, true);
          }
          kept.push(entry);
        }
      }
      for (const k of kept) {
        const layer = this.find(k.path);
        if (layer) {
          this.setOpacity(layer, k.opacity);
          this.setVisible(layer, k.visible);
        }
      }
      this.base!.map.setView(L.latLng(saved.center[0], saved.center[1]), saved.zoom, { animate: false });
    } finally {
      this.restoring = false;
    }
    this.changed();
  }

  /** What the workspace keeps of this map. */
  snapshot(): ISavedMap | null {
    if (!this.base) {
      return null;
    }
    const map = this.base.map;
    const c = map.getCenter();
    const saved: ISavedMap = { center: [c.lat, c.lng], zoom: map.getZoom(), entries: [] };
    const kept = (l: IMapLayer): ISavedLayer => ({ path: l.path, type: l.type, opacity: l.opacity, visible: l.visible });
    const done = new Set<IGroup>();
    for (const l of this.layers) {
      if (!l.group) {
        saved.entries.push({ kind: 'layer', ...kept(l) });
      } else if (!done.has(l.group)) {
        done.add(l.group);
        const group = l.group;
        saved.entries.push({
          kind: 'catalogue', path: group.path, layers: this.layers.filter(x => x.group === group).map(kept)
        });
      }
    }
    return saved;
  }

  /** Keep the map's state in the workspace (soon after the last change). */
  private changed(): void {
    if (!this.store || this.restoring) {
      return;
    }
    if (this.saveTimer !== null) {
      window.clearTimeout(this.saveTimer);
    }
    this.saveTimer = window.setTimeout(() => {
      this.saveTimer = null;
      const state = this.snapshot();
      if (state && !this.isDisposed) {
        this.store?.save(state);
      }
    }, 300);
  }

  private setOpacity(layer: IMapLayer, value: number): void {
    layer.opacity = value;
    layer.setOpacity(value);
    const input = layer.node.querySelector<HTMLInputElement>('.ai4geo-opacity');
    if (input) {
      input.value = String(value);
    }
    this.changed();
  }

  private setVisible(layer: IMapLayer, visible: boolean): void {
    layer.visible = visible;
    const map = this.base!.map;
    if (visible && !map.hasLayer(layer.layer)) {
      layer.layer.addTo(map);
    } else if (!visible && map.hasLayer(layer.layer)) {
      layer.layer.remove();
    }
    layer.node.dataset.visible = String(visible);
    const box = layer.node.querySelector<HTMLInputElement>('.ai4geo-visible');
    if (box) {
      box.checked = visible;
    }
    this.changed();
  }

  /** The files of the layers on the map, bottom to top (relative to the server's root). */
  layerPaths(): string[] {
    return this.layers.map(l => l.path);
  }

  /**
   * Add a file of the server's root: a GeoTIFF as a raster layer, a vector file as a vector layer, a STAC
   * catalogue (JSON) as the layers of its products.
   */
  async addFile(path: string): Promise<void> {
    if (VECTOR_FILE.test(path)) {
      await this.addVector(path);
    } else if (STAC_FILE.test(path)) {
      await this.addCatalogue(path);
    } else {
      await this.addRaster(path);
    }
  }

  /**
   * Add every product a STAC catalogue (or collection, or item) of the server's root lists: raster assets as
   * raster layers, vector assets as vector layers, together under the catalogue's title; then zoom to them all.
   */
  async addCatalogue(path: string, fit = true): Promise<void> {
    await this.ready;
    const name = path.split('/').pop() ?? path;
    this.say(`opening ${name}…`);
    let found: ICatalogueLayers;
    try {
      found = await api<ICatalogueLayers>(`stac/layers?${query({ path })}`);
    } catch (err) {
      const text = describeError(err);
      this.say(text.startsWith(name) ? text : `${name}: ${text}`, true);
      return;
    }
    this.groups.filter(g => g.path === found.path).forEach(g => this.removeGroup(g));
    const group = this.groupNode(found);
    this.groups.push(group);
    this.list.prepend(group.node);
    const failed: string[] = [];
    let bounds: Leaflet.LatLngBounds | null = null;
    // bottom to top: rasters under vectors, in the catalogue's order
    const ordered = [...found.layers.filter(l => l.type === 'raster'), ...found.layers.filter(l => l.type === 'vector')];
    for (const [i, entry] of ordered.entries()) {
      this.say(`opening ${found.title}: ${i + 1} of ${ordered.length}…`);
      try {
        const layer = entry.type === 'vector'
          ? await this.openVector(entry.path, { group, fit: false })
          : await this.openRaster(entry.path, 'auto', { group, fit: false });
        bounds = bounds ? bounds.extend(layer.bounds) : L.latLngBounds(layer.bounds.getSouthWest(), layer.bounds.getNorthEast());
      } catch (err) {
        failed.push(`${entry.path.split('/').pop()}: ${describeError(err)}`);
      }
    }
    group.node.dataset.layers = String(this.layers.filter(l => l.group === group).length);
    group.node.dataset.state = 'loaded';
    if (bounds && fit) {
      this.base!.map.fitBounds(bounds, { maxZoom: 22 });
    }
    const notes: string[] = [];
    if (ordered.length === 0) {
      notes.push(`${found.title}: no raster or vector product to show`);
    }
    if (failed.length) {
      notes.push(`${failed.length} of ${ordered.length} could not be opened (${failed[0]}${failed.length > 1 ? '; …' : ''})`);
    }
    if (found.left_out.length) {
      notes.push(`${found.left_out.length} left out (${found.left_out[0]}${found.left_out.length > 1 ? '; …' : ''})`);
    }
    this.say(notes.join(' · '), notes.length > 0);
  }

  private groupNode(found: ICatalogueLayers): IGroup {
    const body = h('div', { class: 'ai4geo-group-layers' });
    const zoom = h('button', { class: 'jp-Button ai4geo-layer-zoom', title: 'zoom to the catalogue' }, 'Zoom');
    const remove = h('button', { class: 'jp-Button ai4geo-layer-remove', title: 'remove its layers' }, 'Remove');
    const node = h(
      'div',
      { class: 'ai4geo-mapview-group', dataset: { path: found.path, state: 'adding' } },
      h('div', { class: 'ai4geo-group-title', title: found.path }, found.title),
      h('div', { class: 'ai4geo-layer-meta' },
        `STAC · ${found.items} item${found.items === 1 ? '' : 's'} · ${found.layers.length} layer${found.layers.length === 1 ? '' : 's'}`),
      h('div', { class: 'ai4geo-row' }, zoom, remove),
      body
    );
    const group: IGroup = { path: found.path, title: found.title, node, body };
    zoom.onclick = () => {
      const mine = this.layers.filter(l => l.group === group);
      if (mine.length) {
        const bounds = L.latLngBounds(mine[0].bounds.getSouthWest(), mine[0].bounds.getNorthEast());
        mine.forEach(l => bounds.extend(l.bounds));
        this.base?.map.fitBounds(bounds, { maxZoom: 22 });
      }
    };
    remove.onclick = () => this.removeGroup(group);
    return group;
  }

  private removeGroup(group: IGroup): void {
    this.layers.filter(l => l.group === group).forEach(l => this.removeLayer(l));
    group.node.remove();
    this.groups = this.groups.filter(g => g !== group);
    this.changed();
  }

  /**
   * Add the vector file at `path` (GeoPackage, GeoJSON, FlatGeobuf, Shapefile; relative to the server's root) on
   * top, in a colour of its own, drawn on a canvas (thousands of buildings pan and zoom smoothly); a click on a
   * feature shows its attributes.
   */
  async addVector(path: string): Promise<void> {
    await this.ready;
    const name = path.split('/').pop() ?? path;
    this.say(`opening ${name}…`);
    try {
      await this.openVector(path, {});
      this.say('');
    } catch (err) {
      const text = describeError(err);
      this.say(text.startsWith(name) ? text : `${name}: ${text}`, true);
    }
  }

  private async openVector(path: string, options: IAddOptions): Promise<IMapLayer> {
    const map = this.base!.map;
    const name = path.split('/').pop() ?? path;
    const doc = await api(`vector?${query({ path })}`);
    const info = doc.ai4geo as IVectorInfo;
    const clean = path.replace(/^\/+/, '');
    const existing = this.find(clean);
    if (existing) {
      this.removeLayer(existing);
    }
    if (!info.bounds || info.count === 0) {
      throw new Error(`${name}: the file has no features to draw`);
    }
    const colour = VECTOR_COLOURS[this.opened++ % VECTOR_COLOURS.length];
    const style = { color: colour, weight: 1.2, opacity: 1, fillColor: colour, fillOpacity: 0.45 };
    this.canvas = this.canvas ?? L.canvas({ padding: 0.5, tolerance: 3 });
    const renderer = this.canvas;
    const features = L.geoJSON(doc, {
      renderer,
      style: () => style,
      pointToLayer: (_f: any, at: Leaflet.LatLng) => L.circleMarker(at, { ...style, radius: 4, renderer } as any),
      pmIgnore: true
    } as any);
    features.on('click', (e: any) => {
      const feature = (e.propagatedFrom ?? e.layer)?.feature;
      if (feature) {
        L.popup({ maxWidth: 320 }).setLatLng(e.latlng).setContent(propertiesNode(name, feature)).openOn(map);
      }
    });
    const [west, south, east, north] = info.bounds;
    const bounds = L.latLngBounds([south, west], [north, east]);
    const types = info.geometry_types.join(', ');
    const node = this.layerNode(
      clean,
      'vector',
      `${info.count.toLocaleString('en')} feature${info.count === 1 ? '' : 's'} · ${types} · from ${info.crs}`,
      h('div', { class: 'ai4geo-legend ai4geo-legend-vector' },
        h('span', { class: 'ai4geo-swatch', style: `background: ${colour}; opacity: 0.75` }), name),
      { features: String(info.count), colour }
    );
    const layer: IMapLayer = {
      path: clean, type: 'vector', group: options.group ?? null, info: null, layer: features, bounds, node,
      opacity: 1, visible: true,
      setOpacity: v => features.setStyle({ opacity: v, fillOpacity: 0.45 * v })
    };
    features.addTo(map);
    node.dataset.state = 'loaded';
    this.push(layer, options);
    return layer;
  }

  private layerNode(
    path: string, type: 'raster' | 'vector', meta: string, legend: HTMLElement, data: Record<string, string>
  ): HTMLElement {
    const name = path.split('/').pop() ?? path;
    const opacity = h('input', {
      type: 'range',
      min: '0',
      max: '1',
      step: '0.05',
      value: '1',
      class: 'ai4geo-opacity',
      title: 'opacity'
    });
    const visible = h('input', { type: 'checkbox', class: 'ai4geo-visible', title: 'show the layer', checked: true });
    const zoom = h('button', { class: 'jp-Button ai4geo-layer-zoom', title: 'zoom to the layer' }, 'Zoom');
    const remove = h('button', { class: 'jp-Button ai4geo-layer-remove', title: 'remove the layer' }, 'Remove');
    const node = h(
      'div',
      { class: 'ai4geo-mapview-layer', dataset: { path, type, state: 'adding', visible: 'true', ...data } },
      h('label', { class: 'ai4geo-layer-head' }, visible, h('span', { class: 'ai4geo-layer-title', title: path }, name)),
      h('div', { class: 'ai4geo-layer-meta' }, meta),
      legend,
      h('label', { class: 'ai4geo-opacity-row' }, h('span', {}, 'Opacity'), opacity),
      h('div', { class: 'ai4geo-row' }, zoom, remove)
    );
    opacity.oninput = () => {
      const layer = this.find(path);
      if (layer) {
        this.setOpacity(layer, Number(opacity.value));
      }
    };
    visible.onchange = () => {
      const layer = this.find(path);
      if (layer) {
        this.setVisible(layer, visible.checked);
      }
    };
    zoom.onclick = () => {
      const layer = this.find(path);
      if (layer) {
        this.base?.map.fitBounds(layer.bounds, { maxZoom: 22 });
      }
    };
    remove.onclick = () => {
      const layer = this.find(path);
      if (layer) {
        this.removeLayer(layer);
      }
    };
    return node;
  }

  private find(path: string): IMapLayer | undefined {
    return this.layers.find(l => l.path === path);
  }

  private removeLayer(layer: IMapLayer): void {
    layer.layer.remove();
    layer.node.remove();
    this.layers = this.layers.filter(l => l !== layer);
    this.node.dataset.layers = String(this.layers.length);
    this.changed();
  }

  /**
   * Show search results (the search panel's page) as the "Search results" entry of the layer list: footprints,
   * selection and quicklooks as the panel has them; a click on a footprint is sent back to the panel. `null` takes
   * them off. Results the user removed stay off until another page comes, or `reveal` asks for them.
   */
  showResults(results: IResultsOnMap | null, events: IResultsEvents, reveal = false): boolean {
    if (!results) {
      this.dropResults();
      return false;
    }
    if (this.isDisposed || (results.key === this.removedResults && !reveal)) {
      return false;
    }
    this.removedResults = null;
    const fresh = !this.results || this.results.state.key !== results.key;
    if (!this.results) {
      this.results = this.resultsEntry(results, events);
      this.list.prepend(this.results.node);
    }
    this.results.state = results;
    this.results.events = events;
    if (reveal && !this.results.visible) {
      this.setResultsVisible(true);
    }
    void this.ready.then(() => this.drawResults(fresh || reveal));
    return true;
  }

  private resultsEntry(state: IResultsOnMap, events: IResultsEvents): IResultsEntry {
    const visible = h('input', { type: 'checkbox', class: 'ai4geo-visible', title: 'show the search results',
      checked: true });
    const zoom = h('button', { class: 'jp-Button ai4geo-layer-zoom', title: 'zoom to the footprints' }, 'Zoom');
    const remove = h('button', { class: 'jp-Button ai4geo-layer-remove', title: 'take the results off the map' },
      'Remove');
    const meta = h('div', { class: 'ai4geo-layer-meta' });
    const node = h(
      'div',
      { class: 'ai4geo-mapview-layer ai4geo-results-layer', dataset: { type: 'results', visible: 'true' } },
      h('label', { class: 'ai4geo-layer-head' }, visible,
        h('span', { class: 'ai4geo-layer-title', title: 'the search panel\'s results (not kept with the workspace)' },
          'Search results')),
      meta,
      h('div', { class: 'ai4geo-legend ai4geo-legend-vector' },
        h('span', { class: 'ai4geo-swatch', style: `border: 2px solid ${FOOTPRINT_COLOUR}` }), 'footprint',
        h('span', { class: 'ai4geo-swatch', style: `border: 2px solid ${SELECTED_COLOUR}; background: ` +
          `${SELECTED_COLOUR}40` }), 'selected'),
      h('div', { class: 'ai4geo-row' }, zoom, remove)
    );
    visible.onchange = () => this.setResultsVisible(visible.checked);
    zoom.onclick = () => {
      const bounds = this.results?.drawing?.bounds();
      if (bounds) {
        this.base?.map.fitBounds(bounds, { maxZoom: 17, padding: [20, 20] });
      }
    };
    remove.onclick = () => {
      this.removedResults = this.results?.state.key ?? null;
      this.dropResults();
    };
    return { state, events, drawing: null, node, meta, visible: true };
  }

  private drawResults(fit: boolean): void {
    const entry = this.results;
    if (!entry || !this.base) {
      return;
    }
    entry.drawing = entry.drawing ?? new FootprintLayer(this.base.map, id => this.results?.events.select(id));
    entry.drawing.update(entry.state);
    entry.drawing.setVisible(entry.visible);
    const { shown, features, selected, looks, summary } = entry.state;
    const parts = [`${shown.size} of ${features.length} footprints`, summary];
    if (selected.size) {
      parts.push(`${selected.size} selected`);
    }
    if (looks.size) {
      parts.push(`${looks.size} quicklook${looks.size === 1 ? '' : 's'}`);
    }
    entry.meta.textContent = parts.join(' · ');
    entry.node.dataset.footprints = String(shown.size);
    entry.node.dataset.selected = String(selected.size);
    entry.node.dataset.state = 'loaded';
    const bounds = entry.drawing.bounds();
    if (fit && bounds) {
      this.base.map.fitBounds(bounds, { maxZoom: 17, padding: [20, 20] });
    }
  }

  private setResultsVisible(visible: boolean): void {
    const entry = this.results;
    if (!entry) {
      return;
    }
    entry.visible = visible;
    entry.drawing?.setVisible(visible);
    entry.node.dataset.visible = String(visible);
    entry.node.querySelector<HTMLInputElement>('.ai4geo-visible')!.checked = visible;
  }

  /** Take the search results off the map, and tell the panel. */
  private dropResults(): void {
    const entry = this.results;
    if (!entry) {
      return;
    }
    this.results = null;
    entry.drawing?.remove();
    entry.node.remove();
    entry.events.gone();
  }

  /** Ask the server for the value under the mouse, at most every HOVER_MS, for the topmost layer there. */
  private hover(at: Leaflet.LatLng): void {
    this.hoverAt = at;
    if (this.hoverTimer !== null) {
      return;
    }
    this.hoverTimer = window.setTimeout(() => {
      this.hoverTimer = null;
      void this.lookUp();
    }, HOVER_MS);
  }

  private async lookUp(): Promise<void> {
    const at = this.hoverAt;
    if (!at) {
      return;
    }
    const layer = [...this.layers].reverse().find(l => l.visible && l.info && l.bounds.contains(at));
    if (!layer || !layer.info) {
      this.showValue(null, null);
      return;
    }
    const seq = ++this.hoverSeq;
    try {
      const lon = L.Util.wrapNum(at.lng, [-180, 180], true);
      const v = await api<IValue>(
        `raster/value?${query({ path: layer.info.path, kind: layer.info.kind, lon: lon.toFixed(8), lat: at.lat.toFixed(8) })}`
      );
      if (seq === this.hoverSeq && this.hoverAt) {
        this.showValue(layer, v);
      }
    } catch {
      // a failed look-up leaves the last value; the next move asks again
    }
  }

  private showValue(layer: IMapLayer | null, v: IValue | null): void {
    if (!layer || !layer.info || !v || !v.inside) {
      this.readout.textContent = ' ';
      this.readout.dataset.state = 'none';
      return;
    }
    const name = layer.info.path.split('/').pop();
    let text: string;
    if (v.value === null) {
      text = 'nodata';
    } else if (v.values && v.values.length > 1) {
      text = v.values.map(x => (x === null ? '–' : formatNumber(x))).join(', ');
    } else if (layer.info.kind === 'classes') {
      text = `${v.value} ${v.label ?? ''}`;
    } else {
      text = `${formatNumber(v.value)}${v.label && layer.info.kind === 'height' ? ` ${v.label}` : ''}`;
    }
    this.readout.textContent = `${name}: ${text}`;
    this.readout.dataset.state = v.value === null ? 'nodata' : 'value';
    this.readout.dataset.value = v.value === null ? '' : String(v.value);
  }

  private say(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('ai4geo-error', error);
  }

  protected onAfterShow(): void {
    if (!this.started) {
      this.started = true; // Leaflet needs the map's node on the page, with its size
      void this.start().then(() => this.markReady());
    }
    this.base?.refresh();
  }

  protected onResize(): void {
    this.base?.refresh();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    const events = this.results?.events;
    this.results = null;
    this.base?.dispose();
    super.dispose();
    events?.gone(); // the search panel offers "Show on map" again
  }
}
