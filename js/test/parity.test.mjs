// The Node side of the parity check: the very components the Rust host
// embeds (written by `glbridge component --world`), transpiled by jco into
// this package and loaded through its entry points with JavaScript imports —
// a fake clock, a scripted `http.send`, a `Map` store — through
// scenario.json. Every output, in every world that has the step's
// interfaces, must equal as canonical JSON text what the Rust host gave
// (expected.json; tests/tests/node_parity.rs checks the Rust side).
//
//   npm test   (scripts/build.mjs builds dist/ first)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifier } from '../verifier.js';
import { client } from '../client.js';
import { bridge } from '../bridge.js';

const here = dirname(fileURLToPath(import.meta.url));
const worlds = { verifier, client, bridge };
/** Which worlds can run each kind of step. */
const runsIn = {
  verify: ['verifier', 'client', 'bridge'],
  'sign-and-receive': ['verifier', 'client', 'bridge'],
  parse: ['verifier', 'client', 'bridge'],
  'build-request': ['client', 'bridge'],
  call: ['client', 'bridge'],
  sequence: ['bridge'],
};

const scenario = JSON.parse(readFileSync(join(here, 'scenario.json'), 'utf8'));
const expected = JSON.parse(readFileSync(join(here, 'expected.json'), 'utf8')).steps;

/** JSON text with object keys sorted, as serde_json writes a `Value`. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** The imports, one set per step: a clock, a script, a store. */
function imports(startSecs) {
  const world = { now: BigInt(startSecs) * 1_000_000_000n, script: [], sent: [], store: new Map() };
  const clock = {
    now: () => world.now,
    sleep: (ns) => {
      world.now += ns;
    },
  };
  const http = {
    send: (req) => {
      world.sent.push(req);
      const answer = world.script.shift();
      if (!answer) throw { tag: 'connection', val: 'nothing scripted' };
      return answer;
    },
  };
  return { world, clock, send: http.send, store: world.store };
}

function refusal(e) {
  const p = e?.payload ?? e;
  assert.ok(p && typeof p.tag === 'string', `not a refusal: ${e}`);
  const out = { err: p.tag };
  if (p.val !== undefined) out.val = typeof p.val === 'bigint' ? Number(p.val) : p.val;
  return out;
}

function request(r) {
  return {
    method: r.method,
    url: r.url,
    headers: r.headers.map(([k, v]) => [k, v]),
    body: r.body === undefined ? null : text.decode(r.body),
    timeout_ms: r.timeoutMs,
  };
}

function released(r) {
  return {
    id: r.event.id,
    sequence_number: Number(r.event.sequenceNumber),
    gap: r.gap ? [Number(r.gap.firstMissing), Number(r.gap.lastMissing)] : null,
    late: r.late,
  };
}

function config(c) {
  return {
    baseUrl: c.base_url,
    apiKey: c.api_key,
    userAgent: undefined,
    timeoutMs: c.timeout_ms,
    maxBodyBytes: c.max_body_bytes,
    retry: {
      maxAttempts: c.retry.max_attempts,
      initialBackoffMs: c.retry.initial_backoff_ms,
      maxBackoffMs: c.retry.max_backoff_ms,
      maxRetryAfterMs: c.retry.max_retry_after_ms,
      jitterSeed: BigInt(c.retry.jitter_seed),
    },
  };
}

function run(name, step) {
  const { world, clock, send, store } = imports(step.now_secs ?? 1_750_000_000);
  const root = worlds[name]({ clock, send, store });
  const { webhooks, protocol, client, ordering } = root;
  const client_config = config(scenario.config);
  const attempt = (f) => {
    try {
      return f();
    } catch (e) {
      return refusal(e);
    }
  };
  switch (step.kind) {
    case 'verify':
      return attempt(() => {
        webhooks.verify(step.key, step.header, utf8.encode(step.body), BigInt(step.now_secs) * 1_000_000_000n, undefined);
        return { ok: null };
      });
    case 'sign-and-receive': {
      const header = webhooks.sign(step.key, BigInt(step.now_secs), utf8.encode(step.body));
      const event = webhooks.verifyAndParse(step.key, header, step.token ?? undefined, utf8.encode(step.body), undefined, undefined);
      return { header, event: JSON.parse(webhooks.eventJson(event)) };
    }
    case 'parse':
      return attempt(() => {
        const event = webhooks.parse(utf8.encode(step.body), step.token ?? undefined);
        return { event: JSON.parse(webhooks.eventJson(event)) };
      });
    case 'build-request':
      return request(protocol.buildRequest(client_config, step.operation, JSON.stringify(step.params)));
    case 'call': {
      world.script.push({ status: step.answer.status, headers: [['content-type', 'application/json']], body: utf8.encode(step.answer.body) });
      const c = client.Client.open(client_config);
      const result = JSON.parse(c.call(step.operation, JSON.stringify(step.params)));
      return { result, sent: world.sent.map(request) };
    }
    case 'sequence': {
      const s = new ordering.Sequencer('parity', BigInt(step.max_hold_ms) * 1_000_000n, 1n);
      const offers = step.events.map((body) => {
        const o = s.offer(webhooks.parse(utf8.encode(body), undefined));
        return { duplicate: o.duplicate, released: o.released.map(released) };
      });
      world.now += BigInt(step.poll_after_ms) * 1_000_000n;
      return { offers, poll: s.poll().map(released) };
    }
    default:
      throw new Error(`unknown step kind ${step.kind}`);
  }
}

for (const name of Object.keys(worlds)) {
  test(`the ${name} world in Node gives the outputs the Rust host gave`, () => {
    assert.equal(scenario.steps.length, expected.length, 'one expected output per step');
    let ran = 0;
    scenario.steps.forEach((step, i) => {
      assert.ok(runsIn[step.kind], `unknown step kind ${step.kind}`);
      if (!runsIn[step.kind].includes(name)) return;
      const got = run(name, step);
      assert.equal(canonical(got), canonical(expected[i].output), `step ${JSON.stringify(step.name)}`);
      ran++;
    });
    assert.ok(ran >= 5, `only ${ran} steps ran in ${name}`);
  });
}

test('a world has only its own interfaces', () => {
  const v = verifier();
  assert.deepEqual(Object.keys(v).filter((k) => !k.includes(':')).sort(), ['webhooks']);
  const c = client();
  assert.equal(c.ordering, undefined);
  assert.equal(c.gleap, undefined);
  assert.ok(c.protocol && c.tools && c.webhooks);
  const b = bridge();
  assert.ok(b.ordering && b.gleap && b.zendesk && b.bridgeCore);
});
