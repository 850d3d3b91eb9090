/**
 * gRPC plumbing shared by the services: mTLS credentials, the caller's certificate identity,
 * and one place that maps domain errors to gRPC status codes (unknown errors become INTERNAL
 * with no details, so nothing internal leaks to a caller).
 */
import * as grpc from '@grpc/grpc-js';
import { ProtocolAbort, ValidationError } from '../base/errors.ts';
import type { TlsIdentity } from './pki.ts';

/** Generous limits: weight shares can be large. */
export const MAX_MESSAGE_BYTES = 256 << 20;
/** gRPC's message-length options are 32-bit signed integers. */
const GRPC_MAX_LENGTH = 2 ** 31 - 1;

/**
 * The largest message a prompt needs: `shares` sealed token-id shares of up to `maxContext`
 * tokens (services/prompt-shares.ts: 4 bytes per token; a client's SubmitPrompt carries one per
 * node, a node's work item one per part), plus 1 MiB for sealing and framing.
 */
export function promptMessageBytes(shares: number, maxContext: number): number {
  return shares * maxContext * 4 + (1 << 20);
}

/**
 * CHANNEL_OPTIONS with message limits that admit a prompt of `maxContext` tokens as
 * {@link promptMessageBytes} (never below MAX_MESSAGE_BYTES; capped at gRPC's 2^31 − 1).
 */
export function promptChannelOptions(shares: number, maxContext: number): grpc.ChannelOptions {
  const limit = Math.min(GRPC_MAX_LENGTH, Math.max(MAX_MESSAGE_BYTES, promptMessageBytes(shares, maxContext)));
  return { ...CHANNEL_OPTIONS, 'grpc.max_receive_message_length': limit, 'grpc.max_send_message_length': limit };
}
/**
 * How long a keepalive ping may wait for its answer before the connection is dropped. Generous:
 * the services legitimately block their event loop for seconds (weight groups of 2^24 elements
 * are shared, pinned and dealt synchronously), and a late answer is not a dead peer; a process
 * that dies closes its connections, which both sides see at once.
 */
export const KEEPALIVE_TIMEOUT_MS = 60_000;
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.ssl_target_name_override': 'localhost',
  'grpc.default_authority': 'localhost',
};

/** A failure with a chosen gRPC status and a message safe to show the caller. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export function serverCredentials(id: TlsIdentity): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(
    Buffer.from(id.ca),
    [{ cert_chain: Buffer.from(id.cert), private_key: Buffer.from(id.key) }],
    true,
  );
}

export function clientCredentials(id: TlsIdentity): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(id.ca), Buffer.from(id.key), Buffer.from(id.cert));
}

/** The CN of the caller's verified client certificate. */
export function callerIdentity(call: { getAuthContext(): { sslPeerCertificate?: { subject?: { CN?: unknown } } } | null }): string {
  const cn: unknown = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
  if (typeof cn !== 'string') throw new ServiceError(grpc.status.UNAUTHENTICATED, 'a client certificate is required');
  return cn;
}

export function toStatus(e: unknown): { code: grpc.status; details: string } {
  if (e instanceof ServiceError) return { code: e.code, details: e.message };
  if (e instanceof ValidationError) return { code: grpc.status.INVALID_ARGUMENT, details: e.message };
  if (e instanceof ProtocolAbort) return { code: grpc.status.ABORTED, details: e.message };
  return { code: grpc.status.INTERNAL, details: 'internal error' };
}

/** Adapts an async unary handler: it returns or throws; errors map through toStatus. */
export function unary<Req, Res>(handler: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call).then(
      (res) => callback(null, res),
      (e: unknown) => callback(toStatus(e)),
    );
  };
}

/** Starts a gRPC server on host:port; resolves with the bound port. */
export function bindServer(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

/** "localhost:7400" → { host, port }. */
export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** Loopback name → IP, so servers never listen beyond this machine by accident in local runs. */
export function listenAddress(address: string): string {
  const { host, port } = splitAddress(address);
  return `${host === 'localhost' ? '127.0.0.1' : host}:${port}`;
}
