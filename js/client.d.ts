import type { Root } from './dist/client/client.js';
import type { Request, Response } from './dist/client/interfaces/gradient-labs-bridge-http.js';
import type { Config } from './dist/client/interfaces/gradient-labs-bridge-client.js';
import type { Clock } from './src/world.js';
export type { Clock } from './src/world.js';
export { systemClock } from './src/world.js';
export type * as Http from './dist/client/interfaces/gradient-labs-bridge-http.js';
export type * as Protocol from './dist/client/interfaces/gradient-labs-bridge-protocol.js';
export type * as Webhooks from './dist/client/interfaces/gradient-labs-bridge-webhooks.js';

export interface ClientOptions {
  /** Answers each request synchronously, or throws `{tag: 'timeout' | 'connection' | 'invalid-url', val}`. */
  send?: (request: Request) => Response;
  /** Replaces the system clock. */
  clock?: Clock;
}
/** The `client` world, instantiated. */
export declare function client(options?: ClientOptions): Root;
/** Runs one operation with `fetch`: resolves with the answer's JSON text, rejects with an Error whose `payload` is the typed error. */
export declare function callWithFetch(
  protocol: Root['protocol'],
  config: Config,
  operation: string,
  params?: string | object,
  options?: { fetch?: typeof globalThis.fetch },
): Promise<string>;
/** Compiles the client world's core modules now, once per process (the first `client()` does it otherwise). */
export declare function compile(): void;
