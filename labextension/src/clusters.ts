import { Widget } from '@lumino/widgets';
import { api, describeError, post } from './api';
import { field, h } from './dom';

export interface ICluster {
  id: string;
  kind: string;
  label?: string;
  name?: string;
  origin: 'server' | 'kernel';
  managed: boolean;
  scheduler_address: string | null;
  dashboard_link: string | null;
  dashboard_url: string | null;
  workers: number | null;
  started?: string;
}

/** Dashboard pages that open well as Lab tabs. */
export const PLOTS: [string, string][] = [
  ['status', 'Status'],
  ['individual-task-stream', 'Task stream'],
  ['individual-progress', 'Progress'],
  ['individual-workers-memory', 'Workers memory'],
  ['individual-cpu', 'CPU']
];

/**
 * The cluster panel: start, scale and stop clusters through the project's cluster factory (on the server), see
 * the clusters kernels started too, open dashboard plots as tabs, insert the `Client(...)` code.
 */
export class ClusterPanel extends Widget {
  private spec = h('input', { type: 'text', value: 'local:1', class: 'ai4geo-cluster-spec',
    title: 'local, local:N, tcp://host:port, slurm, pbs, gateway, kubernetes' });
  private label = h('input', { type: 'text', placeholder: 'label (optional)', class: 'ai4geo-cluster-label' });
  private startButton = h('button', { class: 'jp-Button jp-mod-accept ai4geo-cluster-start' }, 'Start cluster');
  private status = h('div', { class: 'ai4geo-status' });
  private list = h('ul', { class: 'ai4geo-clusters' });
  private timer: number | null = null;

  constructor(
    private insertCode: (code: string) => Promise<void>,
    private openDashboard: (cluster: ICluster, plot: string, title: string) => void
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
    this.timer = window.setInterval(() => void this.refresh(), 5000);
  }

  protected onAfterHide(): void {
    if (this.timer !== null) {
      window.clearInterval(this.timer);
      this.timer = null;
    }
  }

  private say(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('ai4geo-error', error);
  }

  async refresh(): Promise<void> {
    try {
      const clusters = await api<ICluster[]>('clusters');
      this.list.replaceChildren(...clusters.map(c => this.card(c)));
      this.list.dataset.count = String(clusters.length);
      if (!clusters.length) {
        this.list.append(h('li', { class: 'ai4geo-empty' }, 'No cluster running.'));
      }
    } catch (err) {
      this.say(describeError(err), true);
    }
  }

  private async start(): Promise<void> {
    this.startButton.disabled = true;
    this.say(`starting ${this.spec.value}…`);
    try {
      const info = await post<ICluster>('clusters', { spec: this.spec.value.trim(), name: this.label.value || null });
      this.say(`started ${info.label ?? info.id} (${info.workers ?? 0} workers)`);
      await this.refresh();
    } catch (err) {
      this.say(describeError(err), true);
    } finally {
      this.startButton.disabled = false;
    }
  }

  private card(c: ICluster): HTMLElement {
    const workers = h('input', { type: 'number', min: '0', value: String(c.workers ?? 0), class: 'ai4geo-workers' });
    const scale = h('button', { class: 'jp-Button ai4geo-scale' }, 'Scale');
    scale.onclick = async () => {
      scale.disabled = true;
      try {
        await post(`clusters/${c.id}`, { workers: Number(workers.value) }, 'PATCH');
        await this.refresh();
      } catch (err) {
        this.say(describeError(err), true);
      } finally {
        scale.disabled = false;
      }
    };
    const stop = h('button', { class: 'jp-Button jp-mod-warn ai4geo-stop' }, 'Stop');
    stop.onclick = async () => {
      try {
        await api(`clusters/${c.id}`, { method: 'DELETE' });
        this.say(`stopped ${c.label ?? c.id}`);
        await this.refresh();
      } catch (err) {
        this.say(describeError(err), true);
      }
    };
    const code = h('button', { class: 'jp-Button ai4geo-client-code' }, 'Insert Client code');
    code.onclick = () => void this.insertCode(
      `from distributed import Client\n\nclient = Client(${JSON.stringify(c.scheduler_address)})\nclient`);
    const plots = h('div', { class: 'ai4geo-plots' },
      ...PLOTS.map(([path, title]) => h('button', {
        class: 'jp-Button ai4geo-plot', dataset: { plot: path },
        disabled: !c.dashboard_url, onclick: () => this.openDashboard(c, path, title)
      }, title)));
    const from = c.origin === 'kernel' ? 'started in a kernel' : 'started here';
    return h('li', { class: 'ai4geo-cluster', dataset: { id: c.id, origin: c.origin } },
      h('div', { class: 'ai4geo-cluster-title' }, `${c.label ?? c.name ?? c.kind} — ${c.kind}, ${from}`),
      h('div', { class: 'ai4geo-cluster-meta' },
        `${c.scheduler_address ?? ''} · ${c.workers ?? '?'} workers`),
      c.managed ? h('div', { class: 'ai4geo-row' }, workers, scale, stop) : null,
      h('div', { class: 'ai4geo-row' }, code),
      plots);
  }
}

/** The URL of one dashboard page of a cluster. */
export function plotUrl(c: ICluster, plot: string): string {
  const base = (c.dashboard_url ?? '').replace(/\/status\/?$/, '').replace(/\/$/, '');
  return `${base}/${plot}`;
}
