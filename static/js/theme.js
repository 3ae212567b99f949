// Theming of the embedded widget: the host page's CSS custom properties, sent over postMessage, become this page's
// colours and font. Only known names and plain values are taken: no url(), so a theme can never load anything.

const NAMES = ['accent', 'accent-ink', 'ink', 'muted', 'paper', 'panel', 'line', 'error', 'font', 'radius'];
const PLAIN_VALUE = /^[\w\s#%.,()'"-]{1,120}$/;

/** Applies {accent: '#c00', font: 'Georgia, serif', ...}; returns the names it refused. */
export function applyTheme(theme, root = document.documentElement) {
  const refused = [];
  for (const [name, value] of Object.entries(theme ?? {})) {
    if (!NAMES.includes(name) || typeof value !== 'string' || !PLAIN_VALUE.test(value) || /url\s*\(/i.test(value)) {
      refused.push(name);
      continue;
    }
    if (value.trim() === '') root.style.removeProperty(`--${name}`);
    else root.style.setProperty(`--${name}`, value.trim());
  }
  return refused;
}

export const THEME_NAMES = NAMES;
