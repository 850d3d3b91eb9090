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
  /** Degree of the Chebyshev approximation of exp in softmax (2–16). */
  readonly cheby: { readonly deg: number };
  /** Longest prompt + generated tokens per session. */
  readonly scheduler: { readonly max_context: number };
  /** Preprocessing pool refill threshold (items per material kind). */
  readonly triple_pool: { readonly min_size: number };
  /** Default k for top-k sampling (0 = greedy). */
  readonly topk: number;
  readonly temperature: number;
  readonly tls: { readonly enabled: boolean };
}

export const DEFAULT_CONFIG: Config = Object.freeze<Config>({
  security: { mode: 'semi-honest' },
  fixed_point: { scale_bits: 16 },
  cheby: { deg: 6 },
  scheduler: { max_context: 512 },
  triple_pool: { min_size: 1024 },
  topk: 0,
  temperature: 1,
  tls: { enabled: true },
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
  const top = ['security', 'fixed_point', 'cheby', 'scheduler', 'triple_pool', 'topk', 'temperature', 'tls'];
  for (const k of Object.keys(raw)) if (!top.includes(k)) throw new ValidationError(`unknown key (allowed: ${top.join(', ')})`, k);
  const d = DEFAULT_CONFIG;
  const sec = section(raw, 'security', ['mode']);
  const fp = section(raw, 'fixed_point', ['scale_bits']);
  const ch = section(raw, 'cheby', ['deg']);
  const sc = section(raw, 'scheduler', ['max_context']);
  const tp = section(raw, 'triple_pool', ['min_size']);
  const tls = section(raw, 'tls', ['enabled']);
  if (tls.enabled !== undefined && typeof tls.enabled !== 'boolean') throw new ValidationError('expected true or false', 'tls.enabled');
  return {
    security: { mode: aoneOf(sec.mode ?? d.security.mode, 'security.mode', ['semi-honest', 'malicious'] as const) },
    fixed_point: { scale_bits: aint(fp.scale_bits ?? d.fixed_point.scale_bits, 'fixed_point.scale_bits', 8, 24) },
    cheby: { deg: aint(ch.deg ?? d.cheby.deg, 'cheby.deg', 2, 16) },
    scheduler: { max_context: aint(sc.max_context ?? d.scheduler.max_context, 'scheduler.max_context', 1, 1 << 20) },
    triple_pool: { min_size: aint(tp.min_size ?? d.triple_pool.min_size, 'triple_pool.min_size', 1, 1 << 30) },
    topk: aint(raw.topk ?? d.topk, 'topk', 0, 1 << 20),
    temperature: anumber(raw.temperature ?? d.temperature, 'temperature', 1e-3, 1e3),
    tls: { enabled: (tls.enabled as boolean | undefined) ?? d.tls.enabled },
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
