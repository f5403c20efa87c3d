/** Small DOM helpers (the panels are plain DOM in Lumino widgets). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, any> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) {
      continue;
    }
    if (key === 'class') {
      el.className = value;
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== 'string') {
      (el as any)[key] = value;
    } else {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      el.append(child);
    }
  }
  return el;
}

/** A labelled input, with the slot where a message about it is shown (see `markInvalid`). */
export function field(label: string, input: HTMLElement, cls = ''): HTMLElement {
  return h('label', { class: `ai4geo-field ${cls}` }, h('span', {}, label), input, errorSlot());
}

/** An empty message slot (hidden while empty). */
export function errorSlot(cls = 'ai4geo-field-error'): HTMLElement {
  return h('div', { class: cls, role: 'alert' });
}

function slotOf(input: HTMLElement): HTMLElement | null {
  const box = input.closest('.ai4geo-field');
  return box?.querySelector<HTMLElement>('.ai4geo-field-error') ?? null;
}

/** Mark `input` as wrong and say why beside it (in its field's slot, or in `slot`). */
export function markInvalid(input: HTMLElement, message: string, slot: HTMLElement | null = null): void {
  input.classList.add('ai4geo-invalid');
  input.setAttribute('aria-invalid', 'true');
  const where = slot ?? slotOf(input);
  if (where) {
    where.textContent = message;
  }
}

/** Take every mark and message of `markInvalid` away inside `root`. */
export function clearInvalid(root: HTMLElement): void {
  root.querySelectorAll('.ai4geo-invalid').forEach(e => {
    e.classList.remove('ai4geo-invalid');
    e.removeAttribute('aria-invalid');
  });
  root.querySelectorAll('.ai4geo-field-error').forEach(e => (e.textContent = ''));
}

/** `n` and a noun, singular or plural as `n` needs ("1 item", "3 items"). */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
