// Builds the package's `dist/`: each world's component (components/*.wasm)
// transpiled by the pinned jco into dist/<world>/, with its TypeScript
// declarations. The components come from the repository's `glbridge`
// binary when one is built (GLBRIDGE_BIN, else target/debug or
// target/release, the newest), else from files already in components/.
//
//   node scripts/build.mjs          (npm run build; npm test and npm pack run it)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WORLDS = ['verifier', 'client', 'bridge'];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const repo = join(root, '..');

function newest(paths) {
  return paths
    .filter((p) => p && existsSync(p))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

function binary() {
  if (process.env.GLBRIDGE_BIN) {
    if (!existsSync(process.env.GLBRIDGE_BIN)) fail(`GLBRIDGE_BIN=${process.env.GLBRIDGE_BIN} does not exist.`);
    return process.env.GLBRIDGE_BIN;
  }
  return newest(['debug', 'release'].map((p) => join(repo, 'target', p, 'glbridge')));
}

function fail(message) {
  console.error(`glbridge (js): ${message}`);
  process.exit(1);
}

const components = join(root, 'components');
const bin = binary();
if (bin) {
  mkdirSync(components, { recursive: true });
  for (const world of WORLDS) {
    const out = join(components, `${world}.wasm`);
    // Only when the binary is newer: the components are what it embeds.
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(bin).mtimeMs) continue;
    execFileSync(bin, ['component', '--world', world, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}
const missing = WORLDS.map((w) => join(components, `${w}.wasm`)).filter((p) => !existsSync(p));
if (missing.length > 0) {
  fail(
    `the components are not built: ${missing.map((p) => relative(process.cwd(), p)).join(', ')} ` +
      `missing, and no glbridge binary was found.\n` +
      `  From the repository's root, build it:   cargo build -p glbridge-cli\n` +
      `  then run this again (it writes js/components/ with target/debug/glbridge).\n` +
      `  Or write each one yourself:              glbridge component --world <verifier|client|bridge> --out js/components/<world>.wasm\n` +
      `  (GLBRIDGE_BIN=<path> picks another glbridge binary.)`,
  );
}
for (const world of WORLDS) {
  const component = join(components, `${world}.wasm`);
  const out = join(root, 'dist', world);
  const js = join(out, `${world}.js`);
  if (existsSync(js) && statSync(js).mtimeMs >= statSync(component).mtimeMs) continue;
  rmSync(out, { recursive: true, force: true });
  // jco is loaded only now, so a missing component is reported first.
  const { transpileTo } = await import('./transpile.mjs');
  await transpileTo(component, out, world);
  console.error(`glbridge (js): dist/${world} from ${relative(process.cwd(), component)} (${statSync(component).size} bytes)`);
}
