import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, showErrorMessage } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IFrame } from '@jupyterlab/ui-components';
import { api, describeError, post } from './api';
import { ClusterPanel, ICluster, plotUrl } from './clusters';
import { clusterIcon, mapIcon, recipeIcon, searchIcon } from './icons';
import { insertCode } from './insert';
import { MapView } from './mapview';
import { SearchPanel } from './search';

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
    const panel = new SearchPanel(code => insertCode(app, tracker, code), () => api('config'),
      () => browser?.model.path ?? '');
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
    const open = (c: ICluster, plot: string, title: string) => {
      const frame = new IFrame({ sandbox: ['allow-scripts', 'allow-same-origin'] });
      frame.url = plotUrl(c, plot);
      const widget = new MainAreaWidget({ content: frame });
      widget.id = `ai4geo-dashboard-${c.id}-${plot}`;
      widget.title.label = `${title} — ${c.label ?? c.kind}`;
      widget.title.icon = clusterIcon;
      widget.title.closable = true;
      widget.addClass('ai4geo-dashboard');
      app.shell.add(widget, 'main', { mode: 'split-right' });
      app.shell.activateById(widget.id);
    };
    const panel = new ClusterPanel(code => insertCode(app, tracker, code), open);
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

const RASTER = /\.tiff?$/i;

const maps: JupyterFrontEndPlugin<void> = {
  id: 'ai4geo-lab:map',
  description: 'The AI4GEO Map: rasters of the root folder as tile layers, with legends, opacity and values.',
  autoStart: true,
  optional: [ICommandPalette, ILauncher, IDefaultFileBrowser],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null, launcher: ILauncher | null,
    browser: IDefaultFileBrowser | null) => {
    let current: MainAreaWidget<MapView> | null = null;
    const openMap = (): MainAreaWidget<MapView> => {
      if (current && !current.isDisposed) {
        app.shell.activateById(current.id);
        return current;
      }
      const view = new MapView(() => api('config'));
      const widget = new MainAreaWidget({ content: view });
      widget.id = `ai4geo-map-${Date.now()}`;
      widget.title.label = 'AI4GEO Map';
      widget.title.icon = mapIcon;
      widget.title.closable = true;
      widget.addClass('ai4geo-map-document');
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      current = widget;
      return widget;
    };
    app.commands.addCommand('ai4geo:open-map', {
      label: 'AI4GEO Map',
      caption: 'A map of the rasters of the root folder (right-click a GeoTIFF → Open on map)',
      icon: mapIcon,
      execute: () => {
        openMap();
      }
    });
    app.commands.addCommand('ai4geo:open-on-map', {
      label: 'Open on map',
      caption: 'Show the raster on the AI4GEO Map (coloured by product kind, with a legend)',
      icon: mapIcon,
      isVisible: () => {
        const items = browser ? Array.from(browser.selectedItems()) : [];
        return items.length === 0 || items.some(i => i.type !== 'directory' && RASTER.test(i.path));
      },
      execute: async args => {
        const paths = args.path
          ? [String(args.path)]
          : Array.from(browser?.selectedItems() ?? [])
              .filter(i => i.type !== 'directory' && RASTER.test(i.path))
              .map(i => i.path);
        if (paths.length === 0) {
          await showErrorMessage('AI4GEO Map', 'Select a GeoTIFF (.tif, .tiff) in the file browser.');
          return;
        }
        const widget = openMap();
        for (const path of paths) {
          await widget.content.addRaster(path);
        }
      }
    });
    app.contextMenu.addItem({
      command: 'ai4geo:open-on-map',
      selector: '.jp-DirListing-item[data-file-type="tiff"]',
      rank: 3
    });
    palette?.addItem({ command: 'ai4geo:open-map', category: 'AI4GEO' });
    launcher?.add({ command: 'ai4geo:open-map', category: 'AI4GEO', rank: 0 });
  }
};

export default [search, clusters, recipes, maps];
