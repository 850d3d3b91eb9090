/**
 * A minimal Prometheus registry (text exposition format 0.0.4) and its HTTP endpoint.
 * Counters and gauges only, optionally labelled; no values derived from secrets.
 */
import { createServer, type Server } from 'node:http';
import { listenAddress, splitAddress } from './grpc-common.ts';

type Labels = Record<string, string>;

class Family {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}
  key(labels: Labels): string {
    const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`);
    return parts.length ? `{${parts.join(',')}}` : '';
  }
}

export class Metrics {
  readonly #families = new Map<string, Family>();

  #family(name: string, help: string, type: 'counter' | 'gauge'): Family {
    let f = this.#families.get(name);
    if (!f) this.#families.set(name, (f = new Family(name, help, type)));
    return f;
  }

  inc(name: string, help: string, by = 1, labels: Labels = {}): void {
    const f = this.#family(name, help, 'counter');
    const k = f.key(labels);
    f.values.set(k, (f.values.get(k) ?? 0) + by);
  }

  set(name: string, help: string, value: number, labels: Labels = {}): void {
    const f = this.#family(name, help, 'gauge');
    f.values.set(f.key(labels), value);
  }

  render(): string {
    const lines: string[] = [];
    for (const f of this.#families.values()) {
      lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      for (const [k, v] of f.values) lines.push(`${f.name}${k} ${v}`);
    }
    return lines.join('\n') + '\n';
  }
}

/** Serves GET /metrics on `address` (loopback in local runs). */
export function serveMetrics(metrics: Metrics, address: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics.render());
  });
  const { host, port } = splitAddress(listenAddress(address));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
