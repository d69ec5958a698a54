// Verifies and parses a webhook with the glbridge component in Node.
// The component is transpiled once by jco (tests/node does it):
//   jco transpile glbridge.wasm --instantiation sync -o <dir>
//   node verify-webhook.mjs <dir>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.argv[2] ?? 'glbridge-js';
const { instantiate } = await import(pathToFileURL(join(dir, 'glbridge.js')).href);

// The component's imports. Time is nanoseconds since the Unix epoch, as a BigInt.
const clock = { now: () => BigInt(Date.now()) * 1_000_000n, sleep: () => {} };
const unused = () => { throw { tag: 'connection', val: 'not used by webhooks' }; };
const store = { get: () => undefined, compareAndSwap: () => false, listKeys: () => [], lock: () => {}, rollback: () => {} };
const imports = {
  'gradient-labs:bridge/clock': clock,
  'gradient-labs:bridge/http': { send: unused },
  'gradient-labs:bridge/store': store,
  'gradient-labs:bridge/types': {},
};
const { webhooks } = instantiate((path) => new WebAssembly.Module(readFileSync(join(dir, path))), imports);

// A webhook as the AI agent sends it (here signed on the spot).
const key = 'whsec_example';
const body = new TextEncoder().encode(JSON.stringify({
  id: 'webhook_01', type: 'agent.message', sequence_number: 1, timestamp: new Date().toISOString(),
  data: { conversation: { id: 'c-1', customer_id: 'u-1' }, body: 'Your order ships today.' },
}));
const header = webhooks.sign(key, BigInt(Math.floor(Date.now() / 1000)), body);

// The ~10 lines a helpdesk plugin needs: verify, parse, use; errors are thrown.
try {
  const now = BigInt(Date.now()) * 1_000_000n; // nanoseconds; `undefined` asks clock.now
  const event = webhooks.verifyAndParse(key, header, undefined, body, now, undefined);
  console.log(`${event.eventType} #${event.sequenceNumber} for ${event.conversationId}:`, event.data.val.body);
  webhooks.verifyAndParse(key, header, undefined, new TextEncoder().encode('{"tampered":true}'), now, undefined);
} catch (e) {
  // The WIT error variant, {tag, val} (jco's ComponentError wraps it as `payload`).
  const err = e.payload ?? e;
  console.log('refused:', err.tag);
}
