// Photo input: file picker, drag and drop, and paste; decoding into a canvas the detector and classifier share.

// Very large photos are scaled down first: faces stay far above the model's input size and memory stays sane.
const MAX_SIDE = 2048;

export class DecodeError extends Error {}

/** Decodes an image file (honouring EXIF orientation) into a canvas; throws DecodeError if it is not an image. */
export async function decodeToCanvas(file, canvas) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch (error) {
    throw new DecodeError(`${file.name || 'The file'} is not a readable image (${error.message})`);
  }
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return canvas;
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
