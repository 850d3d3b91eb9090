/**
 * TDX policy appraisal on top of the generic {@link Policy} (debug, expected measurements, nonce,
 * maximum age — common/result.ts `appraise`).
 *
 * Checklist (shared/notes/attestation-verification.md §2.3):
 * 9. accepted TCB statuses (default only "UpToDate") and a minimum tcbEvaluationDataNumber, applied
 *    when collateral was evaluated; `requireCollateral` makes a quote without collateral fail (`tcb`);
 * 10. TD_ATTRIBUTES bit 0 (DEBUG) rejected unless `allowDebug`; other TD_ATTRIBUTES bits (e.g.
 *    SEPT_VE_DISABLE) and XFAM via masks; MRTD / RTMR0..3 / MRCONFIGID / MROWNER / MROWNERCONFIG /
 *    MRSEAM / MRSERVICETD via `expectedMeasurements`;
 * 11. `nonce` = the full 64-byte REPORTDATA (hex).
 * `maxAgeMs` cannot be honoured (quotes carry no timestamp): setting it fails closed (`policy-age`).
 */
import { arrayOf, bool, GENERIC_POLICY, hex, nat, oneOf, shape } from '../common/policy-shape.ts';
import { appraise, AttestationError, normHex, toHex, type Policy } from '../common/result.ts';
import { isDebugTd, type TdReport } from './quote.ts';
import { TCB_STATUSES, type TcbEvaluation, type TcbStatus } from './tcb.ts';

export interface TdxPolicy extends Policy {
  /** TCB statuses accepted after collateral evaluation. Default `['UpToDate']`. */
  acceptedTcbStatuses?: TcbStatus[];
  minTcbEvaluationDataNumber?: number;
  /** Fail when no collateral was supplied (default false: evidence-only verification). */
  requireCollateral?: boolean;
  /** `(TD_ATTRIBUTES & mask) == (value & mask)`, 8-byte hex as in the quote (little-endian bytes). */
  tdAttributes?: { mask: string; value: string };
  xfam?: { mask: string; value: string };
}

const MASKED = shape({ mask: hex, value: hex });
const TDX_POLICY = shape({
  ...GENERIC_POLICY,
  acceptedTcbStatuses: arrayOf(oneOf(TCB_STATUSES)),
  minTcbEvaluationDataNumber: nat,
  requireCollateral: bool,
  tdAttributes: MASKED,
  xfam: MASKED,
});

/** Checks an untyped policy (e.g. from a JSON/YAML file) has the {@link TdxPolicy} shape; throws code `parse`. */
export function checkTdxPolicyShape(policy: unknown): TdxPolicy {
  TDX_POLICY(policy, 'policy');
  return policy as TdxPolicy;
}

function checkMasked(what: string, actual: Uint8Array, rule: { mask: string; value: string } | undefined): void {
  if (rule === undefined) return;
  const mask = Buffer.from(normHex(rule.mask, `policy.${what}.mask`), 'hex');
  const value = Buffer.from(normHex(rule.value, `policy.${what}.value`), 'hex');
  if (mask.length !== actual.length || value.length !== actual.length)
    throw new AttestationError('parse', `must be ${actual.length} bytes of hex`, `policy.${what}`);
  if (!actual.every((b, i) => (b & mask[i]) === (value[i] & mask[i]))) {
    throw new AttestationError('policy', `${what} ${toHex(actual)} does not match ${rule.value} under mask ${rule.mask}`);
  }
}

/** Throws {@link AttestationError} when the verified quote does not satisfy `policy`. */
export function appraiseTdx(
  policy: TdxPolicy,
  body: TdReport,
  measurements: Record<string, string>,
  tcb: TcbEvaluation | undefined,
  now: Date,
): void {
  appraise(policy, { debug: isDebugTd(body), measurements, nonce: toHex(body.reportData), now });
  checkMasked('tdAttributes', body.tdAttributes, policy.tdAttributes);
  checkMasked('xfam', body.xfam, policy.xfam);
  if (tcb === undefined) {
    if (policy.requireCollateral === true)
      throw new AttestationError('tcb', 'the policy requires TCB evaluation, but no collateral was supplied');
    return;
  }
  const accepted = policy.acceptedTcbStatuses ?? ['UpToDate'];
  if (!accepted.includes(tcb.status)) {
    const why = tcb.status === 'NotSupported' ? ' (no TCB level in the TCB info matches this platform)' : '';
    throw new AttestationError('tcb', `TCB status ${tcb.status}${why} is not accepted (accepted: ${accepted.join(', ')})`);
  }
  const min = policy.minTcbEvaluationDataNumber;
  if (min !== undefined && tcb.tcbEvaluationDataNumber < min) {
    throw new AttestationError('tcb', `tcbEvaluationDataNumber ${tcb.tcbEvaluationDataNumber} is below the minimum ${min}`);
  }
}
