/**
 * Intel SGX PCK certificate extension (OID 1.2.840.113741.1.13.1; Intel "SGX PCK Certificate and
 * CRL Profile"): the platform's TCB as certified by Intel, needed for TCB evaluation (checklist
 * shared/notes/attestation-verification.md §2.3 step 9: `fmspc`/`pceId` must match the TCB info,
 * the 16 SGX TCB component SVNs and PCESVN select the TCB level).
 */
import { certFields } from '../common/certs.ts';
import { TAG, children, contents, expectTag, oid, readExact, smallInt, type Tlv } from '../common/der.ts';
import { AttestationError } from '../common/result.ts';

const SGX_EXT = '1.2.840.113741.1.13.1';

export interface PckExtensions {
  /** 6 bytes, hex. */
  fmspc: string;
  /** 2 bytes, hex. */
  pceId: string;
  /** SGX TCB component SVNs 1..16. */
  sgxTcbCompSvns: number[];
  pceSvn: number;
  cpuSvn: string;
}

/** Reads the SGX extension of a PCK leaf certificate. Throws code `parse`. */
export function parsePckExtensions(pckDer: Uint8Array): PckExtensions {
  const v = certFields(pckDer, 'pck').extensions.get(SGX_EXT)?.value;
  if (v === undefined) throw new AttestationError('parse', `PCK certificate lacks the SGX extension ${SGX_EXT}`, 'pck');
  const field = 'pck.sgxExtension';
  const entries = (seq: Tlv, buf: Uint8Array) =>
    new Map(
      children(buf, expectTag(seq, TAG.SEQUENCE, field), field).map((e) => {
        const [id, val] = children(buf, expectTag(e, TAG.SEQUENCE, field), field);
        return [oid(buf, id, field), val] as const;
      }),
    );
  const top = entries(readExact(v, TAG.SEQUENCE, field), v);
  const need = (m: Map<string, Tlv | undefined>, id: string): Tlv => {
    const t = m.get(id);
    if (t === undefined) throw new AttestationError('parse', `missing ${id}`, field);
    return t;
  };
  const octets = (t: Tlv, n: number, what: string) => {
    const b = contents(v, expectTag(t, TAG.OCTET_STRING, `${field}.${what}`));
    if (b.length !== n) throw new AttestationError('parse', `${what} must be ${n} bytes`, field);
    return Buffer.from(b).toString('hex');
  };
  const tcb = entries(need(top, `${SGX_EXT}.2`), v);
  const comps = Array.from({ length: 16 }, (_, i) => smallInt(v, need(tcb, `${SGX_EXT}.2.${i + 1}`), `${field}.tcb.comp${i + 1}`));
  return {
    fmspc: octets(need(top, `${SGX_EXT}.4`), 6, 'fmspc'),
    pceId: octets(need(top, `${SGX_EXT}.3`), 2, 'pceId'),
    sgxTcbCompSvns: comps,
    pceSvn: smallInt(v, need(tcb, `${SGX_EXT}.2.17`), `${field}.tcb.pcesvn`),
    cpuSvn: octets(need(tcb, `${SGX_EXT}.2.18`), 16, 'cpusvn'),
  };
}
