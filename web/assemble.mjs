// Assembles web/dist from wasm-bindgen's glue and the optimised wasm (called by scripts/build-web).
//
// The page's CSP says connect-src 'none', so wasm-bindgen's default start-up (fetch the .wasm by
// URL) is blocked. boot.js therefore carries the module and passes the bytes to init. The module
// is deflated first and inflated by the browser's DecompressionStream (no network involved): base64
// of raw wasm gzips a third worse than the wasm, base64 of deflated wasm costs almost nothing.
// Zopfli writes that deflate stream 5% smaller than zlib -9 (any inflater reads it).
// The JavaScript (wasm-bindgen's glue, the start-up) is minified with terser: a fifth less gzip.
// The single-file build inlines the CSS, the glue and the bytes; its CSP allows exactly that inline
// script by its SHA-256 hash.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync, inflateRawSync } from 'node:zlib';

const [glueFile, wasmFile, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node assemble.mjs GLUE.js MODULE.wasm OUT_DIR');
  process.exit(2);
}
const webDir = dirname(fileURLToPath(import.meta.url));
const html = readFileSync(join(webDir, 'index.html'), 'utf8');
const css = readFileSync(join(webDir, 'style.css'), 'utf8');
const glue = readFileSync(glueFile, 'utf8');
const wasm = readFileSync(wasmFile);

// The build tools live in tests/browser's node_modules (pinned by its package-lock.json).
const requireTool = createRequire(join(webDir, '../tests/browser/package.json'));
const zopfli = requireTool('@gfx/zopfli');
const { minify } = requireTool('terser');
const minified = async (code) => (await minify(code, { module: true, compress: { passes: 2 } })).code;
const deflated = Buffer.from(await promisify(zopfli.deflate)(wasm, {}));
if (!inflateRawSync(deflated).equals(wasm)) {
  throw new Error('zopfli output does not inflate to the wasm');
}
const packed = deflated.toString('base64');
const decode = `const packed = ${JSON.stringify(packed)};
const deflated = Uint8Array.fromBase64
  ? Uint8Array.fromBase64(packed)
  : Uint8Array.from(atob(packed), (c) => c.charCodeAt(0));
const wasmBytes = await new Response(
  new Blob([deflated]).stream().pipeThrough(new DecompressionStream('deflate-raw')),
).arrayBuffer();
performance.mark('wasm-inflated');`;

const boot = await minified(`import init from './web.js';
${decode}
await init({ module_or_path: wasmBytes });
`);

// The glue as a plain module body: its exports are not needed when it is inlined.
const exportList = /^export \{[^}]*\};?\s*$/m;
if (!exportList.test(glue)) {
  throw new Error('wasm-bindgen glue has no `export { … }` list: update assemble.mjs');
}
const inlineGlue = glue.replace(exportList, '').replace(/^export (?=(async )?function |class |const |let )/gm, '');
const inlineScript = await minified(`
${inlineGlue}
${decode}
await __wbg_init({ module_or_path: wasmBytes });
`);
if (/<\/script|<!--/i.test(inlineScript)) {
  throw new Error('the inline script contains </script or <!--, which would end it early');
}
const scriptHash = createHash('sha256').update(inlineScript, 'utf8').digest('base64');

const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/;
if (!csp.test(html) || !html.includes('<link rel="stylesheet" href="style.css">') || !html.includes('<script type="module" src="boot.js"></script>') || !html.includes('<link rel="modulepreload" href="web.js">\n')) {
  throw new Error('web/index.html changed shape: update assemble.mjs');
}
const single = html
  .replace(csp, (_, policy) => `<meta http-equiv="Content-Security-Policy" content="${policy.replace("script-src 'self'", `script-src 'sha256-${scriptHash}'`)}">`)
  .replace('<link rel="stylesheet" href="style.css">', () => `<style>\n${css}</style>`)
  .replace('<link rel="modulepreload" href="web.js">\n', '')
  .replace('<script type="module" src="boot.js"></script>', () => `<script type="module">${inlineScript}</script>`);

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const files = {
  'index.html': html,
  'style.css': css,
  'web.js': await minified(glue),
  'boot.js': boot,
  'web_bg.wasm': wasm,
  'astro-upgrade-planner.html': single,
};
for (const [name, content] of Object.entries(files)) {
  writeFileSync(join(outDir, name), content);
}

const gz = (content) => gzipSync(content, { level: 9 }).length;
const transfer = ['index.html', 'style.css', 'web.js', 'boot.js'];
const total = transfer.reduce((sum, name) => sum + gz(files[name]), 0);
console.log(`web/dist: ${transfer.map((name) => `${name} ${gz(files[name])} B`).join(', ')} (gzip -9)`);
console.log(`web/dist: page transfer ${total} B gzip -9 (${(total / 1024).toFixed(1)} KiB); the wasm alone ${wasm.length} B raw, ${gz(wasm)} B gzip -9`);
console.log(`web/dist: astro-upgrade-planner.html ${Buffer.byteLength(single)} B raw, ${gz(single)} B gzip -9`);
