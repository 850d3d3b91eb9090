/**
 * SEV-SNP policy appraisal on top of the generic {@link Policy} (debug, expected measurements,
 * nonce, maximum age — see common/result.ts `appraise`).
 *
 * Checklist (shared/notes/attestation-verification.md §2.2):
 * 2. `product` (Milan/Genoa/Turin) when pinned by policy;
 * 3. allowed signing keys (`signers`, default VCEK and VLEK; `cspId` pins a VLEK's cloud);
 * 7. `minTcb` per component against `reported_tcb` (and `minCommittedTcb`), firmware `minFirmware`;
 * 8. guest policy bits: DEBUG (bit 19) via `allowDebug`; MIGRATE_MA, SMT, SINGLE_SOCKET, ABI minimum via `guest`;
 * 9. `vmpl` (not enforced unless set: AWS's VLEK sample runs at VMPL 1, a normal guest at 0);
 * 10. MEASUREMENT / HOST_DATA / ID_KEY_DIGEST / AUTHOR_KEY_DIGEST via `expectedMeasurements`; `minGuestSvn`;
 * 11. `nonce` = the full 64-byte REPORT_DATA (hex).
 * `maxAgeMs` cannot be honoured (reports carry no timestamp): setting it fails closed (`policy-age`).
 */
import { arrayOf, bool, GENERIC_POLICY, nat, oneOf, shape, str } from '../common/policy-shape.ts';
import { appraise, AttestationError, type Policy } from '../common/result.ts';
import { decodeTcb, type SnpProduct, type SnpReport, type SnpSigner, type TcbVersion } from './report.ts';

export type TcbMinimum = Partial<Pick<TcbVersion, 'bootloader' | 'tee' | 'snp' | 'microcode' | 'fmc'>>;

export interface SevSnpPolicy extends Policy {
  /** Required VMPL of the reporting guest. Default: not checked (recorded in details). */
  vmpl?: number;
  product?: SnpProduct;
  /** Accepted signing keys. Default: both. */
  signers?: SnpSigner[];
  /** For VLEK reports: required csp_id extension, e.g. "CN=cc-us-east-2.amazonaws.com". */
  cspId?: string;
  minTcb?: TcbMinimum;
  minCommittedTcb?: TcbMinimum;
  minFirmware?: { major: number; minor: number; build?: number };
  minGuestSvn?: number;
  guest?: {
    /** Default true. */
    allowSmt?: boolean;
    /** Default true. */
    allowMigrateMa?: boolean;
    /** Default false. */
    requireSingleSocket?: boolean;
    minAbi?: { major: number; minor: number };
  };
}

export interface SnpEvidence {
  report: SnpReport;
  product: SnpProduct;
  signer: SnpSigner;
  cspId: string | undefined;
  measurements: Record<string, string>;
  reportDataHex: string;
  now: Date;
}

function checkTcbMin(what: string, actual: TcbVersion, min: TcbMinimum | undefined): void {
  for (const [k, want] of Object.entries(min ?? {}) as [keyof TcbMinimum, number][]) {
    const got = actual[k];
    if (got === undefined || got < want)
      throw new AttestationError('tcb', `${what} ${k} SPL ${got ?? 'absent'} is below the minimum ${want}`);
  }
}

const versionLess = (a: number[], b: number[]) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
};

const TCB_MIN = shape({ bootloader: nat, tee: nat, snp: nat, microcode: nat, fmc: nat });
const SNP_POLICY = shape({
  ...GENERIC_POLICY,
  vmpl: nat,
  product: oneOf(['Milan', 'Genoa', 'Turin']),
  signers: arrayOf(oneOf(['VCEK', 'VLEK'])),
  cspId: str,
  minTcb: TCB_MIN,
  minCommittedTcb: TCB_MIN,
  minFirmware: shape({ major: nat, minor: nat, build: nat }),
  minGuestSvn: nat,
  guest: shape({ allowSmt: bool, allowMigrateMa: bool, requireSingleSocket: bool, minAbi: shape({ major: nat, minor: nat }) }),
});

/** Checks an untyped policy (e.g. from a JSON/YAML file) has the {@link SevSnpPolicy} shape; throws code `parse`. */
export function checkSnpPolicyShape(policy: unknown): SevSnpPolicy {
  SNP_POLICY(policy, 'policy');
  return policy as SevSnpPolicy;
}

/** Throws {@link AttestationError} when the verified evidence does not satisfy `policy`. */
export function appraiseSnp(policy: SevSnpPolicy, ev: SnpEvidence): void {
  const r = ev.report;
  appraise(policy, { debug: r.policy.debugAllowed, measurements: ev.measurements, nonce: ev.reportDataHex, now: ev.now });
  if (policy.product !== undefined && policy.product !== ev.product)
    throw new AttestationError('policy', `product ${ev.product} is not the required ${policy.product}`);
  if (policy.signers !== undefined && !policy.signers.includes(ev.signer))
    throw new AttestationError('policy', `${ev.signer}-signed reports are not accepted`);
  if (policy.cspId !== undefined && (ev.signer !== 'VLEK' || ev.cspId !== policy.cspId)) {
    throw new AttestationError('policy', `csp_id ${ev.cspId ?? '(none)'} is not the required ${policy.cspId}`);
  }
  if (policy.vmpl !== undefined && r.vmpl !== policy.vmpl)
    throw new AttestationError('policy', `VMPL ${r.vmpl} is not the required ${policy.vmpl}`);
  if (policy.minGuestSvn !== undefined && r.guestSvn < policy.minGuestSvn) {
    throw new AttestationError('policy', `guest SVN ${r.guestSvn} is below the minimum ${policy.minGuestSvn}`);
  }
  const g = policy.guest ?? {};
  if (r.policy.smtAllowed && g.allowSmt === false)
    throw new AttestationError('policy', 'guest policy allows SMT, which this policy forbids');
  if (r.policy.migrateMa && g.allowMigrateMa === false)
    throw new AttestationError('policy', 'guest policy allows a migration agent, which this policy forbids');
  if (!r.policy.singleSocket && g.requireSingleSocket === true)
    throw new AttestationError('policy', 'guest policy does not require a single socket');
  if (g.minAbi && versionLess([r.policy.abiMajor, r.policy.abiMinor], [g.minAbi.major, g.minAbi.minor])) {
    throw new AttestationError(
      'policy',
      `guest policy ABI ${r.policy.abiMajor}.${r.policy.abiMinor} is below ${g.minAbi.major}.${g.minAbi.minor}`,
    );
  }
  checkTcbMin('reported_tcb', decodeTcb(r.reportedTcb, ev.product), policy.minTcb);
  checkTcbMin('committed_tcb', decodeTcb(r.committedTcb, ev.product), policy.minCommittedTcb);
  const fw = policy.minFirmware;
  if (fw) {
    const cur = r.currentVersion;
    if (versionLess([cur.major, cur.minor, cur.build], [fw.major, fw.minor, fw.build ?? 0])) {
      throw new AttestationError(
        'tcb',
        `firmware ${cur.major}.${cur.minor}.${cur.build} is below ${fw.major}.${fw.minor}.${fw.build ?? 0}`,
      );
    }
  }
}
