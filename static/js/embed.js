// <emotion-detector> for other sites: an iframe of our /embed page, driven by postMessage. Types: embed.d.ts.
//   <script src="https://HOST/static/js/embed.js" defer></script>   (type="module" works too)
//   <emotion-detector mode="camera" smoothing="300"></emotion-detector>
// Events (CustomEvent, detail in embed.d.ts): ready, error {code, message}, result, face-enter, face-leave,
// emotion-change; and, as before, emotions / emotion-state / emotion-ready. Methods: start(), stop(), detect(image).
// Pictures never leave the iframe: this script only ever sees the predictions. detect() hands the iframe a copy of
// an image the host page already has. The camera never runs unseen: only the visitor's click inside the widget
// starts it, and the widget stops it when its camera button is hidden (static/js/camera-guard.js).
// A classic script (no import/export, no import.meta), so it runs whether it is loaded as a module or not.
(() => {
  const PREFIX = 'emotion-detector:';
  const EMBED_SCRIPT = /\/static\/js\/embed\.js$/;
  // Messages from the iframe → events on the element. Each new name keeps its old alias, which still fires.
  const EVENTS = {
    ready: ['ready', 'emotion-ready'], state: ['state', 'emotion-state'], result: ['result', 'emotions'],
    error: ['error'], 'face-enter': ['face-enter'], 'face-leave': ['face-leave'], 'emotion-change': ['emotion-change'],
  };
  const THEME = ['accent', 'accent-ink', 'ink', 'muted', 'paper', 'panel', 'line', 'error', 'font', 'radius'];
  const NO_ANSWER_MS = 60_000;

  // The server is wherever this script came from. A module script has no document.currentScript, so look for
  // the <script> that loaded embed.js; never fall back to this page's own origin (it has no /embed).
  function scriptServer() {
    const candidates = document.currentScript ? [document.currentScript] : [...document.querySelectorAll('script[src]')];
    for (const script of candidates.reverse()) {
      const url = new URL(script.src, location.href);
      if (EMBED_SCRIPT.test(url.pathname)) return url.origin;
    }
    return null;
  }
  const defaultServer = scriptServer();

  const STYLE = `
    :host { display: block; position: relative; }
    iframe { display: block; width: 100%; height: 100%; min-height: var(--emotion-detector-min-height, 480px);
      border: 0; border-radius: var(--emotion-detector-radius, 0); }
    :host([headless]:not([mode="camera"])) { display: block; height: 0; }
    :host([headless]:not([mode="camera"])) iframe { position: absolute; width: 1px; height: 1px; min-height: 0;
      opacity: 0; pointer-events: none; }
    /* The camera never runs unseen: headless, the widget still shows its camera button and notice, and stops the
       camera if they are hidden (docs/widget.md). */
    :host([headless][mode="camera"]) iframe { height: var(--content-height, 11rem); min-height: 0; }
    .message { margin: 0; padding: .75rem 1rem; border-left: 4px solid #b3261e; background: #fbeceb; color: #5f120d;
      font: inherit; }
    [hidden] { display: none; }`;
  let sheet = null;
  function styleSheet() {
    if (!sheet && 'adoptedStyleSheets' in Document.prototype) {
      sheet = new CSSStyleSheet(); // constructed, not inline: no 'unsafe-inline' needed in the host page's CSP
      sheet.replaceSync(STYLE);
    }
    return sheet;
  }

  class EmotionDetectorElement extends HTMLElement {
    static get observedAttributes() {
      return ['mode', 'smoothing', 'hysteresis', 'detector-model', 'headless'];
    }

    constructor() {
      super();
      this.attachShadow({ mode: 'open' });
      if (styleSheet()) this.shadowRoot.adoptedStyleSheets = [styleSheet()];
      this.requests = new Map(); // detect() id → {resolve, reject}
      this.nextRequest = 1;
      this.isReady = false;
      this.readyWaiters = [];
    }

    // Attributes mirrored as properties.
    get mode() { return this.getAttribute('mode') === 'camera' ? 'camera' : 'photo'; }
    set mode(value) { this.setAttribute('mode', value); }
    get smoothing() { return numberAttribute(this, 'smoothing', 300); }
    set smoothing(value) { this.setAttribute('smoothing', String(value)); }
    get hysteresis() { return numberAttribute(this, 'hysteresis', 0.1); }
    set hysteresis(value) { this.setAttribute('hysteresis', String(value)); }
    get detectorModel() { return this.getAttribute('detector-model') ?? ''; }
    set detectorModel(value) { this.setAttribute('detector-model', value); }
    get headless() { return this.hasAttribute('headless'); }
    set headless(value) { this.toggleAttribute('headless', !!value); }
    get server() { return this.getAttribute('server') ?? defaultServer ?? ''; }
    set server(value) { this.setAttribute('server', value); }
    get ready() { return this.isReady; }

    connectedCallback() {
      if (this.frame) return;
      this.message = Object.assign(document.createElement('p'), { className: 'message', hidden: true });
      this.message.setAttribute('part', 'message');
      this.message.setAttribute('role', 'alert');
      this.shadowRoot.append(this.message);
      let server;
      try {
        server = new URL(this.server);
      } catch {
        return this.fail('no-server', this.getAttribute('server')
          ? `The server attribute ${JSON.stringify(this.getAttribute('server'))} is not a URL.`
          : 'Could not tell which server embed.js came from: give the element a server="https://…" attribute.');
      }
      const src = new URL('/embed', server);
      src.searchParams.set('origin', location.origin);
      src.searchParams.set('mode', this.mode);
      src.searchParams.set('smoothing', String(this.smoothing));
      src.searchParams.set('hysteresis', String(this.hysteresis));
      if (this.detectorModel) src.searchParams.set('detector', this.detectorModel);
      if (this.headless) src.searchParams.set('headless', '');
      this.serverOrigin = server.origin;
      this.frame = document.createElement('iframe');
      this.frame.setAttribute('part', 'frame');
      this.frame.src = src.href;
      this.frame.allow = 'camera';
      this.frame.title = this.getAttribute('title') || 'Emotion detector';
      if (!styleSheet()) this.frame.style.cssText = 'border:0;width:100%;height:100%;min-height:480px;display:block';
      this.onMessage = (event) => this.receive(event);
      window.addEventListener('message', this.onMessage);
      this.shadowRoot.append(this.frame);
      this.silence = setTimeout(() => this.fail('no-answer', `No answer from ${src.origin}/embed: is this site `
        + 'allowed to embed it (the server\'s --embed-origin / EMOTION_EMBED_ORIGINS)?'), NO_ANSWER_MS);
    }

    disconnectedCallback() {
      window.removeEventListener('message', this.onMessage);
      clearTimeout(this.silence);
      this.frame?.remove();
      this.message?.remove();
      this.frame = null;
      this.isReady = false;
      this.rejectAll('disconnected', 'The element was removed from the page.');
    }

    attributeChangedCallback(name) {
      if (!this.isReady) return; // the iframe reads the attributes from its URL when it loads
      this.post('configure', {
        smoothingMs: this.smoothing, hysteresis: this.hysteresis, detectorModel: this.detectorModel || undefined,
        headless: this.headless,
      });
      if (name === 'mode' && this.mode === 'photo') this.stop();
    }

    /**
     * mode="camera": asks the visitor, in the widget, to start the camera (only their click on the widget's own
     * button starts it); in photo mode the widget waits for pictures. Resolves once sent.
     */
    async start() {
      await this.whenReady();
      this.post('start', { mode: this.mode });
    }

    /** Stops the camera, if it runs. */
    stop() {
      if (this.isReady) this.post('stop', {});
    }

    /**
     * Analyses an image the host page holds (img, canvas, ImageBitmap, video frame, Blob…).
     * @returns {Promise<object>} the result: {width, height, faces: [{id, box, probabilities, top, ...}]}
     */
    async detect(image) {
      await this.whenReady();
      let bitmap;
      try {
        bitmap = await createImageBitmap(image);
      } catch (error) {
        throw Object.assign(new Error(`detect() needs an image, canvas, ImageBitmap or Blob (${error.message})`),
          { code: 'bad-input' });
      }
      const id = this.nextRequest++;
      return new Promise((resolve, reject) => {
        this.requests.set(id, { resolve, reject });
        this.post('detect', { id, image: bitmap }, [bitmap]);
      });
    }

    /** Sends the element's --emotion-detector-* custom properties to the widget (done on ready, too). */
    updateTheme() {
      const style = getComputedStyle(this);
      const theme = {};
      for (const name of THEME) theme[name] = style.getPropertyValue(`--emotion-detector-${name}`).trim();
      if (this.isReady) this.post('configure', { theme });
    }

    receive(event) {
      if (!this.frame || event.source !== this.frame.contentWindow || event.origin !== this.serverOrigin) return;
      const { type, ...detail } = event.data ?? {};
      if (typeof type !== 'string' || !type.startsWith(PREFIX)) return;
      const kind = type.slice(PREFIX.length);
      clearTimeout(this.silence);
      if (kind === 'detect-result' || kind === 'detect-error') return this.answer(kind, detail);
      if (kind === 'size') return this.fitHeight(detail.height);
      if (kind === 'ready') {
        this.isReady = true;
        this.updateTheme();
        this.readyWaiters.splice(0).forEach(({ resolve }) => resolve());
      }
      if (kind === 'error' && !this.isReady) {
        this.readyWaiters.splice(0).forEach(({ reject }) => reject(Object.assign(new Error(detail.message), { code: detail.code })));
      }
      for (const name of EVENTS[kind] ?? []) this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
    }

    /** Headless with the camera, the frame is exactly as tall as the widget's camera button, status and notice. */
    fitHeight(height) {
      if (!Number.isFinite(height) || height <= 0 || height > 10_000) return;
      this.frame.style.setProperty('--content-height', `${height}px`);
    }

    answer(kind, { id, result, code, message }) {
      const request = this.requests.get(id);
      if (!request) return;
      this.requests.delete(id);
      if (kind === 'detect-result') request.resolve(result);
      else request.reject(Object.assign(new Error(message), { code }));
    }

    whenReady() {
      if (this.isReady) return Promise.resolve();
      if (this.failure) return Promise.reject(this.failure);
      return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    }

    post(kind, detail, transfer = []) {
      this.frame?.contentWindow?.postMessage({ type: PREFIX + kind, ...detail }, this.serverOrigin, transfer);
    }

    fail(code, message) {
      this.failure = Object.assign(new Error(message), { code });
      this.message.textContent = message;
      this.message.hidden = false;
      this.rejectAll(code, message);
      this.dispatchEvent(new CustomEvent('error', { detail: { code, message }, bubbles: true, composed: true }));
    }

    rejectAll(code, message) {
      const error = Object.assign(new Error(message), { code });
      this.readyWaiters.splice(0).forEach(({ reject }) => reject(error));
      for (const { reject } of this.requests.values()) reject(error);
      this.requests.clear();
    }
  }

  function numberAttribute(element, name, fallback) {
    const value = Number.parseFloat(element.getAttribute(name) ?? '');
    return Number.isFinite(value) && value >= 0 ? value : fallback;
  }

  if (!customElements.get('emotion-detector')) customElements.define('emotion-detector', EmotionDetectorElement);
})();
