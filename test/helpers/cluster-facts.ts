// ClusterFacts with a test agent's identity; each test passes the Kubernetes access and parts it exercises.

import { ClusterFacts, type ClusterFactsOptions } from '../../src/cluster/cluster-facts.js';
import { silentLogger } from '../../src/log.js';

export function testClusterFacts(options: Pick<ClusterFactsOptions, 'kube'> & Partial<ClusterFactsOptions>): ClusterFacts {
  return new ClusterFacts({
    agentId: 'agent-0a1b2c3d4e5f6071',
    agentVersion: '0.0.0-test',
    clusterName: 'test',
    labels: {},
    serviceToken: undefined,
    agentPort: 8080,
    logger: silentLogger(),
    ...options,
  });
}
