// @vladmandic/human's emotion model (oarriaga mini-Xception, models/emotion.json), on Human's bundled TF.js 4.22.
// Classification alone follows Human's own preprocessing in src/gear/emotion.ts, predict(): the face tensor in
// 0…1 (facemeshutil.ts crop(): crop ÷ 255) → tf.image.resizeBilinear to the model's input (64) → greyscale with
// constants.rgb [0.2989, 0.5870, 0.1140] (src/tfjs/constants.ts) → (x − 0.5) × 2; labels from load() for a
// one-channel model: angry, disgust, fear, happy, sad, surprise, neutral. End to end runs Human's own detect().
import { Human } from '/node_modules/@vladmandic/human/dist/human.esm.js';
import { WASM_PATH } from '../common.js';

export const name = 'human';
// src/gear/emotion.ts, load(): annotations when the model's input has one channel
const LABELS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
const GREY_WEIGHTS = [0.2989, 0.587, 0.114];

function config(backend) {
  return {
    backend,
    wasmPath: new URL(WASM_PATH, location.href).href,
    modelBasePath: new URL('/node_modules/@vladmandic/human/models/', location.href).href,
    debug: false,
    warmup: 'none', // its warm-up needs an embedded sample image; we warm up on our own frame instead
    cacheSensitivity: 0, // otherwise Human reuses the previous result for an unchanged frame, which fakes fps
    filter: { enabled: false },
    face: {
      enabled: true,
      detector: { rotation: false }, // default face pipeline: BlazeFace → FaceMesh crop → emotion
      mesh: { enabled: true },
      iris: { enabled: false },
      attention: { enabled: false },
      description: { enabled: false },
      emotion: { enabled: true, skipFrames: 0, skipTime: 0 },
      antispoof: { enabled: false },
      liveness: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
  };
}

export async function create({ backend }) {
  const human = new Human(config(backend));
  await human.load();
  const { tf } = human;
  if (tf.getBackend() !== backend) throw new Error(`TF.js backend ${backend} unavailable (Human chose ${tf.getBackend()})`);
  const model = human.models.models.emotion;
  if (!model) throw new Error('Human did not load its emotion model');
  const size = model.inputs[0].shape[2];
  const predict = async (canvases) => {
    const output = tf.tidy(() => {
      // Human's bundle has no chained tensor methods (no .toFloat()): functional ops only.
      const faces = tf.div(tf.cast(tf.stack(canvases.map((canvas) => tf.browser.fromPixels(canvas))), 'float32'), 255);
      const resized = tf.image.resizeBilinear(faces, [size, size], false);
      const grey = tf.sum(tf.mul(resized, tf.tensor1d(GREY_WEIGHTS)), 3, true);
      return model.execute(tf.mul(tf.sub(grey, 0.5), 2));
    });
    const rows = await output.array();
    output.dispose();
    return rows;
  };
  return {
    backend: tf.getBackend(),
    labels: LABELS,
    classifyBatch: predict,
    async classifyOne(canvas) {
      return (await predict([canvas]))[0];
    },
    async detectAndClassify(frame) {
      const result = await human.detect(frame);
      return result.face.filter((face) => face.emotion?.length).length;
    },
  };
}
