// Emotion classifier, tfjs-models style: `const model = await load(); const scores = await model.classify(face)`.
// Labels, input size, colour conversion, crop rule, photometric steps, pixel scaling and the calibration
// temperature all come from metadata.json.
import { cropWindow, sourceSize } from './crop.js';
import { applySteps, checkSteps } from './photometric.js';

export class EmotionClassifier {
  constructor(graphModel, metadata) {
    this.model = graphModel;
    this.metadata = metadata;
    this.labels = metadata.labels;
    this.input = metadata.input;
    this.preprocessing = metadata.preprocessing;
    this.photometric = metadata.preprocessing.photometric ?? [];
    this.temperature = metadata.output?.temperature ?? 1;
    checkSteps(this.photometric);
    if (!(this.temperature > 0)) throw new Error(`metadata.json: output.temperature ${this.temperature} is not > 0`);
  }

  /** Probabilities for one face image (canvas, image, video or ImageBitmap) that is already cropped. */
  async classify(faceImage) {
    const { width, height } = sourceSize(faceImage);
    const [scores] = await this.classifyRegions(faceImage, [{ x: 0, y: 0, width, height }]);
    return scores;
  }

  /**
   * Probabilities for several crops of one source, in one batch.
   * @returns {Promise<Array<Array<{label:string, probability:number}>>>} per crop, in label order
   */
  async classifyRegions(source, rects) {
    if (rects.length === 0) return [];
    const tf = globalThis.tf;
    const batch = this.inputTensor(source, rects);
    const output = this.model.predict(batch);
    const probabilities = tf.tidy(() => this.calibrated(output));
    const rows = await probabilities.array();
    tf.dispose([batch, output, probabilities]);
    return rows.map((row) => row.map((probability, index) => ({ label: this.labels[index], probability })));
  }

  /**
   * Probabilities from the network's output, its logits divided by the calibration temperature (for probabilities,
   * their logarithms: the same thing up to a constant per face), as emotion_detector/classifier.py does.
   */
  calibrated(output) {
    const tf = globalThis.tf;
    const logits = this.metadata.output?.kind === 'logits';
    if (this.temperature === 1) return logits ? tf.softmax(output) : output.clone();
    const scaled = (logits ? output : tf.log(tf.maximum(output, 1e-12))).div(this.temperature);
    return tf.softmax(scaled);
  }

  /**
   * The model input [N, H, W, C] for crops of `source`, per metadata.preprocessing. Only the pixels under each
   * crop are read and made into tensors: no copy of the whole frame, whatever its size.
   */
  inputTensor(source, rects) {
    const tf = globalThis.tf;
    const { height, width, channels } = this.input;
    const size = sourceSize(source);
    const windows = rects.map((rect) => cropWindow(rect, size.width, size.height, width, height));
    return tf.tidy(() => {
      const { scale } = this.preprocessing;
      const steps = this.photometric;
      const crops = windows.map((window) => {
        if (!window) return tf.zeros([1, height, width, channels]); // wholly outside the picture: reads 0, as in Python
        // Without photometric steps the scale is applied before resizing (both are linear); the steps work on
        // grey levels of the resized face, so then it comes after them.
        const region = this.modelPixels(this.readPixels(source, window.region), steps.length ? 1 : scale);
        const face = tf.image.cropAndResize(region, [window.box], [0], [height, width], 'bilinear', 0);
        if (!steps.length) return face;
        const levels = applySteps(Float32Array.from(face.dataSync()), steps, width);
        for (let i = 0; i < levels.length; i += 1) levels[i] *= scale;
        return tf.tensor4d(levels, [1, height, width, channels]);
      });
      // Each op costs a pass and a dispatch at batch 1: none is spent on a copy or on adding 0.
      const batch = crops.length === 1 ? crops[0] : tf.concat(crops, 0);
      const { offset } = this.preprocessing;
      return offset ? batch.add(offset) : batch;
    });
  }

  /**
   * RGBA pixels as a [1, h, w, 1] tensor of the model's grey, times `scale`. Converted here, before resizing, as
   * Python does (both are linear, so the order does not change the result): one pass in JavaScript over the region
   * costs a third of converting its three channels with tensor ops.
   */
  modelPixels({ data, width, height }, scale) {
    const { grey_weights: greyWeights } = this.preprocessing;
    const [red, green, blue] = greyWeights.map((weight) => weight * scale);
    const grey = new Float32Array(width * height);
    for (let pixel = 0, rgba = 0; pixel < grey.length; pixel += 1, rgba += 4) {
      grey[pixel] = red * data[rgba] + green * data[rgba + 1] + blue * data[rgba + 2];
    }
    return globalThis.tf.tensor4d(grey, [1, height, width, 1]);
  }

  /** The RGBA pixels of one region of `source`, copied 1:1 (no resampling) through a small reused canvas. */
  readPixels(source, { x, y, width, height }) {
    this.scratch ??= typeof OffscreenCanvas === 'function' ? new OffscreenCanvas(width, height) : document.createElement('canvas');
    // Grown, never shrunk: resizing a canvas reallocates it, which cost more than the copy itself.
    if (this.scratch.width < width || this.scratch.height < height) {
      this.scratch.width = Math.max(this.scratch.width, width);
      this.scratch.height = Math.max(this.scratch.height, height);
    }
    const context = this.scratch.getContext('2d', { willReadFrequently: true });
    context.globalCompositeOperation = 'copy'; // replace what an earlier face left, transparent pixels included
    context.imageSmoothingEnabled = false;
    context.drawImage(source, x, y, width, height, 0, 0, width, height);
    return context.getImageData(0, 0, width, height);
  }

  dispose() {
    this.model.dispose();
  }
}

/**
 * @param {{modelUrl: string, onProgress?: (fraction: number) => void}} options  modelUrl: folder holding metadata.json
 */
export async function load({ modelUrl, onProgress = () => {} }) {
  const tf = globalThis.tf;
  const response = await fetch(new URL('metadata.json', new URL(modelUrl, location.href)));
  if (!response.ok) throw new Error(`metadata.json: HTTP ${response.status}`);
  const metadata = await response.json();
  const { height, width, channels } = metadata.input;
  const { color } = metadata.preprocessing;
  if (color !== 'grey' || channels !== 1) {
    // What the Python pipeline trains and measures (training/preprocessing.py); anything else would be a guess.
    throw new Error(`metadata.json asks for unsupported colour handling: ${color} with ${channels} channel(s)`);
  }
  const graphModel = await tf.loadGraphModel(new URL(metadata.model.path, response.url).href, { onProgress });
  const classifier = new EmotionClassifier(graphModel, metadata);
  // One warm-up pass compiles kernels now rather than on the visitor's first photo.
  tf.tidy(() => graphModel.predict(tf.zeros([1, height, width, channels])).dataSync());
  return classifier;
}
