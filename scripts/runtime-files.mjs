// What the runtime image carries: the agent's compiled code (dist/src without the local stack, dist/workers)
// and the build stamp, nothing of the local control plane, the sandbox API, tests or benches. The
// Dockerfile's build stage runs `node scripts/runtime-files.mjs /runtime` and the runtime stage copies
// /runtime/dist; test/meta/runtime-image.test.ts checks that the selection is self-contained.
//
// The dist/ layout itself is untouched: npm test, npm run demo and the benches keep using the full build.
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directories and files taken from the build, relative to the repository root. */
export const RUNTIME_ROOTS = ['dist/src', 'dist/workers', 'dist/build-info.json'];
/** Left out of those: the local stack (demo, control-plane, sandbox-api) and what only it needs (node-forge). */
export const LOCAL_STACK_DIR = 'dist/src/local';
const KEPT_EXTENSIONS = ['.js', '.json'];

function walk(root, path) {
  const full = join(root, path);
  if (!existsSync(full)) return [];
  const entries = readdirSync(full, { withFileTypes: true });
  return entries.flatMap((entry) => {
    const child = join(path, entry.name);
    if (entry.isDirectory()) return child.split(sep).join('/') === LOCAL_STACK_DIR ? [] : walk(root, child);
    return KEPT_EXTENSIONS.some((ext) => entry.name.endsWith(ext)) ? [child.split(sep).join('/')] : [];
  });
}

/** The runtime files of a built checkout at `root`, as sorted paths relative to it. */
export function runtimeFiles(root) {
  return RUNTIME_ROOTS.flatMap((path) => (path.endsWith('.json') ? (existsSync(join(root, path)) ? [path] : []) : walk(root, path))).sort();
}

/** Copies the runtime files of `root` into `destination`, keeping their paths. */
export function copyRuntimeFiles(root, destination) {
  const files = runtimeFiles(root);
  for (const file of files) {
    mkdirSync(dirname(join(destination, file)), { recursive: true });
    copyFileSync(join(root, file), join(destination, file));
  }
  return files;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const destination = process.argv[2];
  if (destination === undefined) {
    console.error('usage: node scripts/runtime-files.mjs DESTINATION');
    process.exit(2);
  }
  const root = fileURLToPath(new URL('../', import.meta.url));
  if (!existsSync(join(root, 'dist/src/cli.js'))) {
    console.error('error: no build in dist/ (run npm run build first)');
    process.exit(1);
  }
  const files = copyRuntimeFiles(root, destination);
  console.error(`copied ${files.length} runtime files to ${relative(process.cwd(), destination) || '.'}`);
}
