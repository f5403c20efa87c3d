import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, showErrorMessage } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IFrame } from '@jupyterlab/ui-components';
import { api, describeError, post } from './api';
import { ClusterPanel, ICluster, plotUrl } from './clusters';
import { clusterIcon, recipeIcon, searchIcon } from './icons';
import { insertCode } from './insert';
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
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null) => {
    const panel = new SearchPanel(code => insertCode(app, tracker, code), () => api('config'));
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

export default [search, clusters, recipes];
