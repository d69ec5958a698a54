// Takes per-call work out of the glue jco 1.16.1 writes, which a
// synchronous component does not need; each change is checked against the
// text it replaces, so another jco release fails the build here instead of
// running untuned (scripts/bench.mjs measures the difference; BENCHMARKS.md).
//
// 1. `_debugLog` read `process.env.JCO_DEBUG` on every call (several times
//    per export call; an environment lookup in Node): now read once, when the
//    module loads. JCO_DEBUG set before start still logs.
// 2. Every call, export or import, built a task for the component model's
//    async machinery: an object with a dozen fields, a Promise and its
//    closures. Calls that are not async now share one task: the bookkeeping
//    (the stacks of current tasks) is unchanged, and nothing of a sync task
//    outlives its call.
// 3. Lowering a string encoded it into a fresh array and copied that in,
//    and spread it into an array to count its code points (which only async
//    string lowering reads): a short ASCII string (a key, a header) is now
//    written straight into the component's memory, and code points are
//    counted when read.
// 4. Lifting a string crossed into the TextDecoder for every one, however
//    short: a short one (an id, a type) is now read in JavaScript, a long
//    one still decoded by TextDecoder (which also replaces invalid UTF-8, as
//    before: a short one with a non-ASCII byte goes to it as well).
// 5. (Declarations) jco declares an export named after a JavaScript keyword
//    (`delete`) as a bare `function _delete(…)` in a .d.ts, which TypeScript
//    refuses (TS1046) unless a project skips checking libraries: it gets
//    its `declare`.
const patches = [
  {
    name: 'debug log',
    from: `const _debugLog = (...args) => {
  if (!globalThis?.process?.env?.JCO_DEBUG) { return; }
  console.debug(...args);
}`,
    to: `const _debugLog = globalThis?.process?.env?.JCO_DEBUG ? (...args) => { console.debug(...args); } : () => {};`,
  },
  {
    name: 'sync tasks',
    from: `  function createNewCurrentTask(args) {
    _debugLog('[createNewCurrentTask()] args', args);`,
    to: `  let SYNC_TASK;
  function createNewCurrentTask(args) {
    if (!args.isAsync) {
      SYNC_TASK ??= new AsyncTask({ componentIdx: args.componentIdx, isAsync: false, entryFnName: 'sync' });
      const meta = { id: SYNC_TASK.id(), componentIdx: args.componentIdx, task: SYNC_TASK };
      ASYNC_CURRENT_TASK_IDS.push(meta.id);
      ASYNC_CURRENT_COMPONENT_IDXS.push(args.componentIdx);
      const metas = ASYNC_TASKS_BY_COMPONENT_IDX.get(args.componentIdx);
      if (metas) metas.push(meta);
      else ASYNC_TASKS_BY_COMPONENT_IDX.set(args.componentIdx, [meta]);
      return [SYNC_TASK, meta.id];
    }
    _debugLog('[createNewCurrentTask()] args', args);`,
  },
  {
    name: 'string lowering',
    from: `    if (s.length === 0) { return { ptr: 1, len: 0 }; }
    let buf = TEXT_ENCODER_UTF8.encode(s);
    let ptr = realloc(0, 0, 1, buf.length);
    new Uint8Array(memory.buffer).set(buf, ptr);
    return { ptr, len: buf.length, codepoints: [...s].length };`,
    to: `    if (s.length === 0) { return { ptr: 1, len: 0 }; }
    const n = s.length;
    if (n <= 128) {
      let ascii = true;
      for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) { ascii = false; break; }
      if (ascii) {
        const ptr = realloc(0, 0, 1, n);
        const bytes = new Uint8Array(memory.buffer, ptr, n);
        for (let i = 0; i < n; i++) bytes[i] = s.charCodeAt(i);
        return { ptr, len: n, codepoints: n };
      }
    }
    let buf = TEXT_ENCODER_UTF8.encode(s);
    let ptr = realloc(0, 0, 1, buf.length);
    new Uint8Array(memory.buffer).set(buf, ptr);
    return { ptr, len: buf.length, get codepoints() { return [...s].length; } };`,
  },
  {
    name: 'string lifting',
    pattern: /TEXT_DECODER_UTF8\.decode\(new Uint8Array\(memory0\.buffer, (ptr\d+), (len\d+)\)\)/g,
    to: '_liftString(memory0, $1, $2)',
    helper: `  function _liftString(memory, ptr, len) {
    if (len <= 64) {
      const bytes = new Uint8Array(memory.buffer, ptr, len);
      let s = '';
      for (let i = 0; i < len; i++) {
        const b = bytes[i];
        if (b > 0x7f) return TEXT_DECODER_UTF8.decode(bytes);
        s += String.fromCharCode(b);
      }
      return s;
    }
    return TEXT_DECODER_UTF8.decode(new Uint8Array(memory.buffer, ptr, len));
  }
`,
    after: `  const TEXT_ENCODER_UTF8 = new TextEncoder();
`,
  },
];

/** The tuned glue; throws if the glue is not the one these changes were made for. */
export function tune(js, file) {
  if (!js.startsWith('"use jco";')) throw new Error(`${file}: not jco output`);
  const stale = (p, what) =>
    new Error(`${file}: the "${p.name}" change ${what}: is jco still 1.16.1 (package-lock.json)?`);
  for (const p of patches) {
    if (p.pattern) {
      if (!js.match(p.pattern)) throw stale(p, 'found nothing to change');
      js = js.replace(p.pattern, p.to);
      if (js.split(p.after).length !== 2) throw stale(p, 'found no place for its helper');
      js = js.replace(p.after, p.after + p.helper);
      continue;
    }
    const n = js.split(p.from).length - 1;
    if (n !== 1) throw stale(p, `expects its text once, found it ${n} times`);
    js = js.replace(p.from, p.to);
  }
  return js;
}

/** The declarations of an interface, fixed where jco leaves a bare `function` (change 5). */
export function tuneDeclarations(dts) {
  return dts.replace(/^function /gm, 'declare function ');
}
