// A face detector that cannot wedge the page: each call has a deadline, and a detector that failed or hung is
// thrown away and built again through the same factory (createFaceDetector), so the next picture gets a fresh one.
import { withTimeout } from './timeout.js';

export class SupervisedDetector {
  /**
   * @param {(modelName: string) => Promise<{detect: Function, useModel?: Function}>} create  builds a detector
   * @param {{modelName: string, timeouts: {analysisMs: number, loadMs: number}}} options  timeouts: read at each
   *   call, so the page can change them
   */
  constructor(create, { modelName, timeouts }) {
    this.create = create;
    this.modelName = modelName;
    this.timeouts = timeouts;
    this.building = null; // Promise of the detector in use, or null: the next call builds one
    this.recreated = 0; // broken detectors replaced so far (the page exposes it to tests and scripts)
  }

  /** Faces in `source`; on an error or timeout the detector is replaced, then the error is thrown. */
  async detect(source) {
    const detector = await this.ready();
    try {
      return await withTimeout(detector.detect(source), this.timeouts.analysisMs, 'Face detection');
    } catch (error) {
      this.discard(detector);
      throw error;
    }
  }

  async useModel(modelName) {
    this.modelName = modelName;
    const detector = await this.ready();
    try {
      await withTimeout(Promise.resolve(detector.useModel?.(modelName)), this.timeouts.loadMs, 'Loading the face detector');
    } catch (error) {
      this.discard(detector);
      throw error;
    }
  }

  /** The detector in use, built first if needed (also how the page loads it at start-up). */
  async ready() {
    if (!this.building) {
      const building = withTimeout(this.create(this.modelName), this.timeouts.loadMs, 'Loading the face detector');
      this.building = building;
      building.then((detector) => (this.active = detector), () => {
        if (this.building === building) this.building = null; // a failed build is retried by the next call
      });
    }
    return this.building;
  }

  discard(broken) {
    if (this.active !== broken) return; // already replaced by a call that failed first
    this.active = null;
    this.building = null;
    this.recreated += 1;
    try {
      (broken.close ?? broken.dispose)?.call(broken);
    } catch (error) {
      console.warn('Closing the broken face detector failed:', error);
    }
  }
}
