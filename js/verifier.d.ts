import type { Root } from './dist/verifier/verifier.js';
import type { Clock } from './src/world.js';
export type { Clock } from './src/world.js';
export { systemClock } from './src/world.js';
export type * as Webhooks from './dist/verifier/interfaces/gradient-labs-bridge-webhooks.js';

export interface VerifierOptions {
  /** Replaces the system clock (for tests: a fake one). */
  clock?: Clock;
}
/** The `verifier` world, instantiated: `{ webhooks }`. */
export declare function verifier(options?: VerifierOptions): Root;
/** Compiles the verifier world's core modules now, once per process (the first `verifier()` does it otherwise). */
export declare function compile(): void;
