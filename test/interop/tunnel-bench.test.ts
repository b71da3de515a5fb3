// The tunnel bench (npm run bench:tunnels) in a bounded run: it moves its bytes through the local control
// plane's tunnel listener, yamux and the agent, and reports figures for both paths. No timing threshold:
// only that the run completes and every figure is a measurement.

import test from 'ava';
import { runTunnelBench } from '../../bench/tunnels.js';

test('bench:tunnels, bounded: 1 MiB each way and 5 connects, direct and through the tunnel', async (t) => {
  const { direct, tunnel } = await runTunnelBench(1, 5, 0);
  for (const figures of [direct, tunnel]) {
    t.true(figures.upMiBps > 0 && Number.isFinite(figures.upMiBps));
    t.true(figures.downMiBps > 0 && Number.isFinite(figures.downMiBps));
    t.true(figures.connectP50 > 0 && figures.connectP99 >= figures.connectP50);
  }
  t.log(`upload ${tunnel.upMiBps.toFixed(0)} vs ${direct.upMiBps.toFixed(0)} MiB/s; connect p50 ${tunnel.connectP50.toFixed(2)} vs ${direct.connectP50.toFixed(2)} ms`);
});
