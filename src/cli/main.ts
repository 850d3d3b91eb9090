/**
 * The `mpc-prompt` command line: the only place that reads argv and the environment.
 * Errors: bad input → exit 2 with "error: <what, where, expected>"; a protocol abort → exit 3;
 * anything else → exit 1 (message only, no stack unless MPC_PROMPT_DEBUG=1).
 */
import { ProtocolAbort, ValidationError } from '../base/errors.ts';

const USAGE = `usage: mpc-prompt <command> [options]

commands:
  demo         start the local deployment, two parties submit private inputs, stream the result
  up           start the local deployment (separate processes, mTLS) and keep it running
  submit       a party's client: share and seal a prompt part, stream the tokens
  coordinator  run the coordinator service
  triples      run the triple service (preprocessing dealer)
  party        run a party node (--id A)
  enclave      run the enclave service (decrypts the model via the KMS, deals weight shares; dev attestation)
  kms          run the local KMS (AWS KMS JSON protocol over mTLS)
  pki init DIR create a development CA and certificates
  attest verify  verify TEE evidence (--format nitro|sev-snp|tdx FILE --now ISO8601 --json)
  model encrypt|inspect  encrypt a model under a KMS data key (--model PATH --out FILE); show a file's header
  bench        secure decoding benchmark through the real services (--json, --model gpt2-small-random)
  generate     secure generation (all parties in this process with --transport memory)
  reference    plaintext float64 generation (for checking)

See README.md for the flags of each command.`;

type Command = (argv: string[], out: (line: string) => void) => Promise<void>;

/** Commands load lazily, so `reference` never pulls in the secure engine. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  generate: async () => (await import('./generate-command.ts')).generateCommand,
  bench: async () => (await import('./bench-command.ts')).benchCommand,
  reference: async () => (await import('./reference-command.ts')).referenceCommand,
  pki: async () => (await import('./service-commands.ts')).pkiCommand,
  coordinator: async () => (await import('./service-commands.ts')).coordinatorCommand,
  triples: async () => (await import('./service-commands.ts')).triplesCommand,
  party: async () => (await import('./service-commands.ts')).partyCommand,
  enclave: async () => (await import('./enclave-commands.ts')).enclaveCommand,
  kms: async () => (await import('./enclave-commands.ts')).kmsCommand,
  submit: async () => (await import('./demo-commands.ts')).submitCommand,
  up: async () => (await import('./demo-commands.ts')).upCommand,
  demo: async () => (await import('./demo-commands.ts')).demoCommand,
  attest: async () => (await import('./attest-command.ts')).attestCommand,
  model: async () => (await import('./model-command.ts')).modelCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const load = command ? COMMANDS[command] : undefined;
  if (!load) {
    console.error(command && command !== '--help' ? `error: unknown command "${command}"\n\n${USAGE}` : USAGE);
    return command && command !== '--help' ? 2 : 0;
  }
  try {
    const run = await load();
    await run(rest, (line) => console.log(line));
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (process.env.MPC_PROMPT_DEBUG === '1') console.error(e);
    if (e instanceof ValidationError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    if (e instanceof ProtocolAbort) {
      console.error(`aborted: ${e.message}`);
      return 3;
    }
    if (e instanceof TypeError && 'code' in e && String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    console.error(`error: ${(e as Error).message ?? String(e)}`);
    return 1;
  }
}
