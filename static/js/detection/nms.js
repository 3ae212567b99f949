// Non-maximum suppression for face boxes {x, y, width, height, score} (any common unit).

export function area(box) {
  return Math.max(0, box.width) * Math.max(0, box.height);
}

export function intersection(a, b) {
  const width = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const height = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return width > 0 && height > 0 ? width * height : 0;
}

export function iou(a, b) {
  const shared = intersection(a, b);
  return shared > 0 ? shared / (area(a) + area(b) - shared) : 0;
}

/**
 * MediaPipe's "weighted" NMS: take the best remaining box, gather every box overlapping it by more than
 * `threshold` IoU, and replace the cluster by its score-weighted mean box (with the best score). Averaging the
 * cluster steadies the box from frame to frame, which a plain NMS does not.
 */
export function weightedNms(boxes, threshold) {
  const remaining = [...boxes].sort((a, b) => b.score - a.score);
  const kept = [];
  while (remaining.length > 0) {
    const best = remaining[0];
    const cluster = remaining.filter((box) => iou(best, box) > threshold);
    const rest = remaining.filter((box) => iou(best, box) <= threshold);
    const total = cluster.reduce((sum, box) => sum + box.score, 0);
    const mean = (key) => cluster.reduce((sum, box) => sum + box[key] * box.score, 0) / total;
    kept.push({ ...best, x: mean('x'), y: mean('y'), width: mean('width'), height: mean('height') });
    remaining.splice(0, remaining.length, ...rest);
  }
  return kept;
}
