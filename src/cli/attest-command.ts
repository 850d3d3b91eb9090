/**
 * mpc-prompt attest verify --format nitro|sev-snp|tdx FILE [--chain PEM ...] [--collateral DIR]
 *                         --now ISO8601 [--policy FILE] [--root SHA256HEX ...] --json
 * → {"valid":true|false, "reason":"...", "measurements":{...}, "reportData":"hex", "details":{...}}
 * Exit code 0 when valid, 1 when the evidence is rejected, 2 on bad usage.
 * The verification time is always explicit (--now): evidence is checked as of that instant.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { ValidationError } from '../base/errors.ts';
import { aoneOf } from '../base/validate.ts';
import type { VerificationResult } from '../attestation/common/result.ts';
import { decodeNitroInput, verifyNitro } from '../attestation/nitro/verify.ts';
import { verifySevSnp } from '../attestation/sev-snp/verify.ts';
import { loadTdxCollateral } from '../attestation/tdx/collateral.ts';
import { verifyTdx } from '../attestation/tdx/verify.ts';

function readFile(path: string, flag: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new ValidationError(`cannot read ${path}: ${(e as Error).message}`, flag);
  }
}

function readPolicy(path: string | undefined): Record<string, unknown> | undefined {
  if (!path) return undefined;
  let raw: unknown;
  try {
    raw = parse(new TextDecoder().decode(readFile(path, '--policy')));
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw new ValidationError(`not valid JSON/YAML: ${(e as Error).message}`, '--policy');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ValidationError('expected a mapping (e.g. {"allowDebug": false, "expectedMeasurements": {...}})', '--policy');
  return raw as Record<string, unknown>;
}

export async function attestCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      chain: { type: 'string', multiple: true },
      collateral: { type: 'string' },
      now: { type: 'string' },
      policy: { type: 'string' },
      root: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals[0] !== 'verify' || positionals.length !== 2)
    throw new ValidationError('usage: mpc-prompt attest verify --format nitro|sev-snp|tdx FILE --now ISO8601 [...] --json', 'attest');
  const format = aoneOf(values.format, '--format', ['nitro', 'sev-snp', 'tdx'] as const);
  if (!values.now || Number.isNaN(Date.parse(values.now)))
    throw new ValidationError(`expected an ISO 8601 time, got ${JSON.stringify(values.now)}`, '--now');
  const now = new Date(values.now);
  const evidence = readFile(positionals[1], 'FILE');
  const policy = readPolicy(values.policy);
  const roots = values.root;
  let result: VerificationResult;
  if (format === 'nitro') {
    result = verifyNitro(decodeNitroInput(evidence), { now, roots, policy });
  } else if (format === 'sev-snp') {
    if (!values.chain?.length) throw new ValidationError('sev-snp needs the VCEK/VLEK and its ASK/ARK chain (PEM or DER files)', '--chain');
    result = verifySevSnp(evidence, { now, roots, policy, chain: values.chain.map((c) => readFile(c, '--chain')) });
  } else {
    result = verifyTdx(evidence, { now, roots, policy, collateral: values.collateral ? loadTdxCollateral(values.collateral) : undefined });
  }
  out(values.json ? JSON.stringify(result) : `${result.valid ? 'valid' : 'INVALID'}: ${result.reason}`);
  if (!result.valid) process.exitCode = 1;
}
