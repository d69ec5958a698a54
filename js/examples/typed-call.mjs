// One typed call of the `client` world, answered by an `http.send` you
// supply (here a script; in a real runtime, a synchronous HTTP call).
//   node examples/typed-call.mjs
import { client } from 'glbridge/client';

const sent = [];
const glb = client({
  send(request) {
    sent.push(request);
    const conversation = { id: 'c-1', customer_id: 'u-1', channel: 'web', status: 'active', created: '2026-12-01T10:00:00Z', updated: '2026-12-01T10:05:00Z' };
    return { status: 200, headers: [['content-type', 'application/json']], body: new TextEncoder().encode(JSON.stringify(conversation)) };
  },
});
const c = glb.client.Client.open(glb.protocol.defaultConfig('https://api.gradient-labs.ai', 'sk_example'));
const conversation = glb.conversations.read(c, 'c-1');
console.log(`${sent[0].method.toUpperCase()} ${sent[0].url} -> ${conversation.id} ${conversation.status} (${conversation.channel})`);

// Bad input keeps its typed error, before anything is sent.
try {
  glb.conversations.read(c, '');
} catch (e) {
  console.log(`refused: ${e.payload.tag} ${e.payload.val.field}`);
}
