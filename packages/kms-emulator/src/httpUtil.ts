/** Small HTTP helpers shared by the region endpoints and the admin endpoint. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Reads the whole body; destroys the request past `limit` bytes (nothing legitimate is that large). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.destroy();
        reject(new RangeError(`request body over ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    // A client that disconnects mid-body may emit neither 'end' nor 'error'.
    req.on('close', () => {
      if (!req.complete) reject(new Error('the client closed the connection before sending the whole body'));
    });
  });
}

/** Writes a JSON answer unless the connection is already gone (region taken down, client gave up). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'content-length': String(Buffer.byteLength(payload)), ...headers });
  res.end(payload);
}

/** Decoded params, last value wins (the SDKs never repeat a key). */
export function paramsOf(search: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of search) out[k] = v;
  return out;
}

/** Lower-cased header name → all values, as the V3 canonical headers need them. */
export function distinctHeaders(req: IncomingMessage): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const [k, v] of Object.entries(req.headersDistinct)) if (v) out[k.toLowerCase()] = v;
  return out;
}
