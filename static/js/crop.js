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
 * Normalised [y1, x1, y2, x2] boxes for tf.image.cropAndResize that sample each crop the way a bilinear
 * resize of that region does (and PIL's transform(EXTENT, BILINEAR) in the Python reference): output pixel i
 * reads source coordinate left + (i + 0.5) * size / outSize, with pixel centres at +0.5.
 * cropAndResize instead spreads outSize samples from y1*(H-1) to y2*(H-1), so the ends are placed to match.
 */
export function samplingBoxes(rects, imageWidth, imageHeight, outWidth, outHeight) {
  const ends = (start, size, outSize) => [start + (0.5 * size) / outSize - 0.5, start + ((outSize - 0.5) * size) / outSize - 0.5];
  return rects.map((rect) => {
    const [x1, x2] = ends(rect.x, rect.width, outWidth);
    const [y1, y2] = ends(rect.y, rect.height, outHeight);
    return [y1 / (imageHeight - 1), x1 / (imageWidth - 1), y2 / (imageHeight - 1), x2 / (imageWidth - 1)];
  });
}

/** Pixel size of anything the page analyses: image bitmap, canvas, image or video element. */
export function sourceSize(source) {
  if (source instanceof HTMLVideoElement) return { width: source.videoWidth, height: source.videoHeight };
  if (source instanceof HTMLImageElement) return { width: source.naturalWidth, height: source.naturalHeight };
  return { width: source.width, height: source.height };
}
