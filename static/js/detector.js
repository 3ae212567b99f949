// Face detection with MediaPipe BlazeFace (short- and full-range models), running on WebAssembly in the page.
// The solution's files come from the @mediapipe/face_detection npm package, served by our own server.
import { sourceSize } from './crop.js';

export const DETECTOR_MODELS = ['short', 'full']; // short: faces within ~2 m (selfies); full: up to ~5 m (groups)

export class FaceDetector {
  constructor(solution, modelName) {
    this.solution = solution;
    this.modelName = modelName;
    this.pending = Promise.resolve();
    this.latest = [];
    solution.onResults((results) => {
      this.latest = results.detections ?? [];
    });
  }

  /** Switches between the short- and full-range models (reloads the graph on the next detect). */
  useModel(modelName) {
    if (!DETECTOR_MODELS.includes(modelName) || modelName === this.modelName) return this.pending;
    this.modelName = modelName;
    return this.enqueue(async () => {
      this.solution.setOptions({ model: modelName });
      await this.solution.initialize();
    });
  }

  // The solution handles one call at a time and reports through a callback: every call waits its turn.
  enqueue(task) {
    const result = this.pending.then(task, task);
    this.pending = result.catch(() => {});
    return result;
  }

  /**
   * Faces in `source` (canvas, image or video element), in source pixels.
   * @returns {Promise<Array<{x:number, y:number, width:number, height:number, score:number|null}>>}
   */
  detect(source) {
    return this.enqueue(async () => {
      const { width, height } = sourceSize(source);
      this.latest = [];
      await this.solution.send({ image: source });
      return this.latest.map((detection) => toPixels(detection, width, height));
    });
  }
}

function toPixels(detection, imageWidth, imageHeight) {
  const { xCenter, yCenter, width, height } = detection.boundingBox;
  return {
    x: (xCenter - width / 2) * imageWidth,
    y: (yCenter - height / 2) * imageHeight,
    width: width * imageWidth,
    height: height * imageHeight,
    score: detectionScore(detection),
  };
}

function detectionScore(detection) {
  // The legacy solution's Detection type does not declare its score: it ships as [{index, <minified>: score}].
  for (const value of Object.values(detection)) {
    const entry = Array.isArray(value) ? value[0] : null;
    if (entry && typeof entry === 'object' && 'index' in entry) {
      const score = Object.entries(entry).find(([key, field]) => key !== 'index' && typeof field === 'number');
      if (score) return score[1];
    }
  }
  return null;
}

/**
 * @param {{solutionPath: string, modelName?: string}} options  solutionPath: URL folder of the package's files
 */
export async function createFaceDetector({ solutionPath, modelName = 'short' }) {
  if (typeof globalThis.FaceDetection !== 'function') throw new Error('MediaPipe face detection did not load');
  const solution = new globalThis.FaceDetection({ locateFile: (file) => `${solutionPath}${file}` });
  // Only these options: setting minDetectionConfidence in this package version wipes the rest of the
  // calculator's options and aborts the graph (its built-in 0.5 threshold applies).
  // CPU inference: identical results, and far faster than the GPU path under software WebGL.
  solution.setOptions({ model: modelName, selfieMode: false, useCpuInference: true });
  await solution.initialize();
  return new FaceDetector(solution, modelName);
}
