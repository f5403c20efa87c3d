import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error answered by the server extension: a message and what to do about it. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly hint: string | null,
    readonly status: number,
    readonly body: Record<string, any> | null = null
  ) {
    super(message);
  }

  /** The form fields the server found at fault (field → message), when the error concerns a form. */
  get fields(): Record<string, string> {
    return (this.body?.fields as Record<string, string> | undefined) ?? {};
  }
}

/** Call `BASE_URL/ai4geo/PATH` (authenticated, with the XSRF header) and parse the JSON answer. */
export async function api<T = any>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'ai4geo', path);
  let resp: Response;
  try {
    resp = await ServerConnection.makeRequest(url, init, settings);
  } catch (err) {
    throw new ApiError(`the Jupyter server did not answer: ${err}`, 'is it still running?', 0);
  }
  const text = await resp.text();
  let data: any = null;
  let readable = true;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
    readable = false;
  }
  if (resp.ok && !readable) {
    throw new ApiError('the server sent an answer that could not be read', 'see the Jupyter server log', resp.status);
  }
  if (!resp.ok) {
    const message = data?.error ?? data?.message ?? `HTTP ${resp.status} ${resp.statusText}`;
    throw new ApiError(message, data?.hint ?? null, resp.status, data && typeof data === 'object' ? data : null);
  }
  return data as T;
}

export function post<T = any>(path: string, body: unknown, method = 'POST'): Promise<T> {
  return api<T>(path, { method, body: JSON.stringify(body) });
}

export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    return err.hint ? `${err.message} — ${err.hint}` : err.message;
  }
  return String(err);
}
