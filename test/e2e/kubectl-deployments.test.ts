// `kubectl create deployment` and what follows it, through the local control plane and the agent: the
// sandbox's controllers create a ReplicaSet named by the pod-template hash and its pods, which its
// kubelet runs, so `kubectl rollout status` completes, `kubectl get rs` lists them, scaling changes the
// pod count, a new image rolls out a new ReplicaSet (revision 2) and scales the old one to 0, and
// deleting the deployment removes its ReplicaSets and pods.

import test from 'ava';
import { kubectl } from '../helpers/kubectl.js';
import { startDemoStack } from '../helpers/demo-stack.js';
import { eventually } from '../helpers/eventually.js';

function rows(stdout: string): string[][] {
  return stdout.trim().split('\n').filter((line) => line !== '').map((line) => line.trim().split(/\s+/));
}

test('create deployment, rollout status, get rs, scale, set image, rollout history, delete cascades', async (t) => {
  const stack = await startDemoStack(t);
  const run = (args: readonly string[]): ReturnType<typeof kubectl> => kubectl(args, { kubeconfig: stack.kubeconfig, env: { HOME: stack.dir } });
  const podsOf = async (): Promise<string[][]> => rows((await run(['get', 'pods', '-l', 'app=web', '--no-headers'])).stdout);

  t.is((await run(['create', 'deployment', 'web', '--image=nginx', '--replicas=2'])).stdout, 'deployment.apps/web created\n');
  const rolled = await run(['rollout', 'status', 'deployment/web', '--timeout=60s']);
  t.is(rolled.stdout, 'deployment "web" successfully rolled out\n', rolled.stderr);
  t.deepEqual(rows((await run(['get', 'deploy', 'web', '--no-headers'])).stdout)[0]?.slice(0, 4), ['web', '2/2', '2', '2']);

  const replicaSets = rows((await run(['get', 'rs', '--no-headers'])).stdout);
  t.is(replicaSets.length, 1);
  const [first] = replicaSets;
  t.regex(first?.[0] ?? '', /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
  t.deepEqual(first?.slice(1, 4), ['2', '2', '2']);
  const pods = await podsOf();
  t.is(pods.length, 2);
  for (const pod of pods) {
    t.true((pod[0] ?? '').startsWith(`${first?.[0] ?? ''}-`), 'pods are named after their ReplicaSet');
    t.deepEqual(pod.slice(1, 3), ['1/1', 'Running']);
  }
  const owner = (await run(['get', 'rs', first?.[0] ?? '', '-o', 'jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}'])).stdout;
  t.is(owner, 'Deployment/web');

  t.is((await run(['scale', 'deployment/web', '--replicas=3'])).stdout, 'deployment.apps/web scaled\n');
  t.is((await run(['rollout', 'status', 'deployment/web', '--timeout=60s'])).code, 0);
  t.is((await podsOf()).length, 3);

  t.is((await run(['set', 'image', 'deployment/web', 'nginx=nginx:1.27'])).stdout, 'deployment.apps/web image updated\n');
  t.is((await run(['rollout', 'status', 'deployment/web', '--timeout=60s'])).code, 0);
  const afterRollout = rows((await run(['get', 'rs', '--no-headers', '-o', 'custom-columns=NAME:.metadata.name,DESIRED:.spec.replicas,IMAGE:.spec.template.spec.containers[0].image,REVISION:.metadata.annotations.deployment\\.kubernetes\\.io/revision'])).stdout);
  t.deepEqual(afterRollout.map((row) => row.slice(1)).sort(), [['0', 'nginx', '1'], ['3', 'nginx:1.27', '2']]);
  t.regex((await run(['rollout', 'history', 'deployment/web'])).stdout, /^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/m);
  await eventually(async () => (await podsOf()).length === 3, 'the old ReplicaSet\'s pods are gone');

  t.is((await run(['delete', 'deployment', 'web'])).stdout, 'deployment.apps "web" deleted\n');
  await eventually(async () => (await run(['get', 'rs,pods', '-l', 'app=web', '--no-headers'])).stdout === '', 'the cascade removes ReplicaSets and pods', 30_000);
});
