/**
 * AWS KMS over its JSON protocol (`POST /`, `Content-Type: application/x-amz-json-1.1`,
 * `X-Amz-Target: TrentService.<Operation>`), signed with AWS Signature Version 4 (node:crypto):
 * - {@link AwsKmsAdapter}: the {@link Kms} client (GenerateDataKey; Decrypt with
 *   `Recipient: {KeyEncryptionAlgorithm: "RSAES_OAEP_SHA_256", AttestationDocument: base64}`);
 * - {@link createKmsHttpServer}: a local HTTP server that speaks the same JSON and checks the same
 *   signatures, backed by a {@link LocalKms} (for offline tests and local deployments).
 * The request/response shapes follow the AWS KMS API reference; this code has only been exercised
 * against the local server (real AWS was never contacted from here). Credentials are passed in
 * explicitly (no environment/IMDS lookup); inside a Nitro enclave traffic goes through the parent's
 * vsock proxy, which is a matter of `endpoint`.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest, type Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ValidationError } from '../base/errors.ts';
import { KEY_ENCRYPTION_ALGORITHM, KeyReleaseDenied, type DataKey, type Kms, type LocalKms } from './kms.ts';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const sha256Hex = (b: string | Uint8Array) => createHash('sha256').update(b).digest('hex');
const hmac = (key: Uint8Array | string, data: string) => createHmac('sha256', key).update(data).digest();
const amzDate = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

export interface SigV4Request {
  method: string;
  /** Absolute path, already URI-encoded (e.g. "/"). */
  path: string;
  /** Canonical query string (sorted, encoded); "" for none. */
  query?: string;
  /** Headers to sign (must include host and x-amz-date). */
  headers: Record<string, string>;
  /** Request body, or the literal payload hash (e.g. an x-amz-content-sha256 value). */
  body: string | Uint8Array;
  payloadHash?: string;
}

/** SigV4: returns the signature and the Authorization header value for `req`. */
export function signV4(
  req: SigV4Request,
  o: { credentials: AwsCredentials; region: string; service: string },
): { signature: string; authorization: string; canonicalRequest: string; stringToSign: string } {
  const names = Object.keys(req.headers)
    .map((h) => h.toLowerCase())
    .sort();
  const lower = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const date = lower['x-amz-date'];
  if (!date || !/^\d{8}T\d{6}Z$/.test(date)) throw new ValidationError('x-amz-date header missing or malformed', 'sigv4');
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    req.method,
    req.path,
    req.query ?? '',
    ...names.map((n) => `${n}:${lower[n].trim().replace(/\s+/g, ' ')}`),
    '',
    signedHeaders,
    req.payloadHash ?? sha256Hex(req.body),
  ].join('\n');
  const scope = `${date.slice(0, 8)}/${o.region}/${o.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, sha256Hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${o.credentials.secretAccessKey}`, date.slice(0, 8));
  for (const part of [o.region, o.service, 'aws4_request']) key = hmac(key, part);
  const signature = hmac(key, stringToSign).toString('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${o.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { signature, authorization, canonicalRequest, stringToSign };
}

export interface AwsKmsAdapterOptions {
  /** e.g. https://kms.eu-west-1.amazonaws.com, or the local server / vsock proxy. */
  endpoint: string;
  region: string;
  credentials: AwsCredentials;
  now?: () => Date;
  /** Sends the signed request (default: global fetch). E.g. {@link mtlsTransport} for the local KMS over mutual TLS. */
  transport?: KmsTransport;
}

/** One HTTP POST: returns the status and the body text. */
export type KmsTransport = (url: URL, init: { headers: Record<string, string>; body: string }) => Promise<{ status: number; text: string }>;

const fetchTransport: KmsTransport = async (url, init) => {
  const res = await fetch(url, { method: 'POST', headers: init.headers, body: init.body });
  return { status: res.status, text: await res.text() };
};

/** HTTPS with a client certificate, trusting only `tls.ca` (the local KMS service's mTLS). */
export function mtlsTransport(tls: { ca: string; cert: string; key: string }, timeoutMs = 30_000): KmsTransport {
  return (url, init) =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        { method: 'POST', headers: init.headers, ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`KMS request to ${url.host} timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(init.body);
    });
}

/** Parses an AWS error body into a typed error. AccessDenied messages of the form "<code>: …" keep their code. */
function awsError(status: number, body: string): Error {
  let type = `HTTP ${status}`;
  let message = body;
  try {
    const j = JSON.parse(body) as { __type?: string; message?: string; Message?: string };
    type = (j.__type ?? type).replace(/^.*#/, '');
    message = j.message ?? j.Message ?? '';
  } catch {
    // not JSON: keep the raw text
  }
  if (type === 'NotFoundException') return new KeyReleaseDenied('not-found', message.replace(/^not-found: /, ''));
  if (type === 'AccessDeniedException') {
    const m = /^([a-z][a-z-]*): ([\s\S]*)$/.exec(message);
    return m ? new KeyReleaseDenied(m[1], m[2]) : new KeyReleaseDenied('access-denied', message);
  }
  return new ValidationError(`AWS KMS ${type}: ${message}`, 'kms');
}

function b64(field: string, v: unknown): Uint8Array {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new ValidationError('expected base64', field);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

/** {@link Kms} client for AWS KMS (or anything speaking its JSON protocol). */
export class AwsKmsAdapter implements Kms {
  private readonly url: URL;
  private readonly now: () => Date;
  constructor(private readonly o: AwsKmsAdapterOptions) {
    this.url = new URL(o.endpoint);
    this.now = o.now ?? (() => new Date());
  }

  /** Sends one signed JSON request; returns the parsed response body. */
  async call(operation: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'content-type': 'application/x-amz-json-1.1',
      host: this.url.host,
      'x-amz-date': amzDate(this.now()),
      'x-amz-target': `TrentService.${operation}`,
    };
    if (this.o.credentials.sessionToken) headers['x-amz-security-token'] = this.o.credentials.sessionToken;
    const { authorization } = signV4({ method: 'POST', path: '/', headers, body }, { ...this.o, service: 'kms' });
    const { host: _host, ...sent } = headers; // fetch sets Host itself (same value)
    const { status, text } = await (this.o.transport ?? fetchTransport)(new URL('/', this.url), {
      headers: { ...sent, authorization },
      body,
    });
    if (status < 200 || status > 299) throw awsError(status, text);
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ValidationError(`response to ${operation} is not JSON`, 'kms');
    }
  }

  async generateDataKey(keyId: string): Promise<DataKey> {
    const r = await this.call('GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_256' });
    const plaintext = b64('GenerateDataKey.Plaintext', r.Plaintext);
    if (plaintext.length !== 32) throw new ValidationError(`expected 32 bytes, got ${plaintext.length}`, 'GenerateDataKey.Plaintext');
    return { keyId: String(r.KeyId ?? keyId), plaintext, ciphertextBlob: b64('GenerateDataKey.CiphertextBlob', r.CiphertextBlob) };
  }

  async decryptForRecipient(
    ciphertextBlob: Uint8Array,
    attestationDocument: Uint8Array,
  ): Promise<{ keyId: string; ciphertextForRecipient: Uint8Array }> {
    const r = await this.call('Decrypt', {
      CiphertextBlob: Buffer.from(ciphertextBlob).toString('base64'),
      Recipient: {
        KeyEncryptionAlgorithm: KEY_ENCRYPTION_ALGORITHM,
        AttestationDocument: Buffer.from(attestationDocument).toString('base64'),
      },
    });
    if (r.Plaintext !== undefined && r.Plaintext !== null)
      throw new ValidationError('KMS returned a Plaintext for a Recipient request', 'Decrypt');
    return { keyId: String(r.KeyId ?? ''), ciphertextForRecipient: b64('Decrypt.CiphertextForRecipient', r.CiphertextForRecipient) };
  }
}

export interface KmsServerOptions {
  region: string;
  credentials: AwsCredentials;
  now?: () => Date;
  /** Allowed |x-amz-date − now| (default 5 min, as AWS). */
  maxSkewMs?: number;
}

/** A local KMS endpoint speaking the AWS JSON protocol with SigV4 verification, backed by `kms`. */
export function createKmsHttpServer(kms: LocalKms, o: KmsServerOptions): Server {
  return createServer(kmsRequestHandler(kms, o));
}

/**
 * The same endpoint over mutual TLS (the local KMS service): only clients with a certificate from
 * `tls.ca` whose CN passes `allowClient` get past the handshake-level check.
 */
export function createKmsHttpsServer(
  kms: LocalKms,
  o: KmsServerOptions & { tls: { ca: string; cert: string; key: string }; allowClient: (cn: string) => boolean },
): HttpsServer {
  const handle = kmsRequestHandler(kms, o);
  return createHttpsServer({ ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
    if (typeof cn !== 'string' || !o.allowClient(cn)) {
      res.writeHead(403, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ __type: 'AccessDeniedException', message: 'client-identity: this certificate may not use the KMS' }));
      return;
    }
    handle(req, res);
  });
}

function kmsRequestHandler(kms: LocalKms, o: KmsServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const now = o.now ?? (() => new Date());
  const skew = o.maxSkewMs ?? 5 * 60_000;
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, j: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(j));
      };
      const error = (status: number, type: string, message: string) => reply(status, { __type: type, message });
      const body = Buffer.concat(chunks);
      const authError = checkSignature(req, body, o, now(), skew);
      if (authError) return error(403, authError.type, authError.message);
      void dispatch(kms, String(req.headers['x-amz-target'] ?? ''), body).then(
        (r) => reply(200, r),
        (e: unknown) => {
          if (e instanceof KeyReleaseDenied)
            return e.code === 'not-found'
              ? error(400, 'NotFoundException', e.message.replace(/^kms: /, ''))
              : error(400, 'AccessDeniedException', e.message.replace(/^kms: /, ''));
          if (e instanceof ValidationError) return error(400, 'ValidationException', e.message);
          return error(500, 'KMSInternalException', 'internal error');
        },
      );
    });
  };
}

function checkSignature(
  req: IncomingMessage,
  body: Buffer,
  o: KmsServerOptions,
  now: Date,
  skewMs: number,
): { type: string; message: string } | undefined {
  const auth = String(req.headers.authorization ?? '');
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return { type: 'MissingAuthenticationTokenException', message: 'missing or malformed SigV4 Authorization header' };
  const [, akid, , region, service, signed, signature] = m;
  if (akid !== o.credentials.accessKeyId) return { type: 'UnrecognizedClientException', message: 'unknown access key id' };
  if (region !== o.region || service !== 'kms')
    return { type: 'InvalidSignatureException', message: `credential scope must be ${o.region}/kms` };
  const names = signed.split(';');
  for (const required of ['host', 'x-amz-date', 'x-amz-target'])
    if (!names.includes(required)) return { type: 'InvalidSignatureException', message: `${required} must be signed` };
  const headers: Record<string, string> = {};
  for (const n of names) {
    const v = req.headers[n];
    if (v === undefined) return { type: 'InvalidSignatureException', message: `signed header ${n} is absent` };
    headers[n] = Array.isArray(v) ? v.join(',') : v;
  }
  const date = Date.parse(headers['x-amz-date'].replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!Number.isFinite(date) || Math.abs(date - now.getTime()) > skewMs)
    return { type: 'InvalidSignatureException', message: 'signature expired or x-amz-date out of range' };
  let want: string;
  try {
    want = signV4(
      { method: req.method ?? '', path: (req.url ?? '/').split('?')[0], headers, body },
      { credentials: o.credentials, region, service },
    ).signature;
  } catch (e) {
    return { type: 'InvalidSignatureException', message: (e as Error).message };
  }
  if (!timingSafeEqual(Buffer.from(want), Buffer.from(signature)))
    return { type: 'InvalidSignatureException', message: 'the request signature does not match' };
  return undefined;
}

async function dispatch(kms: LocalKms, target: string, body: Buffer): Promise<Record<string, unknown>> {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ValidationError('request body is not JSON');
  }
  if (target === 'TrentService.GenerateDataKey') {
    if (p.KeySpec !== 'AES_256' && p.NumberOfBytes !== 32) throw new ValidationError('only KeySpec AES_256 is supported');
    const dk = await kms.generateDataKey(String(p.KeyId ?? ''));
    const r = {
      KeyId: dk.keyId,
      Plaintext: Buffer.from(dk.plaintext).toString('base64'),
      CiphertextBlob: Buffer.from(dk.ciphertextBlob).toString('base64'),
    };
    dk.plaintext.fill(0);
    return r;
  }
  if (target === 'TrentService.Decrypt') {
    const rec = p.Recipient as { KeyEncryptionAlgorithm?: unknown; AttestationDocument?: unknown } | undefined;
    // The local KMS only releases keys to attested recipients (no plain Decrypt).
    if (!rec) throw new KeyReleaseDenied('recipient', 'Decrypt without Recipient is not allowed by this KMS');
    if (rec.KeyEncryptionAlgorithm !== KEY_ENCRYPTION_ALGORITHM)
      throw new ValidationError(`Recipient.KeyEncryptionAlgorithm must be ${KEY_ENCRYPTION_ALGORITHM}`);
    const r = await kms.decryptForRecipient(
      b64('CiphertextBlob', p.CiphertextBlob),
      b64('Recipient.AttestationDocument', rec.AttestationDocument),
    );
    return {
      KeyId: r.keyId,
      CiphertextForRecipient: Buffer.from(r.ciphertextForRecipient).toString('base64'),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }
  throw new ValidationError(`unsupported X-Amz-Target ${JSON.stringify(target)}`);
}
