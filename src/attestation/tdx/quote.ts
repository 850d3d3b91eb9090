/**
 * Intel TDX DCAP quote parser, versions 4 and 5 (Intel "TDX DCAP Quoting Library API" §A.3/A.4).
 *
 * Checklist (shared/notes/attestation-verification.md §2.3):
 * 1. header (48 B): version ∈ {4,5}, att_key_type == 2 (ECDSA-256-with-P-256, else code
 *    `algorithm`), tee_type == 0x81 (TDX), QE vendor id = Intel's;
 * 2. body: v4 = TD 1.0 report (584 B) at 48; v5 = u16 body type (2 = TD 1.0, 3 = TD 1.5, 648 B) +
 *    u32 size + body. The signed region is header ‖ (v5 type/size) ‖ body;
 * 3. signature data: u32 length, 64 B quote signature (r‖s), 64 B attestation key (x‖y),
 *    certification data type 6 (QE report 384 B, QE report signature 64 B, u16 QE auth data length
 *    + data, nested certification data type 5 = PEM PCK chain). Every length is checked against its
 *    container and the nested data must fill it exactly. Bytes after the signature data are allowed
 *    (real quotes carry padding/garbage) and counted in `trailingBytes`; the whole input is capped
 *    at {@link TDX_MAX_QUOTE_BYTES}.
 */
import { AttestationError, toHex } from '../common/result.ts';

export const TDX_MAX_QUOTE_BYTES = 64 * 1024;
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
const TD10_SIZE = 584;
const TD15_SIZE = 648;
export const QE_REPORT_SIZE = 384;

export interface TdxHeader {
  version: number;
  attKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

/** TD report body (TD 1.0; `teeTcbSvn2`/`mrServiceTd` only for TD 1.5). */
export interface TdReport {
  kind: 'TD10' | 'TD15';
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  teeTcbSvn2?: Uint8Array;
  mrServiceTd?: Uint8Array;
}

/** SGX report body of the Quoting Enclave. */
export interface QeReport {
  bytes: Uint8Array;
  cpuSvn: Uint8Array;
  miscSelect: number;
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  reportData: Uint8Array;
}

export interface TdxQuote {
  bytes: Uint8Array;
  header: TdxHeader;
  body: TdReport;
  /** Bytes covered by the quote signature. */
  signedRegion: Uint8Array;
  signature: Uint8Array;
  attestationKey: Uint8Array;
  qeReport: QeReport;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** Certification data type 5: the PEM PCK certificate chain (leaf first). */
  pckChainPem: Uint8Array;
  trailingBytes: number;
}

/** Bounds-checked little-endian reader; every overrun is code `parse`. */
class Reader {
  constructor(
    readonly b: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}
  take(n: number, what: string): Uint8Array {
    if (n < 0 || this.pos + n > this.end)
      throw new AttestationError('parse', `quote truncated: ${what} needs ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u16(what: string): number {
    const x = this.take(2, what);
    return x[0] | (x[1] << 8);
  }
  u32(what: string): number {
    const x = this.take(4, what);
    return (x[0] | (x[1] << 8) | (x[2] << 16)) + x[3] * 0x1000000;
  }
}

function parseTdReport(r: Reader, kind: 'TD10' | 'TD15'): TdReport {
  const t = (n: number, what: string) => r.take(n, what);
  const body: TdReport = {
    kind,
    teeTcbSvn: t(16, 'TEE_TCB_SVN'),
    mrSeam: t(48, 'MRSEAM'),
    mrSignerSeam: t(48, 'MRSIGNERSEAM'),
    seamAttributes: t(8, 'SEAM_ATTRIBUTES'),
    tdAttributes: t(8, 'TD_ATTRIBUTES'),
    xfam: t(8, 'XFAM'),
    mrTd: t(48, 'MRTD'),
    mrConfigId: t(48, 'MRCONFIGID'),
    mrOwner: t(48, 'MROWNER'),
    mrOwnerConfig: t(48, 'MROWNERCONFIG'),
    rtmr: [t(48, 'RTMR0'), t(48, 'RTMR1'), t(48, 'RTMR2'), t(48, 'RTMR3')],
    reportData: t(64, 'REPORTDATA'),
  };
  if (kind === 'TD15') Object.assign(body, { teeTcbSvn2: t(16, 'TEE_TCB_SVN2'), mrServiceTd: t(48, 'MRSERVICETD') });
  return body;
}

/** Parses a 384-byte SGX report body. */
export function parseQeReport(bytes: Uint8Array): QeReport {
  const r = new Reader(bytes, 0, bytes.length);
  const cpuSvn = r.take(16, 'QE CPUSVN');
  const miscSelect = r.u32('QE MISCSELECT');
  r.take(28, 'reserved');
  const attributes = r.take(16, 'QE ATTRIBUTES');
  const mrEnclave = r.take(32, 'QE MRENCLAVE');
  r.take(32, 'reserved');
  const mrSigner = r.take(32, 'QE MRSIGNER');
  r.take(96, 'reserved');
  const isvProdId = r.u16('QE ISVPRODID');
  const isvSvn = r.u16('QE ISVSVN');
  r.take(60, 'reserved');
  return { bytes, cpuSvn, miscSelect, attributes, mrEnclave, mrSigner, isvProdId, isvSvn, reportData: r.take(64, 'QE REPORTDATA') };
}

/** Parses a TDX quote (v4/v5). Throws {@link AttestationError} (`size`, `parse`, `algorithm`). */
export function parseTdxQuote(bytes: Uint8Array): TdxQuote {
  if (!(bytes instanceof Uint8Array)) throw new AttestationError('parse', 'quote must be bytes');
  if (bytes.length > TDX_MAX_QUOTE_BYTES)
    throw new AttestationError('size', `quote is ${bytes.length} bytes, more than ${TDX_MAX_QUOTE_BYTES}`);
  const r = new Reader(bytes, 0, bytes.length);
  const header: TdxHeader = {
    version: r.u16('version'),
    attKeyType: r.u16('att_key_type'),
    teeType: r.u32('tee_type'),
    qeSvn: r.u16('qe_svn'),
    pceSvn: r.u16('pce_svn'),
    qeVendorId: r.take(16, 'qe_vendor_id'),
    userData: r.take(20, 'user_data'),
  };
  if (header.version !== 4 && header.version !== 5)
    throw new AttestationError('parse', `unsupported quote version ${header.version} (supported: 4, 5)`, 'version');
  if (header.teeType !== 0x81)
    throw new AttestationError('parse', `tee_type 0x${header.teeType.toString(16)} is not TDX (0x81)`, 'tee_type');
  if (header.attKeyType !== 2)
    throw new AttestationError('algorithm', `att_key_type ${header.attKeyType} is not 2 (ECDSA-256-with-P-256)`, 'att_key_type');
  if (toHex(header.qeVendorId) !== INTEL_QE_VENDOR_ID)
    throw new AttestationError('parse', `QE vendor id ${toHex(header.qeVendorId)} is not Intel's`, 'qe_vendor_id');
  let kind: 'TD10' | 'TD15' = 'TD10';
  if (header.version === 5) {
    const type = r.u16('body_type');
    const size = r.u32('body_size');
    if (type === 2 && size === TD10_SIZE) kind = 'TD10';
    else if (type === 3 && size === TD15_SIZE) kind = 'TD15';
    else throw new AttestationError('parse', `unsupported v5 body type ${type} / size ${size}`, 'body_type');
  }
  const body = parseTdReport(r, kind);
  const signedRegion = bytes.subarray(0, r.pos);
  const sigLen = r.u32('signature data length');
  if (r.pos + sigLen > bytes.length)
    throw new AttestationError('parse', `quote truncated: signature data needs ${sigLen} bytes, ${bytes.length - r.pos} left`);
  const sd = new Reader(bytes, r.pos, r.pos + sigLen);
  const signature = sd.take(64, 'quote signature');
  const attestationKey = sd.take(64, 'attestation key');
  const certType = sd.u16('certification data type');
  if (certType !== 6)
    throw new AttestationError(
      'parse',
      `certification data type ${certType} is not 6 (QE report certification data)`,
      'certification_data',
    );
  const certSize = sd.u32('certification data size');
  if (sd.pos + certSize !== sd.end)
    throw new AttestationError('parse', 'certification data size does not match the signature data length', 'certification_data');
  const qeReport = parseQeReport(sd.take(QE_REPORT_SIZE, 'QE report'));
  const qeReportSignature = sd.take(64, 'QE report signature');
  const qeAuthData = sd.take(sd.u16('QE auth data length'), 'QE auth data');
  const innerType = sd.u16('inner certification data type');
  if (innerType !== 5)
    throw new AttestationError('parse', `inner certification data type ${innerType} is not 5 (PCK chain)`, 'certification_data');
  const innerSize = sd.u32('inner certification data size');
  if (sd.pos + innerSize !== sd.end)
    throw new AttestationError('parse', 'PCK chain size does not match the certification data size', 'certification_data');
  const pckChainPem = sd.take(innerSize, 'PCK chain');
  return {
    bytes,
    header,
    body,
    signedRegion,
    signature,
    attestationKey,
    qeReport,
    qeReportSignature,
    qeAuthData,
    pckChainPem,
    trailingBytes: bytes.length - sd.end,
  };
}

/** TD_ATTRIBUTES bit 0: the TD is debuggable. */
export const isDebugTd = (body: TdReport): boolean => (body.tdAttributes[0] & 1) === 1;
