/** What names a CityJSON file, without three.js (the 3D view's module loads only when a view opens). */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Panel } from '@lumino/widgets';

/** `*.city.json`: a CityJSON by its usual name. */
export const CITYJSON_FILE = /\.city\.json$/i;

/**
 * Whether the JSON file at `path` is a CityJSON document: its name ends in `.city.json`, or its first 64 kB hold
 * `"type": "CityJSON"` (writers put the type first; the rest of a large file is not downloaded).
 */
export async function isCityJSON(path: string): Promise<boolean> {
  if (CITYJSON_FILE.test(path)) {
    return true;
  }
  if (!/\.json$/i.test(path)) {
    return false;
  }
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'files', URLExt.encodeParts(path));
  try {
    const resp = await ServerConnection.makeRequest(url, { cache: 'no-store' }, settings);
    if (!resp.ok || !resp.body) {
      return false;
    }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let head = '';
    while (head.length < 65_536) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      head += decoder.decode(value, { stream: true });
    }
    void reader.cancel();
    return /"type"\s*:\s*"CityJSON"/.test(head);
  } catch {
    return false;
  }
}

/** The document's content: it loads the 3D view's module (three.js) when the document opens, then shows the view. */
export class City3DHost extends Panel {
  constructor() {
    super();
    this.addClass('ai4geo-city3d-host');
  }

  async open(path: string): Promise<void> {
    const { City3DView } = await import('./city3d');
    if (this.isDisposed) {
      return;
    }
    const view = new City3DView();
    this.addWidget(view);
    await view.open(path);
  }
}
