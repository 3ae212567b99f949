// Everything the visitor sees: status line, face boxes and their tags over the picture, the faces' table and summary.
// A face hovered or chosen in the table lights up its box, and the other way round.
import { tagText } from './annotate.js';
import { labelColour } from './palette.js';
import { ResultsTable, summarise } from './results-table.js';
import { placeTags } from './tag-layout.js';

// Full tags ("3 happy 92%") may cover at most this fraction of the displayed picture; beyond it (a crowd on a
// phone) they would hide the faces, so only the numbers are shown.
const MAX_FULL_TAG_AREA = 0.1;

export const STATES = {
  idle: 'Choose a photo, drop or paste one, or start the camera. The detector loads when you first do.',
  loading: 'Loading…',
  ready: 'Ready. Choose a photo, drop or paste one, or start the camera.',
  working: 'Looking for faces…',
  faces: '',
  'no-face': 'No face found in this picture. Try a brighter, front-facing photo.',
  'decode-error': 'This file could not be read as an image. Try a JPEG, PNG, WebP or GIF.',
  'size-error': 'This picture cannot be analysed at its size.',
  timeout: 'The analysis took too long and was stopped. Try again or another picture.',
  'analysis-error': 'The analysis failed. Try again or another picture.',
  'origin-error': 'This embedded detector is misconfigured, so it stays off.',
  'camera-denied': 'Camera access was denied. Allow the camera in your browser’s site settings, then try again.',
  'no-camera': 'No camera was found on this device.',
  'camera-busy': 'The camera is in use by another application.',
  'camera-insecure': 'The camera needs a secure page (https:// or localhost).',
  'camera-click': 'Press “Start camera” to turn the camera on.',
  'camera-hidden': 'The camera runs only while this detector is fully visible; it was hidden or covered, so it is off.',
  'model-error': 'The emotion model could not be loaded. Reload the page; if it persists the server is misconfigured.',
  'detector-error': 'The face detector could not be loaded. Reload the page; your browser may lack WebGL or WebAssembly.',
  unsupported: 'This browser cannot run the detector: it needs WebAssembly, WebGL and modern JavaScript.',
  error: 'Something went wrong.',
};

const ERROR_STATES = /error|timeout|denied|no-camera|busy|insecure|unsupported|hidden/;

/** Whether a state is a failure (shown in the error style, reported as an "error" event with the state as code). */
export function isErrorState(state) {
  return ERROR_STATES.test(state);
}

export class PageUi {
  constructor(root) {
    this.root = root;
    this.status = root.querySelector('#status');
    this.statusText = root.querySelector('#status-text');
    this.progress = root.querySelector('#load-progress');
    this.overlay = root.querySelector('#overlay');
    this.backend = root.querySelector('#backend');
    this.fps = root.querySelector('#fps');
    this.summary = root.querySelector('#face-summary');
    this.resultsSection = root.querySelector('#results');
    this.shown = null; // {result, labels} on screen
    this.hovered = null;
    this.table = new ResultsTable(root.querySelector('#faces'), {
      onHover: (id) => this.hover(id),
      onSelect: () => this.lightBoxes(),
    });
    const faceId = (event) => {
      const item = event.target.closest?.('[data-id]');
      return item ? Number(item.dataset.id) : null;
    };
    this.overlay.addEventListener('pointerover', (event) => this.hover(faceId(event)));
    this.overlay.addEventListener('pointerleave', () => this.hover(null));
    this.overlay.addEventListener('click', (event) => {
      const id = faceId(event);
      if (id !== null) this.table.select(id === this.table.selected ? null : id, { focus: false });
    });
    new ResizeObserver(() => this.layoutTags()).observe(this.overlay);
  }

  setState(state, detail = '') {
    this.status.dataset.state = state;
    this.statusText.textContent = [STATES[state] ?? '', detail].filter(Boolean).join(' ');
    this.status.classList.toggle('is-error', isErrorState(state));
    this.progress.hidden = state !== 'loading';
  }

  setProgress(fraction, text) {
    this.progress.value = fraction;
    if (text) this.statusText.textContent = text;
  }

  setBackend(name) {
    this.backend.textContent = name;
  }

  setFps(value) {
    this.fps.textContent = value == null ? '–' : value.toFixed(1);
  }

  clearFaces() {
    this.shown = null;
    this.overlay.replaceChildren();
    this.table.clear();
    this.summary.textContent = '';
    this.resultsSection.hidden = true;
  }

  /** Tells the visitor which site receives the predictions (the embed's host page), or hides the sentence. */
  showReceiver(origin) {
    const notice = this.root.querySelector('#receiver');
    if (!notice) return;
    notice.hidden = !origin;
    if (origin && origin !== '*') notice.querySelector('#receiver-origin').textContent = origin;
  }

  /**
   * Draws boxes as percentages of the picture, so they stay aligned at any displayed size, tags that never overlap,
   * the table and the summary. Faces carry `id`, `emotion` (the label shown: steady on video) and `smoothed`
   * (see timeline.js).
   */
  showFaces(result, labels) {
    this.shown = { result, labels };
    const { width, height, faces } = result;
    const percent = (value, total) => `${((100 * value) / total).toFixed(3)}%`;
    const boxes = faces.map((face) => {
      const box = element('div', { className: 'face-box' });
      Object.assign(box.style, {
        left: percent(face.box.x, width), top: percent(face.box.y, height),
        width: percent(face.box.width, width), height: percent(face.box.height, height),
        borderColor: labelColour(labels, face.emotion.label),
      });
      box.dataset.label = face.emotion.label;
      box.dataset.id = String(face.id);
      return box;
    });
    const tags = faces.map((face) => {
      const tag = element('span', { className: 'face-tag' });
      tag.dataset.id = String(face.id);
      tag.style.background = labelColour(labels, face.emotion.label);
      return tag;
    });
    this.overlay.replaceChildren(...boxes, ...tags);
    this.layoutTags();
    this.table.show(faces, labels);
    const summary = summarise(faces, labels);
    if (this.summary.textContent !== summary) this.summary.textContent = summary;
    this.resultsSection.hidden = false;
    this.lightBoxes();
  }

  /**
   * Places the tags over the picture at its displayed size: "3 happy 92%" beside each box where they all fit
   * there and cover little of the picture, else just the face numbers (the table is their legend), moved wherever
   * needed so none overlaps another.
   */
  layoutTags() {
    if (!this.shown) return;
    const { result } = this.shown;
    const scale = this.overlay.clientWidth / result.width; // displayed pixels per picture pixel
    const tags = [...this.overlay.querySelectorAll('.face-tag')];
    if (!scale || tags.length === 0) return;
    const boxes = result.faces.map((face) => face.box);
    const place = (numbersOnly) => {
      tags.forEach((tag, index) => {
        tag.textContent = numbersOnly ? String(result.faces[index].id) : tagText(result.faces[index]);
      });
      const sizes = tags.map((tag) => ({ width: tag.offsetWidth / scale, height: tag.offsetHeight / scale }));
      return { spots: placeTags(boxes, sizes, result), sizes };
    };
    let layout = place(false);
    const tagArea = layout.sizes.reduce((sum, size) => sum + size.width * size.height, 0);
    const numbersOnly = tagArea > MAX_FULL_TAG_AREA * result.width * result.height
      || layout.spots.some((spot) => !spot.near);
    if (numbersOnly) layout = place(true);
    this.overlay.dataset.tags = numbersOnly ? 'numbers' : 'full';
    tags.forEach((tag, index) => {
      tag.style.left = `${((100 * layout.spots[index].x) / result.width).toFixed(3)}%`;
      tag.style.top = `${((100 * layout.spots[index].y) / result.height).toFixed(3)}%`;
    });
  }

  /** Hover (pointer or keyboard focus) on a box, tag or row: its box and row light up. */
  hover(id) {
    this.hovered = id;
    this.table.hover(id);
    this.lightBoxes();
  }

  lightBoxes() {
    for (const item of this.overlay.querySelectorAll('[data-id]')) {
      const id = Number(item.dataset.id);
      item.classList.toggle('is-hovered', id === this.hovered);
      item.classList.toggle('is-selected', id === this.table.selected);
    }
    this.overlay.classList.toggle('has-selection', this.table.selected !== null);
  }
}

function element(tag, properties = {}) {
  return Object.assign(document.createElement(tag), properties);
}
