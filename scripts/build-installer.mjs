// Builds the released install.sh and uninstall.sh: each with the helpers of scripts/lib/ inlined and
// the manifests of this release (deploy/base, deploy/components, deploy/monitoring) embedded as quoted
// heredocs, so that `curl -fsSL <release url>/install.sh | bash` works from an empty directory and always
// installs the manifests of the script's own version. docs/decisions.md says why embedding.
//
//   node scripts/build-installer.mjs [DESTINATION]    (default dist/release)
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** What the released scripts carry, relative to the repository root. */
export const EMBEDDED_DIRS = ['deploy/base', 'deploy/components', 'deploy/monitoring'];
export const SCRIPTS = ['install.sh', 'uninstall.sh'];
/** Sourced by both scripts from a checkout, in this order; inlined in their place at release time. */
export const HELPERS = ['scripts/lib/installer-common.sh', 'scripts/lib/monitoring-stack.sh'];
const DELIMITER = 'PIPEOPS_EMBEDDED_MANIFEST';

function filesUnder(dir) {
  return readdirSync(join(ROOT, dir))
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(join(ROOT, path)).isDirectory() ? filesUnder(path) : [path.split(sep).join('/')];
    });
}

/** Replaces the lines from `# @<name>-begin` to `# @<name>-end` (both included) with `replacement`. */
function replaceRegion(text, name, replacement, script) {
  const pattern = new RegExp(`^# @${name}-begin\\n[^]*?^# @${name}-end\\n`, 'm');
  if (!pattern.test(text)) throw new Error(`${script}: no # @${name}-begin … # @${name}-end region`);
  return text.replace(pattern, () => replacement);
}

function embeddedDeploy(release) {
  const lines = [
    `# The manifests of release ${release}, embedded by scripts/build-installer.mjs.`,
    `EMBEDDED_RELEASE=${release}`,
    'write_embedded_deploy() {',
    '  local dir=$1',
  ];
  const files = EMBEDDED_DIRS.flatMap(filesUnder);
  const dirs = [...new Set(files.map((file) => file.slice('deploy/'.length).split('/').slice(0, -1).join('/')))];
  lines.push(`  mkdir -p ${dirs.map((dir) => `"$dir/${dir}"`).join(' ')}`);
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    if (text.split('\n').includes(DELIMITER)) throw new Error(`${file} contains the heredoc delimiter line`);
    const body = text.endsWith('\n') ? text : `${text}\n`;
    lines.push(`  cat >"$dir/${file.slice('deploy/'.length)}" <<'${DELIMITER}'`, `${body}${DELIMITER}`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** The released text of one script. */
export function buildScript(script) {
  const release = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  const helpers = HELPERS.map((path) => `# ${path}, inlined at release time.\n${readFileSync(join(ROOT, path), 'utf8')}`).join('\n');
  let text = readFileSync(join(ROOT, 'scripts', script), 'utf8');
  text = replaceRegion(text, 'installer-common', helpers, script);
  text = replaceRegion(text, 'embedded-deploy', embeddedDeploy(release), script);
  return text;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const destination = process.argv[2] ?? join(ROOT, 'dist/release');
  mkdirSync(destination, { recursive: true });
  for (const script of SCRIPTS) {
    writeFileSync(join(destination, script), buildScript(script), { mode: 0o755 });
  }
  console.error(`wrote ${SCRIPTS.join(', ')} to ${relative(process.cwd(), destination) || '.'}`);
}
