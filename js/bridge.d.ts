import type { Root } from './dist/bridge/bridge.js';
import type { Request, Response } from './dist/bridge/interfaces/gradient-labs-bridge-http.js';
import type * as Store from './dist/bridge/interfaces/gradient-labs-bridge-store.js';
import type { Clock } from './src/world.js';
export type { Clock } from './src/world.js';
export { systemClock } from './src/world.js';

export interface BridgeOptions {
  /** Answers each request synchronously, or throws `{tag: 'timeout' | 'connection' | 'invalid-url', val}`. */
  send?: (request: Request) => Response;
  /** A `Map` of key → bytes (default: a new one), or the WIT `store` functions. */
  store?: Map<string, Uint8Array> | typeof Store;
  /** Replaces the system clock. */
  clock?: Clock;
}
/** The `bridge` world, instantiated; every export call is one store transaction. */
export declare function bridge(options?: BridgeOptions): Root;
/** The `store` import over a `Map`, one transaction per export call. */
export declare function mapStore(map?: Map<string, Uint8Array>): {
  map: Map<string, Uint8Array>;
  begin(): void;
  end(ok: boolean): void;
  imports: typeof Store;
};
/** Compiles the bridge world's core modules now, once per process (the first `bridge()` does it otherwise). */
export declare function compile(): void;
