// Photo input: file picker, drag and drop, and paste; decoding into a canvas the detector and classifier share.

// Very large photos are scaled down first: faces stay far above the model's input size and memory stays sane.
export const MAX_SIDE = 2048;
// Below this many pixels (after that scaling) a side cannot hold a face the detector finds. It also keeps
// degenerate shapes such as 61440×1, which would become a 2048×0 canvas, away from the detector.
export const MIN_SIDE = 16;

export class DecodeError extends Error {}

export class SizeError extends Error {}

/**
 * The canvas size a width×height picture is analysed at; throws SizeError for sizes that cannot hold a face.
 * @returns {{width: number, height: number}}
 */
export function analysisSize(width, height, name = 'The picture') {
  if (!(width >= 1 && height >= 1)) throw new SizeError(`${name} has no pixels (${width}×${height}).`);
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const size = { width: Math.round(width * scale), height: Math.round(height * scale) };
  if (Math.min(size.width, size.height) < MIN_SIDE) {
    const why = Math.max(width, height) / Math.min(width, height) > MAX_SIDE / MIN_SIDE ? 'too narrow for its length' : 'too small';
    throw new SizeError(`${name} is ${width}×${height} pixels: ${why} to hold a face. Each side needs at least `
      + `${MIN_SIDE} pixels, and the long side at most ${MAX_SIDE / MIN_SIDE} times the short one.`);
  }
  return size;
}

/** Draws an image bitmap, canvas or image into `canvas` at its analysis size (throws SizeError first if unfit). */
export function drawForAnalysis(image, width, height, canvas, name) {
  const size = analysisSize(width, height, name);
  canvas.width = size.width;
  canvas.height = size.height;
  const context = canvas.getContext('2d');
  // Transparent areas would read as black: show them on white, as the page itself would.
  context.fillStyle = '#fff';
  context.fillRect(0, 0, size.width, size.height);
  context.drawImage(image, 0, 0, size.width, size.height);
  return canvas;
}

/**
 * Decodes an image file (honouring EXIF orientation) into `canvas`; returns the picture's own size (upright).
 * Throws DecodeError if it is not a readable image, SizeError if its size cannot hold a face.
 * @returns {Promise<{width: number, height: number}>}
 */
export async function decodeToCanvas(file, canvas) {
  const name = file.name || 'The file';
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch (error) {
    throw new DecodeError(`${name} could not be decoded (${error.message}): it is damaged, not an image, or too large.`);
  }
  try {
    drawForAnalysis(bitmap, bitmap.width, bitmap.height, canvas, name);
    return { width: bitmap.width, height: bitmap.height };
  } finally {
    bitmap.close();
  }
}

/** Calls onFile(file) for a file chosen, dropped on `dropZone`, or pasted anywhere on the page. */
export function watchPhotoInputs({ input, dropZone, onFile }) {
  input.addEventListener('change', () => {
    if (input.files?.[0]) onFile(input.files[0]);
    input.value = ''; // choosing the same file again still triggers a change
  });
  dropZone.addEventListener('dragover', (event) => {
    event.preventDefault();
    dropZone.classList.add('is-dragging');
  });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('is-dragging'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('is-dragging');
    const file = event.dataTransfer?.files?.[0];
    if (file) onFile(file);
  });
  document.addEventListener('paste', (event) => {
    const file = [...(event.clipboardData?.files ?? [])][0];
    if (file) {
      event.preventDefault();
      onFile(file);
    }
  });
}
