// A second look at each face that photo search found. The windows that found it framed it by chance (wherever the
// tiling grid fell); a real face still looks like one when the network sees it again centred in fresh windows at
// other framings, while a hand, a lamp or a collar that happened to match one window mostly does not.
import { iou } from './nms.js';

// A look's candidates below this score count as 0: with two looks averaged against a threshold of 0.65, a look
// under 0.3 rejects the face whatever the other says, so lower scores need not be decoded.
export const LOOK_FLOOR = 0.3;
// A look's candidate is the same face when it overlaps the box by this much (MediaPipe's suppression IoU).
const SAME_FACE_IOU = 0.3;

/**
 * A square window centred on a face box (picture pixels), `factor` × the box's long side.
 * @param {{x:number, y:number, width:number, height:number}} box
 * @param {number} factor
 */
export function lookWindow(box, factor) {
  const side = factor * Math.max(box.width, box.height);
  // 'high': filtered scaling, as the tiled windows that find most faces.
  return { x: box.x + (box.width - side) / 2, y: box.y + (box.height - side) / 2, size: side, smoothing: 'high' };
}

/** The best score among a look's candidates (picture pixels) that are the face in `box`; 0 if none is. */
export function lookScore(candidates, box) {
  return candidates.reduce((best, candidate) => (iou(candidate, box) > SAME_FACE_IOU ? Math.max(best, candidate.score) : best), 0);
}
