import { api, describeError } from './api';
import { h } from './dom';

/** The states of a job: the first two have not ended. */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/** A job of the server (`ai4geo/jobs`): one step run in a process of its own (kept across server restarts). */
export interface IJob {
  id: string;
  step: string;
  state: JobState;
  created: string;
  started: string | null;
  finished: string | null;
  inputs: Record<string, string>;
  params: Record<string, unknown>;
  out: string;
  cluster: string | null;
  tile_size: number;
  progress: { record: string; done: number; total: number }[];
  /** Only in `GET jobs/ID` (the list leaves the logs out). */
  log?: string[];
  outputs: Record<string, string>;
  catalog: string | null;
  error: string | null;
  hint: string | null;
}

/** What the job list needs from the panel it sits in. */
export interface IJobListHost {
  /** Fill the panel's form with the job's step, inputs and parameters. */
  runAgain(job: IJob): void;
  /** Open files on the AI4GEO Map. */
  openOnMap(paths: string[]): Promise<void>;
  /** Whether the list is seen (it is refreshed only then). */
  isVisible(): boolean;
}

const REFRESH_MS = 1500;
/** Files "Open on map" takes (rasters, vectors; a STAC catalogue or a CityJSON file as JSON). */
export const MAP_FILE = /\.(tiff?|gpkg|geojson|fgb|shp|json)$/i;

/** `building_mask` → `Building mask`. */
export function stepTitle(name: string): string {
  const words = name.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function isActive(job: IJob): boolean {
  return job.state === 'queued' || job.state === 'running';
}

/** An ISO time as a person reads it: `14:03` today, `7 Dec 14:03` another day. */
export function jobTime(iso: string | null, now: Date = new Date()): string {
  if (!iso) {
    return '';
  }
  const d = new Date(iso);
  if (isNaN(d.getTime())) {
    return iso;
  }
  const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === now.toDateString()) {
    return hm;
  }
  const day = d.toLocaleDateString([], { day: 'numeric', month: 'short',
    year: d.getFullYear() === now.getFullYear() ? undefined : 'numeric' });
  return `${day} ${hm}`;
}

/** Tiles done and to do over all the job's tiled products. */
function tiles(job: IJob): { done: number; total: number } {
  return job.progress.reduce((acc, p) => ({ done: acc.done + p.done, total: acc.total + p.total }),
    { done: 0, total: 0 });
}

/**
 * The server's jobs, newest first: step, state (a coloured badge), time started, a bar while it runs. A click
 * opens a job: its log, outputs (each with Open on map), its error; Cancel, Run again, Forget. Refreshed while it
 * is seen and a job has not ended.
 */
export class JobList {
  readonly node = h('section', { class: 'ai4geo-jobs' });
  private list = h('ul', { class: 'ai4geo-jobs-list' });
  private empty = h('div', { class: 'ai4geo-help ai4geo-jobs-empty' }, 'No job yet: Run starts one.');
  private status = h('div', { class: 'ai4geo-status ai4geo-jobs-status' });
  private jobs: IJob[] = [];
  private shown = '';
  private open = new Set<string>();
  private details = new Map<string, IJob>();
  private timer: number | null = null;
  private refreshing: Promise<void> | null = null;

  constructor(private host: IJobListHost) {
    const refresh = h('button', { class: 'jp-Button ai4geo-jobs-refresh', title: 'Refresh the list' }, 'Refresh');
    refresh.onclick = () => void this.refresh();
    this.node.append(h('div', { class: 'ai4geo-jobs-head' }, h('h3', {}, 'Jobs'), refresh), this.status, this.empty,
      this.list);
  }

  /** Fetch the jobs again (one request at a time), then keep refreshing while one runs and the list is seen. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = null;
      this.schedule();
    });
    return this.refreshing;
  }

  /** Stop refreshing (the panel is hidden). */
  stop(): void {
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private schedule(): void {
    this.stop();
    if (this.host.isVisible() && this.jobs.some(isActive)) {
      this.timer = window.setTimeout(() => {
        this.timer = null;
        void this.refresh();
      }, REFRESH_MS);
    }
  }

  private say(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('ai4geo-error', error);
  }

  private async load(): Promise<void> {
    let jobs: IJob[];
    try {
      jobs = await api<IJob[]>('jobs');
    } catch (err) {
      this.say(describeError(err), true);
      return;
    }
    this.say('');
    this.jobs = jobs;
    const ids = new Set(jobs.map(j => j.id));
    for (const id of [...this.open]) {
      if (!ids.has(id)) {
        this.open.delete(id);
        this.details.delete(id);
      }
    }
    // the open jobs' logs: fetched again while they run, or when their state changed
    await Promise.all(jobs.filter(j => this.open.has(j.id) &&
      (isActive(j) || this.details.get(j.id)?.state !== j.state)).map(j => this.fetchDetails(j.id)));
    this.render();
  }

  private async fetchDetails(id: string): Promise<void> {
    try {
      this.details.set(id, await api<IJob>(`jobs/${id}`));
    } catch (err) {
      this.say(describeError(err), true);
    }
  }

  private render(force = false): void {
    const text = JSON.stringify([this.jobs, [...this.open], [...this.details.values()]]);
    if (text === this.shown && !force) {
      return; // nothing changed: the rows (and where the log is scrolled) stay as they are
    }
    this.shown = text;
    this.empty.hidden = this.jobs.length > 0;
    this.node.dataset.count = String(this.jobs.length);
    this.list.replaceChildren(...this.jobs.map(j => this.row(j)));
  }

  private row(job: IJob): HTMLElement {
    const open = this.open.has(job.id);
    const when = job.started ?? job.created;
    const head = h('button', { class: 'ai4geo-job-head', 'aria-expanded': String(open),
      title: open ? 'Hide the details' : 'Show the log, the outputs and what can be done' },
      h('span', { class: 'ai4geo-job-step' }, stepTitle(job.step)),
      h('span', { class: `ai4geo-job-badge ai4geo-job-${job.state}` }, job.state),
      h('span', { class: 'ai4geo-job-time', title: `${job.started ? 'started' : 'submitted'} ${when}` },
        jobTime(when)));
    head.onclick = () => void this.toggle(job.id);
    const li = h('li', { class: 'ai4geo-job', dataset: { id: job.id, state: job.state, step: job.step } }, head);
    if (isActive(job)) {
      const t = tiles(job);
      li.append(h('progress', { class: 'ai4geo-progress ai4geo-job-progress', max: String(Math.max(t.total, 1)),
        value: String(t.done), title: t.total ? `${t.done} / ${t.total} tiles` : 'starting' }));
    }
    if (open) {
      li.append(this.detailsOf(this.details.get(job.id) ?? job));
    }
    return li;
  }

  private async toggle(id: string): Promise<void> {
    if (this.open.has(id)) {
      this.open.delete(id);
    } else {
      this.open.add(id);
      await this.fetchDetails(id);
    }
    this.render();
  }

  private detailsOf(job: IJob): HTMLElement {
    const box = h('div', { class: 'ai4geo-job-details' });
    const t = tiles(job);
    const where = job.cluster ? `on ${job.cluster}` : 'in process';
    box.append(h('div', { class: 'ai4geo-job-meta' },
      `Output folder ${job.out} · tiles of ${job.tile_size} px · ${where}` +
      (t.total ? ` · ${t.done} / ${t.total} tiles` : '') +
      (job.finished ? ` · ended ${jobTime(job.finished)}` : '')));
    if (job.error) {
      box.append(h('div', { class: 'ai4geo-error ai4geo-job-error', role: 'alert' },
        job.hint ? `${job.error} — ${job.hint}` : job.error));
    }
    const outputs = Object.entries(job.outputs);
    if (job.catalog) {
      outputs.push(['STAC catalogue', job.catalog]);
    }
    if (outputs.length) {
      box.append(h('ul', { class: 'ai4geo-job-outputs' }, ...outputs.map(([name, path]) => {
        const item = h('li', { dataset: { path } }, h('span', { class: 'ai4geo-job-output-name' }, name),
          h('span', { class: 'ai4geo-job-output-path', title: path }, path));
        if (MAP_FILE.test(path)) {
          const show = h('button', { class: 'jp-Button ai4geo-job-open' }, 'Open on map');
          show.onclick = async () => {
            try {
              await this.host.openOnMap([path]);
            } catch (err) {
              this.say(describeError(err), true);
            }
          };
          item.append(show);
        }
        return item;
      })));
    }
    if (job.log?.length) {
      const log = h('pre', { class: 'ai4geo-job-log' }, job.log.join('\n'));
      box.append(log);
      requestAnimationFrame(() => (log.scrollTop = log.scrollHeight));
    }
    const buttons = h('div', { class: 'ai4geo-row ai4geo-job-actions' });
    if (isActive(job)) {
      const cancel = h('button', { class: 'jp-Button jp-mod-styled jp-mod-warn ai4geo-job-cancel' }, 'Cancel');
      cancel.onclick = () => void this.act(job, 'DELETE', `jobs/${job.id}`, 'Cancelling');
      buttons.append(cancel);
    }
    const again = h('button', { class: 'jp-Button ai4geo-job-again',
      title: 'Fill the form with this job\'s step, inputs and parameters' }, 'Run again');
    again.onclick = () => this.host.runAgain(job);
    buttons.append(again);
    if (!isActive(job)) {
      const forget = h('button', { class: 'jp-Button ai4geo-job-forget',
        title: 'Remove the job from the list (its products stay)' }, 'Forget');
      forget.onclick = () => void this.act(job, 'DELETE', `jobs/${job.id}?forget=true`, 'Forgetting');
      buttons.append(forget);
    }
    box.append(buttons);
    return box;
  }

  private async act(job: IJob, method: string, path: string, doing: string): Promise<void> {
    this.say(`${doing} ${stepTitle(job.step).toLowerCase()}…`);
    try {
      await api(path, { method });
    } catch (err) {
      this.say(describeError(err), true);
      return;
    }
    this.say('');
    await this.refresh();
  }
}
