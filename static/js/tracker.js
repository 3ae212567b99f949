// Keeps one ID per face across video frames: each new box is matched to the track whose box (where it was last, or
// moved on at its recent speed) overlaps it most (IoU), or failing that whose centre is nearest, relative to the
// face's size. Speed matters when analysis is slow: at 4 frames a second a walking face moves most of its
// width between frames. Pure logic, no DOM: testable alone.

/** Intersection over union of two {x, y, width, height} boxes. */
export function iou(a, b) {
  const width = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const height = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (width <= 0 || height <= 0) return 0;
  const overlap = width * height;
  return overlap / (a.width * a.height + b.width * b.height - overlap);
}

/** Distance between box centres, in units of the boxes' mean side (so it means the same near and far). */
export function centreDistance(a, b) {
  const dx = a.x + a.width / 2 - (b.x + b.width / 2);
  const dy = a.y + a.height / 2 - (b.y + b.height / 2);
  return Math.hypot(dx, dy) / ((a.width + a.height + b.width + b.height) / 4);
}

export class FaceTracker {
  /**
   * @param {{minIou?: number, maxCentreDistance?: number, leaveAfterFrames?: number, leaveAfterMs?: number}} options
   *   A face missing from leaveAfterFrames frames in a row AND for leaveAfterMs has left: one frame where the
   *   detector missed it does not end its track, however fast or slow the frames come.
   */
  constructor({ minIou = 0.3, maxCentreDistance = 1, leaveAfterFrames = 3, leaveAfterMs = 400 } = {}) {
    Object.assign(this, { minIou, maxCentreDistance, leaveAfterFrames, leaveAfterMs });
    this.tracks = []; // {id, box, lastSeenMs, missed, velocity: {x, y} in pixels per ms}
    this.nextId = 1;
  }

  /**
   * @param {Array<{x:number, y:number, width:number, height:number}>} boxes  this frame's detections
   * @param {number} timeMs  the frame's time
   * @returns {{ids: number[], entered: number[], left: number[]}} ids[i] is the track of boxes[i]
   */
  update(boxes, timeMs) {
    const ids = new Array(boxes.length).fill(null);
    const matched = new Set();
    // Each track is compared from where it was and from where its speed would take it, and keeps the better
    // score: the prediction follows steady motion, the last place covers a face that stopped or turned back.
    const places = this.tracks.map((track) => [track.box, predict(track, timeMs)]);
    const pair = (score, accept, better) => {
      const candidates = [];
      this.tracks.forEach((track, t) => boxes.forEach((box, b) => {
        if (ids[b] === null && !matched.has(t)) {
          const value = better(...places[t].map((place) => score(place, box)));
          if (accept(value)) candidates.push({ t, b, value });
        }
      }));
      return candidates;
    };
    const assign = (candidates) => {
      for (const { t, b } of candidates) {
        if (ids[b] !== null || matched.has(t)) continue;
        ids[b] = this.tracks[t].id;
        matched.add(t);
        follow(this.tracks[t], boxes[b], timeMs);
      }
    };
    // Overlap first (best pairs first), then nearness for fast moves that leave no overlap.
    assign(pair(iou, (value) => value >= this.minIou, Math.max).sort((p, q) => q.value - p.value));
    assign(pair(centreDistance, (value) => value <= this.maxCentreDistance, Math.min).sort((p, q) => p.value - q.value));

    const left = [];
    this.tracks = this.tracks.filter((track, t) => {
      if (matched.has(t)) return true;
      track.missed += 1;
      const gone = track.missed >= this.leaveAfterFrames && timeMs - track.lastSeenMs >= this.leaveAfterMs;
      if (gone) left.push(track.id);
      return !gone;
    });
    const entered = [];
    boxes.forEach((box, b) => {
      if (ids[b] !== null) return;
      ids[b] = this.nextId++;
      entered.push(ids[b]);
      this.tracks.push({ id: ids[b], box, lastSeenMs: timeMs, missed: 0, velocity: { x: 0, y: 0 } });
    });
    return { ids, entered, left };
  }

  /** Ends every track (the camera stopped); returns their ids. */
  clear() {
    const left = this.tracks.map((track) => track.id);
    this.tracks = [];
    return left;
  }
}

const centre = (box) => ({ x: box.x + box.width / 2, y: box.y + box.height / 2 });

/** Where the track's face should be at timeMs if it kept its speed. */
function predict(track, timeMs) {
  const elapsed = timeMs - track.lastSeenMs;
  return { ...track.box, x: track.box.x + track.velocity.x * elapsed, y: track.box.y + track.velocity.y * elapsed };
}

/** Moves the track to its new box; its speed is averaged with the last step's, which steadies detector jitter. */
function follow(track, box, timeMs) {
  const elapsed = timeMs - track.lastSeenMs;
  if (elapsed > 0) {
    const [from, to] = [centre(track.box), centre(box)];
    track.velocity = {
      x: (track.velocity.x + (to.x - from.x) / elapsed) / 2,
      y: (track.velocity.y + (to.y - from.y) / elapsed) / 2,
    };
  }
  Object.assign(track, { box, lastSeenMs: timeMs, missed: 0 });
}
