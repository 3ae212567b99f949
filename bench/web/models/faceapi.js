// @vladmandic/face-api's expression model, run by face-api's own code (its bundled TF.js 4.22) so that its own
// preprocessing applies: FaceExpressionNet.predictExpressions (src/faceExpressionNet/FaceExpressionNet.ts) →
// FaceFeatureExtractor.forwardInput (src/faceFeatureExtractor/FaceFeatureExtractor.ts): NetInput.toBatchTensor(112,
// centred padding to square, src/dom/NetInput.ts) on an RGB image, minus mean RGB [122.782, 117.001, 104.298]
// (src/ops/normalize.ts), ÷ 255; softmax output in FACE_EXPRESSION_LABELS order (src/faceExpressionNet/FaceExpressions.ts).
import * as faceapi from '/node_modules/@vladmandic/face-api/dist/face-api.esm.js';
import { WASM_PATH } from '../common.js';

export const name = 'face-api';
const MODELS = '/node_modules/@vladmandic/face-api/model/';
// src/faceExpressionNet/FaceExpressions.ts, FACE_EXPRESSION_LABELS
const LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];

export async function create({ backend }) {
  const { tf } = faceapi;
  tf.setWasmPaths(new URL(WASM_PATH, location.href).href);
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} unavailable`);
  await tf.ready();
  await faceapi.nets.faceExpressionNet.loadFromUri(MODELS);
  let detectorLoaded = false;
  const row = (expressions) => LABELS.map((label) => expressions[label]);
  return {
    backend: tf.getBackend(),
    labels: LABELS,
    async classifyBatch(canvases) {
      const result = await faceapi.nets.faceExpressionNet.predictExpressions(canvases);
      return (Array.isArray(result) ? result : [result]).map(row);
    },
    async classifyOne(canvas) {
      return row(await faceapi.nets.faceExpressionNet.predictExpressions(canvas));
    },
    async detectAndClassify(frame) {
      // face-api's default detector (SSD MobileNet v1, its default options), as its README and webcam demo use.
      if (!detectorLoaded) await faceapi.nets.ssdMobilenetv1.loadFromUri(MODELS);
      detectorLoaded = true;
      const faces = await faceapi.detectAllFaces(frame, new faceapi.SsdMobilenetv1Options()).withFaceExpressions();
      return faces.length;
    },
  };
}
