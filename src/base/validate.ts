/**
 * Edge validators in the noble style: `a*` asserts and returns its argument, names the
 * parameter, and throws a {@link ValidationError} that says what was expected.
 * Use them at edges (config, files, RPC, CLI, public API); inside the engine, trust the types.
 */
import { ValidationError } from './errors.ts';

/** Asserts an integer in [min, max]. */
export function aint(value: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) {
    return value;
  }
  throw new ValidationError(`expected an integer in [${min}, ${max}], got ${describe(value)}`, name);
}

/** Asserts a finite number in [min, max]. */
export function anumber(value: unknown, name: string, min = -Infinity, max = Infinity): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max) {
    return value;
  }
  throw new ValidationError(`expected a finite number in [${min}, ${max}], got ${describe(value)}`, name);
}

/** Asserts one of the listed string literals. */
export function aoneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ValidationError(`expected one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${describe(value)}`, name);
}

/** Asserts a shape: a non-empty list of positive integers. */
export function ashape(value: unknown, name: string): number[] {
  if (Array.isArray(value) && value.length > 0 && value.every((d) => Number.isSafeInteger(d) && d > 0)) {
    return value as number[];
  }
  throw new ValidationError(`expected a shape (non-empty list of positive integers), got ${describe(value)}`, name);
}

/** Short, safe description of a value for error messages (never prints large payloads). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of length ${(value as Uint8Array).length}`;
  if (typeof value === 'string') return value.length > 40 ? `string of length ${value.length}` : JSON.stringify(value);
  if (typeof value === 'object') return 'object';
  return `${typeof value} ${String(value)}`;
}
