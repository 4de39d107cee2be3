import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// The inbox's front-end (src/inbox/ui/, Preact) is bundled by esbuild in this process, in memory, the
// first time a page asks for it, and kept for the life of the process: a clean clone, `npm start` and
// the tests all serve it with no build step and no build output to commit or to go stale. Bundling
// takes a few tens of milliseconds, paid once per process by the first visitor.

const UI_DIR = fileURLToPath(new URL('./ui/', import.meta.url));

export interface Asset {
  body: Buffer;
  type: string;
}

export interface InboxAssets {
  'app.js': Asset;
  'app.css': Asset;
  'index.html': Asset;
}

let pending: Promise<InboxAssets> | undefined;

async function bundle(): Promise<InboxAssets> {
  const result = await build({
    entryPoints: [`${UI_DIR}main.tsx`],
    bundle: true,
    write: false,
    format: 'esm',
    target: ['es2022'],
    minify: true,
    sourcemap: false,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'silent',
    absWorkingDir: UI_DIR,
  });
  const js = result.outputFiles[0];
  if (!js) throw new Error('inbox bundle produced no JavaScript');
  const [css, html] = await Promise.all([readFile(`${UI_DIR}inbox.css`), readFile(`${UI_DIR}index.html`)]);
  return {
    'app.js': { body: Buffer.from(js.contents), type: 'text/javascript; charset=utf-8' },
    'app.css': { body: css, type: 'text/css; charset=utf-8' },
    'index.html': { body: html, type: 'text/html; charset=utf-8' },
  };
}

/** The bundled inbox; a failed build is not cached, so the next request tries again. */
export function inboxAssets(): Promise<InboxAssets> {
  pending ??= bundle().catch((err) => {
    pending = undefined;
    throw err;
  });
  return pending;
}
