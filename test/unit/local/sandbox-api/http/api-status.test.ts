// The Status bodies of the sandbox API must be byte-identical to kube-apiserver's.

import test from 'ava';
import {
  alreadyExists,
  conflict,
  invalid,
  notFound,
  resourceNotFound,
  statusBody,
  unauthorized,
} from '../../../../../src/local/sandbox-api/http/api-status.js';
import { encodeJson } from '../../../../../src/local/sandbox-api/http/http-exchange.js';
import { SUBDOMAIN_MESSAGE } from '../../../../../src/local/sandbox-api/store/object-validation.js';

function wire(body: Parameters<typeof encodeJson>[0]): string {
  return encodeJson(body).toString('utf8');
}

test('401 Unauthorized', (t) => {
  t.is(wire(unauthorized().body), '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n');
});

test('404 NotFound names the group-resource, with details', (t) => {
  t.is(
    wire(notFound('', 'configmaps', 'x').body),
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"x\\" not found","reason":"NotFound","details":{"name":"x","kind":"configmaps"},"code":404}\n',
  );
  t.is(
    wire(notFound('apps', 'deployments', 'web').body),
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.apps \\"web\\" not found","reason":"NotFound","details":{"name":"web","group":"apps","kind":"deployments"},"code":404}\n',
  );
  t.is(
    wire(resourceNotFound().body),
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}\n',
  );
});

test('409 AlreadyExists and Conflict', (t) => {
  t.is(
    wire(alreadyExists('', 'configmaps', 'x').body),
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"x\\" already exists","reason":"AlreadyExists","details":{"name":"x","kind":"configmaps"},"code":409}\n',
  );
  t.is(
    wire(conflict('', 'configmaps', 'x').body),
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on configmaps \\"x\\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"x","kind":"configmaps"},"code":409}\n',
  );
});

test('422 Invalid with causes, Go-escaped', (t) => {
  const detail = `Invalid value: "Bad_Name": ${SUBDOMAIN_MESSAGE}`;
  const error = invalid('', 'ConfigMap', 'Bad_Name', [{ type: 'FieldValueInvalid', field: 'metadata.name', detail }]);
  t.is(
    error.message,
    `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
  );
  t.is(
    wire(error.body),
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"ConfigMap \\"Bad_Name\\" is invalid: metadata.name: Invalid value: \\"Bad_Name\\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character (e.g. \'example.com\', regex used for validation is \'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\')","reason":"Invalid","details":{"name":"Bad_Name","kind":"ConfigMap","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \\"Bad_Name\\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character (e.g. \'example.com\', regex used for validation is \'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\')","field":"metadata.name"}]},"code":422}\n',
  );
  const two = invalid('apps', 'Deployment', 'x', [
    { type: 'FieldValueRequired', field: 'a', detail: 'Required value' },
    { type: 'FieldValueInvalid', field: 'b', detail: 'Invalid value: "1": bad' },
  ]);
  t.is(two.message, 'Deployment.apps "x" is invalid: [a: Required value, b: Invalid value: "1": bad]');
});

test('a delete Status Success carries no code, and HTML characters are escaped as Go does', (t) => {
  t.is(
    wire(statusBody({ status: 'Success', details: { name: 'x', kind: 'configmaps', uid: 'u-1' }, code: 0 })),
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"x","kind":"configmaps","uid":"u-1"}}\n',
  );
  t.is(wire({ a: '<b>&' }), '{"a":"\\u003cb\\u003e\\u0026"}\n');
});
