// Face detection in the page: MediaPipe's BlazeFace networks run by TF.js itself (no MediaPipe runtime, so the
// page needs no 'unsafe-eval'). Video frames get one fast pass; photos get every face, large or small, by looking
// at several scales (detection/tiling.js) and merging what each window found.
import { BlazeFace, MODELS } from './detection/blazeface.js';
import { InputBatcher } from './detection/inputs.js';
import { area, intersection, weightedNms } from './detection/nms.js';
import { LOOK_FLOOR, lookScore, lookWindow } from './detection/second-look.js';
import { planWindows, wholeInWindow } from './detection/tiling.js';
import { sourceSize } from './crop.js';

// 'auto': photos are searched at every scale (PHOTO_DEFAULTS); video frames get one short-range pass.
export const DETECTOR_MODELS = ['auto', 'short', 'full'];

/** Photo-mode settings; every one is an option of createFaceDetector (`photo: {...}`). */
export const PHOTO_DEFAULTS = {
  // The short-range model: in a 128 px window it finds faces from ~28 px to the whole window with few false
  // alarms; the full-range one, tried too, misses more faces at every size and is 3× slower per window in TF.js.
  model: 'short',
  // The whole-picture window keeps MediaPipe's 0.5, so photo mode finds at least what one pass finds. The other
  // windows are many, at many scales, and at 0.5 they let in dark corners of helmets, rings and the like (scores
  // 0.5–0.66); true faces in them score ~0.9, and 0.65 still finds 19–20 of 20 faces of 40–200 px.
  wholeScoreThreshold: 0.5,
  scoreThreshold: 0.65,
  smallestFace: 32, // picture pixels: the smallest face sought (bounded by maxWindows on large pictures)
  detectable: 28, // model-input pixels: the smallest face the model finds reliably
  overlap: 56, // model-input pixels between neighbouring windows: scaleStep × detectable, so no face falls between
  scaleStep: 2,
  maxScale: 1,
  maxWindows: 150, // ≈ 1 s of WASM inference on two busy cores; a 2048-px photo then seeks faces from ~70 px
  batchSize: 8,
  edgeTolerance: 0.02, // of a window's side: a box may poke out this far past a window edge inside the picture
  nmsIou: 0.3, // MediaPipe's min_suppression_threshold, within one window
  mergeIou: 0.3, // across windows and scales
  mergeContainment: 0.6, // a box this much inside a better one is the same face seen again
  // A second look at every face found (detection/second-look.js): the network sees it again centred in a window
  // secondLookNear × its size; a score of secondLookSure keeps it, and otherwise it needs a second window,
  // secondLookFar × its size, and the two scores to average secondLookThreshold. On 80 hard negatives (hands, a
  // cat, a collar, a lamp, textures) this rejects all 19 false faces photo search found (near looks up to 0.63,
  // averages up to 0.62); the real faces of the group-photo tests average 0.68 or more, and most are sure at the
  // first look. It adds one window per face found, two for the unsure ones; secondLookThreshold 0 turns it off.
  secondLookNear: 2,
  secondLookFar: 3,
  secondLookSure: 0.8,
  secondLookThreshold: 0.65,
};

const NMS_IOU = 0.3;
const VIDEO_MODEL = 'short';

export class FaceDetector {
  constructor(modelsPath, photo) {
    this.modelsPath = modelsPath;
    this.photo = photo;
    this.modelName = 'auto';
    this.loading = {}; // network name → Promise of {model: BlazeFace, batcher: InputBatcher}, loaded on first use
    this.lastPlan = null; // windows of the last photo search, for tests and the benchmark
  }

  /** The short- or full-range network, loaded (and compiled) the first time it is needed. */
  network(name) {
    this.loading[name] ??= BlazeFace.load(this.modelsPath, name).then(
      (model) => ({ model, batcher: new InputBatcher(model.spec.inputSize) }),
      (error) => {
        delete this.loading[name]; // the next call tries again
        throw error;
      },
    );
    return this.loading[name];
  }

  /** 'auto', 'short' or 'full' (the page's "Face search" choice); resolves once its network is loaded. */
  async useModel(modelName) {
    if (!DETECTOR_MODELS.includes(modelName)) throw new Error(`Unknown face detector model "${modelName}": expected one of ${DETECTOR_MODELS.join(', ')}`);
    this.modelName = modelName;
    await this.network(modelName === 'auto' ? this.photo.model : modelName);
  }

  /**
   * Faces in `source` (canvas, image, image bitmap or video element), in source pixels.
   * @returns {Promise<Array<{x:number, y:number, width:number, height:number, score:number}>>}
   */
  async detect(source) {
    const size = sourceSize(source);
    if (!(size.width > 0 && size.height > 0)) return [];
    const video = typeof HTMLVideoElement === 'function' && source instanceof HTMLVideoElement;
    if (this.modelName === 'auto' && !video) return this.detectAll(source, size);
    const name = this.modelName === 'auto' ? VIDEO_MODEL : this.modelName;
    const longSide = Math.max(size.width, size.height);
    const whole = { x: (size.width - longSide) / 2, y: (size.height - longSide) / 2, size: longSide };
    const [faces] = await this.run(name, source, size, [whole], MODELS[name].scoreThreshold);
    return weightedNms(faces, NMS_IOU);
  }

  /** Photo mode: the whole picture, then overlapping windows at finer scales; one list of faces. */
  async detectAll(source, size) {
    const options = this.photo;
    const windows = planWindows(size.width, size.height, { inputSize: MODELS[options.model].inputSize, ...options });
    this.lastPlan = windows;
    const found = [];
    for (let start = 0; start < windows.length; start += options.batchSize) {
      const batch = windows.slice(start, start + options.batchSize);
      const lowest = Math.min(options.scoreThreshold, options.wholeScoreThreshold);
      const perWindow = await this.run(options.model, source, size, batch, lowest);
      perWindow.forEach((faces, index) => {
        const window = batch[index];
        const threshold = window.level === 0 ? options.wholeScoreThreshold : options.scoreThreshold;
        for (const face of weightedNms(faces.filter((candidate) => candidate.score >= threshold), options.nmsIou)) {
          // A face larger than the overlap may be cut by this window's edge: a coarser scale sees it whole.
          if (Math.max(face.width, face.height) > window.maxFace) continue;
          if (!wholeInWindow(face, window, options.edgeTolerance)) continue;
          found.push(face);
        }
      });
    }
    const faces = mergeFaces(found, options);
    return options.secondLookThreshold > 0 ? this.secondLook(source, size, faces) : faces;
  }

  /**
   * The faces that still look like faces when seen again centred (PHOTO_DEFAULTS): a near look that is sure keeps
   * the face; otherwise the near and far looks must average secondLookThreshold.
   */
  async secondLook(source, size, faces) {
    const options = this.photo;
    const near = await this.looks(source, size, faces, options.secondLookNear);
    const unsure = faces.filter((face, index) => near[index] < options.secondLookSure);
    const far = await this.looks(source, size, unsure, options.secondLookFar);
    const farScores = new Map(unsure.map((face, index) => [face, far[index]]));
    return faces.filter((face, index) => near[index] >= options.secondLookSure
      || (near[index] + farScores.get(face)) / 2 >= options.secondLookThreshold);
  }

  /** Each face's look score in a window centred on it, `factor` × its size. */
  async looks(source, size, faces, factor) {
    const windows = faces.map((face) => lookWindow(face, factor));
    const scores = [];
    for (let start = 0; start < windows.length; start += this.photo.batchSize) {
      const batch = windows.slice(start, start + this.photo.batchSize);
      const perWindow = await this.run(this.photo.model, source, size, batch, LOOK_FLOOR);
      perWindow.forEach((candidates, index) => scores.push(lookScore(candidates, faces[start + index])));
    }
    return scores;
  }

  /** Boxes (source pixels) per window, before suppression. */
  async run(name, source, size, windows, scoreThreshold) {
    const { model, batcher } = await this.network(name);
    const inputs = batcher.tensor(source, size, windows);
    try {
      const perWindow = await model.detect(inputs, scoreThreshold);
      return perWindow.map((faces, index) => faces.map((face) => toSource(face, windows[index])));
    } finally {
      inputs.dispose();
    }
  }

  async dispose() {
    const networks = await Promise.allSettled(Object.values(this.loading));
    for (const network of networks) network.value?.model.dispose();
    this.loading = {};
  }
}

function toSource(face, window) {
  return {
    x: window.x + (face.cx - face.width / 2) * window.size,
    y: window.y + (face.cy - face.height / 2) * window.size,
    width: face.width * window.size,
    height: face.height * window.size,
    score: face.score,
  };
}

/** The same face found by several windows or scales: keep the best-scoring box of each group. */
function mergeFaces(faces, { mergeIou, mergeContainment }) {
  const kept = [];
  for (const face of [...faces].sort((a, b) => b.score - a.score)) {
    const duplicate = kept.some((other) => {
      const shared = intersection(face, other);
      return shared / (area(face) + area(other) - shared) > mergeIou || shared / Math.min(area(face), area(other)) > mergeContainment;
    });
    if (!duplicate) kept.push(face);
  }
  return kept;
}

/**
 * @param {{modelsPath: string, modelName?: string, photo?: object}} options
 *   modelsPath: URL folder of the BlazeFace graph models; modelName: 'auto'
 *   (default), 'short' or 'full'; photo: overrides of PHOTO_DEFAULTS
 */
export async function createFaceDetector({ modelsPath, modelName = 'auto', photo = {} }) {
  if (!globalThis.tf) throw new Error('TensorFlow.js did not load');
  if (!modelsPath) throw new Error('createFaceDetector needs modelsPath: the URL folder of the face detection models');
  const detector = new FaceDetector(modelsPath, { ...PHOTO_DEFAULTS, ...photo });
  // The video pass's network too, so the first camera frame does not wait for it; the full-range one only if asked.
  await Promise.all([detector.network(VIDEO_MODEL), detector.useModel(DETECTOR_MODELS.includes(modelName) ? modelName : 'auto')]);
  return detector;
}
