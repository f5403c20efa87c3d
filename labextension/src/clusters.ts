import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { api, describeError, post } from './api';
import { field, h } from './dom';

/** Live figures of a cluster, read by the server from its scheduler. */
export interface IFigures {
  reachable: boolean;
  error?: string;
  workers?: number;
  threads?: number;
  memory?: number;
  memory_limit?: number | null;
  cpu?: number;
  processing?: number | null;
  tasks?: number | null;
  clients?: number | null;
}

export interface ICluster {
  id: string;
  kind: string;
  title: string;
  label?: string | null;
  name?: string;
  origin: 'server' | 'kernel';
  managed: boolean;
  pid?: number;
  scheduler_address: string | null;
  dashboard_link: string | null;
  dashboard_url: string | null;
  workers: number | null;
  target?: number;
  figures?: IFigures;
  started?: string;
}

/** What the panel asks of the dashboard tabs (kept in the main area by the plugin). */
export interface IDashboards {
  open(cluster: ICluster, plot: string, title: string): void;
  /** The cluster is gone: close its tabs (`closed`: stopped from this panel) or mark them stopped. */
  clusterGone(id: string, closed: boolean): void;
}

/** Dashboard pages that open well as Lab tabs. */
export const PLOTS: [string, string][] = [
  ['status', 'Status'],
  ['individual-task-stream', 'Task stream'],
  ['individual-progress', 'Progress'],
  ['individual-workers-memory', 'Workers memory'],
  ['individual-cpu', 'CPU']
];

const REFRESH_MS = 5000;
const SCALING_REFRESH_MS = 1000;

/** A byte count for people: 512 MiB, 3.9 GiB. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One cluster's card: built once, updated in place at each refresh (a number being typed is kept). */
class Card {
  readonly node: HTMLLIElement;
  private titleEl = h('div', { class: 'ai4geo-cluster-title' });
  private meta = h('div', { class: 'ai4geo-cluster-meta' });
  private figures = h('div', { class: 'ai4geo-cluster-figures' });
  private barFill = h('div', { class: 'ai4geo-membar-fill' });
  private barText = h('span', { class: 'ai4geo-membar-text' });
  private bar = h('div', { class: 'ai4geo-membar', title: 'memory used by the workers / their limit' },
    this.barFill, this.barText);
  private flag = h('div', { class: 'ai4geo-cluster-unreachable ai4geo-error' });
  readonly workers = h('input', { type: 'number', min: '0', step: '1', class: 'ai4geo-workers',
    title: 'number of workers' });
  readonly workersError = h('div', { class: 'ai4geo-workers-error ai4geo-error' });
  readonly scale = h('button', { class: 'jp-Button ai4geo-scale' }, 'Scale');
  readonly stop = h('button', { class: 'jp-Button jp-mod-styled jp-mod-warn ai4geo-stop' }, 'Stop');
  readonly forget = h('button', { class: 'jp-Button ai4geo-forget',
    title: 'a kernel started this cluster: the panel can only stop listing it' }, 'Forget');
  readonly code = h('button', { class: 'jp-Button ai4geo-client-code' }, 'Insert Client code');
  private plots: HTMLButtonElement[];
  cluster: ICluster;

  constructor(c: ICluster, open: (c: ICluster, plot: string, title: string) => void) {
    this.cluster = c;
    this.workers.value = String(c.target ?? c.workers ?? 0);
    this.plots = PLOTS.map(([path, title]) => h('button', {
      class: 'jp-Button ai4geo-plot', dataset: { plot: path }, onclick: () => open(this.cluster, path, title)
    }, title));
    const owner = c.origin === 'kernel'
      ? h('div', { class: 'ai4geo-cluster-owner' },
        `started in a kernel${c.pid ? ` (pid ${c.pid})` : ''}: close it from its notebook; the panel can only forget it`)
      : null;
    this.node = h('li', { class: 'ai4geo-cluster', dataset: { id: c.id, origin: c.origin } },
      this.titleEl, this.meta, this.figures, this.bar, this.flag, owner,
      c.managed
        ? h('div', { class: 'ai4geo-row' }, this.workers, this.scale, this.stop)
        : h('div', { class: 'ai4geo-row' }, this.forget),
      c.managed ? this.workersError : null,
      h('div', { class: 'ai4geo-row' }, this.code),
      h('div', { class: 'ai4geo-plots' }, ...this.plots));
    this.update(c);
  }

  update(c: ICluster): void {
    this.cluster = c;
    const from = c.origin === 'kernel' ? 'started in a kernel' : 'started here';
    this.titleEl.textContent = c.title;
    const f = c.figures;
    const count = f?.reachable ? f.workers ?? 0 : c.workers;
    const target = c.target !== undefined && c.target !== count ? ` (scaling to ${c.target})` : '';
    this.meta.textContent = `${c.kind}, ${from} · ${c.scheduler_address ?? ''} · ${count ?? '?'} workers${target}`;
    this.node.dataset.workers = String(count ?? '');
    this.node.dataset.reachable = String(!!f?.reachable);
    this.node.classList.toggle('ai4geo-cluster-silent', !!f && !f.reachable);
    if (f?.reachable) {
      // tasks and clients are unknown (null) when the figures came without the dashboard
      this.figures.textContent = [plural(f.workers ?? 0, 'worker'), plural(f.threads ?? 0, 'thread'),
        `CPU ${Math.round(f.cpu ?? 0)}%`, f.processing == null ? null : `${f.processing} processing`,
        f.clients == null ? null : plural(f.clients, 'client')].filter(x => x !== null).join(' · ');
      const used = f.memory ?? 0;
      const limit = f.memory_limit ?? 0;
      const share = limit ? Math.min(1, used / limit) : 0;
      this.barFill.style.width = `${(share * 100).toFixed(1)}%`;
      this.barFill.classList.toggle('ai4geo-membar-high', share > 0.8);
      this.barText.textContent = limit ? `${bytes(used)} / ${bytes(limit)}` : `${bytes(used)} (no limit)`;
      this.bar.hidden = false;
      this.flag.textContent = '';
    } else {
      this.figures.textContent = '';
      this.bar.hidden = true;
      this.flag.textContent = f ? `scheduler not answering: ${f.error ?? 'no reply'}` : '';
    }
    for (const b of this.plots) {
      b.disabled = !c.dashboard_url;
    }
  }
}

/**
 * The cluster panel: start, scale and stop clusters through the project's cluster factory (on the server), see
 * the clusters kernels started too, with live figures (workers, threads, CPU, memory, clients) from their
 * schedulers, open dashboard plots as tabs, insert the `Client(...)` code.
 */
export class ClusterPanel extends Widget {
  private spec = h('input', { type: 'text', value: 'local:1', class: 'ai4geo-cluster-spec',
    title: 'local, local:N, tcp://host:port, slurm, pbs, gateway, kubernetes' });
  private label = h('input', { type: 'text', placeholder: 'label (optional)', class: 'ai4geo-cluster-label' });
  private startButton = h('button', { class: 'jp-Button jp-mod-styled jp-mod-accept ai4geo-cluster-start' }, 'Start cluster');
  private status = h('div', { class: 'ai4geo-status' });
  private list = h('ul', { class: 'ai4geo-clusters' });
  private timer: number | null = null;
  private cards = new Map<string, Card>();
  /** Clusters being scaled from here: id → target (the status line follows them until the count is reached). */
  private scaling = new Map<string, number>();
  private refreshing: Promise<void> | null = null;

  constructor(
    private insertCode: (code: string) => Promise<void>,
    private dashboards: IDashboards
  ) {
    super();
    this.id = 'ai4geo-clusters';
    this.addClass('ai4geo-panel');
    this.addClass('ai4geo-cluster-panel');
    this.title.caption = 'AI4GEO clusters';
    this.startButton.onclick = () => void this.start();
    this.node.append(
      h('h2', {}, 'AI4GEO clusters'),
      field('Cluster spec', this.spec),
      this.label,
      h('div', { class: 'ai4geo-row' }, this.startButton,
        h('button', { class: 'jp-Button', onclick: () => void this.refresh() }, 'Refresh')),
      this.status,
      this.list
    );
  }

  protected onAfterShow(): void {
    void this.refresh();
    this.schedule();
  }

  protected onAfterHide(): void {
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** The next refresh: every 5 s, every second while a scaling is under way. */
  private schedule(): void {
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
    }
    this.timer = window.setTimeout(async () => {
      this.timer = null;
      await this.refresh();
      if (this.isVisible) {
        this.schedule();
      }
    }, this.scaling.size ? SCALING_REFRESH_MS : REFRESH_MS);
  }

  private say(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('ai4geo-error', error);
  }

  refresh(): Promise<void> {
    // one request at a time: a slow answer is not overtaken by the next tick
    this.refreshing ??= this.load().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async load(): Promise<void> {
    let clusters: ICluster[];
    try {
      clusters = await api<ICluster[]>('clusters');
    } catch (err) {
      this.say(describeError(err), true);
      return;
    }
    const seen = new Set(clusters.map(c => c.id));
    for (const id of [...this.cards.keys()]) {
      if (!seen.has(id)) {
        this.drop(id);
        this.dashboards.clusterGone(id, false);
      }
    }
    this.list.querySelector('.ai4geo-empty')?.remove();
    for (const c of clusters) {
      let card = this.cards.get(c.id);
      if (card) {
        card.update(c);
      } else {
        card = this.makeCard(c);
        this.cards.set(c.id, card);
      }
      this.list.append(card.node); // keeps the server's order
      this.follow(c);
    }
    this.list.dataset.count = String(clusters.length);
    if (!clusters.length) {
      this.list.append(h('li', { class: 'ai4geo-empty' }, 'No cluster running.'));
    }
  }

  /** The status line of a cluster being scaled: the target, then the count as workers arrive. */
  private follow(c: ICluster): void {
    const target = this.scaling.get(c.id);
    if (target === undefined) {
      return;
    }
    const count = c.figures?.reachable ? c.figures.workers ?? 0 : c.workers ?? 0;
    if (count === target) {
      this.scaling.delete(c.id);
      this.say(`${c.title}: ${plural(count, 'worker')}, scaled`);
    } else {
      this.say(`scaling ${c.title} to ${target}: ${count} of ${target} workers here`);
    }
  }

  private async start(): Promise<void> {
    this.startButton.disabled = true;
    this.say(`starting ${this.spec.value}…`);
    try {
      const info = await post<ICluster>('clusters', { spec: this.spec.value.trim(), name: this.label.value || null });
      this.say(`started ${info.title} (${plural(info.workers ?? 0, 'worker')})`);
      await this.refresh();
    } catch (err) {
      this.say(describeError(err), true);
    } finally {
      this.startButton.disabled = false;
    }
  }

  private makeCard(c: ICluster): Card {
    const card = new Card(c, (cl, plot, title) => this.dashboards.open(cl, plot, title));
    card.workers.oninput = () => {
      card.workersError.textContent = '';
      card.workers.classList.remove('ai4geo-invalid');
    };
    card.scale.onclick = () => void this.scale(card);
    card.stop.onclick = () => void this.stop(card);
    card.forget.onclick = () => void this.forget(card);
    card.code.onclick = () => void this.insertCode(
      `from distributed import Client\n\nclient = Client(${JSON.stringify(card.cluster.scheduler_address)})\nclient`);
    return card;
  }

  private async scale(card: Card): Promise<void> {
    const c = card.cluster;
    const text = card.workers.value.trim();
    if (!/^\d+$/.test(text)) {
      card.workersError.textContent = text.startsWith('-')
        ? 'give 0 or more workers'
        : 'give a whole number of workers (0 or more)';
      card.workers.classList.add('ai4geo-invalid');
      return;
    }
    const target = Number(text);
    card.scale.disabled = true;
    this.say(`scaling ${c.title} to ${target}…`);
    try {
      const info = await post<ICluster>(`clusters/${c.id}`, { workers: target }, 'PATCH');
      this.scaling.set(c.id, target);
      card.update({ ...c, ...info, figures: c.figures, target });
      this.follow({ ...c, target });
      this.schedule();
    } catch (err) {
      card.workersError.textContent = describeError(err);
      this.say(describeError(err), true);
    } finally {
      card.scale.disabled = false;
    }
  }

  private async stop(card: Card): Promise<void> {
    const c = card.cluster;
    const clients = c.figures?.reachable ? c.figures.clients ?? 0 : 0;
    if (clients > 0) {
      const answer = await showDialog({
        title: `Stop ${c.title}?`,
        body: `${plural(clients, 'client')} connected to this cluster would lose it ` +
          `(their computations stop with an error).`,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Stop' })]
      });
      if (!answer.button.accept) {
        this.say(`${c.title} not stopped`);
        return;
      }
    }
    card.stop.disabled = true;
    this.say(`stopping ${c.title}…`);
    try {
      await api(`clusters/${c.id}`, { method: 'DELETE' });
      this.drop(c.id);
      this.dashboards.clusterGone(c.id, true);
      this.say(`stopped ${c.title}`);
      await this.refresh();
    } catch (err) {
      this.say(describeError(err), true);
    } finally {
      card.stop.disabled = false;
    }
  }

  private drop(id: string): void {
    this.cards.get(id)?.node.remove();
    this.cards.delete(id);
    this.scaling.delete(id);
  }

  private async forget(card: Card): Promise<void> {
    const c = card.cluster;
    const answer = await showDialog({
      title: `Forget ${c.title}?`,
      body: 'A kernel started this cluster: the panel cannot stop it. Forgetting only removes it from this list; ' +
        'it keeps running until its notebook closes it (client.close(), or the kernel ends).',
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Forget' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await api(`clusters/${c.id}?forget=true`, { method: 'DELETE' });
      this.drop(c.id); // its dashboards still work: the cluster runs on
      this.say(`forgot ${c.title} (it still runs in its kernel)`);
      await this.refresh();
    } catch (err) {
      this.say(describeError(err), true);
    }
  }
}

/** The URL of one dashboard page of a cluster. */
export function plotUrl(c: ICluster, plot: string): string {
  const base = (c.dashboard_url ?? '').replace(/\/status\/?$/, '').replace(/\/$/, '');
  return `${base}/${plot}`;
}
