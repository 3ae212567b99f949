// bench/model_cost.py's page: several graph models timed at batch 1 on TF.js WASM, in alternating rounds so that a
// change in machine load reaches every model alike.
import { loadTfjs, timeCalls } from './common.js';

/** Per model, the median milliseconds of each round of `runs` predict + readback calls on a zero face. */
export async function timeGraphs({ models, rounds, runs }) {
  const tf = await loadTfjs('wasm');
  const loaded = [];
  for (const { name, url } of models) {
    const graph = await tf.loadGraphModel(url);
    const [, height, width, channels] = graph.inputs[0].shape;
    loaded.push({ name, graph, face: tf.zeros([1, height, width, channels]), medians: [] });
  }
  const predict = ({ graph, face }) => () => {
    const output = graph.predict(face);
    output.dataSync();
    output.dispose();
  };
  for (let round = 0; round < rounds; round += 1) {
    for (const model of loaded) {
      // The first round also warms up (first calls compile kernels); later rounds only need what they time.
      const timed = await timeCalls(predict(model), { warmup: round === 0 ? 20 : 0, runs });
      model.medians.push(timed.median_ms);
    }
  }
  return Object.fromEntries(loaded.map(({ name, medians }) => [name, medians]));
}
