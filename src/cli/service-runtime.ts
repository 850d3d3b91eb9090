/**
 * Shared by the service commands: config loading (--config FILE, else MPC_PROMPT_CONFIG, else
 * defaults), identities from the dev PKI, a JSON logger, metrics endpoint, and graceful shutdown
 * on SIGTERM/SIGINT.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../base/errors.ts';
import { DEFAULT_CONFIG, loadConfigFile, type Config } from '../config/config.ts';
import { kernels } from '../kernels/kernels.ts';
import { jsonLogger, type Logger } from '../services/log.ts';
import { Metrics, serveMetrics } from '../services/metrics.ts';
import { loadIdentity, type TlsIdentity } from '../services/pki.ts';

export function loadDeploymentConfig(path: string | undefined): Config {
  const file = path ?? process.env.MPC_PROMPT_CONFIG;
  return file ? loadConfigFile(file) : DEFAULT_CONFIG;
}

export async function identity(config: Config, name: string): Promise<TlsIdentity> {
  const dir = config.deployment.pki_dir;
  if (!existsSync(join(dir, 'ca.crt')))
    throw new ValidationError(`no dev PKI in ${dir}: run "mpc-prompt pki init ${dir}" (or "mpc-prompt up")`, 'deployment.pki_dir');
  if (!existsSync(join(dir, `${name}.crt`))) throw new ValidationError(`no certificate for "${name}" in ${dir}`, 'deployment.pki_dir');
  return loadIdentity(dir, name);
}

export function tlsGuard(config: Config, insecureFlag: boolean | undefined, log: Logger): void {
  if (config.tls.enabled) return;
  if (!insecureFlag)
    throw new ValidationError('tls.enabled is false: pass --insecure-no-tls to run without TLS (development only)', 'tls.enabled');
  log.log('warn', 'TLS IS DISABLED: traffic between services is unauthenticated and unencrypted');
  throw new ValidationError('running without TLS is not supported by this build', 'tls.enabled');
}

export interface Runtime {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** Starts the metrics endpoint (if configured) and runs until SIGTERM/SIGINT, then `close`. */
export async function serveUntilSignal(rt: Runtime, metricsAddress: string, close: () => Promise<void>): Promise<void> {
  const http = metricsAddress ? await serveMetrics(rt.metrics, metricsAddress) : undefined;
  rt.logger.log('info', 'ring kernels', { kernels: kernels.name }); // MPC_PROMPT_KERNELS; native-avx512 or wasm-simd
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      rt.logger.log('info', 'shutting down', { signal });
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await close();
  http?.close();
  rt.logger.log('info', 'stopped');
}

export function runtime(service: string): Runtime {
  return { logger: jsonLogger({ service }), metrics: new Metrics() };
}
