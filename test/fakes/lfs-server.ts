/**
 * An ordinary Git LFS server on 127.0.0.1, as small as git-lfs allows: the batch API (`POST <base>/objects/batch`,
 * transfer `basic` only), object PUT/GET with the SHA-256 checked, and `POST <base>/locks/verify` answering no locks.
 * It records every batch request, so a test can see which transfers git-lfs offered.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const LFS_JSON = 'application/vnd.git-lfs+json';

export interface BatchRequest {
  operation: 'upload' | 'download';
  transfers?: string[];
  objects: { oid: string; size: number }[];
}

export interface FakeLfsServer {
  /** The LFS endpoint to give git-lfs as lfs.url. */
  url: string;
  objects: Map<string, Buffer>;
  batches: BatchRequest[];
  close(): Promise<void>;
}

const body = async (req: IncomingMessage): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const p of req) parts.push(p as Buffer);
  return Buffer.concat(parts);
};

const json = (res: ServerResponse, status: number, value: unknown) => {
  res.writeHead(status, { 'Content-Type': LFS_JSON });
  res.end(JSON.stringify(value));
};

/** `transfer`: the adapter the batch answers name (a real server picks one git-lfs offered; default basic). */
export async function startFakeLfsServer(o: { transfer?: string } = {}): Promise<FakeLfsServer> {
  const objects = new Map<string, Buffer>();
  const batches: BatchRequest[] = [];
  let base = '';
  const server: Server = createServer(async (req, res) => {
    try {
      const path = new URL(req.url ?? '/', base).pathname;
      if (req.method === 'POST' && path === '/repo/objects/batch') {
        const b = JSON.parse((await body(req)).toString('utf8')) as BatchRequest;
        batches.push(b);
        const objs = b.objects.map(({ oid, size }) => {
          const href = `${base}/objects/${oid}`;
          if (b.operation === 'upload') {
            return objects.has(oid) ? { oid, size } : { oid, size, actions: { upload: { href } } };
          }
          if (!objects.has(oid)) return { oid, size, error: { code: 404, message: 'Object does not exist' } };
          return { oid, size, actions: { download: { href } } };
        });
        return json(res, 200, { transfer: o.transfer ?? 'basic', objects: objs });
      }
      if (req.method === 'POST' && path === '/repo/locks/verify') {
        await body(req);
        return json(res, 200, { ours: [], theirs: [] });
      }
      const m = /^\/objects\/([0-9a-f]{64})$/.exec(path);
      if (m && req.method === 'PUT') {
        const data = await body(req);
        if (createHash('sha256').update(data).digest('hex') !== m[1]) return json(res, 422, { message: 'bad oid' });
        objects.set(m[1], data);
        res.writeHead(200).end();
        return;
      }
      if (m && req.method === 'GET') {
        const data = objects.get(m[1]);
        if (!data) return json(res, 404, { message: 'not found' });
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length });
        res.end(data);
        return;
      }
      json(res, 404, { message: `no route ${req.method} ${path}` });
    } catch (e) {
      json(res, 500, { message: String(e) });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/repo`,
    objects,
    batches,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
