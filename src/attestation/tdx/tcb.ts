/**
 * TDX TCB evaluation against Intel TCB info v3 and QE identity v2 (semantics of Intel's
 * SGX-TDX-DCAP-QuoteVerificationLibrary TcbLevelCheck / TdxModuleCheck, re-implemented).
 *
 * Checklist (shared/notes/attestation-verification.md §2.3):
 * 8. QE identity: MRSIGNER and ISVPRODID equal, MISCSELECT and ATTRIBUTES equal under their masks
 *    (mismatch: code `chain`); QE ISVSVN → first tcbLevel with isvsvn ≤ it → QE status;
 * 9. TCB info: id "TDX", version 3, fmspc / pceId equal to the PCK certificate's (code `tcb`);
 *    platform level = first tcbLevel whose 16 SGX component SVNs and PCESVN are ≤ the PCK's and whose
 *    16 TDX components are ≤ TEE_TCB_SVN (from byte 2 when TEE_TCB_SVN[1] > 0); none → "NotSupported";
 *    TDX module: TEE_TCB_SVN[1] == 0 → `tdxModule`, else `tdxModuleIdentities["TDX_<hex>"]`, whose
 *    MRSIGNER / attributes(+mask) must match MRSIGNERSEAM / SEAM_ATTRIBUTES and whose tcbLevels give
 *    the module status. Statuses are converged like Intel's library (module or QE OutOfDate makes
 *    UpToDate/SWHardeningNeeded OutOfDate, …; Revoked and NotSupported dominate).
 * Not covered: the TD 1.5 relaunch advice (TEE_TCB_SVN2), advisories beyond reporting their IDs.
 */
import { AttestationError, toHex } from '../common/result.ts';
import type { PckExtensions } from './pck.ts';
import type { QeReport, TdReport } from './quote.ts';

/** The statuses of Intel's TCB info / QE identity levels, plus NotSupported (no level matches). */
export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
  'NotSupported',
] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];

export interface TcbEvaluation {
  status: TcbStatus;
  platformStatus: TcbStatus;
  tdxModuleStatus: TcbStatus;
  qeStatus: TcbStatus;
  tcbDate?: string;
  advisoryIds: string[];
  tcbEvaluationDataNumber: number;
  fmspc: string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown, what: string): Json => {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new AttestationError('parse', `${what} is not an object`, 'collateral');
  return v as Json;
};
const arr = (v: unknown, what: string): unknown[] => {
  if (!Array.isArray(v)) throw new AttestationError('parse', `${what} is not an array`, 'collateral');
  return v;
};
const num = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new AttestationError('parse', `${what} is not a non-negative integer`, 'collateral');
  return v;
};
const hex = (v: unknown, what: string): Buffer => {
  if (typeof v !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(v)) throw new AttestationError('parse', `${what} is not hex`, 'collateral');
  return Buffer.from(v, 'hex');
};
const status = (v: unknown, what: string): TcbStatus => {
  if (typeof v !== 'string' || v === 'NotSupported' || !(TCB_STATUSES as readonly string[]).includes(v))
    throw new AttestationError('parse', `${what}: unrecognised TCB status ${String(v)}`, 'collateral');
  return v as TcbStatus;
};
const svns = (v: unknown, what: string) => arr(v, what).map((c, i) => num(obj(c, what).svn, `${what}[${i}].svn`));

/** Masked equality of byte strings: (a & mask) == (b & mask). */
const maskedEqual = (a: Uint8Array, b: Uint8Array, mask: Uint8Array) =>
  a.length === mask.length && b.length === mask.length && a.every((x, i) => (x & mask[i]) === (b[i] & mask[i]));

/** OutOfDate (module or QE) downgrades the level status; Revoked / NotSupported dominate. */
function converge(level: TcbStatus, other: TcbStatus): TcbStatus {
  if (other === 'Revoked' || other === 'NotSupported' || level === 'NotSupported') return other === 'Revoked' ? 'Revoked' : 'NotSupported';
  if (other === 'OutOfDate') {
    if (level === 'UpToDate' || level === 'SWHardeningNeeded') return 'OutOfDate';
    if (level === 'ConfigurationNeeded' || level === 'ConfigurationAndSWHardeningNeeded') return 'OutOfDateConfigurationNeeded';
  }
  return level;
}

/** Status of the first isvsvn-level at or below `isvSvn` ("NotSupported" if none). */
function isvSvnStatus(levels: unknown, isvSvn: number, what: string): TcbStatus {
  for (const [i, l] of arr(levels, what).entries()) {
    const level = obj(l, `${what}[${i}]`);
    if (isvSvn >= num(obj(level.tcb, `${what}[${i}].tcb`).isvsvn, `${what}[${i}].tcb.isvsvn`))
      return status(level.tcbStatus, `${what}[${i}]`);
  }
  return 'NotSupported';
}

/** QE identity check and QE TCB status. */
export function evaluateQeIdentity(identity: Json, qe: QeReport): TcbStatus {
  if (identity.id !== 'TD_QE' || identity.version !== 2)
    throw new AttestationError('tcb', `QE identity is ${String(identity.id)} v${String(identity.version)}, expected TD_QE v2`);
  if (!hex(identity.mrsigner, 'mrsigner').equals(qe.mrSigner))
    throw new AttestationError('chain', `QE MRSIGNER ${toHex(qe.mrSigner)} is not the identity's`);
  if (num(identity.isvprodid, 'isvprodid') !== qe.isvProdId)
    throw new AttestationError('chain', `QE ISVPRODID ${qe.isvProdId} is not the identity's`);
  const u32 = (v: unknown, what: string) => {
    const b = hex(v, what);
    if (b.length !== 4) throw new AttestationError('parse', `${what} must be 4 bytes`, 'collateral');
    return b.readUInt32BE(0); // the identity's hex is the big-endian value
  };
  const miscMask = u32(identity.miscselectMask, 'miscselectMask');
  if ((qe.miscSelect & miscMask) >>> 0 !== (u32(identity.miscselect, 'miscselect') & miscMask) >>> 0)
    throw new AttestationError('chain', 'QE MISCSELECT does not match the identity');
  if (!maskedEqual(qe.attributes, hex(identity.attributes, 'attributes'), hex(identity.attributesMask, 'attributesMask'))) {
    throw new AttestationError('chain', 'QE ATTRIBUTES do not match the identity');
  }
  return isvSvnStatus(identity.tcbLevels, qe.isvSvn, 'enclaveIdentity.tcbLevels');
}

/** TDX module identity check and module TCB status. */
function evaluateTdxModule(info: Json, body: TdReport, quoteVersion: number): TcbStatus {
  const [isvSvn, version] = [body.teeTcbSvn[0], body.teeTcbSvn[1]];
  let module: Json;
  if (version === 0) module = obj(info.tdxModule, 'tcbInfo.tdxModule');
  else {
    const id = `TDX_${version.toString(16).padStart(2, '0').toUpperCase()}`;
    const found = arr(info.tdxModuleIdentities ?? [], 'tdxModuleIdentities').find(
      (m) => String(obj(m, 'tdxModuleIdentity').id).toUpperCase() === id,
    );
    if (found === undefined) throw new AttestationError('tcb', `TCB info has no TDX module identity ${id}`);
    module = obj(found, id);
  }
  if (!hex(module.mrsigner, 'tdxModule.mrsigner').equals(body.mrSignerSeam))
    throw new AttestationError('tcb', 'MRSIGNERSEAM does not match the TCB info TDX module');
  if (
    !maskedEqual(
      body.seamAttributes,
      hex(module.attributes, 'tdxModule.attributes'),
      hex(module.attributesMask, 'tdxModule.attributesMask'),
    )
  ) {
    throw new AttestationError('tcb', 'SEAM_ATTRIBUTES do not match the TCB info TDX module');
  }
  return version === 0 && quoteVersion > 3 ? 'UpToDate' : isvSvnStatus(module.tcbLevels, isvSvn, 'tdxModuleIdentity.tcbLevels');
}

/** Evaluates the platform against TCB info (already authenticated) and converges with the QE status. */
export function evaluateTcb(info: Json, pck: PckExtensions, body: TdReport, quoteVersion: number, qeStatus: TcbStatus): TcbEvaluation {
  if (info.id !== 'TDX' || info.version !== 3 || info.tcbType !== 0)
    throw new AttestationError(
      'tcb',
      `TCB info is ${String(info.id)} v${String(info.version)} type ${String(info.tcbType)}, expected TDX v3 type 0`,
    );
  if (hex(info.fmspc, 'fmspc').toString('hex') !== pck.fmspc)
    throw new AttestationError('tcb', `TCB info FMSPC ${String(info.fmspc)} is not the PCK's ${pck.fmspc}`);
  if (hex(info.pceId, 'pceId').toString('hex') !== pck.pceId)
    throw new AttestationError('tcb', `TCB info PCEID ${String(info.pceId)} is not the PCK's ${pck.pceId}`);
  const start = body.teeTcbSvn[1] > 0 ? 2 : 0;
  let level: Json | undefined;
  for (const [i, l] of arr(info.tcbLevels, 'tcbLevels').entries()) {
    const what = `tcbLevels[${i}]`;
    const tcb = obj(obj(l, what).tcb, `${what}.tcb`);
    const sgx = svns(tcb.sgxtcbcomponents, `${what}.sgxtcbcomponents`);
    const tdx = svns(tcb.tdxtcbcomponents, `${what}.tdxtcbcomponents`);
    if (sgx.length !== 16 || tdx.length !== 16)
      throw new AttestationError('parse', `${what} must have 16 SGX and 16 TDX components`, 'collateral');
    if (!sgx.every((s, k) => pck.sgxTcbCompSvns[k] >= s) || pck.pceSvn < num(tcb.pcesvn, `${what}.pcesvn`)) continue;
    if (tdx.every((s, k) => k < start || body.teeTcbSvn[k] >= s)) {
      level = obj(l, what);
      break;
    }
  }
  const platformStatus: TcbStatus = level === undefined ? 'NotSupported' : status(level.tcbStatus, 'tcbLevel');
  const tdxModuleStatus = level ? evaluateTdxModule(info, body, quoteVersion) : 'NotSupported';
  const advisories = level?.advisoryIDs === undefined ? [] : arr(level.advisoryIDs, 'advisoryIDs').map(String);
  return {
    status: converge(converge(platformStatus, tdxModuleStatus), qeStatus),
    platformStatus,
    tdxModuleStatus,
    qeStatus,
    tcbDate: typeof level?.tcbDate === 'string' ? level.tcbDate : undefined,
    advisoryIds: advisories,
    tcbEvaluationDataNumber: num(info.tcbEvaluationDataNumber, 'tcbEvaluationDataNumber'),
    fmspc: pck.fmspc,
  };
}
