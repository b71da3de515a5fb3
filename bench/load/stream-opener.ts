// A child process of the scale bench that opens and holds streams, so that its sockets count against its
// own descriptor limit, not the control plane's: `watch <url> <n>` opens n watches (HTTP, one socket each),
// `exec <url> <n>` n exec sessions. Prints {"open": n} once all are open (or {"error": …}), then holds them
// until stdin closes.

import http from 'node:http';
import WebSocket from 'ws';

const [kind, url, countText] = process.argv.slice(2);
const count = Number(countText);
const BATCH = 200;
const held: { close: () => void }[] = [];
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function openWatch(): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.get(url!, { agent, headers: { Accept: 'application/json' } }, (response) => {
      if (response.statusCode !== 200) return reject(new Error(`watch answered ${response.statusCode}`));
      response.on('data', () => undefined);
      response.on('error', () => undefined);
      held.push({ close: () => request.destroy() });
      resolve();
    });
    request.on('error', reject);
  });
}

function openExec(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url!, ['v5.channel.k8s.io'], { perMessageDeflate: false });
    socket.once('open', () => {
      held.push({ close: () => socket.terminate() });
      resolve();
    });
    socket.once('error', reject);
  });
}

async function main(): Promise<void> {
  const open = kind === 'exec' ? openExec : openWatch;
  for (let done = 0; done < count; done += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, count - done) }, open));
  }
  process.stdout.write(`${JSON.stringify({ open: held.length })}\n`);
}

process.stdin.on('end', () => {
  for (const stream of held) stream.close();
  process.exit(0);
});
process.stdin.resume();
main().catch((error: unknown) => {
  process.stdout.write(`${JSON.stringify({ error: String(error), open: held.length })}\n`);
});
