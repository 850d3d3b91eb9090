/**
 * The typed configuration (DESIGN.md §6): one YAML file, overridable by flags and environment,
 * validated at the edge. Every field has a documented default; unknown keys are errors (a typo
 * must not silently fall back to a default).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ValidationError } from '../base/errors.ts';
import { aint, anumber, aoneOf } from '../base/validate.ts';

export interface Config {
  readonly security: { readonly mode: 'semi-honest' | 'malicious' };
  /** Fractional bits of the fixed-point encoding (8–24). */
  readonly fixed_point: { readonly scale_bits: number };
  /** Degree of the Chebyshev approximation of exp in softmax (2–32; default 16, see approx/exp.ts). */
  readonly cheby: { readonly deg: number };
  /**
   * max_context: longest prompt + generated tokens per session; prefill_chunk: most prompt rows
   * fed through the model per prefill pass (bounds the prefill's memory; default 64);
   * prefill_max_scores: most attention scores per head in one pass, rows × positions attended
   * (default 16,384 = 64 rows at context 256): long prompts are prefilled in smaller passes as
   * the context grows (model/generate.ts prefillRows).
   */
  readonly scheduler: { readonly max_context: number; readonly prefill_chunk: number; readonly prefill_max_scores: number };
  /** Preprocessing pool refill threshold (items per material kind). */
  readonly triple_pool: { readonly min_size: number };
  /** Default k for top-k sampling (0 = greedy). */
  readonly topk: number;
  readonly temperature: number;
  readonly tls: { readonly enabled: boolean };
  /** Where the services run and who the parties are (the local deployment's defaults). */
  readonly deployment: Deployment;
}

export interface PartySpec {
  /** Party id, e.g. "A"; its node's certificate is "party-<id>", its client's "client-<id>". */
  readonly id: string;
  /** host:port of the node's data plane (party-to-party mTLS). */
  readonly data: string;
  /** host:port of the node's Prometheus metrics endpoint (HTTP), or "" for none. */
  readonly metrics: string;
}

export interface Deployment {
  readonly pki_dir: string;
  readonly coordinator: string;
  readonly triples: string;
  readonly coordinator_metrics: string;
  readonly triples_metrics: string;
  readonly parties: readonly PartySpec[];
  /**
   * The model's public description: every service reads its config (and clients its tokenizer)
   * from here. With model_source "owner" the owner's node also reads the weights from it.
   */
  readonly model: string;
  /** Party whose node inputs the model weights (model_source "owner"). */
  readonly model_owner: string;
  /**
   * Where the weights come from: "enclave" (the enclave service decrypts the KMS-encrypted model
   * and deals additive weight shares to the nodes over attested mTLS) or "owner" (the
   * model_owner's node inputs them from `model`).
   */
  readonly model_source: 'enclave' | 'owner';
  readonly enclave: EnclaveSpec;
  /** Sessions that may run at once; more wait in the queue. */
  readonly max_concurrent_sessions: number;
  /** A session is abandoned after this long. */
  readonly session_timeout_s: number;
}

export interface EnclaveSpec {
  /** host:port of the enclave service (gRPC, mTLS + attestation). */
  readonly address: string;
  /** host:port of the KMS endpoint (AWS KMS JSON protocol over mTLS; the local KMS service). */
  readonly kms: string;
  /** The local KMS's key store and dev credentials (mpc-prompt kms). */
  readonly kms_dir: string;
  /** KMS key that wraps the model's data key. */
  readonly key_id: string;
  /** The envelope-encrypted model (mpc-prompt model encrypt; `up` creates it from `model` if missing). */
  readonly encrypted_model: string;
  /** INSECURE, development only: trust the dev attestation root in pki_dir (by its SHA-256). */
  readonly pin_dev_root: boolean;
  /** Further pinned attestation roots (SHA-256 hex of the DER), e.g. the AWS Nitro root G1. */
  readonly pinned_roots: readonly string[];
  /** Expected enclave image measurement (PCR0, hex); default: the dev provider's PCR0. */
  readonly pcr0: string;
  /** Evidence older than this is refused. */
  readonly max_evidence_age_s: number;
}

/** PCR0 reported by the INSECURE dev attestation provider: SHA-384("INSECURE-DEV PCR0"). */
export const DEV_PCR0 = 'c6435490322f78e8715d33f2e6732d089d0d618c8bc5d448968cc7bf2104b0c39c8f5b3ffb04ba83df190aaaa070c13e';

export const DEFAULT_CONFIG: Config = Object.freeze<Config>({
  security: { mode: 'semi-honest' },
  fixed_point: { scale_bits: 16 },
  cheby: { deg: 8 },
  scheduler: { max_context: 512, prefill_chunk: 64, prefill_max_scores: 16_384 },
  triple_pool: { min_size: 1024 },
  topk: 0,
  temperature: 1,
  tls: { enabled: true },
  deployment: {
    pki_dir: '.mpc-prompt/pki',
    coordinator: 'localhost:7400',
    triples: 'localhost:7401',
    coordinator_metrics: 'localhost:9400',
    triples_metrics: 'localhost:9401',
    parties: [
      { id: 'A', data: 'localhost:7410', metrics: 'localhost:9410' },
      { id: 'B', data: 'localhost:7411', metrics: 'localhost:9411' },
    ],
    model: 'models/default',
    model_owner: 'A',
    model_source: 'enclave',
    enclave: {
      address: 'localhost:7402',
      kms: 'localhost:7403',
      kms_dir: '.mpc-prompt/kms',
      key_id: 'default-model',
      encrypted_model: '.mpc-prompt/model.enc',
      pin_dev_root: true,
      pinned_roots: [],
      pcr0: DEV_PCR0,
      max_evidence_age_s: 60,
    },
    max_concurrent_sessions: 4,
    session_timeout_s: 600,
  },
});

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function section(raw: Plain, key: string, allowed: readonly string[]): Plain {
  const v = raw[key];
  if (v === undefined) return {};
  if (!isPlain(v)) throw new ValidationError('expected a mapping', key);
  for (const k of Object.keys(v))
    if (!allowed.includes(k)) throw new ValidationError(`unknown key (allowed: ${allowed.join(', ')})`, `${key}.${k}`);
  return v;
}

/** Validates a parsed config object (from YAML or built by flags) and fills in defaults. */
export function validateConfig(raw: unknown): Config {
  if (raw === null || raw === undefined) raw = {};
  if (!isPlain(raw)) throw new ValidationError('the config must be a mapping');
  const top = ['security', 'fixed_point', 'cheby', 'scheduler', 'triple_pool', 'topk', 'temperature', 'tls', 'deployment'];
  for (const k of Object.keys(raw)) if (!top.includes(k)) throw new ValidationError(`unknown key (allowed: ${top.join(', ')})`, k);
  const d = DEFAULT_CONFIG;
  const sec = section(raw, 'security', ['mode']);
  const fp = section(raw, 'fixed_point', ['scale_bits']);
  const ch = section(raw, 'cheby', ['deg']);
  const sc = section(raw, 'scheduler', ['max_context', 'prefill_chunk', 'prefill_max_scores']);
  const tp = section(raw, 'triple_pool', ['min_size']);
  const tls = section(raw, 'tls', ['enabled']);
  if (tls.enabled !== undefined && typeof tls.enabled !== 'boolean') throw new ValidationError('expected true or false', 'tls.enabled');
  return {
    security: { mode: aoneOf(sec.mode ?? d.security.mode, 'security.mode', ['semi-honest', 'malicious'] as const) },
    fixed_point: { scale_bits: aint(fp.scale_bits ?? d.fixed_point.scale_bits, 'fixed_point.scale_bits', 8, 24) },
    cheby: { deg: aint(ch.deg ?? d.cheby.deg, 'cheby.deg', 2, 32) },
    scheduler: {
      max_context: aint(sc.max_context ?? d.scheduler.max_context, 'scheduler.max_context', 1, 1 << 20),
      prefill_chunk: aint(sc.prefill_chunk ?? d.scheduler.prefill_chunk, 'scheduler.prefill_chunk', 1, 1 << 20),
      prefill_max_scores: aint(sc.prefill_max_scores ?? d.scheduler.prefill_max_scores, 'scheduler.prefill_max_scores', 1, 1 << 30),
    },
    triple_pool: { min_size: aint(tp.min_size ?? d.triple_pool.min_size, 'triple_pool.min_size', 1, 1 << 30) },
    topk: aint(raw.topk ?? d.topk, 'topk', 0, 1 << 20),
    temperature: anumber(raw.temperature ?? d.temperature, 'temperature', 1e-3, 1e3),
    tls: { enabled: (tls.enabled as boolean | undefined) ?? d.tls.enabled },
    deployment: validateDeployment(raw.deployment),
  };
}

const ADDRESS = /^[A-Za-z0-9.-]+:\d{1,5}$/;
const PARTY_ID = /^[A-Za-z0-9_-]{1,32}$/;

function aaddress(v: unknown, field: string, allowEmpty = false): string {
  if (typeof v === 'string' && (ADDRESS.test(v) || (allowEmpty && v === ''))) return v;
  throw new ValidationError(`expected host:port${allowEmpty ? ' or ""' : ''}, got ${JSON.stringify(v)}`, field);
}

function astring(v: unknown, field: string): string {
  if (typeof v === 'string' && v.length > 0) return v;
  throw new ValidationError(`expected a non-empty string, got ${JSON.stringify(v)}`, field);
}

function validateDeployment(raw: unknown): Deployment {
  const d = DEFAULT_CONFIG.deployment;
  if (raw === undefined) return d;
  if (!isPlain(raw)) throw new ValidationError('expected a mapping', 'deployment');
  const keys = [
    'pki_dir',
    'coordinator',
    'triples',
    'coordinator_metrics',
    'triples_metrics',
    'parties',
    'model',
    'model_owner',
    'model_source',
    'enclave',
    'max_concurrent_sessions',
    'session_timeout_s',
  ];
  for (const k of Object.keys(raw))
    if (!keys.includes(k)) throw new ValidationError(`unknown key (allowed: ${keys.join(', ')})`, `deployment.${k}`);
  let parties = d.parties;
  if (raw.parties !== undefined) {
    if (!Array.isArray(raw.parties) || raw.parties.length < 2)
      throw new ValidationError('expected a list of at least 2 parties', 'deployment.parties');
    parties = raw.parties.map((p: unknown, i: number) => {
      const f = `deployment.parties[${i}]`;
      if (!isPlain(p)) throw new ValidationError('expected a mapping with id, data, metrics', f);
      if (typeof p.id !== 'string' || !PARTY_ID.test(p.id))
        throw new ValidationError(`expected 1–32 characters [A-Za-z0-9_-], got ${JSON.stringify(p.id)}`, `${f}.id`);
      return { id: p.id, data: aaddress(p.data, `${f}.data`), metrics: aaddress(p.metrics ?? '', `${f}.metrics`, true) };
    });
    const ids = new Set(parties.map((p) => p.id));
    if (ids.size !== parties.length) throw new ValidationError('party ids must be unique', 'deployment.parties');
  }
  const owner = raw.model_owner === undefined ? parties[0].id : astring(raw.model_owner, 'deployment.model_owner');
  if (!parties.some((p) => p.id === owner)) throw new ValidationError(`"${owner}" is not one of the parties`, 'deployment.model_owner');
  return {
    pki_dir: raw.pki_dir === undefined ? d.pki_dir : astring(raw.pki_dir, 'deployment.pki_dir'),
    coordinator: aaddress(raw.coordinator ?? d.coordinator, 'deployment.coordinator'),
    triples: aaddress(raw.triples ?? d.triples, 'deployment.triples'),
    coordinator_metrics: aaddress(raw.coordinator_metrics ?? d.coordinator_metrics, 'deployment.coordinator_metrics', true),
    triples_metrics: aaddress(raw.triples_metrics ?? d.triples_metrics, 'deployment.triples_metrics', true),
    parties,
    model: raw.model === undefined ? d.model : astring(raw.model, 'deployment.model'),
    model_owner: owner,
    model_source: aoneOf(raw.model_source ?? d.model_source, 'deployment.model_source', ['enclave', 'owner'] as const),
    enclave: validateEnclave(raw.enclave),
    max_concurrent_sessions: aint(raw.max_concurrent_sessions ?? d.max_concurrent_sessions, 'deployment.max_concurrent_sessions', 1, 1024),
    session_timeout_s: aint(raw.session_timeout_s ?? d.session_timeout_s, 'deployment.session_timeout_s', 1, 86_400),
  };
}

const HEX = (bytes: number): RegExp => new RegExp(`^[0-9a-fA-F]{${2 * bytes}}$`);

function validateEnclave(raw: unknown): EnclaveSpec {
  const d = DEFAULT_CONFIG.deployment.enclave;
  if (raw === undefined) return d;
  if (!isPlain(raw)) throw new ValidationError('expected a mapping', 'deployment.enclave');
  const keys = Object.keys(d);
  for (const k of Object.keys(raw))
    if (!keys.includes(k)) throw new ValidationError(`unknown key (allowed: ${keys.join(', ')})`, `deployment.enclave.${k}`);
  const f = (k: string): string => `deployment.enclave.${k}`;
  if (raw.pin_dev_root !== undefined && typeof raw.pin_dev_root !== 'boolean')
    throw new ValidationError('expected true or false', f('pin_dev_root'));
  let roots = d.pinned_roots;
  if (raw.pinned_roots !== undefined) {
    if (!Array.isArray(raw.pinned_roots)) throw new ValidationError('expected a list of SHA-256 hex fingerprints', f('pinned_roots'));
    roots = raw.pinned_roots.map((r: unknown, i: number) => {
      if (typeof r !== 'string' || !HEX(32).test(r))
        throw new ValidationError(
          `expected 64 hex digits (SHA-256 of a root certificate), got ${JSON.stringify(r)}`,
          `${f('pinned_roots')}[${i}]`,
        );
      return r.toLowerCase();
    });
  }
  const pcr0 = raw.pcr0 ?? d.pcr0;
  if (typeof pcr0 !== 'string' || !HEX(48).test(pcr0))
    throw new ValidationError(`expected 96 hex digits (SHA-384), got ${JSON.stringify(pcr0)}`, f('pcr0'));
  return {
    address: aaddress(raw.address ?? d.address, f('address')),
    kms: aaddress(raw.kms ?? d.kms, f('kms')),
    kms_dir: raw.kms_dir === undefined ? d.kms_dir : astring(raw.kms_dir, f('kms_dir')),
    key_id: raw.key_id === undefined ? d.key_id : astring(raw.key_id, f('key_id')),
    encrypted_model: raw.encrypted_model === undefined ? d.encrypted_model : astring(raw.encrypted_model, f('encrypted_model')),
    pin_dev_root: (raw.pin_dev_root as boolean | undefined) ?? d.pin_dev_root,
    pinned_roots: roots,
    pcr0: pcr0.toLowerCase(),
    max_evidence_age_s: aint(raw.max_evidence_age_s ?? d.max_evidence_age_s, f('max_evidence_age_s'), 1, 86_400),
  };
}

/** Reads and validates a YAML config file. */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ValidationError(`cannot read config file: ${(e as Error).message}`, path);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new ValidationError(`not valid YAML: ${(e as Error).message}`, path);
  }
  return validateConfig(raw);
}
