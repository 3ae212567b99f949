// Everything the visitor sees: status line, face boxes over the picture, and a bar per class for each face.

// Colours by label position; all meet WCAG AA contrast with white text on the label tags.
const PALETTE = ['#b3261e', '#5b6b00', '#6a3d9a', '#0b6e4f', '#1f4e99', '#a04400', '#4a5560', '#7a2e5a'];

export const STATES = {
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
    this.faceList = root.querySelector('#faces');
    this.backend = root.querySelector('#backend');
    this.fps = root.querySelector('#fps');
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
    this.overlay.replaceChildren();
    this.faceList.replaceChildren();
  }

  /** Tells the visitor which site receives the predictions (the embed's host page), or hides the sentence. */
  showReceiver(origin) {
    const notice = this.root.querySelector('#receiver');
    if (!notice) return;
    notice.hidden = !origin;
    if (origin && origin !== '*') notice.querySelector('#receiver-origin').textContent = origin;
  }

  /**
   * Draws boxes as percentages of the picture, so they stay aligned at any displayed size.
   * Faces carry `id`, `emotion` (the label shown: steady on video) and `smoothed` (see timeline.js).
   */
  showFaces(result, labels) {
    const { width, height, faces } = result;
    const percent = (value, total) => `${((100 * value) / total).toFixed(3)}%`;
    this.overlay.replaceChildren(...faces.map((face) => {
      const colour = PALETTE[labels.indexOf(face.emotion.label) % PALETTE.length];
      const box = element('div', { className: 'face-box' });
      Object.assign(box.style, {
        left: percent(face.box.x, width), top: percent(face.box.y, height),
        width: percent(face.box.width, width), height: percent(face.box.height, height), borderColor: colour,
      });
      box.dataset.label = face.emotion.label;
      box.dataset.id = String(face.id);
      const tag = element('span', { className: 'face-tag', textContent: `${face.id} ${face.emotion.label} ${Math.round(face.emotion.probability * 100)}%` });
      tag.style.background = colour;
      box.append(tag);
      return box;
    }));
    this.faceList.replaceChildren(...faces.map((face) => this.faceCard(face, labels)));
  }

  faceCard(face, labels) {
    const card = element('li', { className: 'face-card' });
    card.dataset.label = face.emotion.label;
    card.dataset.id = String(face.id);
    card.append(element('h3', { textContent: `Face ${face.id}: ${face.emotion.label} (${Math.round(face.emotion.probability * 100)}%)` }));
    const bars = element('dl', { className: 'bars' });
    for (const { label, probability } of face.smoothed) {
      const row = element('div', { className: 'bar-row' });
      row.dataset.label = label;
      row.dataset.probability = String(probability);
      const meter = element('meter', { min: 0, max: 1, value: probability });
      meter.style.setProperty('--bar-colour', PALETTE[labels.indexOf(label) % PALETTE.length]);
      meter.setAttribute('aria-label', `${label} ${(probability * 100).toFixed(1)} percent`);
      const value = element('dd', { textContent: `${(probability * 100).toFixed(1)}%` });
      value.prepend(meter);
      row.append(element('dt', { textContent: label }), value);
      bars.append(row);
    }
    card.append(bars);
    return card;
  }
}

function element(tag, properties = {}) {
  return Object.assign(document.createElement(tag), properties);
}
