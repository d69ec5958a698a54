// The package as a user gets it: `npm pack`, the tarball installed into an
// empty project in a temporary directory, and the examples run from there
// with this Node (20+).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let dir;
let app;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'glbridge-pack-'));
  const [{ filename }] = JSON.parse(
    execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  app = join(dir, 'app');
  cpSync(join(root, 'examples'), app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync(npm, ['install', '--offline', '--no-audit', '--no-fund', join(dir, filename)], { cwd: app, stdio: 'ignore' });
});

after(() => rmSync(dir, { recursive: true, force: true }));

const node = (script, env = {}) =>
  run(process.execPath, [join(app, script), ...(env.args ?? [])], { cwd: app, env: { ...process.env, ...env } }).then((r) => r.stdout);

test('the tarball holds each world and its declarations, not the sources of the build', () => {
  const files = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))[0].files.map((f) => f.path);
  for (const world of ['verifier', 'client', 'bridge']) {
    assert.ok(files.includes(`${world}.js`) && files.includes(`${world}.d.ts`), world);
    assert.ok(files.includes(`dist/${world}/${world}.js`) && files.includes(`dist/${world}/${world}.core.wasm`), world);
  }
  assert.ok(!files.some((f) => f.startsWith('components/') || f.startsWith('test/') || f.startsWith('node_modules/')), files.join(' '));
});

test('the installed package type-checks with tsc --strict', async () => {
  cpSync(join(root, 'test', 'types', 'usage.ts'), join(app, 'usage.ts'));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--lib', 'es2022,dom', 'usage.ts'], { cwd: app });
});

test('verifier: a signed webhook is accepted, a tampered one refused', async () => {
  const out = await node('verify-webhook.mjs');
  assert.match(out, /^agent\.message #1 for c-1: Your order ships today\.$/m);
  assert.match(out, /^refused: signature-mismatch$/m);
});

test('client: protocol builds the request, fetch sends it to a local stand-in, protocol reads the answer', async () => {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, auth: req.headers.authorization });
    res.setHeader('content-type', 'application/json');
    if (req.url === '/conversations/c-1/read') {
      res.end(JSON.stringify({ id: 'c-1', customer_id: 'u-1', channel: 'web', status: 'active', created: '2026-12-01T10:00:00Z', updated: '2026-12-01T10:05:00Z' }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ message: 'conversation not found' }));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const out = await node('fetch-protocol.mjs', {
      GLBRIDGE_API_URL: `http://127.0.0.1:${server.address().port}`,
      GLBRIDGE_API_KEY: 'sk_pack_test',
    });
    assert.match(out, /^GET http:\/\/127\.0\.0\.1:\d+\/conversations\/c-1\/read$/m);
    assert.match(out, /^read: c-1 \(active\)$/m);
    assert.match(out, /^again: c-1$/m);
    assert.match(out, /^refused: api 404$/m);
    assert.match(out, /^refused: transport$/m);
    assert.equal(seen.length, 3, JSON.stringify(seen));
    assert.ok(seen.every((s) => s.auth === 'Bearer sk_pack_test'), JSON.stringify(seen));
  } finally {
    server.close();
  }
});

test('client: one typed call answered by a scripted http.send; bad input is a typed error', async () => {
  const out = await node('typed-call.mjs');
  assert.match(out, /^GET https:\/\/api\.gradient-labs\.ai\/conversations\/c-1\/read -> c-1 active \(web\)$/m);
  assert.match(out, /^refused: invalid-argument conversation_id$/m);
});

test('the serverless handler answers a signed webhook and refuses the rest', async () => {
  process.env.GLBRIDGE_SIGNING_KEY = 'whsec_serverless';
  const { handler } = await import(pathToFileURL(join(app, 'serverless', 'handler.mjs')).href);
  const { verifier } = await import(pathToFileURL(join(app, 'node_modules', 'glbridge', 'verifier.js')).href);
  const { webhooks } = verifier();
  const body = JSON.stringify({
    id: 'webhook_77', type: 'conversation.hand_off', sequence_number: 2, timestamp: new Date().toISOString(),
    data: { conversation: { id: 'c-9', customer_id: 'u-9' }, reason_code: 'other', reason: 'asked for a human' },
  });
  const header = webhooks.sign('whsec_serverless', BigInt(Math.floor(Date.now() / 1000)), new TextEncoder().encode(body));
  const ok = await handler({ headers: { 'X-GradientLabs-Signature': header, 'Content-Type': 'application/json' }, body });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(JSON.parse(ok.body), { received: 'webhook_77', type: 'conversation.hand_off', conversation: 'c-9' });
  const tampered = await handler({ headers: { 'x-gradientlabs-signature': header }, body: body.replace('human', 'robot') });
  assert.deepEqual([tampered.statusCode, JSON.parse(tampered.body).error], [401, 'signature-mismatch']);
  const unsigned = await handler({ headers: {}, body });
  assert.equal(unsigned.statusCode, 401);
  const old = webhooks.sign('whsec_serverless', BigInt(Math.floor(Date.now() / 1000) - 3600), new TextEncoder().encode(body));
  const stale = await handler({ headers: { 'x-gradientlabs-signature': old }, body: new TextEncoder().encode(body) });
  assert.deepEqual([stale.statusCode, JSON.parse(stale.body).error], [401, 'timestamp-out-of-range']);
  const notWebhook = '{"hello":1}';
  const signed = webhooks.sign('whsec_serverless', BigInt(Math.floor(Date.now() / 1000)), new TextEncoder().encode(notWebhook));
  const bad = await handler({ headers: { 'x-gradientlabs-signature': signed }, body: notWebhook });
  assert.deepEqual([bad.statusCode, JSON.parse(bad.body).error], [400, 'invalid-envelope']);
});
