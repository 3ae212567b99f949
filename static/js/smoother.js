// Steadies one face's emotion over time: an exponential moving average of its probabilities, whose time constant
// is an option, and a label that changes only when another class leads the current one by a margin (hysteresis).
// Pure logic, no DOM.

export class EmotionSmoother {
  /**
   * @param {{timeConstantMs?: number, hysteresis?: number}} options
   *   timeConstantMs: how long the average remembers (0: no smoothing, each frame as is);
   *   hysteresis: how far (in probability) another class must lead the shown one before the label changes.
   */
  constructor({ timeConstantMs = 300, hysteresis = 0.1 } = {}) {
    this.timeConstantMs = timeConstantMs;
    this.hysteresis = hysteresis;
    this.smoothed = null;
    this.label = -1; // index of the label shown
    this.lastMs = null;
  }

  /**
   * @param {number[]} probabilities  this frame's, in label order
   * @param {number} timeMs  the frame's time (frames may come at any rate: the weight follows the real gap)
   * @returns {{smoothed: number[], label: number, previous: number, changed: boolean}}
   */
  update(probabilities, timeMs) {
    if (this.smoothed === null) {
      this.smoothed = [...probabilities];
    } else {
      const gap = Math.max(0, timeMs - this.lastMs);
      const weight = this.timeConstantMs > 0 ? 1 - Math.exp(-gap / this.timeConstantMs) : 1;
      this.smoothed = this.smoothed.map((value, index) => value + weight * (probabilities[index] - value));
    }
    this.lastMs = timeMs;
    const leader = argmax(this.smoothed);
    const previous = this.label;
    if (previous < 0 || this.smoothed[leader] - this.smoothed[previous] > this.hysteresis) this.label = leader;
    return { smoothed: this.smoothed, label: this.label, previous, changed: previous >= 0 && this.label !== previous };
  }
}

function argmax(values) {
  return values.reduce((best, value, index) => (value > values[best] ? index : best), 0);
}
