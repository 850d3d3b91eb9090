#!/usr/bin/env node
// Generates TypeScript for proto/ into src/services/gen/ (gitignored), offline and in pure JS:
// protobufjs parses the .proto files into FileDescriptorProtos, which are handed to the ts-proto
// plugin as a protoc CodeGeneratorRequest on stdin (exactly what protoc would send it).
// No protoc or buf binary is needed, so `npm ci` works on any platform the registry serves.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs');
require('protobufjs/ext/descriptor');
const descriptor = protobuf.descriptor;

const root = fileURLToPath(new URL('..', import.meta.url));
const FILES = [
  'grpc/health/v1/health.proto',
  'mpc_prompt/v1/coordinator.proto',
  'mpc_prompt/v1/triples.proto',
  'mpc_prompt/v1/enclave.proto',
];
const OPTIONS = 'outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,useOptionals=messages,forceLong=number,env=node';

// One FileDescriptorProto per .proto file (each parsed on its own so names and packages stay per file).
const protoFiles = FILES.map((name) => {
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => join(root, 'proto', target);
  r.loadSync(name, { keepCase: true, alternateCommentMode: true });
  r.resolveAll();
  const set = r.toDescriptor('proto3');
  const file = set.file.find((f) => f.name === name || f.name?.endsWith(name.split('/').pop())) ?? set.file[0];
  file.name = name;
  qualifyTypeNames(file.messageType ?? [], `.${file['package']}`, r);
  return file;
});

/**
 * protoc writes fully-qualified type names (".pkg.Msg.Enum") and json_name; protobufjs writes
 * type names as in the source and no json_name.
 */
function qualifyTypeNames(messages, scope, r) {
  for (const m of messages) {
    const fullName = `${scope}.${m.name}`;
    const type = r.lookup(fullName.slice(1));
    for (const f of m.field ?? []) {
      f.jsonName = f.name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase()); // as protoc does
      if (!f.typeName || f.typeName.startsWith('.')) continue;
      // Map fields point at their synthesized nested *Entry message; others at the resolved type.
      const resolved = type.fields[f.name]?.resolvedType;
      f.typeName = resolved && !type.fields[f.name].map ? resolved.fullName : `${fullName}.${f.typeName}`;
    }
    qualifyTypeNames(m.nestedType ?? [], fullName, r);
  }
}

// CodeGeneratorRequest (google/protobuf/compiler/plugin.proto), built by hand with protobufjs.
const pluginRoot = protobuf.Root.fromJSON({
  nested: {
    CodeGeneratorRequest: {
      fields: {
        file_to_generate: { rule: 'repeated', type: 'string', id: 1 },
        parameter: { type: 'string', id: 2 },
        proto_file: { rule: 'repeated', type: 'bytes', id: 15 },
      },
    },
    CodeGeneratorResponse: {
      fields: {
        error: { type: 'string', id: 1 },
        supported_features: { type: 'uint64', id: 2 },
        file: { rule: 'repeated', type: 'File', id: 15 },
      },
      nested: { File: { fields: { name: { type: 'string', id: 1 }, content: { type: 'string', id: 15 } } } },
    },
  },
});
const Req = pluginRoot.lookupType('CodeGeneratorRequest');
const Res = pluginRoot.lookupType('CodeGeneratorResponse');
const request = Req.encode({
  file_to_generate: FILES,
  parameter: OPTIONS,
  proto_file: protoFiles.map((f) => descriptor.FileDescriptorProto.encode(f).finish()),
}).finish();

const plugin = join(root, 'node_modules', 'ts-proto', 'protoc-gen-ts_proto');
const r = spawnSync(process.execPath, [plugin], { input: request, maxBuffer: 64 << 20 });
if (r.status !== 0) {
  console.error(`gen-proto: ts-proto failed:\n${r.stderr}`);
  process.exit(1);
}
const response = Res.decode(r.stdout);
if (response.error) {
  console.error(`gen-proto: ${response.error}`);
  process.exit(1);
}
const out = join(root, 'src', 'services', 'gen');
rmSync(out, { recursive: true, force: true });
for (const f of response.file) {
  mkdirSync(dirname(join(out, f.name)), { recursive: true });
  writeFileSync(join(out, f.name), f.content);
}
console.log(`gen-proto: ${response.file.length} files in src/services/gen`);
