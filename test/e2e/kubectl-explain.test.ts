// `kubectl explain`, which a new user types to learn a manifest's fields, against the demo: kubectl reads
// the OpenAPI v3 document of the kind's group version through the control plane and the agent and finds the
// kind's schema by its x-kubernetes-group-version-kind. Apply must not change behaviour because schemas
// are now published: the three-way patch it computes stays the strategic merge patch of kubectl's own types.

import test from 'ava';
import { kubectl } from '../helpers/kubectl.js';
import { startDemoStack } from '../helpers/demo-stack.js';

test('kubectl explain pod.spec.containers describes the field and lists its nested fields', async (t) => {
  const stack = await startDemoStack(t);
  const run = (args: readonly string[]) => kubectl(args, { kubeconfig: stack.kubeconfig, env: { HOME: stack.dir } });

  const containers = await run(['explain', 'pod.spec.containers']);
  t.is(containers.code, 0, containers.stderr);
  t.regex(containers.stdout, /^KIND:\s+Pod$/m);
  t.regex(containers.stdout, /^FIELD: containers <\[\]Container>$/m);
  t.regex(containers.stdout, /List of containers belonging to the pod/);
  t.regex(containers.stdout, /^ {2}image\t<string>$/m);
  t.regex(containers.stdout, /^ {2}name\t<string> -required-$/m);
  t.regex(containers.stdout, /^ {2}ports\t<\[\]ContainerPort>$/m);

  const strategy = await run(['explain', 'deployment.spec.strategy.type']);
  t.is(strategy.code, 0, strategy.stderr);
  t.regex(strategy.stdout, /^GROUP:\s+apps$/m);
  t.regex(strategy.stdout, /Recreate/);

  const missing = await run(['explain', 'pod.spec.noSuchField']);
  t.not(missing.code, 0);
  t.regex(missing.stderr, /noSuchField/);
});

test('with schemas published, apply still merges container lists by name (strategic merge of the built-in types)', async (t) => {
  const stack = await startDemoStack(t);
  const run = (args: readonly string[], input?: string) =>
    kubectl(args, { kubeconfig: stack.kubeconfig, env: { HOME: stack.dir }, ...(input === undefined ? {} : { input }) });
  const deployment = (env: Record<string, string>) =>
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'explain-apply', namespace: 'default' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'explain-apply' } },
        template: {
          metadata: { labels: { app: 'explain-apply' } },
          spec: { containers: [{ name: 'app', image: 'busybox', command: ['sleep', '3600'], env: Object.entries(env).map(([name, value]) => ({ name, value })) }] },
        },
      },
    });
  const created = await run(['apply', '-f', '-'], deployment({ A: '1', C: '1' }));
  t.is(created.code, 0, created.stderr);
  // another writer adds a container env entry outside the applied configuration
  const patched = await run(['patch', 'deployment', 'explain-apply', '--type=strategic', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"2"}]}]}}}}']);
  t.is(patched.code, 0, patched.stderr);
  const applied = await run(['apply', '-f', '-'], deployment({ A: '3' }));
  t.is(applied.code, 0, applied.stderr);
  t.notRegex(applied.stderr, /warning/i);
  const got = await run(['get', 'deployment', 'explain-apply', '-o', 'jsonpath={range .spec.template.spec.containers[0].env[*]}{.name}={.value} {end}']);
  t.is(got.code, 0, got.stderr);
  // merged by the env list's merge key: A is updated in place, C (dropped from the configuration) is
  // deleted with a `$patch: delete` directive, and the other writer's B survives
  t.deepEqual(got.stdout.trim().split(' ').sort(), ['A=3', 'B=2']);
});
