// The e2e suites drive the real kubectl; a machine without it must fail loudly, never skip.
import { accessSync, constants } from 'node:fs';

const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
try {
  accessSync(KUBECTL, constants.X_OK);
} catch {
  console.error(`error: ${KUBECTL} is missing or not executable; the e2e tests need the real kubectl`);
  process.exit(1);
}
