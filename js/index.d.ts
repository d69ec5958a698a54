export { verifier } from './verifier.js';
export { client, callWithFetch } from './client.js';
export { bridge, mapStore, systemClock } from './bridge.js';
export type { Clock } from './src/world.js';
