// glbridge/bridge: everything — the client, webhook ordering, the bridge
// core and the Gleap, Chatwoot and Zendesk adapters — over your `http.send`
// and a store (a `Map` unless you give one).
import { instantiate } from './dist/bridge/bridge.js';
import { compile as compileWorld, load } from './src/world.js';

export { systemClock, mapStore } from './src/world.js';

/**
 * The `bridge` world, instantiated. `options.send` as for `client`;
 * `options.store` is a `Map` (default: a new one) or an object with the
 * WIT `store` functions; every export call is one store transaction.
 */
export function bridge(options = {}) {
  return load('bridge', instantiate, options);
}

/** Compiles the bridge world's core modules now, once per process (the first `bridge()` does it otherwise). */
export function compile() {
  compileWorld('bridge');
}
