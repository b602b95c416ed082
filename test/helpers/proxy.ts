/** A loopback forward proxy for tests of HTTP_PROXY / HTTPS_PROXY / NO_PROXY. */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';

export type Proxy = Awaited<ReturnType<typeof startProxy>>;

/** A minimal forward proxy for plain-http absolute-URI requests; counts what it forwards. */
export function startProxy(): Promise<{ url: string; seen: string[]; tunnelled: () => number; server: Server }> {
  const seen: string[] = [];
  let tunnelled = 0; // bytes from servers to clients through CONNECT tunnels
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const up = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: req.method,
        headers: req.headers,
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  // CONNECT tunnels: what undici's proxy agent uses (and what every HTTPS request through a proxy needs).
  server.on('connect', (req, client, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const up = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.on('data', (d: Buffer) => {
        tunnelled += d.length;
      });
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, seen, tunnelled: () => tunnelled, server });
    }),
  );
}
