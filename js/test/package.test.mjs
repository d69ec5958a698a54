// The package's own pieces: the build's message when nothing is built, and
// the `Map` store's one-transaction-per-call semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mapStore } from '../bridge.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

test('without a glbridge binary or components, the build says what is missing and how to build it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'glbridge-nobuild-'));
  try {
    mkdirSync(join(dir, 'js'));
    cpSync(join(root, 'scripts'), join(dir, 'js', 'scripts'), { recursive: true });
    const env = { ...process.env };
    delete env.GLBRIDGE_BIN;
    const r = spawnSync(process.execPath, [join(dir, 'js', 'scripts', 'build.mjs')], { cwd: join(dir, 'js'), env, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /the components are not built: components\/verifier\.wasm, components\/client\.wasm, components\/bridge\.wasm missing/);
    assert.match(r.stderr, /cargo build -p glbridge-cli/);
    assert.match(r.stderr, /glbridge component --world <verifier\|client\|bridge> --out js\/components\/<world>\.wasm/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a GLBRIDGE_BIN that does not exist is named', () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], {
    env: { ...process.env, GLBRIDGE_BIN: '/nowhere/glbridge' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /GLBRIDGE_BIN=\/nowhere\/glbridge does not exist/);
});

test('the Map store keeps a call that returned and undoes one that rolled back or threw', () => {
  const store = mapStore();
  const bytes = (s) => new TextEncoder().encode(s);
  store.begin();
  assert.ok(store.imports.compareAndSwap('a', undefined, bytes('1')));
  store.end(true);
  store.begin();
  assert.ok(store.imports.compareAndSwap('a', bytes('1'), bytes('2')));
  assert.ok(store.imports.compareAndSwap('b', undefined, bytes('x')));
  assert.deepEqual(store.imports.listKeys(''), ['a', 'b']);
  store.imports.rollback();
  assert.deepEqual([...store.map.keys()], ['a']);
  assert.deepEqual(store.imports.get('a'), bytes('1'));
  store.begin();
  assert.ok(store.imports.compareAndSwap('a', bytes('1'), undefined));
  assert.ok(!store.imports.compareAndSwap('c', bytes('?'), bytes('y')), 'a mismatch changes nothing');
  store.end(false);
  assert.deepEqual(store.imports.get('a'), bytes('1'));
});
