// The faces of a result as a compact table (number, label, confidence, a bar of all seven classes) and a one-line
// summary. Rows can be chosen with the mouse or the keyboard (one tab stop; arrows, Home and End move between rows);
// the table reports which face is hovered or chosen so the page can light up its box, and lights up a row when told.
import { labelColour } from './palette.js';

/** "15 faces: 11 happy, 3 neutral, 1 sad": counts by label, most frequent first (ties in label order). */
export function summarise(faces, labels) {
  if (faces.length === 0) return 'No faces found.';
  const counts = new Map();
  for (const face of faces) counts.set(face.emotion.label, (counts.get(face.emotion.label) ?? 0) + 1);
  const parts = [...counts].sort(([a, m], [b, n]) => n - m || labels.indexOf(a) - labels.indexOf(b))
    .map(([label, count]) => `${count} ${label}`);
  return `${faces.length} face${faces.length === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

const percent = (probability) => `${Math.round(probability * 100)}%`;

export class ResultsTable {
  /**
   * @param {HTMLTableSectionElement} body  the table's tbody
   * @param {{onHover: (id: number|null) => void, onSelect: (id: number|null) => void}} listeners
   */
  constructor(body, { onHover, onSelect }) {
    this.body = body;
    this.onSelect = onSelect;
    this.selected = null;
    body.addEventListener('pointerover', (event) => onHover(this.rowId(event.target)));
    body.addEventListener('pointerleave', () => onHover(null));
    body.addEventListener('click', (event) => {
      const id = this.rowId(event.target);
      if (id !== null) this.select(id === this.selected ? null : id, { focus: false });
    });
    body.addEventListener('keydown', (event) => this.keydown(event));
    // A row reached with the keyboard lights its box as a pointer over it would.
    body.addEventListener('focusin', (event) => onHover(this.rowId(event.target)));
    body.addEventListener('focusout', () => onHover(null));
  }

  rowId(target) {
    const row = target.closest?.('tr[data-id]');
    return row ? Number(row.dataset.id) : null;
  }

  rows() {
    return [...this.body.querySelectorAll('tr[data-id]')];
  }

  /** Shows these faces; a chosen face that is still there (same number) stays chosen. */
  show(faces, labels) {
    const kept = faces.some((face) => face.id === this.selected) ? this.selected : null;
    this.body.replaceChildren(...faces.map((face) => this.row(face, labels)));
    this.selected = null;
    this.select(kept, { focus: false, silent: true });
  }

  clear() {
    this.body.replaceChildren();
    this.selected = null;
  }

  row(face, labels) {
    const row = document.createElement('tr');
    row.dataset.id = String(face.id);
    row.dataset.label = face.emotion.label;
    row.tabIndex = -1;
    row.setAttribute('aria-selected', 'false');
    const bar = document.createElement('span');
    bar.className = 'mini-bar';
    bar.setAttribute('role', 'img');
    bar.setAttribute('aria-label', face.smoothed.map((entry) => `${entry.label} ${percent(entry.probability)}`).join(', '));
    for (const { label, probability } of face.smoothed) {
      const part = document.createElement('span');
      part.dataset.label = label;
      part.style.width = `${(probability * 100).toFixed(2)}%`;
      part.style.background = labelColour(labels, label);
      bar.append(part);
    }
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = labelColour(labels, face.emotion.label);
    const cells = [String(face.id), face.emotion.label, percent(face.emotion.probability)].map((text) => {
      const cell = document.createElement('td');
      cell.textContent = text;
      return cell;
    });
    cells[1].prepend(swatch);
    const barCell = document.createElement('td');
    barCell.append(bar);
    row.append(...cells, barCell);
    return row;
  }

  /** Chooses face `id` (null: none), lights its row, and tells the listener unless `silent`. */
  select(id, { focus = true, silent = false } = {}) {
    this.selected = id;
    const rows = this.rows();
    for (const row of rows) {
      const chosen = Number(row.dataset.id) === id;
      row.setAttribute('aria-selected', String(chosen));
      row.classList.toggle('is-selected', chosen);
    }
    // One tab stop for the whole table: the chosen row, else the first.
    const current = rows.find((row) => Number(row.dataset.id) === id) ?? rows[0];
    for (const row of rows) row.tabIndex = row === current ? 0 : -1;
    if (focus) current?.focus();
    if (!silent) this.onSelect(id);
  }

  /** Lights up the row of face `id` as the pointer is over its box (null: none). */
  hover(id) {
    for (const row of this.rows()) row.classList.toggle('is-hovered', Number(row.dataset.id) === id);
  }

  keydown(event) {
    const rows = this.rows();
    const at = rows.indexOf(event.target.closest('tr'));
    if (at < 0) return;
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: rows.length - 1 }[event.key];
    if (to !== undefined) {
      event.preventDefault();
      const row = rows[Math.min(rows.length - 1, Math.max(0, to))];
      this.select(Number(row.dataset.id));
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      const id = Number(rows[at].dataset.id);
      this.select(id === this.selected ? null : id);
    } else if (event.key === 'Escape') {
      this.select(null);
    }
  }
}
