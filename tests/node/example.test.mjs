// Runs examples/node/verify-webhook.mjs against the component that
// parity.test.mjs transpiled, as a helpdesk developer would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transpileTo } from './transpile.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const component = join(here, process.env.GLBRIDGE_COMPONENT ?? 'build/glbridge.wasm');

test('the example verifies a webhook and refuses a tampered one', async () => {
  const out = join(here, 'build', 'example-js');
  assert.ok(existsSync(await transpileTo(component, out)));
  const printed = execFileSync(process.execPath, [join(here, '..', '..', 'examples', 'node', 'verify-webhook.mjs'), out], { encoding: 'utf8' });
  assert.match(printed, /^agent\.message #1 for c-1: Your order ships today\.$/m);
  assert.match(printed, /^refused: signature-mismatch$/m);
});
