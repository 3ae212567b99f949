// Video results over time: gives every face its track ID, smoothed probabilities and a steady label, and lists
// what happened this frame (face-enter, face-leave, emotion-change). Pure logic, no DOM: testable with made-up
// frames. Raw per-frame probabilities are kept on each face beside the smoothed ones.
import { EmotionSmoother } from './smoother.js';
import { FaceTracker } from './tracker.js';

export class FaceTimeline {
  /**
   * @param {string[]} labels  metadata.json labels, in model output order
   * @param {{smoothingMs?: number, hysteresis?: number, tracker?: object}} options  smoothingMs: EMA time constant
   */
  constructor(labels, { smoothingMs = 300, hysteresis = 0.1, tracker = {} } = {}) {
    this.labels = labels;
    this.options = { timeConstantMs: smoothingMs, hysteresis };
    this.tracker = new FaceTracker(tracker);
    this.smoothers = new Map(); // track id → EmotionSmoother
  }

  /**
   * @param {Array<{box, probabilities: Array<{label, probability}>}>} faces  one frame's faces (analyse.js)
   * @param {number} timeMs
   * @returns {{faces: Array, events: Array<{type: string, detail: object}>}} faces gain id, smoothed, emotion
   */
  update(faces, timeMs) {
    const { ids, entered, left } = this.tracker.update(faces.map((face) => face.box), timeMs);
    const events = left.map((id) => this.leave(id));
    const tracked = faces.map((face, index) => {
      const id = ids[index];
      if (!this.smoothers.has(id)) this.smoothers.set(id, new EmotionSmoother(this.options));
      const step = this.smoothers.get(id).update(face.probabilities.map((entry) => entry.probability), timeMs);
      const smoothed = step.smoothed.map((probability, label) => ({ label: this.labels[label], probability }));
      const emotion = smoothed[step.label];
      if (step.changed) {
        events.push({ type: 'emotion-change', detail: {
          id, label: emotion.label, probability: emotion.probability, previous: this.labels[step.previous], box: face.box,
        } });
      }
      return { ...face, id, smoothed, emotion };
    });
    for (const id of entered) {
      const face = tracked.find((candidate) => candidate.id === id);
      events.push({ type: 'face-enter', detail: { id, box: face.box, label: face.emotion.label, probability: face.emotion.probability } });
    }
    return { faces: tracked, events };
  }

  /** Ends every track (the video stopped): one face-leave event each. */
  clear() {
    return this.tracker.clear().map((id) => this.leave(id));
  }

  /** Changes the smoothing of faces seen from now on and of the ones being tracked. */
  configure({ smoothingMs = this.options.timeConstantMs, hysteresis = this.options.hysteresis } = {}) {
    this.options = { timeConstantMs: smoothingMs, hysteresis };
    for (const smoother of this.smoothers.values()) Object.assign(smoother, this.options);
  }

  leave(id) {
    this.smoothers.delete(id);
    return { type: 'face-leave', detail: { id } };
  }
}

/** A still picture's faces in the same shape: numbered left to right, nothing to smooth. */
export function stillFaces(faces) {
  return faces.map((face, index) => ({ ...face, id: index + 1, smoothed: face.probabilities, emotion: face.top }));
}
