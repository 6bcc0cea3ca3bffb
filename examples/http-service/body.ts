// Request bodies under limits: a body is read into memory only up to
// `maxBytes`, and only while the service's budget for buffered bodies allows;
// past either, reading stops at once (nothing more is kept) and the caller
// answers with an error. `refuse` answers such a request without resetting
// the connection: the reply goes out first, the rest of the body is read and
// thrown away (for at most `lingerMs`), then the connection is closed — a
// server that closes a socket with unread data makes the kernel send a reset,
// and the client never sees the reply.
import type http from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The Content-Length header as a number; undefined when absent (chunked); 400 when malformed. */
export function declaredLength(req: http.IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  if (!/^\d{1,15}$/.test(header)) throw new HttpError(400, `bad Content-Length ${JSON.stringify(header.slice(0, 40))}`);
  return Number(header);
}

export interface BodyLimits {
  maxBytes: number;
  /** Asks for `bytes` more of the shared budget; false: the service holds too much already. */
  grow: (bytes: number) => boolean;
}

/**
 * The body as one Buffer. Throws HttpError 413 past `maxBytes`, 503 when the
 * budget refuses more; from then on the body is no longer read here.
 */
export function readBody(req: http.IncomingMessage, declared: number | undefined, limits: BodyLimits): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // with a declared length the bytes go straight into one buffer (no concat copy at the end)
    const whole = declared !== undefined ? Buffer.allocUnsafe(declared) : undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (error: unknown): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', stop);
      req.pause();
      chunks.length = 0;
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > limits.maxBytes) return stop(new HttpError(413, `body larger than ${limits.maxBytes} bytes: send a smaller image`));
      if (whole === undefined && !limits.grow(chunk.length)) {
        return stop(new HttpError(503, 'the service holds too many request bodies; retry shortly', { 'retry-after': '1' }));
      }
      if (whole !== undefined) chunk.copy(whole, size);
      else chunks.push(chunk);
      size += chunk.length;
    };
    const onEnd = (): void => {
      req.off('data', onData);
      resolve(whole !== undefined ? whole.subarray(0, size) : Buffer.concat(chunks, size));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', stop);
  });
}

/**
 * Answers `error` and closes the connection without a reset: the reply is
 * written at once (clients that read it stop sending), the rest of the body is
 * discarded, and the response ends when the body has (or `lingerMs` passed:
 * then the socket is destroyed).
 */
export function refuse(req: http.IncomingMessage, res: http.ServerResponse, error: HttpError, lingerMs: number): void {
  const text = JSON.stringify({ error: error.message });
  if (!res.headersSent) {
    res.writeHead(error.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close', ...error.headers });
  }
  if (req.complete || req.destroyed) {
    res.end(text);
    return;
  }
  res.write(text);
  const timer = setTimeout(() => req.socket.destroy(), lingerMs);
  timer.unref();
  const finish = (): void => {
    clearTimeout(timer);
    res.end();
  };
  req.once('end', finish);
  req.once('error', finish);
  req.resume();
}
