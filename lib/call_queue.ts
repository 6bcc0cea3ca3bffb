// One model, one call at a time, in call order. A Detector hands the addon its
// next call only when the previous one has settled, so
//   - calls run in the order they were made (a detect() issued before a
//     trainStep() sees the weights from before the step), and
//   - a waiting call costs a Promise here, not a libuv pool thread parked on
//     the model's lock (which starves fs, dns, zlib and sharp of threads).

export class CallQueue {
  /** Settles when every call enqueued so far has settled. */
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * Runs `job(await input)` once every call enqueued before it has settled.
   * `input` (the call's prepared arguments: a decode, a file read) is started
   * by the caller at call time, so preparation overlaps earlier calls; if it
   * fails, this call rejects with that error, in its turn.
   */
  run<I, T>(input: I | Promise<I>, job: (input: I) => Promise<T>): Promise<T> {
    const prepared = Promise.resolve(input);
    prepared.catch(() => undefined); // reported below, in turn; not an unhandled rejection meanwhile
    const result = this.tail.then(() => prepared).then(job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
