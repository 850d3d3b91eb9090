/**
 * What a party node trusts in an enclave, from the configuration (deployment.enclave): the pinned
 * roots (plus, only if `pin_dev_root` is set, the INSECURE dev attestation root in pki_dir, by
 * its SHA-256) and the appraisal policy (PCR0, no debug, maximum evidence age).
 */
import { devAttestationRootSha256 } from '../../attestation/nitro/dev-root.ts';
import type { Config } from '../../config/config.ts';
import type { EnclaveTrust } from './enclave-client.ts';

export function enclaveTrustFromConfig(config: Config): EnclaveTrust & { insecureDevRoot: boolean } {
  const e = config.deployment.enclave;
  const roots = [...e.pinned_roots];
  if (e.pin_dev_root) roots.push(devAttestationRootSha256(config.deployment.pki_dir));
  return {
    roots,
    policy: { expectedMeasurements: { PCR0: e.pcr0 }, allowDebug: false, maxAgeMs: e.max_evidence_age_s * 1000 },
    insecureDevRoot: e.pin_dev_root,
  };
}
