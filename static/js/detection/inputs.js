// Model inputs from any picture: square windows of the source, scaled by the browser's canvas into one batch
// tensor; only the small inputs are read back, never the full-size picture.

const CONTEXT_OPTIONS = { willReadFrequently: true }; // keeps the canvas in memory: fromPixels reads it back

export class InputBatcher {
  constructor(inputSize) {
    this.inputSize = inputSize;
    // OffscreenCanvas where there is one: the same code then runs in a worker too.
    this.canvas = typeof OffscreenCanvas === 'function' ? new OffscreenCanvas(inputSize, inputSize) : document.createElement('canvas');
    this.context = null;
  }

  ensure(count) {
    const height = this.inputSize * count;
    if (!this.context || this.canvas.height < height) {
      this.canvas.width = this.inputSize;
      this.canvas.height = height;
      this.context = this.canvas.getContext('2d', CONTEXT_OPTIONS);
    }
  }

  /**
   * @param {CanvasImageSource} source
   * @param {{width:number, height:number}} size  source size in pixels
   * @param {Array<{x:number, y:number, size:number, smoothing?:string}>} windows  squares in source pixels;
   *   parts outside the source are black (MediaPipe's letterbox padding). smoothing: the canvas's
   *   imageSmoothingQuality; 'low' (the default) is plain bilinear sampling, as MediaPipe's own resize
   * @returns {tf.Tensor4D} [windows.length, inputSize, inputSize, 3] in [-1, 1]
   */
  tensor(source, size, windows) {
    const n = this.inputSize;
    this.ensure(windows.length);
    const context = this.context;
    context.fillStyle = '#000';
    context.fillRect(0, 0, n, n * windows.length);
    windows.forEach((window, index) => {
      const scale = n / window.size;
      const left = Math.max(0, window.x);
      const top = Math.max(0, window.y);
      const right = Math.min(size.width, window.x + window.size);
      const bottom = Math.min(size.height, window.y + window.size);
      if (right <= left || bottom <= top) return;
      context.imageSmoothingQuality = window.smoothing ?? 'low';
      context.drawImage(source, left, top, right - left, bottom - top,
        (left - window.x) * scale, index * n + (top - window.y) * scale, (right - left) * scale, (bottom - top) * scale);
    });
    const tf = globalThis.tf;
    const pixels = context.getImageData(0, 0, n, n * windows.length);
    return tf.tidy(() => tf.browser.fromPixels(pixels, 3).reshape([windows.length, n, n, 3]).toFloat().div(127.5).sub(1));
  }
}
