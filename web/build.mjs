// Builds the page into functions/web/static/ (committed, so neither CI nor `sam build`
// needs npm): one JS and one CSS bundle named by content hash, index.html pointing at
// them, and the licence of the bundled library. Same lockfile, same bytes.
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, '..', 'functions', 'web', 'static');

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
const result = await build({
  absWorkingDir: here,
  entryPoints: ['src/main.js'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  entryNames: 'app-[hash]',
  outdir: out,
  metafile: true,
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
const js = outputs.find((file) => file.endsWith('.js'));
const css = outputs.find((file) => file.endsWith('.css'));
const page = (await readFile(join(here, 'index.html'), 'utf8')).replace('{{js}}', js).replace('{{css}}', css);
await writeFile(join(out, 'index.html'), page);
const licence = await readFile(join(here, 'node_modules', 'uplot', 'LICENSE'), 'utf8');
await writeFile(join(out, 'THIRD-PARTY-LICENSES.txt'),
  `The page bundles uPlot (https://github.com/leeoniya/uPlot), under this licence:\n\n${licence}`);
console.log(`built ${(await readdir(out)).sort().join(', ')} into ${out}`);
