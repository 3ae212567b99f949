// Inside the /embed iframe: the camera never runs unseen by the visitor. The embedding page cannot start it (its
// start() only shows the widget's own "Start camera" button); a click on that button starts it, and only a click
// by the visitor (a script's click is not trusted) while the button's row is plainly on screen. While the camera runs,
// that row or at least half of the camera picture must stay plainly on screen: if neither is for HIDDEN_STOP_MS
// (the widget shrunk, faded, covered, scrolled away), the camera stops. "Plainly on screen" is the browser's own
// judgement (IntersectionObserver v2 `isVisible`: no opacity, filter or transform, nothing drawn over it), which
// the embedding page cannot fake. docs/widget.md says what this means for sites that embed the widget.

const HIDDEN_STOP_MS = 1000; // a moment's scroll or a popup passing over does not stop the camera; a hidden widget does
// A button that only just appeared does not take clicks yet: a page cannot show it under the pointer at the
// moment of an expected click (the same guard browsers put on their own permission prompts).
const SETTLE_MS = 500;
const CHECK_DELAY_MS = 100; // the smallest delay IntersectionObserver v2 accepts

/** Whether this browser tells whether an element is plainly visible (Chromium); elsewhere only "on screen". */
export const visibilityTracked = typeof IntersectionObserverEntry === 'function'
  && 'isVisible' in IntersectionObserverEntry.prototype;

export class CameraGuard {
  /**
   * @param {object} parts
   * @param {HTMLElement} parts.button the camera's start/stop button
   * @param {HTMLElement} parts.controls the row holding the button: clicks count only while it is wholly, plainly
   *   visible (watched instead of the button, whose own dimming while disabled would read as "not plainly visible")
   * @param {HTMLElement} parts.picture what holds the camera picture and its face boxes (hidden in a headless widget)
   * @param {() => void} parts.onHidden called when the camera must stop: neither controls nor picture visible
   */
  constructor({ button, controls, picture, onHidden }) {
    this.button = button;
    this.controls = controls;
    this.onHidden = onHidden;
    // How much of each element must be on screen, and since when it has been plainly visible (null: it is not).
    this.watched = new Map([[controls, { ratio: 1, since: null }], [picture, { ratio: 0.5, since: null }]]);
    this.running = false;
    this.hiddenTimer = null;
    const options = {
      threshold: [0, 0.5, 1], ...(visibilityTracked ? { trackVisibility: true, delay: CHECK_DELAY_MS } : {}),
    };
    this.observer = new IntersectionObserver((entries) => entries.forEach((entry) => this.seen(entry)), options);
    this.watched.forEach((_, element) => this.observer.observe(element));
  }

  seen(entry) {
    const state = this.watched.get(entry.target);
    const visible = entry.isIntersecting && entry.intersectionRatio >= state.ratio
      && (visibilityTracked ? entry.isVisible : true);
    if (visible && state.since === null) state.since = performance.now();
    if (!visible) state.since = null;
    if (entry.target === this.controls) this.button.toggleAttribute('data-plainly-visible', visible); // tests, styles
    this.armStop();
  }

  /** Whether `event` (a click on the button) may start the camera: the visitor's own, on a settled, visible button. */
  allows(event) {
    const { since } = this.watched.get(this.controls);
    return event.isTrusted && since !== null && performance.now() - since >= SETTLE_MS;
  }

  /** Whether the visitor sees that the camera runs: its button's row, or the picture, is plainly visible. */
  get seenRunning() {
    return [...this.watched.values()].some(({ since }) => since !== null);
  }

  /** The camera runs (true) or not: while it runs, hiding both the button and the picture stops it. */
  setRunning(running) {
    this.running = running;
    this.armStop();
  }

  armStop() {
    clearTimeout(this.hiddenTimer);
    this.hiddenTimer = null;
    if (!this.running || this.seenRunning) return;
    this.hiddenTimer = setTimeout(() => {
      if (this.running && !this.seenRunning) this.onHidden();
    }, HIDDEN_STOP_MS);
  }
}
