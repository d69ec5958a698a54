// The bridge world through the package: a resource's static and instance
// methods each run as one transaction on the `Map` store — kept when the
// call answers, nothing kept when the component rolls back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridge } from '../bridge.js';

const utf8 = new TextEncoder();
const NOW = 1_750_000_000n;

function webhook(id, sequence) {
  return utf8.encode(JSON.stringify({
    id, type: 'agent.message', sequence_number: sequence, timestamp: '2025-06-15T15:06:40Z',
    data: { conversation: { id: 'c-1', customer_id: 'u-1' }, body: `reply ${sequence}` },
  }));
}

test('webhooks through bridge-core: accepted and kept, redelivered as a duplicate, a bad signature keeps nothing', () => {
  const map = new Map();
  const clock = { now: () => NOW * 1_000_000_000n, sleep: () => {} };
  const b = bridge({ store: map, clock });
  const config = {
    client: b.protocol.defaultConfig('http://127.0.0.1:9', 'ik'),
    signingKey: 'whsec_js', actions: [], maxHoldMs: 5_000, leewaySecs: 300,
  };
  const core = b.bridgeCore.Bridge.open(config);
  const first = webhook('w-1', 1);
  const answer = core.handleWebhook(b.webhooks.sign('whsec_js', NOW, first), undefined, first);
  assert.deepEqual([answer.status, answer.outcome], [200, 'accepted']);
  assert.equal(core.queueDepth(), 1n);
  const kept = new Map([...map].map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
  assert.ok(kept.size > 0, 'the accepted webhook left state in the store');

  const again = core.handleWebhook(b.webhooks.sign('whsec_js', NOW, first), undefined, first);
  assert.equal(again.outcome, 'duplicate');

  const second = webhook('w-2', 2);
  const forged = core.handleWebhook(b.webhooks.sign('whsec_other', NOW, second), undefined, second);
  assert.deepEqual([forged.status, forged.outcome], [401, 'bad-signature']);
  assert.deepEqual(new Map([...map].map(([k, v]) => [k, Buffer.from(v).toString('hex')])), kept, 'a refused webhook changed nothing');
  assert.equal(core.queueDepth(), 1n);

  // Out of order: #3 waits for #2, and both go in once #2 arrives.
  const third = webhook('w-3', 3);
  assert.equal(core.handleWebhook(b.webhooks.sign('whsec_js', NOW, third), undefined, third).outcome, 'accepted');
  assert.equal(core.queueDepth(), 1n);
  core.handleWebhook(b.webhooks.sign('whsec_js', NOW, second), undefined, second);
  assert.equal(core.queueDepth(), 3n);
});
