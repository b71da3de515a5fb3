// Writes dist/build-info.json (commit, build date) after `tsc -b`, so /version reports what a release was
// really built from. BUILD_COMMIT and BUILD_DATE override, for builds without .git (the Docker build).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

const ROOT = new URL('../', import.meta.url);
const OUT = new URL('dist/build-info.json', ROOT);
const RFC_3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const COMMIT = /^[\w.-]{1,100}$/;

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

function gitHead() {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
    const text = head.toString('utf8').trim();
    return COMMIT.test(text) ? text : 'unknown';
  } catch {
    // No git binary or no repository (a source tarball): the build still succeeds, unstamped.
    return 'unknown';
  }
}

function commitOf(env) {
  const given = env.BUILD_COMMIT?.trim();
  if (given === undefined || given === '') return gitHead();
  if (!COMMIT.test(given)) fail(`BUILD_COMMIT must be 1-100 letters, digits, ".", "_" or "-" (got "${given}")`);
  return given;
}

function buildDateOf(env) {
  const given = env.BUILD_DATE?.trim();
  // Whole seconds: the milliseconds of a build time mean nothing to a reader.
  if (given === undefined || given === '') return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (!RFC_3339.test(given) || Number.isNaN(Date.parse(given))) {
    fail(`BUILD_DATE must be an RFC 3339 time such as 2026-01-02T03:04:05Z (got "${given}")`);
  }
  return given;
}

const info = { commit: commitOf(process.env), build_date: buildDateOf(process.env) };
mkdirSync(new URL('dist/', ROOT), { recursive: true });
writeFileSync(OUT, `${JSON.stringify(info, null, 2)}\n`);
