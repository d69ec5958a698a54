// glbridge/client: every AI-agent API operation, typed, over an `http.send`
// you supply; the import-free `protocol` (build a request, send it with
// `fetch`, parse the answer, ask when to retry); and `webhooks`.
import { instantiate } from './dist/client/client.js';
import { compile as compileWorld, load } from './src/world.js';

export { systemClock } from './src/world.js';

/**
 * The `client` world, instantiated. `options.send(request)` answers each
 * request synchronously (`{status, headers, body}`, or throws
 * `{tag: 'timeout' | 'connection' | 'invalid-url', val}`); `options.clock`
 * replaces the system clock.
 */
export function client(options = {}) {
  return load('client', instantiate, options);
}

/**
 * Runs one operation with `fetch`: the component builds the request and
 * reads the answer, `fetch` sends it, and the component says when to try
 * again. Resolves with the answer's JSON text; rejects with an Error whose
 * `payload` is the typed error (`{tag: 'api', val}`, `{tag: 'transport', val}`, …).
 */
export async function callWithFetch(protocol, config, operation, params, { fetch: send = globalThis.fetch } = {}) {
  const text = typeof params === 'string' ? params : JSON.stringify(params ?? {});
  // The same request every attempt: built (and validated) once.
  const request = protocol.buildRequest(config, operation, text);
  for (let attempt = 1; ; attempt++) {
    let outcome;
    try {
      const answer = await send(request.url, {
        method: request.method.toUpperCase(),
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.timeout(request.timeoutMs),
      });
      outcome = {
        tag: 'ok',
        val: { status: answer.status, headers: [...answer.headers], body: new Uint8Array(await answer.arrayBuffer()) },
      };
    } catch (e) {
      const timeout = e?.name === 'TimeoutError' || e?.name === 'AbortError';
      outcome = { tag: 'err', val: timeout ? { tag: 'timeout' } : { tag: 'connection', val: String(e?.cause?.message ?? e?.message ?? e) } };
    }
    const delayNs = protocol.retryDelay(config, operation, text, attempt, outcome, Math.random());
    if (delayNs === undefined) {
      if (outcome.tag === 'err') {
        // Rejected as the component's own refusals are thrown: an Error whose
        // `payload` is the typed error.
        const reason = outcome.val.val ?? outcome.val.tag;
        throw Object.assign(new Error(`transport: ${reason}`), { payload: { tag: 'transport', val: reason } });
      }
      return protocol.parseResponse(operation, outcome.val);
    }
    await new Promise((resolve) => setTimeout(resolve, Number(delayNs / 1_000_000n)));
  }
}

/** Compiles the client world's core modules now, once per process (the first `client()` does it otherwise). */
export function compile() {
  compileWorld('client');
}
