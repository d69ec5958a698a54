// The `client` world's import-free `protocol`, with `fetch` doing the I/O:
// the component builds the request and reads the answer.
//   GLBRIDGE_API_URL=http://127.0.0.1:4010 GLBRIDGE_API_KEY=… node examples/fetch-protocol.mjs c-1
import { client, callWithFetch } from 'glbridge/client';

const { protocol } = client();
const config = protocol.defaultConfig(process.env.GLBRIDGE_API_URL ?? 'http://127.0.0.1:4010', process.env.GLBRIDGE_API_KEY ?? '');
const conversation = process.argv[2] ?? 'c-1';

// Step by step: build, send, parse.
const request = protocol.buildRequest(config, 'conversations.read', JSON.stringify({ conversation_id: conversation }));
console.log(`${request.method.toUpperCase()} ${request.url}`);
const answer = await fetch(request.url, { method: request.method.toUpperCase(), headers: request.headers, body: request.body });
const read = JSON.parse(protocol.parseResponse('conversations.read', {
  status: answer.status, headers: [...answer.headers], body: new Uint8Array(await answer.arrayBuffer()),
}));
console.log(`read: ${read.id} (${read.status})`);

// The same, with retries as the component advises.
const again = JSON.parse(await callWithFetch(protocol, config, 'conversations.read', { conversation_id: conversation }));
console.log(`again: ${again.id}`);

// A refusal is typed: the API's, and the network's.
try {
  await callWithFetch(protocol, config, 'conversations.read', { conversation_id: 'nobody' });
} catch (e) {
  console.log(`refused: ${e.payload.tag} ${e.payload.val.status}`);
}
const nowhere = { ...config, baseUrl: 'http://127.0.0.1:9', retry: { ...config.retry, maxAttempts: 1 } };
try {
  await callWithFetch(protocol, nowhere, 'conversations.read', { conversation_id: conversation });
} catch (e) {
  console.log(`refused: ${e.payload.tag}`);
}
