/**
 * Shape checks for appraisal policies that arrive as untyped JSON/YAML (e.g. `attest verify
 * --policy FILE`). Fail closed: a wrong type or an unknown key (a typo such as `allowDebg` would
 * otherwise be silently ignored) is an {@link AttestationError} with code `parse` naming the field.
 */
import { AttestationError } from './result.ts';

/** Checks one value; throws with `field` on mismatch. */
export type Check = (v: unknown, field: string) => void;

const bad = (field: string, want: string): never => {
  throw new AttestationError('parse', `expected ${want}`, field);
};

export const bool: Check = (v, f) => {
  if (typeof v !== 'boolean') bad(f, 'true or false');
};
export const nat: Check = (v, f) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(f, 'a non-negative integer');
};
export const hex: Check = (v, f) => {
  if (typeof v !== 'string' || !/^(?:0x)?(?:[0-9a-fA-F]{2})*$/.test(v)) bad(f, 'an even-length hex string');
};
export const str: Check = (v, f) => {
  if (typeof v !== 'string') bad(f, 'a string');
};
export const oneOf =
  (values: readonly string[]): Check =>
  (v, f) => {
    if (typeof v !== 'string' || !values.includes(v)) bad(f, `one of ${values.join(', ')}`);
  };
export const arrayOf =
  (item: Check): Check =>
  (v, f) => {
    if (!Array.isArray(v)) bad(f, 'an array');
    (v as unknown[]).forEach((x, i) => item(x, `${f}[${i}]`));
  };
export const recordOf =
  (item: Check): Check =>
  (v, f) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(f, 'a mapping');
    for (const [k, x] of Object.entries(v as object)) item(x, `${f}.${k}`);
  };
/** An object whose keys are all in `spec` (each optional) and whose values pass their checks. */
export const shape =
  (spec: Record<string, Check>): Check =>
  (v, f) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(f, 'a mapping');
    for (const [k, x] of Object.entries(v as object)) {
      const check = spec[k];
      if (check === undefined) bad(`${f}.${k}`, `no unknown keys (allowed: ${Object.keys(spec).join(', ')})`);
      if (x !== undefined) check(x, `${f}.${k}`);
    }
  };

/** Checks for the fields of the generic `Policy` (common/result.ts). */
export const GENERIC_POLICY: Record<string, Check> = {
  expectedMeasurements: recordOf(hex),
  allowDebug: bool,
  maxAgeMs: nat,
  nonce: hex,
};
