/**
 * The two processes of the model-key path, one OS process each:
 *   mpc-prompt kms     [--config FILE]   the local KMS: AWS KMS JSON protocol (SigV4) over mTLS,
 *                                        backed by the key store in deployment.enclave.kms_dir;
 *                                        only the "enclave" certificate may call it
 *   mpc-prompt enclave [--config FILE]   the enclave service: attests (INSECURE dev provider in
 *                                        local runs), gets the model's data key from the KMS,
 *                                        decrypts the model in memory and deals weight shares
 * Neither logs keys, shares or weights.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ValidationError } from '../base/errors.ts';
import { createDevNitroProvider } from '../attestation/nitro/dev-provider.ts';
import { loadDevAttestationRoot } from '../attestation/nitro/dev-root.ts';
import { AwsKmsAdapter, createKmsHttpsServer, mtlsTransport } from '../kms/aws.ts';
import { LocalKms } from '../kms/kms.ts';
import { startEnclaveService } from '../services/enclave/enclave-server.ts';
import { releaseModel, type ReleasedModel } from '../services/enclave/model-release.ts';
import { listenAddress, splitAddress } from '../services/grpc-common.ts';
import { LOCAL_KMS_REGION, readDevKmsCredentials } from './enclave-setup.ts';
import { identity, loadDeploymentConfig, runtime, serveUntilSignal, tlsGuard } from './service-runtime.ts';

const common = { config: { type: 'string' }, 'insecure-no-tls': { type: 'boolean' } } as const;

export async function kmsCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: common });
  const config = loadDeploymentConfig(values.config);
  const rt = runtime('kms');
  tlsGuard(config, values['insecure-no-tls'], rt.logger);
  const e = config.deployment.enclave;
  const id = await identity(config, 'kms');
  const server = createKmsHttpsServer(new LocalKms({ dir: e.kms_dir }), {
    region: LOCAL_KMS_REGION,
    credentials: readDevKmsCredentials(e.kms_dir),
    tls: id,
    allowClient: (cn) => cn === 'enclave',
  });
  const { host, port } = splitAddress(listenAddress(e.kms));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  rt.logger.log('info', 'local KMS listening', { address: e.kms, keys_dir: e.kms_dir });
  await serveUntilSignal(rt, '', async () => {
    server.close();
  });
}

export async function enclaveCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: common });
  const config = loadDeploymentConfig(values.config);
  const rt = runtime('enclave');
  tlsGuard(config, values['insecure-no-tls'], rt.logger);
  const dep = config.deployment;
  const e = dep.enclave;
  const tls = await identity(config, 'enclave');
  rt.logger.log('warn', 'INSECURE dev attestation provider: documents prove nothing about hardware (local development only)');
  const provider = await createDevNitroProvider({ now: new Date(), root: loadDevAttestationRoot(dep.pki_dir), warn: () => {} });
  const kms = new AwsKmsAdapter({
    endpoint: `https://${e.kms}`,
    region: LOCAL_KMS_REGION,
    credentials: readDevKmsCredentials(e.kms_dir),
    transport: mtlsTransport(tls),
  });
  let encrypted: Uint8Array;
  try {
    encrypted = readFileSync(e.encrypted_model);
  } catch (err) {
    throw new ValidationError(`cannot read the encrypted model: ${(err as Error).message}`, 'deployment.enclave.encrypted_model');
  }
  const attestKey = (publicKey: Uint8Array) => provider.attest({ now: new Date(), publicKey });
  // The KMS may still be starting: retry connection refusals for up to 30 s.
  let model: ReleasedModel | undefined;
  for (let attempt = 0; !model; attempt++) {
    try {
      model = await releaseModel({ kms, encrypted, attest: attestKey, scaleBits: config.fixed_point.scale_bits });
    } catch (err) {
      if ((err as { code?: string }).code !== 'ECONNREFUSED' || attempt >= 120) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  rt.logger.log('info', 'model key released by the KMS; model decrypted in memory', { key_id: model.keyId, model_sha256: model.sha256 });
  const service = await startEnclaveService({
    address: listenAddress(e.address),
    identity: tls,
    parties: dep.parties.map((p) => p.id),
    model,
    attest: (a) => provider.attest({ now: new Date(), ...a }),
    logger: rt.logger,
    metrics: rt.metrics,
  });
  await serveUntilSignal(rt, '', () => service.close());
}
