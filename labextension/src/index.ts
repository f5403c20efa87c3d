import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, showErrorMessage, WidgetTracker } from '@jupyterlab/apputils';
import { ABCWidgetFactory, DocumentRegistry, DocumentWidget, TextModelFactory } from '@jupyterlab/docregistry';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Contents } from '@jupyterlab/services';
import { IStateDB } from '@jupyterlab/statedb';
import { IFrame } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import { api, describeError, post } from './api';
import { ClusterPanel, ICluster, IDashboards, plotUrl } from './clusters';
import { City3DHost, isCityJSON } from './cityfile';
import { cityIcon, clusterIcon, mapIcon, recipeIcon, searchIcon, stepsIcon } from './icons';
import { insertCode } from './insert';
import { IMapConfig } from './map';
import { IMapStore, ISavedMap, MapView, RASTER_FILE, STAC_FILE, VECTOR_FILE } from './mapview';
import type { IResultsMaps } from './resultslayer';
import { SearchPanel } from './search';
import { StepsPanel } from './steps';

const CATEGORY = 'AI4GEO recipes';

interface IRecipe {
  name: string;
  title: string;
  summary: string;
}

const search: JupyterFrontEndPlugin<void> = {
  id: 'ai4geo-lab:search',
  description: 'Search panel: map, AOI, catalogue search, download, insert code.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer, ICommandPalette, IDefaultFileBrowser],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null, browser: IDefaultFileBrowser | null) => {
    // the results go to the AI4GEO Map last used; "Show on map" opens one when none is
    const resultsMaps: IResultsMaps = {
      current: () => lastMapView(),
      open: async () => {
        await app.commands.execute('ai4geo:open-map');
        return lastMapView();
      }
    };
    const panel = new SearchPanel(code => insertCode(app, tracker, code), () => api('config'),
      () => browser?.model.path ?? '', resultsMaps);
    mapsChanged = () => panel.updateShowOnMap();
    panel.title.icon = searchIcon;
    app.shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, 'ai4geo-search');
    app.commands.addCommand('ai4geo:open-search', {
      label: 'AI4GEO: Search panel',
      icon: searchIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    palette?.addItem({ command: 'ai4geo:open-search', category: 'AI4GEO' });
  }
};

const clusters: JupyterFrontEndPlugin<void> = {
  id: 'ai4geo-lab:clusters',
  description: 'Cluster panel: start, scale, stop clusters; dashboards as tabs; Client code.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, restorer: ILayoutRestorer | null) => {
    // dashboard tabs by cluster id: opened as tabs of the main area (beside the first dashboard tab, else beside
    // the current tab), never as narrow splits; closed or marked when their cluster stops
    const opened = new Map<string, MainAreaWidget<IFrame>[]>();
    const dashboards: IDashboards = {
      open: (c: ICluster, plot: string, title: string) => {
        const id = `ai4geo-dashboard-${c.id}-${plot}`;
        const mine = (opened.get(c.id) ?? []).filter(w => !w.isDisposed);
        const existing = mine.find(w => w.id === id);
        if (existing) {
          app.shell.activateById(id);
          return;
        }
        const frame = new IFrame({ sandbox: ['allow-scripts', 'allow-same-origin'] });
        frame.url = plotUrl(c, plot);
        const widget = new MainAreaWidget({ content: frame });
        widget.id = id;
        widget.title.label = `${c.title} — ${title}`;
        widget.title.caption = `Dask dashboard of ${c.title}: ${title} (${c.scheduler_address ?? ''})`;
        widget.title.icon = clusterIcon;
        widget.title.closable = true;
        widget.addClass('ai4geo-dashboard');
        widget.node.dataset.cluster = c.id;
        widget.node.dataset.plot = plot;
        const first = [...opened.values()].flat().find(w => !w.isDisposed && w.isAttached);
        app.shell.add(widget, 'main', first ? { mode: 'tab-after', ref: first.id } : { mode: 'tab-after' });
        opened.set(c.id, [...mine, widget]);
        app.shell.activateById(widget.id);
      },
      clusterGone: (clusterId: string, closed: boolean) => {
        const mine = (opened.get(clusterId) ?? []).filter(w => !w.isDisposed);
        opened.delete(clusterId);
        for (const w of mine) {
          if (closed) {
            w.dispose();
          } else {
            w.title.label = `${w.title.label} (cluster stopped)`;
            w.addClass('ai4geo-dashboard-stopped');
            const note = new Widget();
            note.node.textContent = 'This cluster has stopped: the dashboard no longer updates.';
            note.addClass('ai4geo-dashboard-stopped-note');
            w.toolbar.addItem('stopped', note);
          }
        }
      }
    };
    const panel = new ClusterPanel(code => insertCode(app, tracker, code), dashboards);
    panel.title.icon = clusterIcon;
    app.shell.add(panel, 'left', { rank: 660 });
    restorer?.add(panel, 'ai4geo-clusters');
  }
};

const recipes: JupyterFrontEndPlugin<void> = {
  id: 'ai4geo-lab:recipes',
  description: 'Launcher section with a card per notebook recipe.',
  autoStart: true,
  optional: [ILauncher],
  activate: (app: JupyterFrontEnd, launcher: ILauncher | null) => {
    const command = 'ai4geo:open-recipe';
    app.commands.addCommand(command, {
      label: args => String(args.title ?? args.name ?? 'AI4GEO recipe'),
      caption: args => String(args.summary ?? ''),
      icon: args => (args.name ? recipeIcon : undefined) as any,
      execute: async args => {
        try {
          const { path } = await post<{ path: string }>(`recipes/${encodeURIComponent(String(args.name))}`, {});
          return await app.commands.execute('docmanager:open', { path });
        } catch (err) {
          await showErrorMessage('AI4GEO recipe', describeError(err));
        }
      }
    });
    if (!launcher) {
      return;
    }
    // the cards come when the server answers; activation does not wait for it
    api<IRecipe[]>('recipes')
      .then(found =>
        found.forEach((r, rank) =>
          launcher.add({ command, category: CATEGORY, rank, args: { name: r.name, title: r.title, summary: r.summary } })
        )
      )
      .catch(err => console.warn('ai4geo-lab: no recipes', err));
  }
};

/** File types of the geodata the map opens (GeoTIFF is JupyterLab's own 'tiff'). */
const GEO_FILE_TYPES: { name: string; displayName: string; extensions: string[]; mimeTypes: string[] }[] = [
  { name: 'ai4geo-geopackage', displayName: 'GeoPackage', extensions: ['.gpkg'],
    mimeTypes: ['application/geopackage+sqlite3'] },
  { name: 'ai4geo-geojson', displayName: 'GeoJSON', extensions: ['.geojson'], mimeTypes: ['application/geo+json'] },
  { name: 'ai4geo-flatgeobuf', displayName: 'FlatGeobuf', extensions: ['.fgb'],
    mimeTypes: ['application/flatgeobuf'] },
  { name: 'ai4geo-shapefile', displayName: 'Shapefile', extensions: ['.shp'], mimeTypes: ['application/x-shapefile'] }
];
/** STAC catalogues and collections by their usual names (any other JSON opens on a map from its context menu). */
const STAC_FILE_TYPE = {
  name: 'ai4geo-stac', displayName: 'STAC catalogue', extensions: [] as string[],
  pattern: '^(catalog|collection)\\.json$', mimeTypes: ['application/json']
};
const MAP_FILE_TYPES = ['tiff', ...GEO_FILE_TYPES.map(t => t.name), STAC_FILE_TYPE.name];
const FACTORY = 'AI4GEO Map';
/** CityJSON by its usual name (a `.json` whose `type` is CityJSON opens in 3D from its context menu). */
const CITYJSON_FILE_TYPE = {
  name: 'ai4geo-cityjson', displayName: 'CityJSON', extensions: ['.city.json'],
  mimeTypes: ['application/city+json']
};
const FACTORY_3D = 'AI4GEO 3D';
const NO_CONTENT_MODEL = 'ai4geo-no-content';

const isGeoFile = (path: string) => RASTER_FILE.test(path) || VECTOR_FILE.test(path) || STAC_FILE.test(path);

/** A model that never loads the file's bytes: the map asks the server for tiles or features instead. */
class NoContentModelFactory extends TextModelFactory {
  get name(): string {
    return NO_CONTENT_MODEL;
  }
  get fileFormat(): Contents.FileFormat {
    return null;
  }
}

/** Double-click on a GeoTIFF or a vector file: a map document showing it (the file's bytes are not loaded). */
class MapDocumentFactory extends ABCWidgetFactory<DocumentWidget<MapView>, DocumentRegistry.IModel> {
  constructor(
    options: DocumentRegistry.IWidgetFactoryOptions<DocumentWidget<MapView>>,
    private config: () => Promise<IMapConfig>,
    private storeFor: (key: string, restoring: boolean) => IMapStore | null,
    private isRestoring: () => boolean
  ) {
    super(options);
  }

  protected createNewWidget(context: DocumentRegistry.IContext<DocumentRegistry.IModel>): DocumentWidget<MapView> {
    const path = context.localPath ?? context.path;
    // a document the workspace reopens shows its map as it was left; one opened now starts from its file
    const view = new MapView(this.config, this.storeFor(`doc:${path}`, this.isRestoring()));
    const widget = new DocumentWidget({ content: view, context });
    widget.addClass('ai4geo-map-document');
    widget.title.icon = mapIcon;
    void context.ready.then(() => view.open(path));
    return widget;
  }
}

/** A CityJSON file in a 3D view (the view reads the file itself: the document model loads nothing). */
class City3DDocumentFactory extends ABCWidgetFactory<DocumentWidget<City3DHost>, DocumentRegistry.IModel> {
  protected createNewWidget(context: DocumentRegistry.IContext<DocumentRegistry.IModel>): DocumentWidget<City3DHost> {
    const path = context.localPath ?? context.path;
    const view = new City3DHost();
    const widget = new DocumentWidget({ content: view, context });
    widget.addClass('ai4geo-city3d-document');
    widget.title.icon = cityIcon;
    void context.ready.then(() => view.open(path));
    return widget;
  }
}

const STATE_PREFIX = 'ai4geo-lab:map:';

/** The files of the layers of the map the user was last in (set by the map plugin, read by the steps panel). */
let lastMapLayers: () => string[] = () => [];
/** The map the user was last in, if one is open (set by the map plugin, used by the search panel). */
let lastMapView: () => MapView | null = () => null;
/** Called when the map last used changes or a map closes (set by the search plugin). */
let mapsChanged: () => void = () => undefined;

/** A map's place in the state DB: what `load` answers only when `restoring` (a reload of the workspace). */
function stateStore(db: IStateDB | null, key: string, restoring: boolean): IMapStore | null {
  if (!db) {
    return null;
  }
  const id = STATE_PREFIX + key;
  return {
    load: async () => (restoring ? (((await db.fetch(id)) as unknown as ISavedMap | undefined) ?? null) : null),
    save: state => void db.save(id, state as any).catch(err => console.warn('ai4geo-lab: map state not kept', err))
  };
}

const maps: JupyterFrontEndPlugin<void> = {
  id: 'ai4geo-lab:map',
  description: 'The AI4GEO Map: rasters and vectors of the root folder as layers, with legends, opacity and values.',
  autoStart: true,
  optional: [ICommandPalette, ILauncher, IDefaultFileBrowser, ILayoutRestorer, IStateDB],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null, launcher: ILauncher | null,
    browser: IDefaultFileBrowser | null, restorer: ILayoutRestorer | null, db: IStateDB | null) => {
    const config = () => api<IMapConfig>('config');
    let restored = false;
    void app.restored.then(() => (restored = true));
    // map tabs come back with the workspace (their layers and view from the state DB)
    const tracker = new WidgetTracker<MainAreaWidget<MapView>>({ namespace: 'ai4geo-map' });
    restorer?.restore(tracker, { command: 'ai4geo:open-map', args: w => ({ id: w.id }), name: w => w.id });
    // the map that "Open on map" adds to: the last one the user was in (a map tab or a map document)
    let current: Widget | null = null;
    const viewOf = (w: Widget | null): MapView | null =>
      w && !w.isDisposed && (w instanceof MainAreaWidget || w instanceof DocumentWidget) &&
      w.content instanceof MapView ? w.content : null;
    app.shell.currentChanged?.connect((_shell, change) => {
      if (viewOf(change.newValue) && change.newValue !== current) {
        current = change.newValue;
        mapsChanged();
      }
    });
    const openMap = (id?: string): MapView => {
      const view = viewOf(current);
      if (view && current && (!id || current.id === id)) {
        app.shell.activateById(current.id);
        return view;
      }
      const widgetId = id ?? `ai4geo-map-${Date.now()}`;
      const content = new MapView(config, stateStore(db, widgetId, !!id));
      const widget = new MainAreaWidget({ content });
      widget.id = widgetId;
      widget.disposed.connect(() => {
        mapsChanged();
        if (restored) {
          void db?.remove(STATE_PREFIX + widgetId); // closed by the user: nothing to bring back
        }
      });
      void tracker.add(widget);
      void content.open();
      widget.title.label = 'AI4GEO Map';
      widget.title.icon = mapIcon;
      widget.title.closable = true;
      widget.addClass('ai4geo-map-document');
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      current = widget;
      mapsChanged();
      return content;
    };
    app.commands.addCommand('ai4geo:open-map', {
      label: 'AI4GEO Map',
      caption: 'A map of the geodata of the root folder (right-click a GeoTIFF or a vector file → Open on map)',
      icon: mapIcon,
      execute: args => {
        openMap(args.id ? String(args.id) : undefined);
      }
    });
    lastMapLayers = () => viewOf(current)?.layerPaths() ?? [];
    lastMapView = () => viewOf(current);
    const open3D = (path: string) => app.commands.execute('docmanager:open', { path, factory: FACTORY_3D });
    app.commands.addCommand('ai4geo:open-in-3d', {
      label: 'Open in 3D',
      caption: 'Show a CityJSON file in 3D: buildings shaded by surface (roof, wall, ground), LOD choice, ' +
        'attributes on click',
      icon: cityIcon,
      isVisible: () => {
        const items = browser ? Array.from(browser.selectedItems()) : [];
        return items.some(i => i.type !== 'directory' && /\.json$/i.test(i.path));
      },
      execute: async args => {
        const paths = args.path
          ? [String(args.path)]
          : Array.from(browser?.selectedItems() ?? [])
              .filter(i => i.type !== 'directory' && /\.json$/i.test(i.path))
              .map(i => i.path);
        for (const path of paths) {
          await open3D(path);
        }
      }
    });
    app.commands.addCommand('ai4geo:open-on-map', {
      label: 'Open on map',
      caption: 'Show the file on the AI4GEO Map (rasters coloured by product kind with a legend; vectors in a ' +
        'colour; a STAC catalogue as the layers of its products)',
      icon: mapIcon,
      isVisible: () => {
        const items = browser ? Array.from(browser.selectedItems()) : [];
        return items.length === 0 || items.some(i => i.type !== 'directory' && isGeoFile(i.path));
      },
      execute: async args => {
        const chosen = args.path
          ? [String(args.path)]
          : Array.from(browser?.selectedItems() ?? [])
              .filter(i => i.type !== 'directory' && isGeoFile(i.path))
              .map(i => i.path);
        // CityJSON is 3D: it opens in its own view rather than on the map
        const city = await Promise.all(chosen.map(p => isCityJSON(p)));
        chosen.filter((_p, i) => city[i]).forEach(path => void open3D(path));
        const paths = chosen.filter((_p, i) => !city[i]);
        if (paths.length === 0 && chosen.length > 0) {
          return;
        }
        if (paths.length === 0) {
          await showErrorMessage('AI4GEO Map',
            'Select a GeoTIFF, GeoPackage, GeoJSON, FlatGeobuf, Shapefile or STAC catalogue (JSON).');
          return;
        }
        const view = openMap();
        for (const path of paths) {
          await view.addFile(path);
        }
      }
    });
    for (const type of [...MAP_FILE_TYPES, 'json', CITYJSON_FILE_TYPE.name]) {
      app.contextMenu.addItem({
        command: 'ai4geo:open-on-map',
        selector: `.jp-DirListing-item[data-file-type="${type}"]`,
        rank: 3
      });
    }
    for (const type of ['json', CITYJSON_FILE_TYPE.name]) {
      app.contextMenu.addItem({
        command: 'ai4geo:open-in-3d',
        selector: `.jp-DirListing-item[data-file-type="${type}"]`,
        rank: 3
      });
    }

    // double-click: a map document, for vectors and for GeoTIFF (instead of the image viewer, which cannot)
    for (const t of GEO_FILE_TYPES) {
      app.docRegistry.addFileType({ ...t, contentType: 'file', fileFormat: null, icon: mapIcon });
    }
    app.docRegistry.addFileType({ ...STAC_FILE_TYPE, contentType: 'file', fileFormat: 'text', icon: mapIcon });
    app.docRegistry.addModelFactory(new NoContentModelFactory());
    app.docRegistry.addWidgetFactory(
      new MapDocumentFactory(
        { name: FACTORY, label: 'AI4GEO Map', fileTypes: MAP_FILE_TYPES, defaultFor: MAP_FILE_TYPES,
          modelName: NO_CONTENT_MODEL, readOnly: true },
        config,
        (key, restoring) => stateStore(db, key, restoring),
        () => !restored
      )
    );
    // double-click on `*.city.json`: the 3D view; any JSON can be opened with it ("Open With", "Open in 3D")
    app.docRegistry.addFileType({ ...CITYJSON_FILE_TYPE, contentType: 'file', fileFormat: null, icon: cityIcon });
    app.docRegistry.addWidgetFactory(
      new City3DDocumentFactory({ name: FACTORY_3D, label: 'AI4GEO 3D', fileTypes: [CITYJSON_FILE_TYPE.name, 'json'],
        defaultFor: [CITYJSON_FILE_TYPE.name], modelName: NO_CONTENT_MODEL, readOnly: true })
    );
    // the image viewer may register itself after us: ours stays the default for GeoTIFF
    void app.restored.then(() => app.docRegistry.setDefaultWidgetFactory('tiff', FACTORY));

    palette?.addItem({ command: 'ai4geo:open-map', category: 'AI4GEO' });
    launcher?.add({ command: 'ai4geo:open-map', category: 'AI4GEO', rank: 0 });
  }
};

const steps: JupyterFrontEndPlugin<void> = {
  id: 'ai4geo-lab:steps',
  description: 'Run a step: a form from the step\'s parameters, run as a job followed tile by tile, products on the map.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer, ICommandPalette, IDefaultFileBrowser],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null, browser: IDefaultFileBrowser | null) => {
    const panel = new StepsPanel({
      insertCode: code => insertCode(app, tracker, code),
      selectedFile: () => {
        const item = Array.from(browser?.selectedItems() ?? []).find(i => i.type !== 'directory');
        return item ? item.path : null;
      },
      mapLayers: () => lastMapLayers(),
      openOnMap: async paths => {
        for (const path of paths) {
          await app.commands.execute('ai4geo:open-on-map', { path });
        }
      }
    });
    panel.title.icon = stepsIcon;
    app.shell.add(panel, 'left', { rank: 655 });
    restorer?.add(panel, 'ai4geo-steps');
    app.commands.addCommand('ai4geo:open-steps', {
      label: 'AI4GEO: Run a step',
      caption: 'A form for one step of the pipeline, run as a job on a cluster or in process',
      icon: stepsIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    palette?.addItem({ command: 'ai4geo:open-steps', category: 'AI4GEO' });
  }
};

export default [search, clusters, recipes, maps, steps];
