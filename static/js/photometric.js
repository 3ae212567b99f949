// The photometric steps metadata.json's preprocessing.photometric declares, applied to one grey face at the model's
// input size, before pixel scaling: the same rules as emotion_detector/photometric.py (which documents them), so
// that the page and the Python package give the network the same pixels.

const STEPS = new Set(['contrast', 'equalize_histogram']);
// A level this close to a half counts as a half (photometric.py's TIE_TOLERANCE, which says why).
const TIE_TOLERANCE = 1e-3;

/** Throws, naming the step, if `steps` holds one this module cannot apply. */
export function checkSteps(steps) {
  if (!Array.isArray(steps)) throw new Error(`metadata.json: preprocessing.photometric is not a list of steps`);
  steps.forEach((step, index) => {
    if (!STEPS.has(step?.op)) {
      throw new Error(`metadata.json: preprocessing.photometric step ${index + 1} has op "${step?.op}"; expected one of ${[...STEPS].join(', ')}`);
    }
    if (step.op === 'contrast' && !(step.gain > 0)) {
      throw new Error(`metadata.json: preprocessing.photometric step ${index + 1} (contrast) needs a gain > 0`);
    }
  });
}

/**
 * @param {Float32Array} grey  one face's grey levels (0–255), changed in place
 * @param {Array<{op:string, gain?:number}>} steps
 */
export function applySteps(grey, steps) {
  if (steps.length === 0) return grey;
  const levels = new Uint8Array(grey.length);
  for (let i = 0; i < grey.length; i += 1) levels[i] = Math.min(255, Math.max(0, roundLevel(grey[i])));
  for (const step of steps) {
    if (step.op === 'contrast') {
      for (let i = 0; i < levels.length; i += 1) levels[i] = Math.min(255, roundHalfEven(levels[i] * Math.fround(step.gain)));
    } else {
      equalizeHistogram(levels);
    }
  }
  grey.set(levels);
  return grey;
}

/** OpenCV's equalizeHist: each level through the face's cumulative histogram, spread over 0–255. */
function equalizeHistogram(levels) {
  const counts = new Uint32Array(256);
  for (const level of levels) counts[level] += 1;
  let lowest = 0;
  while (counts[lowest] === 0) lowest += 1;
  const spread = levels.length - counts[lowest];
  if (spread === 0) return; // a face of one level is left as it is
  const table = new Uint8Array(256);
  let cumulative = 0;
  for (let level = 0; level < 256; level += 1) {
    cumulative += counts[level];
    table[level] = level < lowest ? 0 : Math.min(255, roundHalfEven((255 * (cumulative - counts[lowest])) / spread));
  }
  for (let i = 0; i < levels.length; i += 1) levels[i] = table[levels[i]];
}

/** photometric.py's round_levels: the nearest level; a half, or nearly one, goes to the even neighbour. */
function roundLevel(value) {
  const floor = Math.floor(value);
  if (Math.abs(value - floor - 0.5) < TIE_TOLERANCE) return floor % 2 === 0 ? floor : floor + 1;
  return Math.round(value);
}

// NumPy's rint, which the Python side uses: halves go to the even neighbour.
function roundHalfEven(value) {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}
