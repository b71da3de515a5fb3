import test from 'ava';
import { DispatchPolicy, INLINE_MAX_REQUEST_BYTES, INLINE_MAX_RESPONSE_BYTES, Placement, isCollectionShape, requestShape } from '../../../src/router/dispatch-policy.js';

test('shapes wildcard namespace and object names, so gets of one kind share an estimate', (t) => {
  t.is(requestShape('GET', '/api/v1/namespaces/a/configmaps/one'), 'GET /api/v1/configmaps/*');
  t.is(requestShape('GET', '/api/v1/namespaces/b/configmaps/two'), 'GET /api/v1/configmaps/*');
  t.is(requestShape('GET', '/apis/apps/v1/namespaces/a/deployments'), 'GET /apis/apps/v1/deployments');
  t.is(requestShape('GET', '/api/v1/namespaces/a/pods/p/log'), 'GET /api/v1/pods/*/log');
  t.is(requestShape('GET', '/api/v1/namespaces/a'), 'GET /api/v1/namespaces/*');
  t.is(requestShape('GET', '/version'), 'GET /version');
  t.is(requestShape('POST', '/api/v1/namespaces/a/pods'), 'POST /api/v1/pods');
});

test('collections are lists; named objects, subresources and non-Kubernetes paths are not', (t) => {
  t.true(isCollectionShape('GET /api/v1/pods'));
  t.true(isCollectionShape('GET /apis/apps/v1/deployments'));
  t.false(isCollectionShape('GET /api/v1/configmaps/*'));
  t.false(isCollectionShape('GET /api/v1/pods/*/log'));
  t.false(isCollectionShape('GET /version'));
  t.false(isCollectionShape('GET /openapi/v3'));
});

test('unknown shapes: lists and large request bodies go to workers, the rest runs inline', (t) => {
  const policy = new DispatchPolicy();
  t.is(policy.place(requestShape('GET', '/api/v1/namespaces/a/pods'), 300), Placement.workers);
  t.is(policy.place(requestShape('GET', '/api/v1/namespaces/a/configmaps/c'), 300), Placement.inline);
  t.is(policy.place(requestShape('PUT', '/api/v1/namespaces/a/configmaps/c'), INLINE_MAX_REQUEST_BYTES + 1), Placement.workers);
});

test('learned response sizes move a shape: a small list comes inline, a large object goes to workers', (t) => {
  const policy = new DispatchPolicy();
  const list = requestShape('GET', '/api/v1/namespaces/a/services');
  policy.learn(list, 2_000);
  t.is(policy.place(list, 300), Placement.inline);
  const secret = requestShape('GET', '/api/v1/namespaces/a/secrets/big');
  policy.learn(secret, INLINE_MAX_RESPONSE_BYTES * 4);
  t.is(policy.place(secret, 300), Placement.workers);
  // a running estimate: one small answer does not bring a large shape back inline at once
  policy.learn(secret, 0);
  t.is(policy.place(secret, 300), Placement.workers);
});

test('the learned shapes are bounded', (t) => {
  const policy = new DispatchPolicy();
  for (let i = 0; i < 10_000; i++) policy.learn(`GET /custom/${i}`, 10);
  t.true(policy.shapeCount <= 4096);
});
