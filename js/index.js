// glbridge: one entry point per world; import the one you need
// (glbridge/verifier, glbridge/client, glbridge/bridge) to load only it.
export { verifier } from './verifier.js';
export { client, callWithFetch } from './client.js';
export { bridge, mapStore, systemClock } from './bridge.js';
