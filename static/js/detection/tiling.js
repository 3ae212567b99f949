// Where to look for faces of every size in a photo: the whole picture letterboxed into the model's square input,
// then finer and finer scales, each covered by overlapping square windows, down to the smallest face sought.

/**
 * @param {number} width  picture width in pixels
 * @param {number} height
 * @param {object} options
 * @param {number} options.inputSize  the model's square input, pixels
 * @param {number} options.smallestFace  in picture pixels: the finest scale makes such a face `detectable` pixels
 * @param {number} options.detectable  the smallest face (model-input pixels) the model finds reliably
 * @param {number} options.overlap  overlap of neighbouring windows, model-input pixels. A finer scale keeps only
 *   faces up to this size (bigger ones may be cut by a window edge, and the coarser scale sees them whole)
 * @param {number} options.scaleStep  ratio between consecutive scales
 * @param {number} options.maxScale  never enlarge the picture more than this
 * @param {number} options.maxWindows  cost bound: the finest scale grows coarser until the plan fits
 * @returns {Array<{x:number, y:number, size:number, level:number, maxFace:number, smoothing?:string,
 *   interior:{left:boolean, top:boolean, right:boolean, bottom:boolean}}>}  squares in picture pixels; maxFace:
 *   largest face (picture pixels) this window reports; interior: which edges cut through the picture (faces
 *   crossing them are dropped); smoothing: how to scale it (detection/inputs.js)
 */
export function planWindows(width, height, { inputSize, smallestFace, detectable, overlap, scaleStep, maxScale, maxWindows }) {
  const longSide = Math.max(width, height);
  const whole = {
    x: (width - longSide) / 2, y: (height - longSide) / 2, size: longSide, level: 0, maxFace: Infinity,
    interior: { left: false, top: false, right: false, bottom: false },
  };
  const wholeScale = inputSize / longSide;
  // From the finest scale down, each scaleStep coarser, until the whole picture fits one window. When that is
  // more windows than allowed, the finest scale shrinks (bigger smallest face) until it fits.
  let finest = Math.min(maxScale, detectable / smallestFace);
  for (;;) {
    const levels = [];
    for (let scale = finest; scale > wholeScale * 1.05; scale /= scaleStep) {
      levels.push(tileLevel(width, height, scale, inputSize, overlap));
    }
    const windows = [whole, ...levels.reverse().flatMap((level, index) => level.map((window) => ({ ...window, level: index + 1 })))];
    if (windows.length <= maxWindows || finest <= wholeScale) return windows;
    finest *= 0.9;
  }
}

function tileLevel(width, height, scale, inputSize, overlap) {
  const size = inputSize / scale; // window side in picture pixels
  const step = (inputSize - overlap) / scale;
  const starts = (extent) => {
    if (extent <= size) return [(extent - size) / 2]; // one window, centred, padded
    const count = Math.ceil((extent - size) / step) + 1;
    return Array.from({ length: count }, (_, index) => ((extent - size) * index) / (count - 1));
  };
  const windows = [];
  for (const y of starts(height)) {
    for (const x of starts(width)) {
      windows.push({
        // 'high': filtered downscaling. The faces sought here are small, and aliasing costs them more than
        // MediaPipe-faithful bilinear sampling (the whole-picture window's) gains.
        x, y, size, maxFace: overlap / scale, smoothing: 'high',
        interior: { left: x > 0, top: y > 0, right: x + size < width, bottom: y + size < height },
      });
    }
  }
  return windows;
}

/** Whether a face box (picture pixels) lies inside the window on every edge that cuts through the picture. */
export function wholeInWindow(box, window, tolerance) {
  const slack = tolerance * window.size;
  const { interior } = window;
  return !((interior.left && box.x < window.x - slack)
    || (interior.top && box.y < window.y - slack)
    || (interior.right && box.x + box.width > window.x + window.size + slack)
    || (interior.bottom && box.y + box.height > window.y + window.size + slack));
}
