// Runs one model on one TF.js backend in this page: predictions on the faces, per-face latency (batch 1) and
// end-to-end detect + classify on the frame. Called by bench/browser.py; one fresh page per model and backend,
// because face-api and Human bring their own TF.js bundles.
import { faceCanvases, frameCanvas, timeCalls } from './common.js';

const ADAPTERS = {
  ours: () => import('./models/ours.js'),
  'face-api': () => import('./models/faceapi.js'),
  human: () => import('./models/human.js'),
};
const ACCURACY_BATCH = 32;

/**
 * @param {{model:string, backend:string, modelUrl:string, faces:{url:string, size:number}|null,
 *          latency:{warmup:number, runs:number}|null, endToEnd:{url:string, warmup:number, runs:number}|null}} job
 */
export async function run(job) {
  const adapter = await ADAPTERS[job.model]();
  const loadStarted = performance.now();
  const model = await adapter.create({ backend: job.backend, modelUrl: job.modelUrl });
  const result = { model: job.model, backend: model.backend, labels: model.labels, load_ms: performance.now() - loadStarted };
  if (job.faces || job.latency) {
    const canvases = await faceCanvases(job.faces.url, job.faces.size);
    if (job.faces.predict) {
      result.probabilities = [];
      for (let start = 0; start < canvases.length; start += ACCURACY_BATCH) {
        result.probabilities.push(...(await model.classifyBatch(canvases.slice(start, start + ACCURACY_BATCH))));
      }
    }
    if (job.latency) {
      let next = 0; // cycle through the faces so no result can be reused
      result.latency = await timeCalls(() => model.classifyOne(canvases[next++ % canvases.length]), job.latency);
    }
  }
  if (job.endToEnd) {
    const frame = await frameCanvas(job.endToEnd.url);
    result.frame = { width: frame.width, height: frame.height, faces: await model.detectAndClassify(frame) };
    result.end_to_end = await timeCalls(() => model.detectAndClassify(frame), job.endToEnd);
  }
  return result;
}
