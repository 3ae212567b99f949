// A result as the Python command line writes it (emotion_detector/output.py): one row per face with the columns
// file, kind, frame, time, face, x, y, width, height, score, one per label, label; numbers rounded as there. Boxes
// are in the picture's own pixels, as the command line gives them, even when the page analysed it scaled down.

/**
 * @param {{width:number, height:number, faces:Array}} result  an analysed picture (faces from timeline.js)
 * @param {string[]} labels  metadata.json's labels, in model output order
 * @param {{name:string, width:number, height:number}} source  the picture's file name and own size
 * @returns {{columns: string[], rows: Array<Array<string|number>>}}
 */
export function resultRows(result, labels, source) {
  const columns = ['file', 'kind', 'frame', 'time', 'face', 'x', 'y', 'width', 'height', 'score', ...labels, 'label'];
  const scaleX = source.width / result.width;
  const scaleY = source.height / result.height;
  const rows = result.faces.map((face) => {
    const probability = new Map(face.smoothed.map((entry) => [entry.label, entry.probability]));
    return [
      source.name, 'image', 0, 0, face.id,
      round(face.box.x * scaleX, 2), round(face.box.y * scaleY, 2),
      round(face.box.width * scaleX, 2), round(face.box.height * scaleY, 2), round(face.score ?? 0, 4),
      ...labels.map((label) => round(probability.get(label), 5)), face.emotion.label,
    ];
  });
  return { columns, rows };
}

/** RFC 4180 CSV with "\n" line ends, as Python's csv module writes it; numbers printed as Python prints them. */
export function toCsv({ columns, rows }) {
  const cell = (value, index) => {
    const text = typeof value === 'number' ? pythonNumber(value, INTEGER_COLUMNS.has(columns[index])) : String(value);
    return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [columns, ...rows].map((row) => row.map(cell).join(',')).join('\n') + '\n';
}

/** A JSON array of one object per face, keys in the columns' order. */
export function toJson({ columns, rows }) {
  const objects = rows.map((row) => Object.fromEntries(columns.map((column, index) => [column, row[index]])));
  return JSON.stringify(objects, null, 2) + '\n';
}

function round(value, digits) {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

// Python writes these as int and every other number as float: 0.0, 120.0, 3e-05 (its repr; JS prints 0, 120, 0.00003).
const INTEGER_COLUMNS = new Set(['frame', 'face']);

function pythonNumber(value, integer) {
  if (integer) return String(value);
  if (Number.isInteger(value)) return value.toFixed(1);
  if (Math.abs(value) < 1e-4) return value.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return String(value);
}
