// What the three entry points share: the imports a world needs, ready made
// (the system clock, a `Map` store, the caller's `http.send`), and the
// instantiation of a transpiled world with its core modules compiled once
// per process.
import { readdirSync, readFileSync } from 'node:fs';

const PACKAGE = 'gradient-labs:bridge';
const VERSION = '@0.1.0';

/** The system clock: nanoseconds since the Unix epoch; `sleep` blocks. */
export const systemClock = Object.freeze({
  now: () => BigInt(Date.now()) * 1_000_000n,
  sleep: (ns) => {
    const ms = Number(ns / 1_000_000n);
    if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  },
});

/** An `http.send` for callers that gave none: every request fails. */
function noSend() {
  throw { tag: 'connection', val: 'no http.send was given to glbridge (options.send)' };
}

function sameBytes(a, b) {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The `store` import over a `Map` of key → `Uint8Array`. Each export call
 * is one transaction, as the WIT asks: its writes are undone when the
 * component calls `rollback` or the call throws (`begin`/`end` are called
 * around every export call by `transactional`).
 */
export function mapStore(map = new Map()) {
  let undo = [];
  const write = (key, value) => {
    undo.push([key, map.get(key)]);
    if (value === undefined) map.delete(key);
    else map.set(key, new Uint8Array(value));
  };
  const rollback = () => {
    for (const [key, old] of undo.reverse()) {
      if (old === undefined) map.delete(key);
      else map.set(key, old);
    }
    undo = [];
  };
  return {
    map,
    begin: () => {
      undo = [];
    },
    end: (ok) => (ok ? (undo = []) : rollback()),
    imports: {
      get: (key) => map.get(key),
      compareAndSwap: (key, expected, next) => {
        if (!sameBytes(map.get(key), expected)) return false;
        write(key, next);
        return true;
      },
      listKeys: (prefix) => [...map.keys()].filter((k) => k.startsWith(prefix)).sort(),
      // One call at a time in one JavaScript thread: nothing to wait for.
      lock: () => {},
      rollback,
    },
  };
}

/** Wraps every export function and resource method in a store transaction. */
function transactional(root, store) {
  const wrap = (f) =>
    function (...args) {
      store.begin();
      let ok = false;
      try {
        const result = f.apply(this, args);
        ok = true;
        return result;
      } finally {
        store.end(ok);
      }
    };
  const isClass = (f) => /^class\b/.test(Function.prototype.toString.call(f));
  for (const iface of new Set(Object.values(root))) {
    for (const [name, value] of Object.entries(iface)) {
      if (typeof value !== 'function') continue;
      if (!isClass(value)) {
        iface[name] = wrap(value);
        continue;
      }
      for (const target of [value, value.prototype]) {
        for (const key of Object.getOwnPropertyNames(target)) {
          const d = Object.getOwnPropertyDescriptor(target, key);
          if (key === 'constructor' || key === 'prototype' || typeof d.value !== 'function') continue;
          Object.defineProperty(target, key, { ...d, value: wrap(d.value) });
        }
      }
    }
  }
  return root;
}

/** The import object of a world: `clock`, and `http` and `store` where it has them. */
export function importsOf(world, options = {}) {
  const set = { types: {}, clock: options.clock ?? systemClock };
  if (world !== 'verifier') set.http = { send: options.send ?? noSend };
  let store;
  if (world === 'bridge') {
    const given = options.store ?? new Map();
    store = given instanceof Map ? mapStore(given) : { imports: given, begin() {}, end() {} };
    set.store = store.imports;
  }
  const imports = {};
  for (const [name, value] of Object.entries(set)) {
    imports[`${PACKAGE}/${name}`] = value;
    imports[`${PACKAGE}/${name}${VERSION}`] = value;
  }
  return { imports, store };
}

const compiled = new Map();

/** A core module of a transpiled world, compiled once per process. */
function coreModule(world, path) {
  const url = new URL(`../dist/${world}/${path}`, import.meta.url);
  let module = compiled.get(url.href);
  if (!module) {
    module = new WebAssembly.Module(readFileSync(url));
    compiled.set(url.href, module);
  }
  return module;
}

/**
 * Compiles a world's core modules now (they are otherwise compiled by its
 * first instantiation), so that a cold start can pay for it up front, once.
 */
export function compile(world) {
  const dist = new URL(`../dist/${world}/`, import.meta.url);
  for (const file of readdirSync(dist).filter((f) => f.endsWith('.wasm'))) coreModule(world, file);
}

/** Instantiates a transpiled world (`instantiate` from dist/<world>/<world>.js). */
export function load(world, instantiate, options = {}) {
  const { imports, store } = importsOf(world, options);
  const root = instantiate((path) => coreModule(world, path), imports);
  return store ? transactional(root, store) : root;
}
