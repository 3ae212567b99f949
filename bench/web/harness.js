// Runs one model on one TF.js backend in this page: predictions on the faces and end-to-end detect + classify on
// the frame (run), then per-face latency at batch 1 in rounds (timeLatency). Called by bench/browser.py; one fresh
// page per model and backend, because face-api and Human bring their own TF.js bundles.
import { callTimes, faceCanvases, frameCanvas, timeCalls } from './common.js';

const ADAPTERS = {
  ours: () => import('./models/ours.js'),
  'face-api': () => import('./models/faceapi.js'),
  human: () => import('./models/human.js'),
};
const ACCURACY_BATCH = 32;

let loaded = null; // this page's model and faces, kept for the latency rounds

/**
 * @param {{model:string, backend:string, modelUrl:string, faces:{url:string, size:number, predict:boolean}|null,
 *          endToEnd:{url:string, warmup:number, runs:number}|null}} job
 */
export async function run(job) {
  const adapter = await ADAPTERS[job.model]();
  const loadStarted = performance.now();
  const model = await adapter.create({ backend: job.backend, modelUrl: job.modelUrl });
  const result = { model: job.model, backend: model.backend, labels: model.labels, load_ms: performance.now() - loadStarted };
  if (job.faces) {
    const canvases = await faceCanvases(job.faces.url, job.faces.size);
    if (job.faces.predict) {
      result.probabilities = [];
      for (let start = 0; start < canvases.length; start += ACCURACY_BATCH) {
        result.probabilities.push(...(await model.classifyBatch(canvases.slice(start, start + ACCURACY_BATCH))));
      }
    }
    loaded = { model, canvases, next: 0 };
  }
  if (job.endToEnd) {
    const frame = await frameCanvas(job.endToEnd.url);
    result.frame = { width: frame.width, height: frame.height, faces: await model.detectAndClassify(frame) };
    result.end_to_end = await timeCalls(() => model.detectAndClassify(frame), job.endToEnd);
  }
  return result;
}

/** One round of per-face latency (batch 1) on the model that run() loaded; bench/browser.py alternates the rounds
 * between the models' pages, so that a change in the machine's load reaches every model alike. */
export async function timeLatency({ warmup, runs }) {
  const { model, canvases } = loaded;
  // Cycle through the faces so that no result can be reused.
  return { times: await callTimes(() => model.classifyOne(canvases[loaded.next++ % canvases.length]), { warmup, runs }) };
}
