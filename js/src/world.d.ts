/** The `clock` import: nanoseconds since the Unix epoch; `sleep` blocks. */
export interface Clock {
  now(): bigint;
  sleep(ns: bigint): void;
}
/** The system clock. */
export declare const systemClock: Clock;
