// Node figures for BENCHMARKS.md: verify + parse of a signed 1 KiB
// agent.message, with `now` given and with the time from the `clock`
// import, and the time to instantiate a world. Each figure is taken in
// several separate Node processes (V8 compiles and tiers each one anew), and
// reported as the median of the processes with their spread.
//
//   node scripts/bench.mjs [--world verifier|client|bridge] [--processes 5]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const world = option('world', 'verifier');
const processes = Number(option('processes', '5'));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (args.includes('--child')) {
  const { performance } = await import('node:perf_hooks');
  // A cold start, step by step: loading the JavaScript glue, compiling the
  // core modules (`compile()`), the first instantiation, and the next ones.
  const t0 = performance.now();
  const entry = await import(`../${world}.js`);
  const load = entry[world];
  const t1 = performance.now();
  entry.compile();
  const t2 = performance.now();
  const root = load();
  const t3 = performance.now();
  const again = [];
  for (let i = 0; i < 20; i++) {
    const s = performance.now();
    load();
    again.push(performance.now() - s);
  }
  const [importMs, compileMs, first] = [t1 - t0, t2 - t1, t3 - t2];
  const { webhooks } = root;
  const key = 'whsec_bench';
  let text = JSON.stringify({
    id: 'webhook_01', type: 'agent.message', sequence_number: 1, timestamp: new Date().toISOString(),
    data: { conversation: { id: 'c-1', customer_id: 'u-1' }, body: '' },
  });
  text = text.replace('"body":""', `"body":"${'x'.repeat(1024 - text.length)}"`);
  const body = new TextEncoder().encode(text);
  const header = webhooks.sign(key, BigInt(Math.floor(Date.now() / 1000)), body);
  const now = BigInt(Date.now()) * 1_000_000n;
  // Warm up well past V8's tier-up to TurboFan, then the median of 9
  // rounds of n calls.
  const time = (n, f) => {
    for (let i = 0; i < 5 * n; i++) f();
    const rounds = [];
    for (let r = 0; r < 9; r++) {
      const s = process.hrtime.bigint();
      for (let i = 0; i < n; i++) f();
      rounds.push(Number(process.hrtime.bigint() - s) / 1000 / n);
    }
    return median(rounds);
  };
  const given = time(20000, () => webhooks.verifyAndParse(key, header, undefined, body, now, undefined));
  const clock = time(20000, () => webhooks.verifyAndParse(key, header, undefined, body, undefined, undefined));
  console.log(JSON.stringify({ bytes: body.length, given, clock, importMs, compileMs, first, again: median(again) }));
} else {
  const self = fileURLToPath(import.meta.url);
  const runs = [];
  for (let p = 0; p < processes; p++) {
    const out = execFileSync(process.execPath, [self, '--child', '--world', world], { encoding: 'utf8' });
    const r = JSON.parse(out);
    runs.push(r);
    console.log(
      `process ${p + 1}: verify + parse ${r.given.toFixed(2)} µs (now given), ${r.clock.toFixed(2)} µs (clock import); ` +
        `load glue ${r.importMs.toFixed(2)} ms, compile ${r.compileMs.toFixed(2)} ms, instantiate ${r.first.toFixed(2)} ms first, ${r.again.toFixed(3)} ms after`,
    );
  }
  const line = (label, xs, unit, digits) =>
    console.log(`${label}: median ${median(xs).toFixed(digits)} ${unit} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`);
  console.log(`\n${world} world, ${runs[0].bytes}-byte agent.message, Node ${process.version}, ${processes} processes:`);
  line('verify + parse, now given   ', runs.map((r) => r.given), 'µs', 2);
  line('verify + parse, clock import', runs.map((r) => r.clock), 'µs', 2);
  line('load the JavaScript glue    ', runs.map((r) => r.importMs), 'ms', 2);
  line('compile the core modules    ', runs.map((r) => r.compileMs), 'ms', 2);
  line('instantiate, first          ', runs.map((r) => r.first), 'ms', 2);
  line('instantiate, again          ', runs.map((r) => r.again), 'ms', 3);
}
