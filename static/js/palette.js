// One colour per class, by its position in metadata.json's labels: boxes, tags, table bars and the annotated PNG
// agree. All meet WCAG AA contrast with white text.
const PALETTE = ['#b3261e', '#5b6b00', '#6a3d9a', '#0b6e4f', '#1f4e99', '#a04400', '#4a5560', '#7a2e5a'];

export function labelColour(labels, label) {
  return PALETTE[Math.max(0, labels.indexOf(label)) % PALETTE.length];
}
