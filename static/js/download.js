// Saving a file made on this page: a Blob behind an object URL, clicked as a download link. Nothing is uploaded;
// the URL lives only in this page and is revoked once the browser has taken the file.

/** Offers `blob` to the visitor as a file named `name`. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000); // revoking at once can cancel a download still starting
}

/** The stem for downloaded files: the picture's name without its extension, reduced to safe characters. */
export function fileStem(name) {
  const stem = name.replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '');
  return stem || 'picture';
}
