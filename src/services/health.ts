/** The standard grpc.health.v1 service: "" (overall) and per-service statuses. */
import * as grpc from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as Status,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from './gen/grpc/health/v1/health.ts';

export class HealthState {
  readonly #status = new Map<string, Status>([['', Status.SERVING]]);
  readonly #watchers = new Set<{ service: string; call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse> }>();

  set(service: string, serving: boolean): void {
    const s = serving ? Status.SERVING : Status.NOT_SERVING;
    this.#status.set(service, s);
    for (const w of this.#watchers) if (w.service === service) w.call.write({ status: s });
  }

  addTo(server: grpc.Server): void {
    server.addService(HealthService, {
      check: (call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, cb: grpc.sendUnaryData<HealthCheckResponse>) => {
        const s = this.#status.get(call.request.service);
        if (s === undefined) cb({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
        else cb(null, { status: s });
      },
      watch: (call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
        const w = { service: call.request.service, call };
        this.#watchers.add(w);
        call.write({ status: this.#status.get(w.service) ?? Status.SERVICE_UNKNOWN });
        call.on('cancelled', () => this.#watchers.delete(w));
      },
    });
  }
}
