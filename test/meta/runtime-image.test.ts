// The runtime image carries only the agent (issue 13): the Dockerfile copies what scripts/runtime-files.mjs
// selects, that selection holds nothing of the local stack, every import in it resolves inside it or to a
// production dependency, and node-forge (the local stack's certificate library) is a dev dependency that
// `npm ci --omit=dev` leaves out. There is no container engine here, so the selection is checked on the
// build in dist/ and run from a copy of it.

import { spawn } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

// dist/test/meta/ → repo root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const LOCK = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dependencies?: Record<string, string>; devDependencies?: Record<string, string>; dev?: boolean }> };
const CHILD_TIMEOUT_MS = 30_000;

interface RuntimeFilesModule {
  runtimeFiles(root: string): string[];
  copyRuntimeFiles(root: string, destination: string): string[];
}
const { runtimeFiles, copyRuntimeFiles } = (await import(join(ROOT, 'scripts', 'runtime-files.mjs'))) as RuntimeFilesModule;
const FILES = runtimeFiles(ROOT);

/** The lines of one stage of the Dockerfile. */
function stage(name: string): string[] {
  const [, body = ''] = DOCKERFILE.split(new RegExp(`^FROM \\S+ AS ${name}$`, 'm'));
  return body.split(/^FROM /m)[0]!.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

/** Module specifiers of static imports, re-exports and dynamic imports with a literal argument. */
function importsOf(file: string): { readonly specifier: string; readonly isDynamic: boolean }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const statics = [...text.matchAll(/^(?:import|export)\s(?:[^;'"]*?\sfrom\s)?['"]([^'"]+)['"]/gm)].map((m) => ({ specifier: m[1]!, isDynamic: false }));
  const dynamics = [...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => ({ specifier: m[1]!, isDynamic: true }));
  return [...statics, ...dynamics];
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

test.serial('the Dockerfile builds the selection and the runtime stage copies nothing else from the build', (t) => {
  const build = stage('build');
  t.true(build.some((line) => /^RUN npm run build && node scripts\/runtime-files\.mjs \/runtime$/.test(line)), build.join('\n'));
  const runtime = stage('runtime');
  const copies = runtime.filter((line) => line.startsWith('COPY --from=build'));
  t.deepEqual(copies, ['COPY --from=build /runtime/dist ./dist']);
  t.true(runtime.some((line) => /^RUN npm ci --omit=dev\b/.test(line)));
  // only the manifests come from the context: no source, test or bench directory
  t.deepEqual(runtime.filter((line) => line.startsWith('COPY') && !line.startsWith('COPY --from=build')), ['COPY package.json package-lock.json ./']);
  t.regex(DOCKERFILE, /^CMD \["node", "dist\/src\/cli\.js", "run"\]$/m);
});

test.serial('the selection is the agent: entry points and workers in, the local stack, tests and benches out', (t) => {
  for (const file of ['dist/src/cli.js', 'dist/src/run-command.js', 'dist/src/agent.js', 'dist/workers/http-relay.js', 'dist/workers/ws-session.js', 'dist/build-info.json']) {
    t.true(FILES.includes(file), file);
  }
  t.deepEqual(FILES.filter((file) => !/^dist\/(src|workers)\//.test(file) && file !== 'dist/build-info.json'), []);
  t.deepEqual(FILES.filter((file) => file.startsWith('dist/src/local/')), []);
  t.deepEqual(FILES.filter((file) => file.endsWith('.map')), []);
});

test.serial('every import of the selection resolves inside it or to a production dependency; none reaches node-forge', (t) => {
  const selected = new Set(FILES);
  const production = new Set(Object.keys(PACKAGE.dependencies));
  const builtins = new Set(builtinModules);
  const offending: string[] = [];
  for (const file of FILES.filter((f) => f.endsWith('.js'))) {
    for (const { specifier, isDynamic } of importsOf(file)) {
      if (specifier.startsWith('.')) {
        const target = posix.normalize(posix.join(posix.dirname(file), specifier));
        // cli.js loads the local commands on demand and says so when they are absent
        const isGuardedLocal = isDynamic && file === 'dist/src/cli.js' && target.startsWith('dist/src/local/');
        if (!selected.has(target) && !isGuardedLocal) offending.push(`${file} → ${specifier}`);
      } else if (!specifier.startsWith('node:') && !builtins.has(specifier) && !production.has(packageOf(specifier))) {
        offending.push(`${file} → ${specifier}`);
      }
    }
  }
  t.deepEqual(offending, []);
  t.true(FILES.length > 50, 'the check saw the whole agent');
});

test.serial('node-forge is a dev dependency, so `npm ci --omit=dev` leaves it out of the image', (t) => {
  t.is(PACKAGE.dependencies['node-forge'], undefined);
  t.truthy(PACKAGE.devDependencies['node-forge']);
  t.is(LOCK.packages['']?.dependencies?.['node-forge'], undefined);
  t.truthy(LOCK.packages['']?.devDependencies?.['node-forge']);
  t.true(LOCK.packages['node_modules/node-forge']?.dev);
  // and only the local stack imports it
  const users = readFileSync(join(ROOT, 'dist/src/local/tls/local-ca.js'), 'utf8');
  t.regex(users, /from 'node-forge'/);
});

function run(cwd: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/src/cli.js', ...args], { cwd, env: { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test.serial('a copy of the selection runs the agent commands and says the local stack is not in it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'runtime-image-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  copyRuntimeFiles(ROOT, dir);
  writeFileSync(join(dir, 'package.json'), readFileSync(join(ROOT, 'package.json')));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');

  const help = await run(dir, ['run', '--help']);
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /PIPEOPS_API_URL/);
  const config = await run(dir, ['run']);
  t.is(config.code, 2);
  t.regex(config.stderr, /^Invalid configuration/);
  for (const command of ['demo', 'control-plane', 'sandbox-api']) {
    const result = await run(dir, [command]);
    t.is(result.code, 1, command);
    t.is(result.stderr, `pipeops-agent: "${command}" is part of the local stack, which this build leaves out; run it from a clone (npm run demo)\n`);
  }
  t.true(dirname(join(dir, 'dist/src/cli.js')).startsWith(dir));
});
