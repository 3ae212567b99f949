// Where the face crop lies: the detector's box grown by a margin on each side, squared about its centre and
// shifted vertically, exactly as metadata.json's preprocessing.face_crop says (the rule training/preprocessing.py
// applies in Python).

/**
 * @param {{x:number, y:number, width:number, height:number}} box  detector box in source pixels
 * @param {{margin:number, square:boolean, shift_y?:number}} faceCrop  metadata.preprocessing.face_crop
 * @returns {{x:number, y:number, width:number, height:number}} crop in source pixels (may extend past the image)
 */
export function cropRect(box, { margin, square, shift_y: shiftY = 0 }) {
  let width = box.width * (1 + 2 * margin);
  let height = box.height * (1 + 2 * margin);
  if (square) width = height = Math.max(width, height);
  const centreX = box.x + box.width / 2;
  const centreY = box.y + box.height / 2 + shiftY * box.height;
  return { x: centreX - width / 2, y: centreY - height / 2, width, height };
}

/**
 * Where a bilinear resize of [start, start + size) to outSize pixels samples, first and last (the way PIL's
 * transform(EXTENT, BILINEAR) in the Python reference does): output pixel i reads source coordinate
 * start + (i + 0.5) * size / outSize, with pixel centres at +0.5.
 */
function sampleSpan(start, size, outSize) {
  return [start + (0.5 * size) / outSize - 0.5, start + ((outSize - 0.5) * size) / outSize - 0.5];
}

/**
 * The whole pixels of the image that a crop reads (clamped to the image), and the tf.image.cropAndResize box,
 * [y1, x1, y2, x2] normalised to that region, that samples it exactly as a resize of the crop would.
 * cropAndResize spreads outSize samples from y1*(h-1) to y2*(h-1) and reads 0 beyond the region's edges; as the
 * region holds every sample that falls inside the image, the samples reading 0 are exactly those outside it.
 * @returns {{region: {x:number, y:number, width:number, height:number}, box: number[]} | null} null: the crop lies
 *   wholly outside the image (or the image is narrower than 2 pixels)
 */
export function cropWindow(rect, imageWidth, imageHeight, outWidth, outHeight) {
  const x = axisWindow(rect.x, rect.width, outWidth, imageWidth);
  const y = axisWindow(rect.y, rect.height, outHeight, imageHeight);
  if (!x || !y) return null;
  return {
    region: { x: x.start, y: y.start, width: x.length, height: y.length },
    box: [y.first, x.first, y.last, x.last],
  };
}

function axisWindow(start, size, outSize, imageSize) {
  const [first, last] = sampleSpan(start, size, outSize);
  let low = Math.max(0, Math.floor(Math.min(first, last)));
  let high = Math.min(imageSize - 1, Math.ceil(Math.max(first, last)));
  if (low > high || imageSize < 2) return null;
  if (low === high) [low, high] = high < imageSize - 1 ? [low, high + 1] : [low - 1, high]; // cropAndResize needs 2
  const span = high - low;
  return { start: low, length: span + 1, first: (first - low) / span, last: (last - low) / span };
}

/** Pixel size of anything the page analyses: image bitmap, canvas, image or video element. */
export function sourceSize(source) {
  const is = (type) => typeof globalThis[type] === 'function' && source instanceof globalThis[type]; // none in a worker
  if (is('HTMLVideoElement')) return { width: source.videoWidth, height: source.videoHeight };
  if (is('HTMLImageElement')) return { width: source.naturalWidth, height: source.naturalHeight };
  return { width: source.width, height: source.height };
}
