// Inside the /embed iframe, tells the embedding page what happens, with postMessage, and takes its commands.
// Only the parent window is ever addressed, and only at the origin it announced (or the one that framed us).

const PREFIX = 'emotion-detector:';

/**
 * The origin the embedding page announced in ?origin=, checked: an http(s) origin and nothing more.
 * @returns {{origin: string|null, error: string|null}} origin null and error null: no origin was announced
 */
export function announcedOrigin(search = location.search, framedBy = location.ancestorOrigins?.[0]) {
  const announced = new URLSearchParams(search).get('origin');
  if (announced === null) return { origin: null, error: null };
  let url;
  try {
    url = new URL(announced);
  } catch {
    url = null;
  }
  const bare = url && ['http:', 'https:'].includes(url.protocol) && !url.username && !url.password
    && url.pathname === '/' && !url.search && !url.hash;
  if (!bare) {
    return { origin: null, error: `The embedding page gave origin=${JSON.stringify(announced)}; expected its own `
      + 'origin, such as https://example.com.' };
  }
  if (framedBy && framedBy !== 'null' && framedBy !== url.origin) {
    return { origin: null, error: `The embedding page gave origin=${url.origin}, but it is ${framedBy}.` };
  }
  return { origin: url.origin, error: null };
}

/** Whether this page is the /embed widget inside another page's iframe. */
export const embedded = document.body.dataset.embed === 'true' && window.parent !== window;
const checked = announcedOrigin();
/** Why the ?origin= parameter is unusable, or null: the embed page shows it and stays idle. */
export const originError = checked.error;
const framedBy = location.ancestorOrigins?.[0];
const targetOrigin = !embedded || originError ? null : checked.origin ?? (framedBy && framedBy !== 'null' ? framedBy : '*');

/** The origin of the page that receives the predictions, for the privacy notice ('*': unknown, any). */
export const receiverOrigin = targetOrigin;

/** Posts {type: 'emotion-detector:<kind>', ...detail} to the embedding page; does nothing outside an iframe. */
export function announce(kind, detail) {
  if (!targetOrigin) return;
  try {
    window.parent.postMessage(JSON.parse(JSON.stringify({ type: PREFIX + kind, ...detail })), targetOrigin);
  } catch (error) {
    console.error(`Could not tell the embedding page about ${kind}:`, error);
  }
}

/** Tells the embedding page the height of `element` whenever it changes: embed.js fits a headless camera widget to
 * it, so its camera button and notice are whole on screen and never scrolled out of its frame. */
export function announceHeight(element) {
  if (!targetOrigin) return;
  const observer = new ResizeObserver(() => announce('size', { height: Math.ceil(element.getBoundingClientRect().height) }));
  observer.observe(element);
}

/**
 * Calls handler(kind, detail, reply) for each command the embedding page sends ({type: 'emotion-detector:<kind>'}).
 * Only messages from our parent window at the origin we talk to are heard; reply(kind, detail) answers it.
 */
export function onCommand(handler) {
  if (!targetOrigin) return;
  window.addEventListener('message', (event) => {
    if (event.source !== window.parent || (targetOrigin !== '*' && event.origin !== targetOrigin)) return;
    const { type, ...detail } = event.data ?? {};
    if (typeof type !== 'string' || !type.startsWith(PREFIX)) return;
    handler(type.slice(PREFIX.length), detail);
  });
}
