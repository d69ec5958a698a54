// Verifies the AI agent's webhooks with the `verifier` world: one signed on
// the spot is accepted, the same one with its body changed is refused.
//   node examples/verify-webhook.mjs
import { verifier } from 'glbridge/verifier';

const { webhooks } = verifier();
const signingKey = process.env.GLBRIDGE_SIGNING_KEY ?? 'whsec_example';

// A webhook as the agent sends it: the raw body and its signature header.
const body = new TextEncoder().encode(JSON.stringify({
  id: 'webhook_01', type: 'agent.message', sequence_number: 1, timestamp: new Date().toISOString(),
  data: { conversation: { id: 'c-1', customer_id: 'u-1' }, body: 'Your order ships today.' },
}));
const header = webhooks.sign(signingKey, BigInt(Math.floor(Date.now() / 1000)), body);

const event = webhooks.verifyAndParse(signingKey, header, undefined, body);
console.log(`${event.eventType} #${event.sequenceNumber} for ${event.conversationId}: ${event.data.val.body}`);

const tampered = body.slice();
tampered[tampered.length - 3] ^= 1;
try {
  webhooks.verifyAndParse(signingKey, header, undefined, tampered);
  console.log('accepted a tampered body');
  process.exitCode = 1;
} catch (e) {
  console.log(`refused: ${e.payload.tag}`);
}
