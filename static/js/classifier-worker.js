// The emotion classifier in a worker of its own (a module worker, started by classifier-thread.js): while it
// classifies the faces of one camera frame, the page's thread already looks for faces in the next. It runs the
// page's own classifier.js on the same TF.js files and WebAssembly build, so its scores are the page's.
import { load } from './classifier.js';

let classifier = null;

async function start({ tfjsUrl, wasmScriptUrl, wasmPath, modelUrl }) {
  // TF.js ships as classic scripts that set globalThis.tf; imported as modules they do just the same.
  await import(tfjsUrl);
  await import(wasmScriptUrl);
  const tf = globalThis.tf;
  tf.wasm.setWasmPaths(wasmPath);
  if (!(await tf.setBackend('wasm'))) throw new Error('TF.js could not start its WebAssembly backend in the worker');
  classifier = await load({ modelUrl });
  return { labels: classifier.labels };
}

self.onmessage = async ({ data }) => {
  const { id, kind, frame } = data;
  try {
    if (kind === 'start') self.postMessage({ id, value: await start(data) });
    else if (kind === 'classify') self.postMessage({ id, value: await classifier.classifyRegions(frame, data.rects) });
    else throw new Error(`unknown request "${kind}"`);
  } catch (error) {
    self.postMessage({ id, error: String(error?.message ?? error) });
  } finally {
    frame?.close(); // the frame was transferred here: nobody else frees it
  }
};
