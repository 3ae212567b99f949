// Deadlines for work that might never finish (a detector whose WebAssembly aborted leaves its promise pending).

export class TimeoutError extends Error {
  constructor(what, ms) {
    super(`${what} took longer than ${(ms / 1000).toFixed(1)} s`);
    this.name = 'TimeoutError';
  }
}

/** Settles like `promise`, or rejects with TimeoutError after `ms` milliseconds (the work itself is not stopped). */
export function withTimeout(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
