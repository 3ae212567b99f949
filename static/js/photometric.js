// The photometric steps metadata.json's preprocessing.photometric declares, applied to one grey face at the model's
// input size, before pixel scaling: the same rules as emotion_detector/photometric.py (which documents them), so
// that the page and the Python package give the network the same pixels.

const STEPS = new Set(['contrast', 'equalize_histogram', 'clahe', 'standardize']);
// Steps defined on whole 8-bit levels: the face is rounded before the first of them (photometric.py's
// WHOLE_LEVEL_STEPS).
const WHOLE_LEVEL_STEPS = new Set(['contrast', 'equalize_histogram', 'clahe']);
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
    if (step.op === 'clahe' && !(Number.isInteger(step.tiles) && step.tiles >= 1 && step.clip >= 1)) {
      throw new Error(`metadata.json: preprocessing.photometric step ${index + 1} (clahe) needs whole tiles >= 1 and a clip >= 1`);
    }
    if (step.op === 'standardize' && !(Number.isFinite(step.mean) && step.std > 0)) {
      throw new Error(`metadata.json: preprocessing.photometric step ${index + 1} (standardize) needs a mean and a std > 0`);
    }
  });
}

/**
 * @param {Float32Array} grey  one face's grey levels (0–255), changed in place
 * @param {Array<{op:string, gain?:number, tiles?:number, clip?:number, mean?:number, std?:number}>} steps
 * @param {number} [width]  the face's width in pixels (a square face when left out); clahe needs it
 */
export function applySteps(grey, steps, width = Math.round(Math.sqrt(grey.length))) {
  let levels = null; // whole levels, while the face holds them
  for (const step of steps) {
    if (WHOLE_LEVEL_STEPS.has(step.op) && !levels) {
      levels = new Uint8Array(grey.length);
      for (let i = 0; i < grey.length; i += 1) levels[i] = Math.min(255, Math.max(0, roundLevel(grey[i])));
    }
    if (step.op === 'contrast') {
      for (let i = 0; i < levels.length; i += 1) levels[i] = Math.min(255, roundHalfEven(levels[i] * Math.fround(step.gain)));
    } else if (step.op === 'equalize_histogram') {
      equalizeHistogram(levels);
    } else if (step.op === 'clahe') {
      clahe(levels, width, grey.length / width, step.tiles, step.clip, grey);
      levels = null;
    } else {
      if (levels) grey.set(levels);
      standardize(grey, step.mean, step.std);
      levels = null;
    }
  }
  if (levels) grey.set(levels);
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

/**
 * photometric.py's clahe: per-tile clipped histograms, each pixel the bilinear blend of the four surrounding tiles'
 * mappings. Reads whole `levels` (width × height), writes unrounded levels to `out`.
 */
function clahe(levels, width, height, tiles, clip, out) {
  if (width % tiles || height % tiles) throw new Error(`clahe: a ${width}×${height} face does not divide into ${tiles} tiles`);
  const tileW = width / tiles;
  const tileH = height / tiles;
  const pixels = tileW * tileH;
  const limit = Math.fround((clip * pixels) / 256);
  const mappings = new Float32Array(tiles * tiles * 256);
  const counts = new Float32Array(256);
  for (let tileRow = 0; tileRow < tiles; tileRow += 1) {
    for (let tileColumn = 0; tileColumn < tiles; tileColumn += 1) {
      counts.fill(0);
      for (let y = tileRow * tileH; y < (tileRow + 1) * tileH; y += 1) {
        for (let x = tileColumn * tileW; x < (tileColumn + 1) * tileW; x += 1) counts[levels[y * width + x]] += 1;
      }
      let excess = 0;
      for (let level = 0; level < 256; level += 1) excess += Math.max(counts[level] - limit, 0);
      const base = (tileRow * tiles + tileColumn) * 256;
      let cumulative = 0;
      for (let level = 0; level < 256; level += 1) {
        cumulative += Math.min(counts[level], limit) + excess / 256;
        mappings[base + level] = Math.min(255, (255 * cumulative) / pixels);
      }
    }
  }
  const rows = tileGeometry(height, tiles);
  const columns = tileGeometry(width, tiles);
  for (let y = 0; y < height; y += 1) {
    const [top, bottom, down] = rows[y];
    for (let x = 0; x < width; x += 1) {
      const [left, right, across] = columns[x];
      const level = levels[y * width + x];
      const topLeft = mappings[(top * tiles + left) * 256 + level];
      const topRight = mappings[(top * tiles + right) * 256 + level];
      const bottomLeft = mappings[(bottom * tiles + left) * 256 + level];
      const bottomRight = mappings[(bottom * tiles + right) * 256 + level];
      // Two steps along rows and one down, as photometric.py blends (equal mappings blend to exactly themselves).
      const upper = topLeft + across * (topRight - topLeft);
      const lower = bottomLeft + across * (bottomRight - bottomLeft);
      out[y * width + x] = upper + down * (lower - upper);
    }
  }
}

// One geometry per (side, tiles): the camera asks for the same one every frame.
const tileGeometries = new Map();

/** photometric.py's clahe_geometry: for each pixel along a side, the two surrounding tiles and the second's weight. */
function tileGeometry(size, tiles) {
  const key = `${size}/${tiles}`;
  if (!tileGeometries.has(key)) {
    const tileSize = size / tiles;
    const clamp = (tile) => Math.min(tiles - 1, Math.max(0, tile));
    tileGeometries.set(key, Array.from({ length: size }, (_, pixel) => {
      const position = (pixel + 0.5) / tileSize - 0.5;
      const first = Math.floor(position);
      return [clamp(first), clamp(first + 1), position - first];
    }));
  }
  return tileGeometries.get(key);
}

/** photometric.py's standardize: the face shifted and scaled to `mean` and `std` (at least one level's spread). */
function standardize(grey, mean, std) {
  let sum = 0;
  for (const value of grey) sum += value;
  const faceMean = sum / grey.length;
  let squares = 0;
  for (const value of grey) squares += (value - faceMean) ** 2;
  const faceStd = Math.max(Math.sqrt(squares / grey.length), 1);
  for (let i = 0; i < grey.length; i += 1) grey[i] = mean + (std * (grey[i] - faceMean)) / faceStd;
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
