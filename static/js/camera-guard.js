// Inside the /embed iframe: the camera never runs unseen by the visitor. The embedding page cannot start it (its
// start() only shows the widget's own "Start camera" button); a click on that button starts it, and only a click
// by the visitor (a script's click is not trusted) while the button is plainly on screen. If the button stops being
// plainly on screen while the camera runs (the widget shrunk, faded, covered, scrolled away) for HIDDEN_STOP_MS,
// the camera stops. "Plainly on screen" is the browser's own judgement (IntersectionObserver v2 `isVisible`: whole
// on screen, no opacity, filter or transform, nothing drawn over it), which the embedding page cannot fake.
// docs/widget.md says what this means for sites that embed the widget.

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
   * @param {HTMLElement} button the camera's start/stop button, which must stay plainly visible while it runs
   * @param {() => void} onHidden called when the camera must stop because the button has been hidden too long
   */
  constructor(button, onHidden) {
    this.button = button;
    this.onHidden = onHidden;
    this.visibleSince = null; // performance.now() when the button last became plainly visible; null: not visible
    this.running = false;
    this.hiddenTimer = null;
    const options = { threshold: [0, 1], ...(visibilityTracked ? { trackVisibility: true, delay: CHECK_DELAY_MS } : {}) };
    this.observer = new IntersectionObserver((entries) => this.seen(entries.at(-1)), options);
    this.observer.observe(button);
  }

  seen(entry) {
    const visible = entry.intersectionRatio >= 1 && (visibilityTracked ? entry.isVisible : true);
    if (visible && this.visibleSince === null) this.visibleSince = performance.now();
    if (!visible) this.visibleSince = null;
    this.button.toggleAttribute('data-plainly-visible', visible); // for tests and styles
    this.armStop();
  }

  get visible() {
    return this.visibleSince !== null;
  }

  /** Whether `event` (a click on the button) may start the camera: the visitor's own, on a settled, visible button. */
  allows(event) {
    return event.isTrusted && this.visible && performance.now() - this.visibleSince >= SETTLE_MS;
  }

  /** The camera runs (true) or not: while it runs, hiding the button stops it. */
  setRunning(running) {
    this.running = running;
    this.armStop();
  }

  armStop() {
    clearTimeout(this.hiddenTimer);
    this.hiddenTimer = null;
    if (!this.running || this.visible) return;
    this.hiddenTimer = setTimeout(() => {
      if (this.running && !this.visible) this.onHidden();
    }, HIDDEN_STOP_MS);
  }
}
