import { Widget } from '@lumino/widgets';
import { api, ApiError, describeError, post } from './api';
import { h } from './dom';
import { IJob, JobList, jobTime, stepTitle } from './joblist';

export { IJob, stepTitle };

/** A step of the pipeline as `GET ai4geo/steps` describes it. */
export interface IStep {
  name: string;
  description: string;
  inputs: string[];
  optional_inputs: string[];
  outputs: string[];
  schema: ISchema;
}

/** The parts of a JSON Schema (pydantic's) the form reads. */
interface ISchema {
  type?: string;
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  properties?: Record<string, ISchema>;
  anyOf?: ISchema[];
  allOf?: ISchema[];
  $ref?: string;
  $defs?: Record<string, ISchema>;
}

interface IClusterChoice {
  id: string;
  label?: string;
  kind: string;
  scheduler_address: string | null;
}

/** What the panel needs from the Lab around it. */
export interface IStepsHost {
  /** Put code in the active notebook (a function of the notebook's path, relative to the server's root). */
  insertCode(code: (notebookPath: string) => string): Promise<void>;
  /** The file selected in the file browser (relative to the server's root), if any. */
  selectedFile(): string | null;
  /** The files of the layers of the AI4GEO Map last used (relative to the server's root). */
  mapLayers(): string[];
  /** Open files on the AI4GEO Map. */
  openOnMap(paths: string[]): Promise<void>;
}

/** One leaf parameter of the form: where it sits in the parameters, its schema, how to read and set it. */
interface IParamField {
  path: string[];
  schema: ISchema;
  nullable: boolean;
  read: () => { value: unknown; empty: boolean };
  write: (value: unknown) => void;
}

const POLL_MS = 400;
/** Products opened on the map when a run ends (rasters and vectors). */
const MAP_FILE = /\.(tiff?|gpkg|geojson|fgb|shp)$/i;
const UNITS: Record<string, string> = { m: 'm', m2: 'm²', m3: 'm³', px: 'px', deg: '°', s: 's', pct: '%' };

/** `max_object_size_m` → `max object size (m)`. */
export function paramLabel(key: string): string {
  const parts = key.split('_');
  const unit = parts.length > 1 ? UNITS[parts[parts.length - 1]] : undefined;
  return unit ? `${parts.slice(0, -1).join(' ')} (${unit})` : parts.join(' ');
}

/** A JSON value as Python source (for the inserted `run_step` call). */
export function pyLiteral(value: unknown): string {
  if (value === null || value === undefined) {
    return 'None';
  }
  if (typeof value === 'boolean') {
    return value ? 'True' : 'False';
  }
  if (typeof value === 'number' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map(pyLiteral).join(', ')}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pyLiteral(v)}`).join(', ')}}`;
}

/** The path `to` (relative to the server's root) seen from the folder `fromDir` (also relative to the root). */
export function relativePath(fromDir: string, to: string): string {
  const from = fromDir.split('/').filter(Boolean);
  const target = to.split('/').filter(Boolean);
  let common = 0;
  while (common < from.length && common < target.length - 1 && from[common] === target[common]) {
    common++;
  }
  return [...from.slice(common).map(() => '..'), ...target.slice(common)].join('/') || '.';
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * "Run a step": a form generated from a step's JSON Schema (its parameters), an input per role picked from the file
 * browser or the map's layers, an output folder and a cluster; Run submits a job to the server and follows it tile
 * by tile, then opens its products on the AI4GEO Map. Insert code puts the same `run_step(...)` call in a notebook.
 */
export class StepsPanel extends Widget {
  private steps: IStep[] = [];
  private stepSelect = h('select', { class: 'ai4geo-steps-step' });
  private description = h('div', { class: 'ai4geo-help ai4geo-steps-description' });
  private form = h('div', { class: 'ai4geo-steps-form' });
  private runButton = h('button', { class: 'jp-Button jp-mod-styled jp-mod-accept ai4geo-steps-run' }, 'Run');
  private cancelButton = h('button', { class: 'jp-Button jp-mod-styled jp-mod-warn ai4geo-steps-cancel', hidden: true }, 'Cancel');
  private codeButton = h('button', { class: 'jp-Button ai4geo-steps-code' }, 'Insert code');
  private status = h('div', { class: 'ai4geo-status ai4geo-steps-status' });
  private bars = h('div', { class: 'ai4geo-steps-progress' });
  private logView = h('pre', { class: 'ai4geo-steps-log', hidden: true });
  private inputs = new Map<string, HTMLInputElement>();
  private params: IParamField[] = [];
  private outInput = h('input', { type: 'text', class: 'ai4geo-steps-out', dataset: { field: 'out' } });
  private tileInput = h('input', { type: 'number', min: '16', step: '1', value: '1000', class: 'ai4geo-steps-tile',
    dataset: { field: 'tile_size' } });
  private clusterSelect = h('select', { class: 'ai4geo-steps-cluster', dataset: { field: 'cluster' } });
  private clusters: IClusterChoice[] = [];
  private job: IJob | null = null;
  private timer: number | null = null;
  private jobList: JobList;

  constructor(private host: IStepsHost) {
    super();
    this.id = 'ai4geo-steps';
    this.addClass('ai4geo-panel');
    this.addClass('ai4geo-steps-panel');
    this.title.caption = 'AI4GEO: run a step';
    this.stepSelect.onchange = () => this.showStep(this.stepSelect.value);
    this.runButton.onclick = () => void this.run();
    this.cancelButton.onclick = () => void this.cancel();
    this.codeButton.onclick = () => void this.insertCode();
    this.clusterSelect.onfocus = () => void this.loadClusters();
    this.jobList = new JobList({
      runAgain: job => void this.fill(job),
      openOnMap: paths => this.host.openOnMap(paths),
      isVisible: () => this.isVisible
    });
    this.node.append(
      h('h2', {}, 'Run a step'),
      h('label', { class: 'ai4geo-field' }, h('span', {}, 'Step'), this.stepSelect),
      this.description,
      this.form,
      h('div', { class: 'ai4geo-row' }, this.runButton, this.cancelButton, this.codeButton),
      this.status,
      this.bars,
      this.logView,
      this.jobList.node
    );
    void this.load();
  }

  protected onAfterShow(): void {
    void this.jobList.refresh();
  }

  protected onAfterHide(): void {
    this.jobList.stop();
  }

  /** The steps, from the server; the first one shown. */
  async load(): Promise<void> {
    try {
      this.steps = await api<IStep[]>('steps');
    } catch (err) {
      this.say(describeError(err), true);
      return;
    }
    this.stepSelect.replaceChildren(...this.steps.map(s =>
      h('option', { value: s.name, title: s.description }, stepTitle(s.name))));
    const first = this.steps.find(s => s.name === 'terrain') ?? this.steps[0];
    if (first) {
      this.stepSelect.value = first.name;
      this.showStep(first.name);
    }
    this.node.dataset.ready = 'true';
    void this.loadClusters();
    void this.jobList.refresh();
  }

  private get step(): IStep | undefined {
    return this.steps.find(s => s.name === this.stepSelect.value);
  }

  private say(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('ai4geo-error', error);
  }

  /** The form of one step: its inputs, its parameters (from the JSON Schema), the output folder, the cluster. */
  private showStep(name: string): void {
    const step = this.steps.find(s => s.name === name);
    if (!step) {
      return;
    }
    this.clearErrors();
    this.say('');
    this.description.textContent = `${step.description.charAt(0).toUpperCase()}${step.description.slice(1)}. ` +
      `Makes: ${step.outputs.join(', ')}.`;
    this.inputs.clear();
    this.params = [];
    const inputs = h('fieldset', { class: 'ai4geo-steps-section ai4geo-steps-inputs' }, h('legend', {}, 'Inputs'));
    for (const role of [...step.inputs, ...step.optional_inputs]) {
      inputs.append(this.inputRow(role, !step.inputs.includes(role)));
    }
    const params = h('fieldset', { class: 'ai4geo-steps-section ai4geo-steps-params' }, h('legend', {}, 'Parameters'));
    this.paramFields(step.schema, step.schema, [], params);
    if (!this.params.length) {
      params.append(h('div', { class: 'ai4geo-help' }, 'This step has no parameters.'));
    }
    this.outInput.value = `runs/${step.name}`;
    const run = h('fieldset', { class: 'ai4geo-steps-section ai4geo-steps-where' }, h('legend', {}, 'Where'),
      this.wrap('Output folder', this.outInput, 'out', 'relative to the root folder; run again to resume'),
      this.wrap('Tile size (px)', this.tileInput, 'tile_size', 'the unit of work and of progress'),
      this.wrap('Run on', this.clusterSelect, 'cluster', 'in the job\'s own process, or one of the Lab\'s clusters'));
    this.form.replaceChildren(inputs, params, run);
    this.form.dataset.step = step.name;
  }

  /** A labelled control with its help text and the place of its error message. */
  private wrap(label: string, control: HTMLElement, fieldName: string, help?: string): HTMLElement {
    return h('div', { class: 'ai4geo-steps-field', dataset: { field: fieldName } },
      h('label', {}, h('span', { class: 'ai4geo-steps-label' }, label), control),
      help ? h('div', { class: 'ai4geo-help' }, help) : null,
      h('div', { class: 'ai4geo-field-error', dataset: { for: fieldName }, role: 'alert' }));
  }

  private inputRow(role: string, optional: boolean): HTMLElement {
    const input = h('input', { type: 'text', class: 'ai4geo-steps-input', placeholder: 'path of a file',
      dataset: { field: `inputs.${role}`, role } });
    this.inputs.set(role, input);
    const useSelected = h('button', { class: 'jp-Button ai4geo-steps-use-selected', title: 'the file selected in ' +
      'the file browser' }, 'Use selected file');
    useSelected.onclick = () => {
      const path = this.host.selectedFile();
      if (path) {
        input.value = path;
        this.clearError(`inputs.${role}`);
      } else {
        this.showError(`inputs.${role}`, 'select a file in the file browser first');
      }
    };
    const layers = h('select', { class: 'ai4geo-steps-layers', title: 'a layer of the AI4GEO Map' },
      h('option', { value: '' }, 'from the map…'));
    const fillLayers = () => {
      const paths = this.host.mapLayers();
      layers.replaceChildren(h('option', { value: '' }, paths.length ? 'from the map…' : 'no layer on the map'),
        ...paths.map(p => h('option', { value: p }, p)));
    };
    layers.onfocus = fillLayers;
    layers.onmousedown = fillLayers;
    layers.onchange = () => {
      if (layers.value) {
        input.value = layers.value;
        this.clearError(`inputs.${role}`);
      }
      layers.value = '';
    };
    const field = this.wrap(optional ? `${role} (optional)` : role, input, `inputs.${role}`);
    field.insertBefore(h('div', { class: 'ai4geo-row ai4geo-steps-pick' }, useSelected, layers),
      field.querySelector('.ai4geo-field-error'));
    return field;
  }

  private resolve(root: ISchema, schema: ISchema): ISchema {
    let s = schema;
    if (s.allOf && s.allOf.length === 1) {
      s = { ...s.allOf[0], ...s, allOf: undefined };
    }
    if (s.$ref) {
      const name = s.$ref.split('/').pop() ?? '';
      s = { ...(root.$defs?.[name] ?? {}), ...s, $ref: undefined };
    }
    return s;
  }

  /** The controls of a schema's properties, nested objects as their own sections. */
  private paramFields(root: ISchema, schema: ISchema, path: string[], into: HTMLElement): void {
    for (const [key, raw] of Object.entries(schema.properties ?? {})) {
      const prop = this.resolve(root, raw);
      const here = [...path, key];
      if (prop.type === 'object' && prop.properties) {
        const section = h('fieldset', { class: 'ai4geo-steps-group', dataset: { field: `params.${here.join('.')}` } },
          h('legend', {}, paramLabel(key)),
          prop.description ? h('div', { class: 'ai4geo-help' }, prop.description) : null);
        this.paramFields(root, prop, here, section);
        into.append(section);
        continue;
      }
      into.append(this.paramControl(prop, here));
    }
  }

  private paramControl(prop: ISchema, path: string[]): HTMLElement {
    const fieldName = `params.${path.join('.')}`;
    const options = prop.anyOf ?? [];
    const nullable = options.some(o => o.type === 'null');
    const base: ISchema = options.length ? { ...prop, ...(options.find(o => o.type !== 'null') ?? {}) } : prop;
    const dflt = prop.default;
    let control: HTMLInputElement | HTMLSelectElement;
    let read: () => { value: unknown; empty: boolean };
    let write: (value: unknown) => void;
    const attrs = { dataset: { field: fieldName }, class: 'ai4geo-steps-param' };
    if (base.enum) {
      const select = h('select', attrs, ...(nullable ? [h('option', { value: '' }, '(none)')] : []),
        ...base.enum.map(v => h('option', { value: String(v) }, String(v))));
      select.value = dflt === null || dflt === undefined ? '' : String(dflt);
      read = () => {
        const v = base.enum!.find(e => String(e) === select.value);
        return { value: v ?? null, empty: select.value === '' };
      };
      write = v => (select.value = v === null || v === undefined ? '' : String(v));
      control = select;
    } else if (base.type === 'boolean') {
      const box = h('input', { ...attrs, type: 'checkbox' });
      box.checked = dflt === true;
      read = () => ({ value: box.checked, empty: false });
      write = v => (box.checked = v === true);
      control = box;
    } else if (base.type === 'number' || base.type === 'integer') {
      const lo = base.minimum ?? base.exclusiveMinimum;
      const hi = base.maximum ?? base.exclusiveMaximum;
      const input = h('input', { ...attrs, type: 'number', step: base.type === 'integer' ? '1' : 'any',
        min: lo === undefined ? undefined : String(lo), max: hi === undefined ? undefined : String(hi),
        placeholder: nullable ? 'automatic' : '' });
      input.value = typeof dflt === 'number' ? String(dflt) : '';
      // what was typed, as typed: the server says what is wrong with it, beside the field
      read = () => {
        const text = input.value.trim();
        if (text === '') {
          return { value: input.validity.badInput ? 'not a number' : null, empty: !input.validity.badInput };
        }
        return { value: Number(text), empty: false };
      };
      write = v => (input.value = typeof v === 'number' ? String(v) : '');
      control = input;
    } else {
      const input = h('input', { ...attrs, type: 'text', placeholder: nullable ? 'automatic' : '' });
      input.value = dflt === null || dflt === undefined ? '' : typeof dflt === 'string' ? dflt : JSON.stringify(dflt);
      read = () => {
        const text = input.value.trim();
        if (text === '') {
          return { value: null, empty: true };
        }
        if (base.type === 'string') {
          return { value: input.value, empty: false };
        }
        try {
          return { value: JSON.parse(text), empty: false };
        } catch {
          return { value: text, empty: false };
        }
      };
      write = v => (input.value = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
      control = input;
    }
    this.params.push({ path, schema: prop, nullable, read, write });
    const bounds: string[] = [];
    if (base.minimum !== undefined) {
      bounds.push(`≥ ${base.minimum}`);
    }
    if (base.exclusiveMinimum !== undefined) {
      bounds.push(`> ${base.exclusiveMinimum}`);
    }
    if (base.maximum !== undefined) {
      bounds.push(`≤ ${base.maximum}`);
    }
    if (base.exclusiveMaximum !== undefined) {
      bounds.push(`< ${base.exclusiveMaximum}`);
    }
    const dfltText = dflt === undefined ? '' : `default ${dflt === null ? 'automatic' : JSON.stringify(dflt)}`;
    const help = [prop.description ?? '', [dfltText, ...bounds].filter(Boolean).join(', ')].filter(Boolean)
      .join(' — ');
    control.addEventListener('input', () => this.clearError(fieldName));
    control.addEventListener('change', () => this.clearError(fieldName));
    return this.wrap(paramLabel(path[path.length - 1]), control, fieldName, help);
  }

  /** The parameters the user changed from their defaults (nested as the schema nests them). */
  private paramValues(): Record<string, unknown> {
    const out: Record<string, any> = {};
    for (const f of this.params) {
      const { value, empty } = f.read();
      if (empty && !f.nullable) {
        continue; // a cleared field: its default
      }
      const v = empty ? null : value;
      if (sameValue(v, f.schema.default ?? null)) {
        continue;
      }
      let node = out;
      for (const k of f.path.slice(0, -1)) {
        node = node[k] ??= {};
      }
      node[f.path[f.path.length - 1]] = v;
    }
    return out;
  }

  private request(): Record<string, any> {
    const step = this.step!;
    const inputs: Record<string, string> = {};
    for (const [role, input] of this.inputs) {
      if (input.value.trim()) {
        inputs[role] = input.value.trim();
      }
    }
    const tile = Number(this.tileInput.value);
    return { step: step.name, inputs, params: this.paramValues(), out: this.outInput.value.trim(),
      cluster: this.clusterSelect.value || null, tile_size: this.tileInput.value.trim() === '' ? 1000 : tile };
  }

  private async loadClusters(): Promise<void> {
    const keep = this.clusterSelect.value;
    try {
      this.clusters = (await api<IClusterChoice[]>('clusters')).filter(c => c.scheduler_address);
    } catch {
      this.clusters = [];
    }
    this.clusterSelect.replaceChildren(h('option', { value: '' }, 'In process (no cluster)'),
      ...this.clusters.map(c => h('option', { value: c.id }, `${c.label ?? c.kind} — ${c.scheduler_address}`)));
    this.clusterSelect.value = this.clusters.some(c => c.id === keep) ? keep : '';
  }

  private clearError(fieldName: string): void {
    const box = this.form.querySelector<HTMLElement>(`.ai4geo-steps-field[data-field="${CSS.escape(fieldName)}"]`);
    box?.classList.remove('ai4geo-invalid');
    const msg = box?.querySelector('.ai4geo-field-error');
    if (msg) {
      msg.textContent = '';
    }
  }

  private clearErrors(): void {
    this.form.querySelectorAll('.ai4geo-invalid').forEach(e => e.classList.remove('ai4geo-invalid'));
    this.form.querySelectorAll('.ai4geo-field-error').forEach(e => (e.textContent = ''));
  }

  /** Show `message` beside the field it concerns; false when the form has no such field. */
  private showError(fieldName: string, message: string): boolean {
    const box = this.form.querySelector<HTMLElement>(`.ai4geo-steps-field[data-field="${CSS.escape(fieldName)}"]`);
    if (!box) {
      return false;
    }
    box.classList.add('ai4geo-invalid');
    box.querySelector('.ai4geo-field-error')!.textContent = message;
    box.scrollIntoView({ block: 'nearest' });
    return true;
  }

  /** Check and submit the job, then follow it. */
  async run(): Promise<void> {
    if (!this.step) {
      return;
    }
    this.clearErrors();
    this.say('');
    this.bars.replaceChildren();
    this.logView.textContent = '';
    this.logView.hidden = true;
    this.node.dataset.state = 'submitting';
    this.runButton.disabled = true;
    let job: IJob;
    try {
      job = await post<IJob>('jobs', this.request());
    } catch (err) {
      this.runButton.disabled = false;
      this.node.dataset.state = 'refused';
      const fields = err instanceof ApiError ? err.fields : {};
      const marked = Object.entries(fields).filter(([f, m]) => this.showError(f, m));
      if (marked.length && err instanceof ApiError) {
        this.say(err.hint ? `Not started: ${err.hint}.` : 'Not started: see the marked field.', true);
      } else {
        this.say(describeError(err), true);
      }
      return;
    }
    this.job = job;
    this.cancelButton.hidden = false;
    this.showJob(job);
    this.poll(job.id);
    void this.jobList.refresh();
  }

  /** Fill the form with a job's step, inputs, parameters, output folder, tile size and cluster (Run again). */
  async fill(job: IJob): Promise<void> {
    if (!this.steps.some(s => s.name === job.step)) {
      this.say(`The step '${job.step}' is not among the steps of this server.`, true);
      return;
    }
    this.stepSelect.value = job.step;
    this.showStep(job.step);
    for (const [role, path] of Object.entries(job.inputs)) {
      const input = this.inputs.get(role);
      if (input) {
        input.value = path;
      }
    }
    for (const f of this.params) {
      let value: unknown = job.params;
      for (const key of f.path) {
        value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
      }
      if (value !== undefined) {
        f.write(value);
      }
    }
    this.outInput.value = job.out;
    this.tileInput.value = String(job.tile_size);
    await this.loadClusters();
    const gone = job.cluster && !this.clusters.some(c => c.id === job.cluster);
    this.clusterSelect.value = gone ? '' : job.cluster ?? '';
    this.node.dataset.filled = job.id;
    this.node.scrollTop = 0;
    this.say(`The form holds the job of ${jobTime(job.started ?? job.created)}: Run runs it again, computing only ` +
      `the tiles it had not finished.${gone ? ` Its cluster '${job.cluster}' is gone: it runs in process.` : ''}`);
  }

  private poll(id: string): void {
    this.timer = window.setTimeout(async () => {
      try {
        const job = await api<IJob>(`jobs/${id}`);
        if (this.job?.id !== id) {
          return;
        }
        this.job = job;
        this.showJob(job);
        if (job.state === 'queued' || job.state === 'running') {
          this.poll(id);
        } else {
          await this.finished(job);
        }
      } catch (err) {
        this.say(describeError(err), true);
        this.runButton.disabled = false;
        this.cancelButton.hidden = true;
      }
    }, POLL_MS);
  }

  /** The job's state: a progress bar per tiled product, the log. */
  private showJob(job: IJob): void {
    this.node.dataset.state = job.state;
    this.bars.replaceChildren(...job.progress.map(p => {
      const bar = h('progress', { class: 'ai4geo-progress', max: String(Math.max(p.total, 1)), value: String(p.done) });
      return h('div', { class: 'ai4geo-steps-bar', dataset: { record: p.record, done: String(p.done),
        total: String(p.total) } },
        h('div', { class: 'ai4geo-steps-bar-label' }, h('span', {}, p.record), h('span', {}, `${p.done} / ${p.total} tiles`)),
        bar);
    }));
    if (job.log?.length) {
      this.logView.hidden = false;
      this.logView.textContent = job.log.join('\n');
      this.logView.scrollTop = this.logView.scrollHeight;
    }
    if (job.state === 'queued') {
      this.say('Queued: waiting for a running job to finish…');
    } else if (job.state === 'running') {
      this.say(`Running ${stepTitle(job.step).toLowerCase()}…`);
    }
  }

  private async finished(job: IJob): Promise<void> {
    this.runButton.disabled = false;
    this.cancelButton.hidden = true;
    void this.jobList.refresh();
    if (job.state === 'done') {
      const products = Object.values(job.outputs).filter(p => MAP_FILE.test(p));
      this.say(`Done: ${Object.values(job.outputs).join(', ')}` +
        (products.length ? ' — opening on the AI4GEO Map.' : '.'));
      if (products.length) {
        try {
          await this.host.openOnMap(products);
        } catch (err) {
          this.say(describeError(err), true);
        }
      }
    } else if (job.state === 'failed') {
      this.say(job.hint ? `Failed: ${job.error} — ${job.hint}` : `Failed: ${job.error}`, true);
    } else {
      this.say('Cancelled: the finished tiles are kept; Run again to resume.');
    }
  }

  private async cancel(): Promise<void> {
    if (!this.job) {
      return;
    }
    try {
      await api(`jobs/${this.job.id}`, { method: 'DELETE' });
    } catch (err) {
      this.say(describeError(err), true);
    }
  }

  /** The same run as a `run_step(...)` call, in the active notebook. */
  async insertCode(): Promise<void> {
    if (!this.step) {
      return;
    }
    const r = this.request();
    const cluster = this.clusters.find(c => c.id === r.cluster);
    await this.host.insertCode(notebookPath => {
      // the kernel runs in the notebook's folder: the paths are given from there
      const dir = notebookPath.split('/').slice(0, -1).join('/');
      const inputs = Object.fromEntries(Object.entries(r.inputs as Record<string, string>)
        .map(([role, path]) => [role, relativePath(dir, path)]));
      const lines = ['from ai4geo_lab.pipeline import run_step', ''];
      if (cluster) {
        lines.splice(0, 0, 'from distributed import Client');
        lines.push(`client = Client(${pyLiteral(cluster.scheduler_address)})`);
      }
      const args = [pyLiteral(r.step), pyLiteral(inputs), pyLiteral(r.params),
        pyLiteral(relativePath(dir, r.out || `runs/${r.step}`))];
      if (cluster) {
        args.push('client');
      }
      if (r.tile_size !== 1000) {
        args.push(`tile_size=${r.tile_size}`);
      }
      lines.push(`outputs = run_step(${args.join(', ')})`, 'outputs');
      return lines.join('\n');
    });
  }

  dispose(): void {
    if (this.timer !== null) {
      window.clearTimeout(this.timer);
    }
    this.jobList.stop();
    super.dispose();
  }
}
