// Where each face's label tag goes so that no two tags overlap: pure geometry, shared by the boxes drawn over the
// picture (ui.js) and the annotated PNG (annotate.js). A tag first tries the spots next to its own box (above, then
// inside its top, below, beside); where all are taken it slides down from above the box, a tag's height at a time,
// until it finds room. Tags stay inside the picture.

/**
 * @param {Array<{x:number, y:number, width:number, height:number}>} boxes  faces, picture units
 * @param {Array<{width:number, height:number}>} sizes  each tag's size, same units
 * @param {{width:number, height:number}} picture
 * @returns {Array<{x:number, y:number, near:boolean}>} each tag's top-left corner; near: beside its own box (false:
 *   it had to slide away, so the reader needs the tag's number to tell which box it names)
 */
export function placeTags(boxes, sizes, picture) {
  const placed = [];
  // Top to bottom, then left to right: tags above the picture's upper faces claim their natural spot first.
  const order = boxes.map((_, index) => index).sort((a, b) => boxes[a].y - boxes[b].y || boxes[a].x - boxes[b].x);
  const spots = new Array(boxes.length);
  for (const index of order) {
    const size = sizes[index];
    const free = (corner) => !placed.some((other) => overlaps({ ...corner, ...size }, other));
    const near = candidates(boxes[index], size, picture).map((corner) => clamp(corner, size, picture)).find(free);
    const spot = near ?? slide(boxes[index], size, picture, free);
    spots[index] = { ...spot, near: Boolean(near) };
    placed.push({ ...spot, ...size });
  }
  return spots;
}

function candidates(box, size, picture) {
  const right = box.x + box.width - size.width;
  return [
    { x: box.x, y: box.y - size.height }, // above, left-aligned: the usual place
    { x: box.x, y: box.y }, // inside the box's top
    { x: box.x, y: box.y + box.height }, // below
    { x: right, y: box.y - size.height }, // above, right-aligned
    { x: right, y: box.y + box.height - size.height }, // inside the box's bottom
    { x: box.x - size.width, y: box.y }, // left of the box
    { x: box.x + box.width, y: box.y }, // right of the box
  ].filter((corner) => corner.x > -size.width && corner.x < picture.width && corner.y > -size.height
    && corner.y < picture.height);
}

/** Every row of the picture from the box downwards, then from the top, each tried at the box's left and further right. */
function slide(box, size, picture, free) {
  const step = Math.max(1, size.height);
  const rows = Math.ceil(picture.height / step) + 1;
  const start = Math.floor(Math.max(0, box.y - size.height) / step);
  for (let row = 0; row < rows; row += 1) {
    const y = ((start + row) % rows) * step;
    for (let x = box.x; x < picture.width + size.width; x += size.width / 2) {
      const corner = clamp({ x, y }, size, picture);
      if (free(corner)) return corner;
    }
  }
  return clamp({ x: box.x, y: box.y }, size, picture); // a picture covered in tags: nowhere left
}

function clamp({ x, y }, size, picture) {
  return {
    x: Math.min(Math.max(0, x), Math.max(0, picture.width - size.width)),
    y: Math.min(Math.max(0, y), Math.max(0, picture.height - size.height)),
  };
}

/** Strictly overlapping areas: tags that only touch along an edge do not overlap. */
export function overlaps(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
