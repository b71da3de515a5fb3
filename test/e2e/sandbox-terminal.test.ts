// `kubectl exec -it` as a person runs it: the real kubectl in a real terminal (tmux), through the local
// control plane and the agent to the sandbox, whose tty exec runs the shell on a pseudo-terminal. Keys
// are typed with send-keys and the screen is read back: the prompt, the remote echo of what is typed
// (kubectl puts the local terminal in raw mode, so only the remote side echoes), a command's output,
// `stty size` equal to the terminal's, a resize reaching the remote terminal, ^C interrupting the
// foreground job, job control, and the exit code of the session. Also `kubectl run -it --rm`: the pod's
// shell runs on a terminal from its start and attach joins it.

import test from 'ava';
import { eventually } from '../helpers/eventually.js';
import { KUBECTL } from '../helpers/kubectl.js';
import { startDemoStack } from '../helpers/demo-stack.js';
import { hasTmux, startTmux, TMUX } from '../helpers/tmux-terminal.js';

/** A shell prompt at the end of the screen (root's `# ` from dash, `$ ` otherwise; trailing blanks are dropped). */
const PROMPT_AT_END = /(?:^|\n)[#$]$/;

test('kubectl exec -it demo -- sh in a real terminal: prompt, echo, output, size, resize, ^C, jobs, exit code', async (t) => {
  t.true(hasTmux(), `${TMUX} is required (Debian package tmux; .ci/run installs it)`);
  const stack = await startDemoStack(t);
  const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;
  // after kubectl exits the pane stays, showing its exit code
  const command = `env HOME=${shellQuote(stack.dir)} KUBECONFIG=${shellQuote(stack.kubeconfig)} ${KUBECTL} exec -it demo -- sh; echo "[kubectl exit $?]"`;
  const term = await startTmux(t, stack.dir, command, { cols: 100, rows: 30 });

  await term.waitFor(PROMPT_AT_END);
  t.is((await term.screen()).includes("can't access tty"), false, 'the shell has a controlling terminal');

  // what is typed comes back only through the remote echo; the command's output follows on its own line
  await term.type('echo hello-$((6 * 7))');
  await term.waitFor(/echo hello-\$\(\(6 \* 7\)\)$/m);
  await term.send('Enter');
  await term.waitFor(/^hello-42$/m);

  await term.type('tty; stty size');
  await term.send('Enter');
  const initialSize = await term.size();
  t.is(initialSize, '30 100');
  await term.waitFor(/^\/dev\/pts\/\d+\n30 100$/m);

  // the window grows: kubectl sees SIGWINCH and sends the new size on channel 4
  await term.resize(120, 40);
  t.is(await term.size(), '40 120');
  let resized = false;
  for (let attempt = 0; attempt < 40 && !resized; attempt += 1) {
    await term.type(`echo size-${attempt}=$(stty size)`);
    await term.send('Enter');
    const screen = await term.waitFor(new RegExp(`^size-${attempt}=\\d+ \\d+$`, 'm'));
    resized = new RegExp(`^size-${attempt}=40 120$`, 'm').test(screen);
    if (!resized) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.true(resized, 'stty size reports the resized terminal');

  // ^C reaches the foreground process as SIGINT (128 + 2), and the shell survives it
  await term.type('sleep 300');
  await term.send('Enter');
  await term.waitFor(/sleep 300$/m);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await term.send('C-c');
  await term.waitFor(PROMPT_AT_END);
  await term.type('echo after-interrupt=$?');
  await term.send('Enter');
  await term.waitFor(/^after-interrupt=130$/m);

  // job control: a background job is listed and can be killed by its job number
  await term.type('sleep 301 &');
  await term.send('Enter');
  await term.type('jobs');
  await term.send('Enter');
  await term.waitFor(/^\[1\]\s*\+?\s*Running\s+sleep 301$/m);
  await term.type('kill %1; wait; echo killed-job');
  await term.send('Enter');
  await term.waitFor(/^killed-job$/m);

  await term.type('exit 7');
  await term.send('Enter');
  const final = await term.waitFor(/^\[kubectl exit \d+\]$/m);
  t.regex(final, /command terminated with exit code 7/);
  t.regex(final, /^\[kubectl exit 7\]$/m);
  await eventually(() => stack.sandbox.activeStreamSessions() === 0, 'the exec session is over');
});


test('kubectl run -it --rm with a shell: attach joins its terminal, the session ends with exit, the pod is removed', async (t) => {
  t.true(hasTmux(), `${TMUX} is required (Debian package tmux; .ci/run installs it)`);
  const stack = await startDemoStack(t);
  const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;
  const env = `env HOME=${shellQuote(stack.dir)} KUBECONFIG=${shellQuote(stack.kubeconfig)}`;
  const command = `${env} ${KUBECTL} run -it --rm shell --image=busybox --restart=Never -- sh; echo "[kubectl exit $?]"`;
  const term = await startTmux(t, stack.dir, command, { cols: 100, rows: 30 });

  // the shell printed its prompt before kubectl attached, as in a real cluster; Enter brings a new one
  await term.waitFor(/If you don't see a command prompt, try pressing enter\./);
  await term.send('Enter');
  await term.waitFor(PROMPT_AT_END);
  await term.type('echo in-pod-$((40 + 2)) $HOSTNAME');
  await term.waitFor(/echo in-pod-\$\(\(40 \+ 2\)\) \$HOSTNAME$/m);
  await term.send('Enter');
  await term.waitFor(/^in-pod-42 shell$/m);
  await term.type('stty size');
  await term.send('Enter');
  await term.waitFor(/^30 100$/m);

  await term.type('exit');
  await term.send('Enter');
  const final = await term.waitFor(/^\[kubectl exit \d+\]$/m);
  t.regex(final, /pod "shell" deleted/);
  t.regex(final, /^\[kubectl exit 0\]$/m);
  await eventually(() => stack.sandbox.store.get({ group: '', version: 'v1', resource: 'pods', namespace: 'default', name: 'shell' }) === undefined, 'the pod is gone');
});
