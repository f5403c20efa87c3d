import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

/**
 * Put `code` in a new cell of the active notebook (below the active cell), or in a new notebook if none. `code` may
 * be a function of the notebook's path (relative to the server's root), for code naming files relative to it.
 */
export async function insertCode(app: JupyterFrontEnd, tracker: INotebookTracker,
  code: string | ((notebookPath: string) => string)): Promise<void> {
  let panel: NotebookPanel | null = tracker.currentWidget;
  if (!panel) {
    panel = (await app.commands.execute('notebook:create-new', { kernelName: 'python3' })) as NotebookPanel;
  }
  await panel.context.ready;
  await panel.sessionContext.ready; // the cell can be run as soon as it is there
  const notebook = panel.content;
  const active = notebook.activeCell;
  if (!active || active.model.sharedModel.getSource().trim() !== '' || active.model.type !== 'code') {
    NotebookActions.insertBelow(notebook);
    NotebookActions.changeCellType(notebook, 'code');
  }
  notebook.activeCell!.model.sharedModel.setSource(typeof code === 'string' ? code : code(panel.context.path));
  app.shell.activateById(panel.id);
  notebook.activeCell!.node.scrollIntoView({ block: 'nearest' });
}
