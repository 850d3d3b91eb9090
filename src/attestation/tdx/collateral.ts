/**
 * TDX verification collateral (Intel PCS v4 responses): TCB info, QE identity, their issuer chain
 * ("Intel SGX TCB Signing" → root), PCK CRL and Root CA CRL — parsed, not yet trusted (verify.ts
 * checks signatures, chains and freshness).
 *
 * Checklist (shared/notes/attestation-verification.md §2.3 steps 4, 8, 9): Intel signs the exact
 * bytes of the `tcbInfo` / `enclaveIdentity` JSON member, so the raw member text is kept
 * ({@link signedJsonMember}) and the signature (hex r‖s, ECDSA P-256/SHA-256) is checked over it.
 *
 * `loadTdxCollateral(dir)` reads the files of a `--collateral DIR`, recognised by name (case
 * insensitive, as in the TDX test-data README): `*tcbinfo_response*` or `*tcbinfo*.json` (any number,
 * selected by FMSPC), `*qeidentity*`, `*tcbinfo_issuer_chain*.pem` (TCB-Info-Issuer-Chain),
 * `*pckcrl*` (not `*issuer_chain*`; DER or PEM), `*rootcrl*`. Other files are ignored; the PCK CRL
 * is checked against the quote's own PCK issuer, so `*pckcrl_issuer_chain*` is not needed.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCertificates } from '../common/certs.ts';
import { parseCrl, type Crl } from '../common/crl.ts';
import { AttestationError } from '../common/result.ts';

export const MAX_COLLATERAL_FILE_BYTES = 1024 * 1024;

/** A signed JSON document: `{"<member>": {...}, "signature": "<hex r‖s>"}`. */
export interface SignedJson<T> {
  /** The exact UTF-8 bytes of the signed member's value. */
  signedBytes: Uint8Array;
  value: T;
  signature: Uint8Array;
}

export interface TdxCollateral {
  tcbInfos: SignedJson<Record<string, unknown>>[];
  qeIdentity?: SignedJson<Record<string, unknown>>;
  /** DER certificates of the TCB info / QE identity issuer chain. */
  tcbSigningChain?: Uint8Array[];
  pckCrl?: Crl;
  rootCrl?: Crl;
}

/** Index just past the JSON value starting at `i` (strings, objects, arrays, literals). */
function skipValue(text: string, i: number): number {
  let depth = 0;
  for (let p = i; p < text.length; p++) {
    const c = text[p];
    if (c === '"') {
      for (p++; p < text.length && text[p] !== '"'; p++) if (text[p] === '\\') p++;
      if (depth === 0) return p + 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return p + 1;
      if (depth < 0) return p;
    } else if (depth === 0 && (c === ',' || /\s/.test(c))) return p;
  }
  return text.length;
}

/** The raw text of each top-level member of a JSON object (the text must be valid JSON). */
function topLevelMembers(text: string, field: string): Map<string, string> {
  const bad = (why: string): never => {
    throw new AttestationError('parse', `not a signed JSON document: ${why}`, field);
  };
  try {
    JSON.parse(text);
  } catch {
    bad('invalid JSON');
  }
  const out = new Map<string, string>();
  const ws = (p: number) => {
    while (p < text.length && /\s/.test(text[p])) p++;
    return p;
  };
  let p = ws(0);
  if (text[p] !== '{') bad('not an object');
  p = ws(p + 1);
  while (text[p] !== '}') {
    const keyEnd = skipValue(text, p);
    const key = JSON.parse(text.slice(p, keyEnd)) as string;
    p = ws(ws(keyEnd) + 1); // skip ':'
    const end = skipValue(text, p);
    out.set(key, text.slice(p, end));
    p = ws(end);
    if (text[p] === ',') p = ws(p + 1);
  }
  return out;
}

/** Splits a PCS response into the signed member (`tcbInfo` / `enclaveIdentity`) and its signature. */
export function signedJsonMember(bytes: Uint8Array, member: string, field: string): SignedJson<Record<string, unknown>> {
  if (bytes.length > MAX_COLLATERAL_FILE_BYTES) throw new AttestationError('size', 'collateral file too large', field);
  const members = topLevelMembers(Buffer.from(bytes).toString('utf8'), field);
  const raw = members.get(member);
  const sig = members.get('signature');
  if (raw === undefined || sig === undefined) throw new AttestationError('parse', `expected members "${member}" and "signature"`, field);
  const value = JSON.parse(raw) as unknown;
  const sigHex = JSON.parse(sig) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new AttestationError('parse', `"${member}" is not an object`, field);
  if (typeof sigHex !== 'string' || !/^[0-9a-fA-F]{128}$/.test(sigHex))
    throw new AttestationError('parse', 'signature must be 64 bytes of hex', field);
  return {
    signedBytes: new Uint8Array(Buffer.from(raw, 'utf8')),
    value: value as Record<string, unknown>,
    signature: new Uint8Array(Buffer.from(sigHex, 'hex')),
  };
}

export interface CollateralFiles {
  tcbInfo?: Uint8Array[];
  qeIdentity?: Uint8Array;
  tcbSigningChain?: string | Uint8Array;
  pckCrl?: Uint8Array;
  rootCrl?: Uint8Array;
}

/** Parses collateral already in memory. Throws {@link AttestationError}. */
export function parseTdxCollateral(files: CollateralFiles): TdxCollateral {
  return {
    tcbInfos: (files.tcbInfo ?? []).map((b, i) => signedJsonMember(b, 'tcbInfo', `collateral.tcbInfo[${i}]`)),
    qeIdentity: files.qeIdentity && signedJsonMember(files.qeIdentity, 'enclaveIdentity', 'collateral.qeIdentity'),
    tcbSigningChain:
      files.tcbSigningChain === undefined ? undefined : decodeCertificates([files.tcbSigningChain], 'collateral.tcbSigningChain'),
    pckCrl: files.pckCrl && parseCrl(files.pckCrl, 'collateral.pckCrl'),
    rootCrl: files.rootCrl && parseCrl(files.rootCrl, 'collateral.rootCrl'),
  };
}

/** Reads and parses the collateral files of `dir` (see the module comment for the names). */
export function loadTdxCollateral(dir: string): TdxCollateral {
  const files: CollateralFiles = { tcbInfo: [] };
  const once = (key: 'qeIdentity' | 'tcbSigningChain' | 'pckCrl' | 'rootCrl', name: string, data: Uint8Array) => {
    if (files[key] !== undefined) throw new AttestationError('parse', `more than one ${key} file (${name})`, 'collateral');
    files[key] = data;
  };
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new AttestationError(
      'parse',
      `cannot read collateral directory: ${err instanceof Error ? err.message : String(err)}`,
      'collateral',
    );
  }
  for (const name of names) {
    const n = name.toLowerCase();
    const kind = /tcbinfo_issuer_chain/.test(n)
      ? 'tcbSigningChain'
      : /tcbinfo_response|tcbinfo.*\.json$/.test(n)
        ? 'tcbInfo'
        : /qeidentity/.test(n)
          ? 'qeIdentity'
          : /pckcrl/.test(n) && !/issuer_chain/.test(n)
            ? 'pckCrl'
            : /rootcrl/.test(n)
              ? 'rootCrl'
              : undefined;
    if (kind === undefined) continue;
    const path = join(dir, name);
    if (!statSync(path).isFile() || statSync(path).size > MAX_COLLATERAL_FILE_BYTES)
      throw new AttestationError('size', `${name} is not a file of at most 1 MiB`, 'collateral');
    const data = new Uint8Array(readFileSync(path));
    if (kind === 'tcbInfo') files.tcbInfo?.push(data);
    else once(kind, name, data);
  }
  return parseTdxCollateral(files);
}
