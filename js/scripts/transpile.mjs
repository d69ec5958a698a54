// Transpiles a component with jco (sync instantiation), the way a helpdesk
// developer would, then tunes its glue (scripts/tune.mjs): used by
// scripts/build.mjs for the package's `dist/`.
//
// jco is pinned to 1.16.1 (package-lock.json): from 1.17 on, jco emits glue
// for the component model's async tasks around every call, even for a
// synchronous component. Measured on Node 20 (BENCHMARKS.md, "The component
// in Node"): 1.35.0's glue makes a call that reaches an import up to twice
// as slow and an instantiation take ~0.6 s instead of ~1 ms, because each of
// its `WebAssembly.promising` probes throws on Node 20, which has no JSPI.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { transpile } from '@bytecodealliance/jco';
import { tune, tuneDeclarations } from './tune.mjs';

/** Writes the transpiled component `name` to `out`; returns its `.js` path. */
export async function transpileTo(component, out, name) {
  const { files } = await transpile(await readFile(component), {
    name,
    instantiation: 'sync',
    outDir: `${out}/`,
    quiet: true,
  });
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(dirname(path), { recursive: true });
    const glue = path === join(out, `${name}.js`);
    const text = () => new TextDecoder().decode(bytes);
    writeFileSync(path, glue ? tune(text(), path) : path.endsWith('.d.ts') ? tuneDeclarations(text()) : bytes);
  }
  return join(out, `${name}.js`);
}
