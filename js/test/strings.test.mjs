// Strings across the boundary, checked against Node's own HMAC-SHA256 (an
// oracle outside the component): ASCII and not, short and long, on both
// sides of the glue's short-string paths (scripts/tune.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { verifier } from '../verifier.js';

const { webhooks } = verifier();
const utf8 = new TextEncoder();

const keys = ['k', 'whsec_ascii_key', 'clé-é', '鍵🔑', 'x'.repeat(128), 'y'.repeat(129), `${'z'.repeat(127)}é`];
const texts = ['', 'a', 'café', '😀', 'é'.repeat(40), 'w'.repeat(64), 'w'.repeat(65), `${'v'.repeat(63)}é`, 'q'.repeat(3000)];

test('signatures agree with node:crypto for every kind of key', () => {
  for (const key of keys) {
    const body = utf8.encode(`{"k":${JSON.stringify(key)}}`);
    const header = webhooks.sign(key, 1_750_000_000n, body);
    const mac = createHmac('sha256', key).update('1750000000.').update(body).digest('hex');
    assert.equal(header, `t=1750000000,v1=${mac}`, key);
    webhooks.verify(key, header, body, 1_750_000_000n * 1_000_000_000n, undefined);
  }
});

test('text comes back as it went in', () => {
  for (const text of texts) {
    for (const id of ['w-1', `w-${text.slice(0, 70)}`]) {
      const body = utf8.encode(JSON.stringify({
        id, type: 'agent.message', sequence_number: 1, timestamp: '2026-12-01T10:00:00Z',
        data: { conversation: { id: `c-${text.slice(0, 5)}`, customer_id: 'u' }, body: text },
      }));
      const header = webhooks.sign('k', 1_750_000_000n, body);
      const event = webhooks.verifyAndParse('k', header, text.slice(0, 50) || undefined, body, 1_750_000_000n * 1_000_000_000n, undefined);
      assert.equal(event.id, id);
      assert.equal(event.data.val.body, text);
      assert.equal(event.conversationId, `c-${text.slice(0, 5)}`);
      assert.equal(event.token, text.slice(0, 50) || undefined);
      assert.equal(JSON.parse(webhooks.eventJson(event)).data.body, text);
    }
  }
});

test('invalid UTF-8 in a string the component returns is replaced, as TextDecoder does', () => {
  // The body is bytes, not text: a lone 0xff inside a JSON string is
  // refused by the parser with a typed error, never a broken string.
  const body = Uint8Array.from([...utf8.encode('{"id":"w'), 0xff, ...utf8.encode('","type":"x","sequence_number":1,"timestamp":"2026-12-01T10:00:00Z","data":{}}')]);
  assert.throws(() => webhooks.parse(body, undefined), (e) => e.payload?.tag === 'invalid-envelope');
});
