// The user docs a new user starts from (issue 13): the README points at the kubectl guide, the
// troubleshooting page and the installer; docs/kubectl.md covers every session command and the kubectl
// versions, quoting the refusal the local control plane really sends; troubleshooting.md says application
// WebSockets are supported, with the agent's real error text; the monitoring chart versions are written
// down in one file only; and every relative link in the docs resolves.

import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { SPDY_REFUSAL_MESSAGE } from '../../src/local/control-plane/session-endpoint.js';

// dist/test/meta/ → repo root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
/** Markdown text as one line per paragraph, so wrapped sentences can be matched. */
const flat = (text: string): string => text.replace(/\s*\n\s*/g, ' ');

test('the README points at the kubectl guide, troubleshooting and the piped installer', (t) => {
  const readme = read('README.md');
  for (const link of ['(docs/kubectl.md)', '(docs/troubleshooting.md)', '(docs/install.md)', '(docs/decisions.md)']) t.true(readme.includes(link), link);
  t.regex(readme, /curl -fsSL <release url>\/install\.sh \| bash/);
  t.regex(readme, /CONTROL_PLANE_ACCESS=none/);
});

test('docs/kubectl.md covers exec -it, attach, cp, port-forward, logs -f and watches, and the WebSocket versions', (t) => {
  const guide = read('docs/kubectl.md');
  for (const command of ['kubectl exec -it', 'kubectl attach -it', 'kubectl cp ', 'kubectl port-forward', 'kubectl logs -f', 'kubectl get pods -w']) {
    t.true(guide.includes(command), command);
  }
  t.regex(guide, /\| `exec`, `attach`, `cp` \| kubectl 1\.30 \| `KUBECTL_REMOTE_COMMAND_WEBSOCKETS` \|/);
  t.regex(guide, /\| `port-forward` \| kubectl 1\.31 \| `KUBECTL_PORT_FORWARD_WEBSOCKETS` \|/);
  // what the user sees is the message the local control plane really sends
  t.true(flat(guide).includes(SPDY_REFUSAL_MESSAGE), 'the SPDY refusal quoted verbatim');
  t.regex(flat(guide), /Application WebSockets are supported/);
});

test('troubleshooting.md says application WebSockets are supported, with the agent\'s own error text', (t) => {
  const page = flat(read('docs/troubleshooting.md'));
  t.notRegex(page, /not supported by this agent/);
  t.regex(page, /\*\*Application WebSockets\*\* \([^)]*\) are supported/);
  const relay = read('workers/lib/app-relay.ts');
  t.regex(relay, /`failed to connect to service WebSocket: /);
  t.true(page.includes('`failed to connect to service WebSocket: …`'));
  t.true(page.includes('(kubectl.md#which-kubectl-versions-work)'));
});

test('docs/install.md explains both control-plane access installs and both monitoring switches', (t) => {
  const guide = flat(read('docs/install.md'));
  for (const text of ['## Control-plane access', 'CONTROL_PLANE_ACCESS=none', 'deploy/overlays/least-privilege', '`DISABLE_MONITORING`', '`INSTALL_MONITORING`', 'deploy/monitoring/chart-versions.env', 'curl -fsSL <release url>/install.sh | bash', 'kubectl -n pipeops-system get pods']) {
    t.true(guide.includes(text), text);
  }
});

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

test('the monitoring chart versions are written down in chart-versions.env and nowhere else', (t) => {
  const pins = read('deploy/monitoring/chart-versions.env')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => line.split('=')[1] ?? '');
  t.is(pins.length, 3);
  const files = ['README.md', ...filesUnder('docs'), ...filesUnder('deploy'), ...filesUnder('scripts')].filter((file) => !file.endsWith('chart-versions.env'));
  for (const pin of pins) {
    const holders = files.filter((file) => read(file).includes(pin));
    t.deepEqual(holders, [], pin);
  }
});

test('every relative link in the README and docs/ resolves to a file', (t) => {
  const broken: string[] = [];
  for (const file of ['README.md', ...filesUnder('docs').filter((path) => path.endsWith('.md'))]) {
    for (const [, target = ''] of read(file).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      if (!existsSync(join(ROOT, dirname(file), target))) broken.push(`${file} → ${target}`);
    }
  }
  t.deepEqual(broken, []);
});
