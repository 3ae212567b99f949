// Shared helpers for the benchmark page: script loading, the faces and frame Python prepared, and timing.

/** Adds a classic <script> (TF.js, MediaPipe publish UMD bundles that set globals) and waits for it. */
export function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${url}`));
    document.head.appendChild(script);
  });
}

/** N square grey faces from a raw uint8 file (N × size × size), each as an RGB canvas (R = G = B) as a user's photo would be. */
export async function faceCanvases(url, size) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const count = bytes.length / (size * size);
  const canvases = [];
  for (let face = 0; face < count; face += 1) {
    const canvas = document.createElement('canvas');
    canvas.width = size;
    canvas.height = size;
    const context = canvas.getContext('2d');
    const image = context.createImageData(size, size);
    for (let i = 0; i < size * size; i += 1) {
      const grey = bytes[face * size * size + i];
      image.data.set([grey, grey, grey, 255], i * 4);
    }
    context.putImageData(image, 0, 0);
    canvases.push(canvas);
  }
  return canvases;
}

/** The end-to-end test frame (a PNG) drawn on a canvas, the source every pipeline reads. */
export async function frameCanvas(url) {
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  canvas.getContext('2d').drawImage(image, 0, 0);
  return canvas;
}

/** Wall-clock milliseconds of each of `runs` sequential awaited calls after `warmup` untimed ones (first calls compile kernels). */
export async function callTimes(call, { warmup, runs }) {
  for (let i = 0; i < warmup; i += 1) await call();
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  return times;
}

/** callTimes, summarised. */
export async function timeCalls(call, options) {
  const times = await callTimes(call, options);
  const sorted = [...times].sort((a, b) => a - b);
  return {
    runs: times.length,
    median_ms: sorted[Math.floor(sorted.length / 2)],
    mean_ms: times.reduce((sum, t) => sum + t, 0) / times.length,
    min_ms: sorted[0],
    max_ms: sorted[sorted.length - 1],
  };
}

export const WASM_PATH = '/node_modules/@tensorflow/tfjs-backend-wasm/dist/';

/** TF.js from our node_modules on the named backend; resolves to the `tf` global. */
export async function loadTfjs(backend) {
  await loadScript('/node_modules/@tensorflow/tfjs/dist/tf.min.js');
  await loadScript('/node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js');
  const tf = globalThis.tf;
  tf.wasm.setWasmPaths(new URL(WASM_PATH, location.href).href);
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} unavailable`);
  await tf.ready();
  return tf;
}
