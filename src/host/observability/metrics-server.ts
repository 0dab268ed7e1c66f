/**
 * The operator endpoint (SPEC §8): `GET /metrics` (Prometheus text exposition) and
 * `GET /healthz` (the health snapshot JSON). Loaded lazily together with prom-client.
 * A bind failure is returned as data: the MCP server keeps serving without metrics.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createMetrics, type HostMetrics, type MetricSources } from './metrics.ts';

/** A scrape is one short request; a few scrapers at once is plenty. */
export const MAX_CONNECTIONS = 16;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_MS = 5_000;

export type MetricsEndpoint = {
  readonly metrics: HostMetrics;
  /** `http://127.0.0.1:9464` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
};

export type MetricsServerOptions = {
  readonly host: string;
  readonly port: number;
  readonly sources: MetricSources;
  /** The health snapshot (the object health_snapshot returns with render=json detail=full). */
  readonly health: () => unknown;
};

export async function startMetricsServer(
  options: MetricsServerOptions,
): Promise<{ ok: true; endpoint: MetricsEndpoint } | { ok: false; error: string }> {
  const metrics = createMetrics(options.sources);
  const server = createServer((request, response) => {
    void answer(request, response, metrics, options.health);
  });
  // Every listener has a bound (SPEC §10): any local process can connect, and unbounded idle
  // connections would exhaust the server's file descriptors (EMFILE) and break consults.
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.on('connection', (socket) =>
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy()),
  );
  const bound = await new Promise<{ ok: true } | { ok: false; error: string }>((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      resolve({
        ok: false,
        error: `listen ${error.code ?? error.message} ${hostPort(options.host, options.port)}`,
      });
    });
    server.listen({ host: options.host, port: options.port }, () => resolve({ ok: true }));
  });
  if (!bound.ok) return bound;
  // The endpoint never keeps the process alive by itself; shutdown closes it explicitly.
  server.unref();
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    ok: true,
    endpoint: {
      metrics,
      url: `http://${hostPort(options.host, port)}`,
      host: options.host,
      port,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    },
  };
}

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  metrics: HostMetrics,
  health: () => unknown,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  const send = (status: number, type: string, body: string) => {
    response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : body);
  };
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    send(405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  try {
    if (path === '/metrics') send(200, metrics.contentType, await metrics.render());
    else if (path === '/healthz')
      send(200, 'application/json; charset=utf-8', `${JSON.stringify(health())}\n`);
    else send(404, 'text/plain; charset=utf-8', 'not found: try /metrics or /healthz\n');
  } catch (error) {
    send(500, 'text/plain; charset=utf-8', `error: ${(error as Error).message}\n`);
  }
}

/** `127.0.0.1:9464`, `[::1]:9464`. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
