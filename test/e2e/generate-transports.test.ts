/**
 * `mpc-prompt generate` over the real services (--transport grpc, the default) gives the same ids
 * as --transport memory and as the plaintext reference, on llama2.c stories260K.
 * The default suite checks 16 tokens; test/slow/ checks the 64.
 */
import { test } from 'node:test';
import { compareTransports } from '../helpers/transports.ts';

test('generate --transport grpc equals --transport memory and the reference (16 tokens, stories260K)', (t) => compareTransports(t, 16));
