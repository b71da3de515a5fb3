// A real terminal for tests: one detached tmux session on its own server socket, running one command.
// Keys go in with send-keys and the screen comes back with capture-pane, so the program under test sees
// a terminal exactly as a person's (raw mode, SIGWINCH on resize). The server is killed in teardown.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

export const TMUX = '/usr/bin/tmux';
const TMUX_COMMAND_TIMEOUT_MS = 10_000;

export interface TmuxTerminal {
  /** types keys (tmux key names such as Enter and C-c are understood) */
  send(...keys: string[]): Promise<void>;
  /** types text literally, without key-name lookup */
  type(text: string): Promise<void>;
  /** the whole pane, scrollback included, wrapped lines joined, trailing blanks dropped */
  screen(): Promise<string>;
  /** waits (bounded) until the screen matches; returns the screen */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** the pane's size as `rows cols`, which is what `stty size` prints */
  size(): Promise<string>;
  resize(cols: number, rows: number): Promise<void>;
}

export function hasTmux(): boolean {
  return existsSync(TMUX);
}

export async function startTmux(t: ExecutionContext, dir: string, command: string, size: { cols: number; rows: number }): Promise<TmuxTerminal> {
  const socket = join(dir, 'tmux.sock');
  const tmux = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(TMUX, ['-S', socket, ...args], { timeout: TMUX_COMMAND_TIMEOUT_MS, env: { PATH: '/usr/bin:/bin', HOME: dir, TERM: 'xterm' } }, (error, stdout) => {
        if (error !== null) reject(error);
        else resolve(stdout);
      });
    });
  await tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'test', '-x', String(size.cols), '-y', String(size.rows), command);
  t.teardown(() => tmux('kill-server').then(() => undefined, () => undefined));
  // no status line: the pane is the whole window, and a resize of the window is one of the pane
  await tmux('set-option', '-t', 'test', 'status', 'off');
  await tmux('set-option', '-t', 'test', 'remain-on-exit', 'on');
  await tmux('set-option', '-g', 'history-limit', '5000');

  // the empty rows below the cursor are not part of what was written
  const screen = async (): Promise<string> => (await tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'test')).replace(/\s+$/, '');
  return {
    async send(...keys) {
      await tmux('send-keys', '-t', 'test', ...keys);
    },
    async type(text) {
      await tmux('send-keys', '-t', 'test', '-l', text);
    },
    screen,
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await screen();
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`the terminal never showed ${String(pattern)}; it shows:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async size() {
      return (await tmux('display-message', '-p', '-t', 'test', '#{pane_height} #{pane_width}')).trim();
    },
    async resize(cols, rows) {
      await tmux('resize-window', '-t', 'test', '-x', String(cols), '-y', String(rows));
    },
  };
}
