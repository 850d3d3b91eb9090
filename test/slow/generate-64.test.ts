import { test } from 'node:test';
import { compareTransports } from '../helpers/transports.ts';

test('generate --transport grpc equals --transport memory and the reference (64 tokens, stories260K)', (t) => compareTransports(t, 64));
