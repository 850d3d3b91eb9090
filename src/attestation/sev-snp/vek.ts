/**
 * AMD VCEK/VLEK certificate extensions and their consistency with the report.
 *
 * Checklist (shared/notes/attestation-verification.md §2.2 step 6; SNP README "Parser gotchas"):
 * OIDs 1.3.6.1.4.1.3704.1.2 productName, .1.3.{1 blSPL, 2 teeSPL, 3 snpSPL, 8 ucodeSPL, 9 fmcSPL
 * (Turin)}, .1.4 hwID (VCEK only; raw 64 bytes or wrapped in an OCTET STRING, 8 bytes on Turin),
 * .1.5 csp_id (VLEK only). The VEK's TCB must equal `reported_tcb` and, for a VCEK, hwID must equal
 * `chip_id` unless the platform masks the chip id (chip_id all zero).
 */
import { certFields } from '../common/certs.ts';
import { TAG, contents, readExact, smallInt } from '../common/der.ts';
import { AttestationError, toHex } from '../common/result.ts';
import { decodeTcb, isZero, type SnpProduct, type SnpReport } from './report.ts';

const AMD = '1.3.6.1.4.1.3704.1';
const SPL = { bootloader: 1, tee: 2, snp: 3, microcode: 8, fmc: 9 } as const;

export interface VekExtensions {
  productName: string;
  tcb: { bootloader: number; tee: number; snp: number; microcode: number; fmc?: number };
  hwId: Uint8Array | undefined;
  cspId: string | undefined;
}

function stringExt(v: Uint8Array, field: string): string {
  for (const tag of [TAG.IA5_STRING, TAG.UTF8_STRING, TAG.PRINTABLE_STRING]) {
    if (v[0] === tag) return Buffer.from(contents(v, readExact(v, tag, field))).toString('utf8');
  }
  throw new AttestationError('parse', 'expected a string', field);
}

/** Reads the AMD extensions of a VCEK/VLEK certificate. Throws code `parse`. */
export function parseVekExtensions(der: Uint8Array): VekExtensions {
  const ext = certFields(der, 'vek').extensions;
  const get = (id: string) => ext.get(`${AMD}.${id}`)?.value;
  const spl = (n: number) => {
    const v = get(`3.${n}`);
    if (v === undefined) return undefined;
    return smallInt(v, readExact(v, TAG.INTEGER, `vek.spl${n}`), `vek.spl${n}`);
  };
  const name = get('2');
  if (name === undefined) throw new AttestationError('parse', 'VEK lacks the productName extension (1.3.6.1.4.1.3704.1.2)', 'vek');
  const [bootloader, tee, snp, microcode, fmc] = [SPL.bootloader, SPL.tee, SPL.snp, SPL.microcode, SPL.fmc].map(spl);
  if (bootloader === undefined || tee === undefined || snp === undefined || microcode === undefined) {
    throw new AttestationError('parse', 'VEK lacks a TCB extension (1.3.6.1.4.1.3704.1.3.{1,2,3,8})', 'vek');
  }
  let hwId = get('4');
  if (hwId !== undefined && hwId[0] === TAG.OCTET_STRING && hwId.length === hwId[1] + 2)
    hwId = contents(hwId, readExact(hwId, TAG.OCTET_STRING, 'vek.hwID'));
  const csp = get('5');
  return {
    productName: stringExt(name, 'vek.productName'),
    tcb: fmc === undefined ? { bootloader, tee, snp, microcode } : { bootloader, tee, snp, microcode, fmc },
    hwId,
    cspId: csp === undefined ? undefined : stringExt(csp, 'vek.cspId'),
  };
}

/** The product a VEK's productName names ("Milan-B0" → Milan), or undefined. */
export function productFromName(productName: string): SnpProduct | undefined {
  const base = productName.split('-')[0];
  return base === 'Milan' || base === 'Genoa' || base === 'Turin' ? base : undefined;
}

/**
 * Checks the VEK belongs to the report: TCB extensions == reported_tcb (code `tcb`) and, for a VCEK,
 * hwID == chip_id (code `chain`; skipped when chip_id is all zero, i.e. masked).
 */
export function checkVekMatchesReport(vek: VekExtensions, report: SnpReport, product: SnpProduct, signer: 'VCEK' | 'VLEK'): void {
  const reported = decodeTcb(report.reportedTcb, product);
  for (const k of ['bootloader', 'tee', 'snp', 'microcode', 'fmc'] as const) {
    if (k === 'fmc' && product !== 'Turin') continue;
    if (vek.tcb[k] !== reported[k]) {
      throw new AttestationError('tcb', `${signer} ${k} SPL ${vek.tcb[k]} differs from the report's reported_tcb ${reported[k]}`);
    }
  }
  if (signer !== 'VCEK' || isZero(report.chipId)) return;
  if (vek.hwId === undefined) throw new AttestationError('parse', 'VCEK lacks the hwID extension (1.3.6.1.4.1.3704.1.4)', 'vek');
  const n = product === 'Turin' ? 8 : 64;
  const want = report.chipId.subarray(0, n);
  if (vek.hwId.length !== n || Buffer.compare(vek.hwId, want) !== 0) {
    throw new AttestationError('chain', `VCEK hwID ${toHex(vek.hwId)} is not the report's chip_id ${toHex(want)}`);
  }
}
