// <emotion-detector> for other sites: an iframe of our /embed page whose postMessages become DOM events.
//   <script src="https://HOST/static/js/embed.js" defer></script>
//   <emotion-detector style="height: 640px"></emotion-detector>
// Events on the element: "emotions" (detail: {source, width, height, faces: [{box, top, probabilities}]}),
// "emotion-state" (detail: {state}) and "emotion-ready" (detail: {labels, backend}).
// Images never leave the iframe: this script only ever sees the predictions.
(() => {
  const scriptUrl = document.currentScript ? new URL(document.currentScript.src) : null;

  class EmotionDetectorElement extends HTMLElement {
    connectedCallback() {
      if (this.frame) return;
      const server = new URL(this.getAttribute('server') || (scriptUrl ? scriptUrl.origin : location.origin));
      const src = new URL('/embed', server);
      src.searchParams.set('origin', location.origin);
      this.frame = document.createElement('iframe');
      this.frame.src = src.href;
      this.frame.allow = 'camera';
      this.frame.title = this.getAttribute('title') || 'Emotion detector';
      this.frame.style.cssText = 'border:0;width:100%;height:100%;min-height:480px;display:block';
      this.serverOrigin = server.origin;
      this.onMessage = (event) => {
        if (event.source !== this.frame.contentWindow || event.origin !== this.serverOrigin) return;
        const { type, ...detail } = event.data || {};
        const names = { 'emotion-detector:result': 'emotions', 'emotion-detector:state': 'emotion-state', 'emotion-detector:ready': 'emotion-ready' };
        if (names[type]) this.dispatchEvent(new CustomEvent(names[type], { detail, bubbles: true }));
      };
      window.addEventListener('message', this.onMessage);
      if (!this.style.display) this.style.display = 'block';
      this.append(this.frame);
    }

    disconnectedCallback() {
      window.removeEventListener('message', this.onMessage);
      this.frame?.remove();
      this.frame = null;
    }
  }

  if (!customElements.get('emotion-detector')) customElements.define('emotion-detector', EmotionDetectorElement);
})();
