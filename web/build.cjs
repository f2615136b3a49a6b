// Bundles and minifies the console with esbuild into OUTDIR (the first argument, else
// dist/): main-HASH.js, style-HASH.css and index.html naming them. The hashed names
// let scepterd tell browsers to keep them for a year; index.html is checked each time.
'use strict';
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

async function main() {
  const outdir = path.resolve(process.argv[2] || path.join(__dirname, 'dist'));
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.mkdirSync(outdir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [path.join(__dirname, 'src/main.js'), path.join(__dirname, 'src/style.css')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020'],
    entryNames: '[name]-[hash]',
    outdir,
    metafile: true,
    logLevel: 'warning',
  });
  const names = {};
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    if (out.entryPoint) names[path.basename(out.entryPoint)] = path.basename(file);
  }
  let html = fs.readFileSync(path.join(__dirname, 'src/index.html'), 'utf8');
  html = html.replace(/\{\{([a-z]+\.(?:js|css))\}\}/g, (_, name) => {
    if (!names[name]) throw new Error(`index.html names ${name}, which was not built`);
    return names[name];
  });
  fs.writeFileSync(path.join(outdir, 'index.html'), html);
}

main().catch((err) => {
  console.error(err.message || err);
  process.exit(1);
});
