// The page's side of classifier-worker.js: the same classifyRegions() as classifier.js, answered by the worker.
// The frame is an ImageBitmap handed over (transferred, not copied); the worker frees it.

export class ClassifierThread {
  constructor(worker) {
    this.worker = worker;
    this.requests = new Map(); // id → {resolve, reject}
    this.nextId = 0;
    worker.onmessage = ({ data }) => {
      const request = this.requests.get(data.id);
      this.requests.delete(data.id);
      if (data.error !== undefined) request?.reject(new Error(`Classifier worker: ${data.error}`));
      else request?.resolve(data.value);
    };
    worker.onerror = (event) => this.failAll(new Error(`Classifier worker failed: ${event.message ?? 'unknown error'}`));
  }

  /**
   * Starts the worker and loads the model there: the TF.js files are the ones this page loaded.
   * @param {{wasmPath: string, modelUrl: string}} options
   */
  static async start({ wasmPath, modelUrl }) {
    const tfjsScript = document.querySelector('script[src*="/tf.es2017.min.js"]');
    if (!tfjsScript) throw new Error('the page loads no tf.es2017.min.js for the worker to use');
    const worker = new Worker(new URL('./classifier-worker.js', import.meta.url), { type: 'module' });
    const thread = new ClassifierThread(worker);
    const absolute = (url) => new URL(url, location.href).href;
    try {
      await thread.request({
        kind: 'start', tfjsUrl: tfjsScript.src, wasmScriptUrl: absolute(`${wasmPath}tf-backend-wasm.es2017.min.js`),
        wasmPath: absolute(wasmPath), modelUrl: absolute(modelUrl),
      });
    } catch (error) {
      thread.terminate();
      throw error;
    }
    return thread;
  }

  request(message, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.requests.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** As EmotionClassifier.classifyRegions; `frame` (an ImageBitmap) is unusable here afterwards. */
  classifyRegions(frame, rects) {
    if (!(frame instanceof ImageBitmap)) throw new TypeError('ClassifierThread.classifyRegions needs an ImageBitmap');
    if (rects.length === 0) {
      frame.close();
      return Promise.resolve([]);
    }
    return this.request({ kind: 'classify', frame, rects }, [frame]);
  }

  failAll(error) {
    for (const { reject } of this.requests.values()) reject(error);
    this.requests.clear();
  }

  terminate() {
    this.worker.terminate();
    this.failAll(new Error('Classifier worker stopped'));
  }
}
