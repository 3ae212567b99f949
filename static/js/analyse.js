// One picture in, every face out: detect, crop as metadata.json says, classify all faces in one batch.
import { cropRect, sourceSize } from './crop.js';

/**
 * @returns {Promise<{width:number, height:number, faces:Array, timings:{detectMs:number, classifyMs:number}}>}
 *   faces: {box, crop, score, probabilities: [{label, probability}], top: {label, probability}}
 */
export async function analyse(source, detector, classifier) {
  const { width, height } = sourceSize(source);
  const started = performance.now();
  const boxes = await detector.detect(source);
  const detected = performance.now();
  const crops = boxes.map((box) => cropRect(box, classifier.preprocessing.face_crop));
  const scores = await classifier.classifyRegions(source, crops);
  const classified = performance.now();
  const faces = boxes.map((box, index) => ({
    box,
    crop: crops[index],
    score: box.score,
    probabilities: scores[index],
    top: scores[index].reduce((best, entry) => (entry.probability > best.probability ? entry : best)),
  }));
  faces.sort((a, b) => a.box.x - b.box.x); // left to right, so "Face 1" is the leftmost
  return { width, height, faces, timings: { detectMs: detected - started, classifyMs: classified - detected } };
}
