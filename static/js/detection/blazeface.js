// MediaPipe BlazeFace (short- and full-range face detection) run by TF.js: SSD anchors, box decoding, scores.
// The graphs are MediaPipe's face_detection_short_range.tflite and face_detection_full_range_sparse.tflite (npm package
// @mediapipe/face_detection, which the Python package runs as they are), converted by webapp/blazeface_graphs.py.

/**
 * file: graph model in the models folder; output: the output node to read (per anchor: score logit, then box and
 * keypoints); strides/anchorsPerLayer: MediaPipe's SsdAnchorsCalculator options for the model;
 * scoreThreshold: MediaPipe's min_score_thresh for it.
 */
export const MODELS = {
  short: { file: 'face_detection_short_range.json', output: 'Identity:0', inputSize: 128, strides: [8, 16, 16, 16], anchorsPerLayer: 2, scoreThreshold: 0.5 },
  full: { file: 'face_detection_full_range_sparse.json', output: 'Identity:0', inputSize: 192, strides: [4], anchorsPerLayer: 1, scoreThreshold: 0.6 },
};

const VALUES_PER_ANCHOR = 17; // score logit, then box (x, y, w, h) and six (x, y) keypoints

/**
 * Anchor centres in [0, 1] as [x0, y0, x1, y1, …]: row-major over each grid, a cell's anchors consecutive; layers
 * that share a stride share one grid (anchor_offset 0.5, fixed_anchor_size: every anchor is 1 × 1).
 */
export function anchorCentres({ inputSize, strides, anchorsPerLayer }) {
  const centres = [];
  for (let layer = 0; layer < strides.length;) {
    const stride = strides[layer];
    let sameStride = 0;
    while (layer + sameStride < strides.length && strides[layer + sameStride] === stride) sameStride += 1;
    const cells = Math.ceil(inputSize / stride);
    for (let row = 0; row < cells; row += 1) {
      for (let col = 0; col < cells; col += 1) {
        for (let k = 0; k < sameStride * anchorsPerLayer; k += 1) centres.push((col + 0.5) / cells, (row + 0.5) / cells);
      }
    }
    layer += sameStride;
  }
  return Float32Array.from(centres);
}

const logit = (probability) => Math.log(probability / (1 - probability));
const sigmoid = (value) => 1 / (1 + Math.exp(-Math.max(-100, Math.min(100, value))));

export class BlazeFace {
  constructor(graph, spec) {
    this.graph = graph;
    this.spec = spec;
    this.anchors = anchorCentres(spec);
  }

  static async load(folderUrl, name) {
    const spec = MODELS[name];
    if (!spec) throw new Error(`Unknown face detector model "${name}": expected one of ${Object.keys(MODELS).join(', ')}`);
    const graph = await globalThis.tf.loadGraphModel(new URL(spec.file, new URL(folderUrl, location.href)).href);
    const model = new BlazeFace(graph, spec);
    // One pass now compiles the kernels, so the visitor's first picture is not the slow one.
    const tf = globalThis.tf;
    tf.tidy(() => graph.execute(tf.zeros([1, spec.inputSize, spec.inputSize, 3]), spec.output).dataSync());
    return model;
  }

  /**
   * Faces in a batch of model inputs.
   * @param {tf.Tensor4D} inputs  [N, size, size, 3], values in [-1, 1]
   * @param {number} scoreThreshold
   * @returns {Promise<Array<Array<{cx:number, cy:number, width:number, height:number, score:number}>>>}
   *   per input, boxes in [0, 1] input coordinates, before non-maximum suppression
   */
  async detect(inputs, scoreThreshold = this.spec.scoreThreshold) {
    const output = this.graph.execute(inputs, this.spec.output);
    const values = await output.data();
    output.dispose();
    const size = this.spec.inputSize;
    const anchorCount = this.anchors.length / 2;
    const minimumLogit = logit(scoreThreshold);
    const batches = [];
    for (let image = 0; image < inputs.shape[0]; image += 1) {
      const faces = [];
      const base = image * anchorCount * VALUES_PER_ANCHOR;
      for (let anchor = 0; anchor < anchorCount; anchor += 1) {
        const row = base + anchor * VALUES_PER_ANCHOR;
        if (values[row] < minimumLogit) continue;
        faces.push({
          cx: values[row + 1] / size + this.anchors[2 * anchor],
          cy: values[row + 2] / size + this.anchors[2 * anchor + 1],
          width: values[row + 3] / size,
          height: values[row + 4] / size,
          score: sigmoid(values[row]),
        });
      }
      batches.push(faces);
    }
    return batches;
  }

  dispose() {
    this.graph.dispose();
  }
}
