// Node figures for BENCHMARKS.md: verify + parse of a signed 1 KiB
// agent.message per call, and the time to instantiate the component.
//   node examples/node/bench.mjs <transpiled dir>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.argv[2] ?? 'glbridge-js';
const { instantiate } = await import(pathToFileURL(join(dir, 'glbridge.js')).href);
const modules = new Map();
const getCoreModule = (path) => {
  if (!modules.has(path)) modules.set(path, new WebAssembly.Module(readFileSync(join(dir, path))));
  return modules.get(path);
};
const imports = {
  'gradient-labs:bridge/clock': { now: () => BigInt(Date.now()) * 1_000_000n, sleep: () => {} },
  'gradient-labs:bridge/http': { send: () => { throw { tag: 'connection', val: 'unused' }; } },
  'gradient-labs:bridge/store': { get: () => undefined, compareAndSwap: () => false, listKeys: () => [], lock: () => {}, rollback: () => {} },
  'gradient-labs:bridge/types': {},
};

function time(label, n, f) {
  for (let i = 0; i < Math.min(n, 1000); i++) f(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  const us = Number(process.hrtime.bigint() - start) / 1000 / n;
  console.log(`${label}: ${us.toFixed(2)} µs per call (${n} calls)`);
}

const { webhooks } = instantiate(getCoreModule, imports);
const key = 'whsec_bench';
let text = JSON.stringify({
  id: 'webhook_01', type: 'agent.message', sequence_number: 1, timestamp: new Date().toISOString(),
  data: { conversation: { id: 'c-1', customer_id: 'u-1' }, body: '' },
});
const pad = 1024 - text.length;
text = text.replace('"body":""', `"body":"${'x'.repeat(pad)}"`);
const body = new TextEncoder().encode(text);
const header = webhooks.sign(key, BigInt(Math.floor(Date.now() / 1000)), body);
console.log(`body: ${body.length} bytes`);
time('verify + parse, 1 KiB agent.message', 20000, () => webhooks.verifyAndParse(key, header, undefined, body, undefined, undefined));
const { protocol } = instantiate(getCoreModule, imports);
time('trivial export (protocol.version)', 100000, () => protocol.version());
time('instantiate (core modules compiled once)', 50, () => instantiate(getCoreModule, imports));
