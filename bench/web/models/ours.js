// Our model through the product's own modules: static/js/classifier.js (metadata-driven preprocessing),
// static/js/detector.js (BlazeFace in TF.js, as the page) and static/js/analyse.js (the page's detect → crop → classify).
import { load } from '/static/js/classifier.js';
import { createFaceDetector } from '/static/js/detector.js';
import { analyse } from '/static/js/analyse.js';
import { loadTfjs } from '../common.js';

export const name = 'ours';

export async function create({ backend, modelUrl }) {
  const tf = await loadTfjs(backend);
  const classifier = await load({ modelUrl });
  let detector = null;
  const scores = (entries) => entries.map((entry) => entry.probability);
  return {
    backend: tf.getBackend(),
    labels: classifier.labels,
    classifierInput: classifier.input,
    async classifyBatch(canvases) {
      const rows = [];
      for (const canvas of canvases) rows.push(scores(await classifier.classify(canvas)));
      return rows;
    },
    async classifyOne(canvas) {
      return scores(await classifier.classify(canvas));
    },
    async detectAndClassify(frame) {
      // The detector runs on the chosen TF.js backend; created lazily so that an accuracy-only run does not pay
      // for it. 'short': the one pass the page gives each webcam frame (photos get a multi-scale search instead).
      detector ??= await createFaceDetector({ modelsPath: '/blazeface/', modelName: 'short' });
      const result = await analyse(frame, detector, classifier);
      return result.faces.length;
    },
  };
}
