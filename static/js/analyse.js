// One picture in, every face out: detect, crop as metadata.json says, classify all faces in one batch. The two
// stages are separate so that a camera frame's faces can be classified elsewhere (classifier-thread.js) while the
// next frame's faces are being found.
import { cropRect, sourceSize } from './crop.js';

/**
 * Stage one: the faces in `source` and the crop of each.
 * @returns {Promise<{width:number, height:number, boxes:Array, crops:Array, detectMs:number}>}
 */
export async function findFaces(source, detector, faceCrop) {
  const { width, height } = sourceSize(source);
  const started = performance.now();
  const boxes = await detector.detect(source);
  const crops = boxes.map((box) => cropRect(box, faceCrop));
  return { width, height, boxes, crops, detectMs: performance.now() - started };
}

/**
 * Stage two: scores for the crops stage one found, from any object with the classifier's classifyRegions().
 * @returns {Promise<{width:number, height:number, faces:Array, timings:{detectMs:number, classifyMs:number}}>}
 *   faces: {box, crop, score, probabilities: [{label, probability}], top: {label, probability}}
 */
export async function classifyFaces(source, { width, height, boxes, crops, detectMs }, classifier) {
  const started = performance.now();
  const scores = await classifier.classifyRegions(source, crops);
  const classifyMs = performance.now() - started;
  const faces = boxes.map((box, index) => ({
    box,
    crop: crops[index],
    score: box.score,
    probabilities: scores[index],
    top: scores[index].reduce((best, entry) => (entry.probability > best.probability ? entry : best)),
  }));
  faces.sort((a, b) => a.box.x - b.box.x); // left to right, so "Face 1" is the leftmost
  return { width, height, faces, timings: { detectMs, classifyMs } };
}

/** Both stages, one after the other, on this thread. */
export async function analyse(source, detector, classifier) {
  const found = await findFaces(source, detector, classifier.preprocessing.face_crop);
  return classifyFaces(source, found, classifier);
}
