// glbridge/verifier: verify, parse and sign the AI agent's webhooks.
//
//   import { verifier } from 'glbridge/verifier';
//   const { webhooks } = verifier();
//   const event = webhooks.verifyAndParse(signingKey, headers['x-gradientlabs-signature'], undefined, body);
import { instantiate } from './dist/verifier/verifier.js';
import { compile as compileWorld, load } from './src/world.js';

export { systemClock } from './src/world.js';

/** The `verifier` world, instantiated: `{ webhooks }`. `options.clock` replaces the system clock. */
export function verifier(options = {}) {
  return load('verifier', instantiate, options);
}

/** Compiles the verifier world's core modules now, once per process (the first `verifier()` does it otherwise). */
export function compile() {
  compileWorld('verifier');
}
