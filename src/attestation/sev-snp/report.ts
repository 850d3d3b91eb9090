/**
 * AMD SEV-SNP ATTESTATION_REPORT parser (SEV-SNP ABI spec #56860, Table "ATTESTATION_REPORT
 * Structure"; 1184 bytes, little-endian fields).
 *
 * Checklist (shared/notes/attestation-verification.md §2.2):
 * 1. length exactly 0x4A0 and `version` in 2..5 (unknown layouts are rejected, step 12);
 *    `signature_algo` is recorded here and enforced (== 1) by verify.ts;
 * 2. CPUID family/model (v3+) → product ({@link productFromCpuid});
 * 3. signing key from `flags` bits 2..4 (0 VCEK, 1 VLEK, anything else rejected);
 * 5. r/s are 72-byte little-endian fields whose upper 24 bytes must be zero; the unsigned tail of
 *    the signature area (0x330..0x49F) must be zero too, so no byte outside the signed region can
 *    change without the report being rejected;
 * 7. TCB_VERSION decoded per product (Turin has its own byte layout, {@link decodeTcb}).
 */
import { AttestationError, toHex } from '../common/result.ts';

export const SNP_REPORT_SIZE = 0x4a0;
/** The report signature covers bytes [0, 0x2A0). */
export const SNP_SIGNED_LENGTH = 0x2a0;
export const SNP_SIG_R = 0x2a0;
export const SNP_SIG_S = 0x2e8;
const SIG_FIELD = 72;
const SIG_USED = 48;

export type SnpProduct = 'Milan' | 'Genoa' | 'Turin';
export type SnpSigner = 'VCEK' | 'VLEK';

/** Guest policy (report offset 0x08). */
export interface GuestPolicy {
  raw: bigint;
  abiMinor: number;
  abiMajor: number;
  smtAllowed: boolean; // bit 16
  reservedMustBeOne: boolean; // bit 17
  migrateMa: boolean; // bit 18
  debugAllowed: boolean; // bit 19
  singleSocket: boolean; // bit 20
}

/** A decoded TCB_VERSION. `fmc` exists on Turin only. */
export interface TcbVersion {
  raw: bigint;
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
  fmc?: number;
}

export interface FirmwareVersion {
  build: number;
  minor: number;
  major: number;
}

/** Every field of the report; TCB values are raw 8-byte fields (decode with {@link decodeTcb}). */
export interface SnpReport {
  bytes: Uint8Array;
  version: number;
  guestSvn: number;
  policy: GuestPolicy;
  familyId: Uint8Array;
  imageId: Uint8Array;
  vmpl: number;
  signatureAlgo: number;
  currentTcb: Uint8Array;
  platformInfo: bigint;
  flags: { authorKeyEn: boolean; maskChipKey: boolean; signingKey: number };
  reportData: Uint8Array;
  measurement: Uint8Array;
  hostData: Uint8Array;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  reportId: Uint8Array;
  reportIdMa: Uint8Array;
  reportedTcb: Uint8Array;
  /** CPUID family / model / stepping (v3+; undefined for v2). */
  cpuid: { family: number; model: number; stepping: number } | undefined;
  chipId: Uint8Array;
  committedTcb: Uint8Array;
  currentVersion: FirmwareVersion;
  committedVersion: FirmwareVersion;
  launchTcb: Uint8Array;
  /** Signature r and s, big-endian, 48 bytes each (P-384). */
  signatureR: Uint8Array;
  signatureS: Uint8Array;
}

const bit = (v: bigint, n: number) => ((v >> BigInt(n)) & 1n) === 1n;

/** Decodes a guest policy value. */
export function decodeGuestPolicy(raw: bigint): GuestPolicy {
  return {
    raw,
    abiMinor: Number(raw & 0xffn),
    abiMajor: Number((raw >> 8n) & 0xffn),
    smtAllowed: bit(raw, 16),
    reservedMustBeOne: bit(raw, 17),
    migrateMa: bit(raw, 18),
    debugAllowed: bit(raw, 19),
    singleSocket: bit(raw, 20),
  };
}

/** Decodes an 8-byte TCB_VERSION: Milan/Genoa bl=0 tee=1 snp=6 ucode=7; Turin fmc=0 bl=1 tee=2 snp=3 ucode=7. */
export function decodeTcb(b: Uint8Array, product: SnpProduct): TcbVersion {
  const raw = Buffer.from(b).readBigUInt64LE(0);
  if (product === 'Turin') return { raw, fmc: b[0], bootloader: b[1], tee: b[2], snp: b[3], microcode: b[7] };
  return { raw, bootloader: b[0], tee: b[1], snp: b[6], microcode: b[7] };
}

/** Product from CPUID family/model (v3+ reports): 19h/0xh Milan, 19h/1xh|Axh Genoa, 1Ah Turin. */
export function productFromCpuid(family: number, model: number): SnpProduct | undefined {
  if (family === 0x19 && model >> 4 === 0) return 'Milan';
  if (family === 0x19 && (model >> 4 === 1 || model >> 4 === 0xa)) return 'Genoa';
  if (family === 0x1a) return 'Turin';
  return undefined;
}

/** Parses a 1184-byte report. Throws {@link AttestationError} (`size` if too long, `parse` otherwise). */
export function parseSnpReport(bytes: Uint8Array): SnpReport {
  if (!(bytes instanceof Uint8Array)) throw new AttestationError('parse', 'report must be bytes');
  if (bytes.length > SNP_REPORT_SIZE) throw new AttestationError('size', `report is ${bytes.length} bytes, expected ${SNP_REPORT_SIZE}`);
  if (bytes.length < SNP_REPORT_SIZE)
    throw new AttestationError('parse', `report is truncated: ${bytes.length} bytes, expected ${SNP_REPORT_SIZE}`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = (off: number, len: number) => new Uint8Array(b.subarray(off, off + len));
  const version = b.readUInt32LE(0x00);
  if (version < 2 || version > 5) throw new AttestationError('parse', `unsupported report version ${version} (supported: 2..5)`, 'version');
  const flags = b.readUInt32LE(0x48);
  const signingKey = (flags >> 2) & 7;
  if (signingKey > 1) throw new AttestationError('parse', `signing key ${signingKey} is not VCEK (0) or VLEK (1)`, 'flags');
  for (const off of [SNP_SIG_R, SNP_SIG_S]) {
    if (!isZero(b.subarray(off + SIG_USED, off + SIG_FIELD)))
      throw new AttestationError('parse', 'upper 24 bytes of a signature component must be zero', 'signature');
  }
  if (!isZero(b.subarray(SNP_SIG_S + SIG_FIELD, SNP_REPORT_SIZE)))
    throw new AttestationError('parse', 'reserved signature bytes must be zero', 'signature');
  const leToBe = (off: number) => at(off, SIG_USED).reverse();
  const fw = (off: number): FirmwareVersion => ({ build: b[off], minor: b[off + 1], major: b[off + 2] });
  return {
    bytes,
    version,
    guestSvn: b.readUInt32LE(0x04),
    policy: decodeGuestPolicy(b.readBigUInt64LE(0x08)),
    familyId: at(0x10, 16),
    imageId: at(0x20, 16),
    vmpl: b.readUInt32LE(0x30),
    signatureAlgo: b.readUInt32LE(0x34),
    currentTcb: at(0x38, 8),
    platformInfo: b.readBigUInt64LE(0x40),
    flags: { authorKeyEn: (flags & 1) === 1, maskChipKey: (flags & 2) === 2, signingKey },
    reportData: at(0x50, 64),
    measurement: at(0x90, 48),
    hostData: at(0xc0, 32),
    idKeyDigest: at(0xe0, 48),
    authorKeyDigest: at(0x110, 48),
    reportId: at(0x140, 32),
    reportIdMa: at(0x160, 32),
    reportedTcb: at(0x180, 8),
    cpuid: version >= 3 ? { family: b[0x188], model: b[0x189], stepping: b[0x18a] } : undefined,
    chipId: at(0x1a0, 64),
    committedTcb: at(0x1e0, 8),
    currentVersion: fw(0x1e8),
    committedVersion: fw(0x1ec),
    launchTcb: at(0x1f0, 8),
    signatureR: leToBe(SNP_SIG_R),
    signatureS: leToBe(SNP_SIG_S),
  };
}

export function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

const tcbJson = (t: TcbVersion) => ({ ...t, raw: `0x${t.raw.toString(16)}` });

/** A JSON-friendly view of the report (hex strings, decoded TCBs) for `details.report`. */
export function reportSummary(r: SnpReport, product: SnpProduct): Record<string, unknown> {
  return {
    version: r.version,
    guestSvn: r.guestSvn,
    policy: { ...r.policy, raw: `0x${r.policy.raw.toString(16)}` },
    familyId: toHex(r.familyId),
    imageId: toHex(r.imageId),
    vmpl: r.vmpl,
    signatureAlgo: r.signatureAlgo,
    currentTcb: tcbJson(decodeTcb(r.currentTcb, product)),
    platformInfo: `0x${r.platformInfo.toString(16)}`,
    flags: r.flags,
    reportData: toHex(r.reportData),
    measurement: toHex(r.measurement),
    hostData: toHex(r.hostData),
    idKeyDigest: toHex(r.idKeyDigest),
    authorKeyDigest: toHex(r.authorKeyDigest),
    reportId: toHex(r.reportId),
    reportIdMa: toHex(r.reportIdMa),
    reportedTcb: tcbJson(decodeTcb(r.reportedTcb, product)),
    cpuid: r.cpuid ?? null,
    chipId: toHex(r.chipId),
    committedTcb: tcbJson(decodeTcb(r.committedTcb, product)),
    currentVersion: r.currentVersion,
    committedVersion: r.committedVersion,
    launchTcb: tcbJson(decodeTcb(r.launchTcb, product)),
    signatureR: toHex(r.signatureR),
    signatureS: toHex(r.signatureS),
  };
}
