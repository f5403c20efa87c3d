import { h } from './dom';

/** One search result as the panel shows it (a GeoJSON feature of `POST search`). */
export interface IResultFeature {
  id: string;
  properties: {
    datetime?: string | null;
    collection?: string | null;
    cloud_cover?: number | null;
    platform?: string | null;
    instruments?: string[] | null;
  };
}

/** What the table asks of the panel that holds it (the map side of the results). */
export interface IResultsHost {
  /** The checkbox of a row changed: the item joins or leaves the download selection. */
  toggle(id: string, on: boolean): void;
  /** A row was clicked: select the item and zoom to its footprint. */
  focus(id: string): void;
  /** The pointer entered or left a row. */
  hover(id: string, on: boolean): void;
  /** Show or hide the quicklook on the item's footprint; resolves to whether it is shown. */
  quicklook(id: string, show: boolean): Promise<boolean>;
  /** The date range changed: only these items are shown (their footprints too). */
  filtered(visible: Set<string>): void;
}

type SortKey = 'date' | 'collection' | 'cloud' | 'platform' | 'id';
const MISSING = '—';
const SVG = 'http://www.w3.org/2000/svg';
const DAY = 86_400_000;

function platformOf(f: IResultFeature): string | null {
  const p = f.properties;
  const parts = [p.platform, ...(p.instruments ?? [])].filter(x => x !== null && x !== undefined && x !== '');
  return parts.length ? parts.join(' / ') : null;
}

function timeOf(f: IResultFeature): number | null {
  const t = f.properties.datetime ? Date.parse(f.properties.datetime) : NaN;
  return Number.isFinite(t) ? t : null;
}

function valueOf(f: IResultFeature, key: SortKey): string | number | null {
  const p = f.properties;
  switch (key) {
    case 'date':
      return timeOf(f);
    case 'collection':
      return p.collection ?? null;
    case 'cloud':
      return typeof p.cloud_cover === 'number' ? p.cloud_cover : null;
    case 'platform':
      return platformOf(f);
    default:
      return f.id;
  }
}

/** Sort features by a column; missing values always last, ties kept in their server order. */
export function sortFeatures<T extends IResultFeature>(features: T[], key: SortKey, ascending: boolean): T[] {
  const order = new Map(features.map((f, i) => [f, i]));
  return [...features].sort((a, b) => {
    const va = valueOf(a, key), vb = valueOf(b, key);
    if (va === null || vb === null) {
      return va === vb ? order.get(a)! - order.get(b)! : va === null ? 1 : -1;
    }
    const c = typeof va === 'number' && typeof vb === 'number' ? va - vb :
      String(va).localeCompare(String(vb), undefined, { numeric: true });
    return c === 0 ? order.get(a)! - order.get(b)! : ascending ? c : -c;
  });
}

/** Bins of a set of dates: by day when they span at most two months, else by month (UTC). */
export interface IBins {
  unit: 'day' | 'month';
  starts: number[]; // start of each bin (ms), contiguous from the first date's bin to the last's
  counts: number[];
}

function monthStart(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function nextMonth(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

export function binDates(times: number[]): IBins | null {
  if (!times.length) {
    return null;
  }
  const lo = Math.min(...times), hi = Math.max(...times);
  const unit = hi - lo <= 62 * DAY ? 'day' : 'month';
  const first = unit === 'day' ? Math.floor(lo / DAY) * DAY : monthStart(lo);
  const step = (t: number) => (unit === 'day' ? t + DAY : nextMonth(t));
  const starts: number[] = [];
  for (let t = first; t <= hi; t = step(t)) {
    starts.push(t);
  }
  const counts = starts.map(() => 0);
  for (const t of times) {
    counts[binIndex(starts, t)] += 1;
  }
  return { unit, starts, counts };
}

function binIndex(starts: number[], t: number): number {
  let i = starts.length - 1;
  while (i > 0 && starts[i] > t) {
    i -= 1;
  }
  return i;
}

function binLabel(bins: IBins, i: number): string {
  const iso = new Date(bins.starts[i]).toISOString();
  return bins.unit === 'day' ? iso.slice(0, 10) : iso.slice(0, 7);
}

/** A shortened id: its start and end around an ellipsis (the full id is in the cell's title). */
export function shortId(id: string, max = 18): string {
  if (id.length <= max) {
    return id;
  }
  const head = Math.ceil((max - 1) / 2), tail = Math.floor((max - 1) / 2);
  return `${id.slice(0, head)}…${id.slice(id.length - tail)}`;
}

/**
 * The results of one page: a date histogram with a range (drag over the bars, or the two sliders under them), the
 * count shown, and a table sortable by its headers. Selection, zoom and quicklooks go to the host (the map).
 */
export class ResultsView {
  readonly node = h('div', { class: 'ai4geo-results-view', hidden: true });
  private features: IResultFeature[] = [];
  private bins: IBins | null = null;
  private range: [number, number] | null = null; // bin indices, inclusive; null: everything
  private sortKey: SortKey | null = null;
  private ascending = true;
  private selected = new Set<string>();
  private shownLooks = new Set<string>();

  private svg = document.createElementNS(SVG, 'svg');
  private fromSlider = h('input', { type: 'range', min: '0', step: '1', class: 'ai4geo-range-from',
    'aria-label': 'from date' });
  private toSlider = h('input', { type: 'range', min: '0', step: '1', class: 'ai4geo-range-to',
    'aria-label': 'to date' });
  private rangeText = h('span', { class: 'ai4geo-range-text' });
  private clearButton = h('button', { class: 'jp-Button ai4geo-range-clear', disabled: true }, 'clear');
  private count = h('div', { class: 'ai4geo-results-count', 'aria-live': 'polite' });
  private histogram = h('div', { class: 'ai4geo-histogram' });
  private head = h('thead');
  private body = h('tbody');
  readonly table = h('table', { class: 'ai4geo-results' }, this.head, this.body);

  constructor(private host: IResultsHost) {
    this.svg.setAttribute('class', 'ai4geo-histogram-bars');
    this.svg.setAttribute('height', '48');
    this.svg.setAttribute('role', 'img');
    this.histogram.append(
      this.svg,
      h('div', { class: 'ai4geo-range' }, this.fromSlider, this.toSlider),
      h('div', { class: 'ai4geo-range-row' }, this.rangeText, this.clearButton)
    );
    this.node.append(this.histogram, this.count, h('div', { class: 'ai4geo-results-scroll' }, this.table));
    this.fromSlider.oninput = () => this.fromSliders('from');
    this.toSlider.oninput = () => this.fromSliders('to');
    this.clearButton.onclick = () => this.setRange(null);
    this.brush();
  }

  /** Show a new page of results (the range is cleared, the sort kept). */
  show(features: IResultFeature[]): void {
    this.features = features;
    this.selected.clear();
    this.shownLooks.clear();
    this.range = null;
    const times = features.map(timeOf).filter((t): t is number => t !== null);
    this.bins = binDates(times);
    const last = String(Math.max(0, (this.bins?.starts.length ?? 1) - 1));
    for (const s of [this.fromSlider, this.toSlider]) {
      s.max = last;
      s.disabled = !this.bins || this.bins.starts.length < 2;
    }
    this.fromSlider.value = '0';
    this.toSlider.value = last;
    this.histogram.hidden = !this.bins;
    this.histogram.dataset.unit = this.bins?.unit ?? '';
    this.node.hidden = false;
    this.render();
  }

  /** Mark a row selected or not (the footprint was clicked, or the row). */
  setSelected(id: string, on: boolean): void {
    if (on) {
      this.selected.add(id);
    } else {
      this.selected.delete(id);
    }
    const row = this.rowOf(id);
    if (row) {
      row.classList.toggle('ai4geo-selected', on);
      row.querySelector<HTMLInputElement>('input.ai4geo-select')!.checked = on;
    }
  }

  /** The ids of the rows shown (the date range applied), in table order. */
  get visibleIds(): string[] {
    return this.ordered().filter(f => this.inRange(f)).map(f => f.id);
  }

  private rowOf(id: string): HTMLTableRowElement | null {
    return this.body.querySelector<HTMLTableRowElement>(`tr[data-id="${CSS.escape(id)}"]`);
  }

  private ordered(): IResultFeature[] {
    return this.sortKey ? sortFeatures(this.features, this.sortKey, this.ascending) : this.features;
  }

  private inRange(f: IResultFeature): boolean {
    if (!this.range || !this.bins) {
      return true;
    }
    const t = timeOf(f);
    if (t === null) {
      return false; // a date range asked for: items without a date are not in it
    }
    const i = binIndex(this.bins.starts, t);
    return i >= this.range[0] && i <= this.range[1];
  }

  // ---- range ----------------------------------------------------------------------------------------------
  private fromSliders(moved: 'from' | 'to'): void {
    let lo = Number(this.fromSlider.value), hi = Number(this.toSlider.value);
    if (lo > hi) {
      if (moved === 'from') {
        hi = lo;
      } else {
        lo = hi;
      }
    }
    this.setRange([lo, hi]);
  }

  private setRange(range: [number, number] | null): void {
    const last = (this.bins?.starts.length ?? 1) - 1;
    const full = !range || (range[0] <= 0 && range[1] >= last);
    this.range = full ? null : [Math.max(0, range![0]), Math.min(last, range![1])];
    this.fromSlider.value = String(this.range ? this.range[0] : 0);
    this.toSlider.value = String(this.range ? this.range[1] : last);
    this.render();
  }

  /** Dragging over the bars picks the range of bins under the drag; a click picks one bin. */
  private brush(): void {
    let start: number | null = null;
    const binAt = (e: PointerEvent) => {
      const n = this.bins?.starts.length ?? 0;
      const box = this.svg.getBoundingClientRect();
      return Math.max(0, Math.min(n - 1, Math.floor(((e.clientX - box.left) / Math.max(box.width, 1)) * n)));
    };
    this.svg.addEventListener('pointerdown', e => {
      if (!this.bins) {
        return;
      }
      start = binAt(e);
      this.svg.setPointerCapture?.(e.pointerId);
      this.setRange([start, start]);
    });
    this.svg.addEventListener('pointermove', e => {
      if (start !== null) {
        const i = binAt(e);
        this.setRange([Math.min(start, i), Math.max(start, i)]);
      }
    });
    const end = () => {
      start = null;
    };
    this.svg.addEventListener('pointerup', end);
    this.svg.addEventListener('pointercancel', end);
  }

  // ---- drawing --------------------------------------------------------------------------------------------
  private render(): void {
    this.drawHistogram();
    this.drawTable();
    const visible = new Set(this.visibleIds);
    this.count.textContent = `${visible.size} of ${this.features.length} results`;
    this.count.dataset.shown = String(visible.size);
    this.count.dataset.total = String(this.features.length);
    this.clearButton.disabled = this.range === null;
    if (this.bins) {
      const [lo, hi] = this.range ?? [0, this.bins.starts.length - 1];
      this.rangeText.textContent = lo === hi ? binLabel(this.bins, lo) :
        `${binLabel(this.bins, lo)} – ${binLabel(this.bins, hi)}`;
      this.histogram.dataset.range = this.range ? `${binLabel(this.bins, lo)}/${binLabel(this.bins, hi)}` : '';
    }
    this.host.filtered(visible);
  }

  private drawHistogram(): void {
    const bins = this.bins;
    this.svg.replaceChildren();
    if (!bins) {
      return;
    }
    const n = bins.starts.length, height = 48, top = Math.max(...bins.counts);
    this.svg.setAttribute('viewBox', `0 0 ${n * 10} ${height}`);
    this.svg.setAttribute('preserveAspectRatio', 'none');
    this.svg.setAttribute('aria-label', `acquisition dates by ${bins.unit}, ${binLabel(bins, 0)} to ` +
      `${binLabel(bins, n - 1)}`);
    const [lo, hi] = this.range ?? [0, n - 1];
    bins.counts.forEach((c, i) => {
      const bar = document.createElementNS(SVG, 'rect');
      const barHeight = c ? Math.max(3, (c / top) * (height - 2)) : 0;
      bar.setAttribute('x', String(i * 10 + 1));
      bar.setAttribute('width', '8');
      bar.setAttribute('y', String(height - barHeight));
      bar.setAttribute('height', String(barHeight));
      bar.setAttribute('class', i >= lo && i <= hi ? 'ai4geo-bar ai4geo-bar-in' : 'ai4geo-bar');
      const title = document.createElementNS(SVG, 'title');
      title.textContent = `${binLabel(bins, i)}: ${c}`;
      bar.append(title);
      this.svg.append(bar);
    });
    if (this.range) {
      const sel = document.createElementNS(SVG, 'rect');
      sel.setAttribute('x', String(lo * 10));
      sel.setAttribute('width', String((hi - lo + 1) * 10));
      sel.setAttribute('y', '0');
      sel.setAttribute('height', String(height));
      sel.setAttribute('class', 'ai4geo-brush');
      this.svg.append(sel);
    }
  }

  private drawTable(): void {
    const hasPlatform = this.features.some(f => platformOf(f) !== null);
    // the cloud cover right after the date: the two values most items are chosen on fit in the side bar's width
    const columns: [SortKey | null, string, string][] = [
      [null, '', 'ai4geo-col-select'],
      [null, '', 'ai4geo-col-look'],
      ['date', 'Date', 'ai4geo-col-date'],
      ['cloud', 'Cloud %', 'ai4geo-col-cloud ai4geo-num'],
      ['collection', 'Collection', 'ai4geo-col-collection'],
      ...(hasPlatform ? [['platform', 'Platform', 'ai4geo-col-platform'] as [SortKey, string, string]] : []),
      ['id', 'Id', 'ai4geo-col-id']
    ];
    this.head.replaceChildren(h('tr', {}, ...columns.map(([key, label, cls]) => {
      if (!key) {
        return h('th', { class: cls });
      }
      const active = this.sortKey === key;
      const arrow = active ? (this.ascending ? ' ▲' : ' ▼') : '';
      const button = h('button', { class: 'ai4geo-sort', type: 'button', dataset: { key },
        title: `sort by ${label.toLowerCase()}` }, label + arrow);
      button.onclick = () => this.sortBy(key);
      return h('th', { class: cls, 'aria-sort': active ? (this.ascending ? 'ascending' : 'descending') : 'none' },
        button);
    })));
    this.body.replaceChildren(...this.ordered().filter(f => this.inRange(f)).map(f => this.row(f, hasPlatform)));
  }

  private sortBy(key: SortKey): void {
    if (this.sortKey === key) {
      this.ascending = !this.ascending;
    } else {
      this.sortKey = key;
      this.ascending = true;
    }
    this.render();
    this.head.querySelector<HTMLButtonElement>(`button[data-key="${key}"]`)?.focus();
  }

  private row(f: IResultFeature, hasPlatform: boolean): HTMLTableRowElement {
    const p = f.properties;
    const cell = (text: string | null, cls: string, title?: string) =>
      h('td', { class: text === null ? `${cls} ai4geo-missing` : cls, title }, text ?? MISSING);
    const check = h('input', { type: 'checkbox', class: 'ai4geo-select', dataset: { id: f.id },
      'aria-label': `select ${f.id} for download` });
    check.checked = this.selected.has(f.id);
    check.onclick = e => e.stopPropagation();
    check.onchange = () => this.host.toggle(f.id, check.checked);
    const look = h('button', { class: 'jp-Button ai4geo-quicklook-button', type: 'button',
      title: 'show the quicklook on its footprint', 'aria-label': `quicklook of ${f.id} on its footprint`,
      'aria-pressed': String(this.shownLooks.has(f.id)) }, 'QL');
    look.onclick = e => {
      e.stopPropagation();
      const show = !this.shownLooks.has(f.id);
      void this.host.quicklook(f.id, show).then(shown => {
        if (shown) {
          this.shownLooks.add(f.id);
        } else {
          this.shownLooks.delete(f.id);
        }
        look.setAttribute('aria-pressed', String(shown));
      });
    };
    const when = p.datetime ? p.datetime.slice(0, 10) : null; // the day; the time is in the title
    const cloud = typeof p.cloud_cover === 'number' ? p.cloud_cover.toFixed(1) : null;
    const tr = h('tr', { dataset: { id: f.id }, class: this.selected.has(f.id) ? 'ai4geo-selected' : '' },
      h('td', { class: 'ai4geo-col-select' }, check),
      h('td', { class: 'ai4geo-col-look' }, look),
      cell(when, 'ai4geo-col-date', p.datetime ?? undefined),
      cell(cloud, 'ai4geo-col-cloud ai4geo-num'),
      cell(p.collection ?? null, 'ai4geo-col-collection'),
      hasPlatform ? cell(platformOf(f), 'ai4geo-col-platform') : null,
      cell(shortId(f.id), 'ai4geo-col-id ai4geo-item-id', f.id)
    );
    tr.onclick = () => this.host.focus(f.id);
    tr.onmouseenter = () => this.host.hover(f.id, true);
    tr.onmouseleave = () => this.host.hover(f.id, false);
    return tr;
  }
}
