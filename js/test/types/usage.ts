// Compiled (not run) by test/types.test.mjs with tsc --strict: the
// declarations must describe what the examples do.
import { verifier, compile, type Clock } from 'glbridge/verifier';
import { client, callWithFetch } from 'glbridge/client';
import { bridge, mapStore } from 'glbridge/bridge';
import * as all from 'glbridge';

compile();
const fake: Clock = { now: () => 0n, sleep: (_ns: bigint) => {} };
const { webhooks } = verifier({ clock: fake });
const body: Uint8Array = new TextEncoder().encode('{}');
const header: string = webhooks.sign('key', 1n, body);
const event = webhooks.verifyAndParse('key', header, undefined, body, undefined, undefined);
const id: string = event.id;
const n: bigint = event.sequenceNumber;
if (event.data.tag === 'agent-message') {
  const text: string = event.data.val.body;
  void text;
}

const c = client({
  send: (request) => ({ status: 200, headers: [['content-type', 'application/json']], body: request.body ?? new Uint8Array() }),
});
const config = c.protocol.defaultConfig('http://127.0.0.1:4010', 'key');
const request = c.protocol.buildRequest(config, 'conversations.read', '{"conversation_id":"c-1"}');
const url: string = request.url;
const api = c.client.Client.open(config);
const conversation = c.conversations.read(api, 'c-1');
const status: string = conversation.status;
const answer: Promise<string> = callWithFetch(c.protocol, config, 'conversations.read', { conversation_id: 'c-1' });

const store = mapStore(new Map());
const b = bridge({ store: store.map, send: () => ({ status: 204, headers: [], body: new Uint8Array() }) });
const depth = b.ordering.Sequencer;
const same: typeof verifier = all.verifier;
void [id, n, url, status, answer, depth, same];
