// `kubectl auth can-i`, one of the first things a new user types, against the demo through the local
// control plane and the agent: the sandbox answers SelfSubjectAccessReview and SelfSubjectRulesReview
// for its token (kubectl sends them as protobuf through its typed client), lists the group in
// discovery, and refuses what the apiserver refuses (a spec asking nothing is 422, reading is 405).

import { join } from 'node:path';
import test from 'ava';
import { kubectl } from '../helpers/kubectl.js';
import { startDemoStack } from '../helpers/demo-stack.js';

test('kubectl auth can-i through the whole stack: yes for resources and URLs, --list, and the group in discovery', async (t) => {
  const stack = await startDemoStack(t);
  const run = (args: readonly string[], input?: string): ReturnType<typeof kubectl> =>
    kubectl(args, { kubeconfig: stack.kubeconfig, env: { HOME: stack.dir }, ...(input === undefined ? {} : { input }) });

  const pods = await run(['auth', 'can-i', 'create', 'pods']);
  t.is(pods.stdout, 'yes\n');
  t.is(pods.code, 0);
  const namespaces = await run(['auth', 'can-i', 'create', 'namespaces', '--all-namespaces']);
  t.is(namespaces.stdout, 'yes\n');
  const url = await run(['auth', 'can-i', 'get', '/healthz']);
  t.is(url.stdout, 'yes\n');

  const list = await run(['auth', 'can-i', '--list', '--namespace', 'default']);
  t.is(list.code, 0);
  t.regex(list.stdout, /^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/m);
  t.regex(list.stdout, /^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/m);

  const resources = await run(['api-resources', '--api-group=authorization.k8s.io', '--no-headers']);
  t.deepEqual(resources.stdout.trim().split('\n').map((line) => line.split(/\s+/)), [
    ['selfsubjectaccessreviews', 'authorization.k8s.io/v1', 'false', 'SelfSubjectAccessReview'],
    ['selfsubjectrulesreviews', 'authorization.k8s.io/v1', 'false', 'SelfSubjectRulesReview'],
  ]);
});

test('an access review is answered, never stored: 201 with the status, 422 for an empty spec, 405 for reads', async (t) => {
  const stack = await startDemoStack(t);
  // raw paths go to the sandbox itself: kubectl's --raw replaces the server URL's path, so it cannot
  // address a cluster behind the control plane's /clusters/<name> prefix
  const direct = join(stack.dir, 'sandbox-kubeconfig');
  const run = (args: readonly string[], input?: string): ReturnType<typeof kubectl> =>
    kubectl(args, { kubeconfig: direct, env: { HOME: stack.dir }, ...(input === undefined ? {} : { input }) });
  const path = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

  const answered = await run(['create', '--raw', path, '-f', '-'], JSON.stringify({ spec: { resourceAttributes: { verb: 'delete', resource: 'nodes' } } }));
  t.is(answered.code, 0);
  t.deepEqual(JSON.parse(answered.stdout), {
    kind: 'SelfSubjectAccessReview',
    apiVersion: 'authorization.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec: { resourceAttributes: { verb: 'delete', resource: 'nodes' } },
    status: { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"' },
  });

  const empty = await run(['create', '--raw', path, '-f', '-'], JSON.stringify({ spec: {} }));
  t.is(empty.code, 1);
  // kubectl prints a 422's causes as `The <Kind> "<name>" is invalid: <field>: <detail>`
  t.regex(empty.stderr, /^The SelfSubjectAccessReview "" is invalid: spec\.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified/);

  const read = await run(['get', '--raw', path]);
  t.is(read.code, 1);
  t.regex(read.stderr, /MethodNotAllowed/);
});
