// The annotated picture as a PNG: the analysed picture with each face's box and a tag "number label percent" in
// its class colour, tags placed so that none overlaps another (tag-layout.js). Drawn at the analysed size.
import { labelColour } from './palette.js';
import { placeTags } from './tag-layout.js';

/**
 * @param {HTMLCanvasElement} picture  the picture as analysed (result.width × result.height)
 * @param {{faces:Array}} result
 * @param {string[]} labels
 * @returns {Promise<Blob>} image/png
 */
export function annotatedPng(picture, result, labels) {
  const canvas = document.createElement('canvas');
  canvas.width = picture.width;
  canvas.height = picture.height;
  const context = canvas.getContext('2d');
  context.drawImage(picture, 0, 0);
  const line = Math.max(2, Math.round(Math.max(canvas.width, canvas.height) / 400));
  const fontPx = Math.max(12, Math.round(Math.max(canvas.width, canvas.height) / 60));
  const pad = Math.round(fontPx * 0.3);
  context.font = `600 ${fontPx}px system-ui, sans-serif`;
  context.textBaseline = 'top';
  const texts = result.faces.map((face) => tagText(face));
  const sizes = texts.map((text) => ({ width: context.measureText(text).width + 2 * pad, height: fontPx + 2 * pad }));
  const spots = placeTags(result.faces.map((face) => face.box), sizes, canvas);
  result.faces.forEach((face, index) => {
    const colour = labelColour(labels, face.emotion.label);
    const { x, y, width, height } = face.box;
    context.lineWidth = line;
    context.strokeStyle = colour;
    context.strokeRect(x, y, width, height);
    context.fillStyle = colour;
    context.fillRect(spots[index].x, spots[index].y, sizes[index].width, sizes[index].height);
    context.fillStyle = '#fff';
    context.fillText(texts[index], spots[index].x + pad, spots[index].y + pad);
  });
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error('The annotated picture could not be encoded as PNG.'))), 'image/png'));
}

/** "3 happy 92%": what a face's tag says, on the page and in the PNG. */
export function tagText(face) {
  return `${face.id} ${face.emotion.label} ${Math.round(face.emotion.probability * 100)}%`;
}
