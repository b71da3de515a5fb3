// `npm run test:cluster`: the kubectl checks against a real cluster through a real control plane. Not part
// of `npm test` (it needs a cluster and credentials); see docs/install.md "Checking a real installation".
export default {
  files: ['test/cluster/**/*.test.ts'],
  typescript: { rewritePaths: { 'src/': 'dist/src/', 'workers/': 'dist/workers/', 'test/': 'dist/test/', 'bench/': 'dist/bench/' }, compile: false },
  workerThreads: false,
  timeout: '10m',
  concurrency: 1,
};
