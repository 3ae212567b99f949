// Inside the /embed iframe, tells the embedding page what happens, with postMessage.
// Only the parent window is ever addressed, and only at the origin it announced (or the one that framed us).

const PREFIX = 'emotion-detector:';

function parentOrigin() {
  const announced = new URLSearchParams(location.search).get('origin');
  if (announced) {
    try {
      return new URL(announced).origin;
    } catch {
      return null; // malformed: say nothing rather than broadcast
    }
  }
  const framedBy = location.ancestorOrigins?.[0];
  return framedBy && framedBy !== 'null' ? framedBy : '*';
}

const embedded = document.body.dataset.embed === 'true' && window.parent !== window;
const targetOrigin = embedded ? parentOrigin() : null;

/** Posts {type: 'emotion-detector:<kind>', ...detail} to the embedding page; does nothing outside an iframe. */
export function announce(kind, detail) {
  if (!targetOrigin) return;
  window.parent.postMessage(JSON.parse(JSON.stringify({ type: PREFIX + kind, ...detail })), targetOrigin);
}
