/** The deployment.enclave section of a test deployment: free loopback ports, files under `dir`. */
import { join } from 'node:path';
import { freePort } from '../../src/net/free-port.ts';

export async function testEnclaveSection(dir: string, over: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const [e, k] = await Promise.all([freePort(), freePort()]);
  return {
    address: `localhost:${e}`,
    kms: `localhost:${k}`,
    kms_dir: join(dir, 'kms'),
    encrypted_model: join(dir, 'model.enc'),
    ...over,
  };
}
