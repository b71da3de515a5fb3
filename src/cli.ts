#!/usr/bin/env node
// Entry point: `run` (default) starts the agent; `demo`, `control-plane` and `sandbox-api` start the local
// stack. The local commands are loaded only when asked for, so the agent never loads them.

const USAGE = `usage: cli.js [run|demo|control-plane|sandbox-api] [flags]
  run             the agent (configured by env, --config FILE and flags; see docs/config.md)
  demo            sandbox API + local control plane + agent on loopback; prints a kubeconfig for kubectl
  control-plane   the local control plane alone (--port, --kubeconfig, --mode legacy|binary|streaming, --tls)
  sandbox-api     the sandbox Kubernetes API alone (--port, --token, --kubeconfig)`;

async function main(argv: readonly string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === 'help' || first === '--help' || first === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const command = first === undefined || first.startsWith('--') ? 'run' : first;
  const args = command === first ? rest : argv;
  switch (command) {
    case 'run':
      await (await import('./run-command.js')).runAgentCommand(args);
      return;
    case 'demo':
      await (await import('./local/demo.js')).runDemoCommand(args);
      return;
    case 'control-plane':
      await (await import('./local/control-plane/command.js')).runControlPlaneCommand(args);
      return;
    case 'sandbox-api':
      await (await import('./local/sandbox-api/command.js')).runSandboxApiCommand(args);
      return;
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
