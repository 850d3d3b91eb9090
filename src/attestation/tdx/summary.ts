/**
 * JSON-friendly views of a parsed TDX quote for `VerificationResult.measurements` and `details`
 * (lower-case hex; field names follow the Intel structures).
 */
import { toHex } from '../common/result.ts';
import type { TdReport, TdxQuote } from './quote.ts';

/** Measurements in the generic result's naming (upper case, hex). */
export function tdxMeasurements(body: TdReport): Record<string, string> {
  const m: Record<string, string> = {
    MRTD: toHex(body.mrTd),
    RTMR0: toHex(body.rtmr[0]),
    RTMR1: toHex(body.rtmr[1]),
    RTMR2: toHex(body.rtmr[2]),
    RTMR3: toHex(body.rtmr[3]),
    MRSEAM: toHex(body.mrSeam),
    MRCONFIGID: toHex(body.mrConfigId),
    MROWNER: toHex(body.mrOwner),
    MROWNERCONFIG: toHex(body.mrOwnerConfig),
  };
  if (body.mrServiceTd) m.MRSERVICETD = toHex(body.mrServiceTd);
  return m;
}

/** Every parsed field of the quote except the signature material. */
export function quoteSummary(q: TdxQuote): Record<string, unknown> {
  const b = q.body;
  const h = q.header;
  const qe = q.qeReport;
  return {
    header: {
      version: h.version,
      attKeyType: h.attKeyType,
      teeType: h.teeType,
      qeSvn: h.qeSvn,
      pceSvn: h.pceSvn,
      qeVendorId: toHex(h.qeVendorId),
    },
    body: {
      kind: b.kind,
      teeTcbSvn: toHex(b.teeTcbSvn),
      mrSeam: toHex(b.mrSeam),
      mrSignerSeam: toHex(b.mrSignerSeam),
      seamAttributes: toHex(b.seamAttributes),
      tdAttributes: toHex(b.tdAttributes),
      xfam: toHex(b.xfam),
      reportData: toHex(b.reportData),
      ...(b.teeTcbSvn2 && { teeTcbSvn2: toHex(b.teeTcbSvn2) }),
    },
    qeReport: {
      cpuSvn: toHex(qe.cpuSvn),
      miscSelect: qe.miscSelect,
      attributes: toHex(qe.attributes),
      mrEnclave: toHex(qe.mrEnclave),
      mrSigner: toHex(qe.mrSigner),
      isvProdId: qe.isvProdId,
      isvSvn: qe.isvSvn,
      reportData: toHex(qe.reportData),
    },
    trailingBytes: q.trailingBytes,
  };
}
