// A full collection between measurements (never inside one), so one library's garbage is not billed to the next.
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gcFn = vm.runInNewContext('gc');

export function collectGarbage() {
  gcFn();
}

let sink;

/** Wall time in seconds of `iters` calls of `fn`; the last result is kept alive so no call can be elided. */
export function timeCalls(fn, iters) {
  let last;
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) last = fn();
  const t1 = performance.now();
  sink = last;
  return (t1 - t0) / 1e3;
}

export function dropSink() {
  sink = undefined;
  return sink;
}
