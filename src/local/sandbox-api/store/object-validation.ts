// Validation the apiserver applies before storing: object names per kind, label keys and values,
// ConfigMap/Secret data keys, and strict field decoding of unknown top-level and metadata fields.
// Returns field errors and unknown-field paths; turning them into Status errors is the caller's job.

import type { FieldError } from '../http/api-status.js';
import { BODY_ORDER, METADATA_ORDER } from './canonical-order.js';
import { isJsonObject, objectAt, stringAt, type JsonObject } from './json-value.js';
import { NameRule, type ResourceDefinition } from './resource-catalog.js';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

export const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
export const LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
export const DNS1035_MESSAGE =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MESSAGE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_MESSAGE =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const CONFIG_KEY_MESSAGE =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

function invalidValue(field: string, value: string, message: string): FieldError {
  return { type: 'FieldValueInvalid', field, detail: `Invalid value: ${JSON.stringify(value)}: ${message}` };
}

/** The messages of one name rule for a name (empty when the name is valid). */
export function nameProblems(rule: NameRule, name: string): string[] {
  switch (rule) {
    case NameRule.subdomain: {
      const problems = name.length > 253 ? ['must be no more than 253 characters'] : [];
      if (!DNS1123_SUBDOMAIN.test(name)) problems.push(SUBDOMAIN_MESSAGE);
      return problems;
    }
    case NameRule.label: {
      const problems = name.length > 63 ? ['must be no more than 63 characters'] : [];
      if (!DNS1123_LABEL.test(name)) problems.push(LABEL_MESSAGE);
      return problems;
    }
    case NameRule.dns1035: {
      const problems = name.length > 63 ? ['must be no more than 63 characters'] : [];
      if (!DNS1035_LABEL.test(name)) problems.push(DNS1035_MESSAGE);
      return problems;
    }
    case NameRule.pathSegment: {
      if (name === '.' || name === '..') return [`may not be '${name}'`];
      const problems: string[] = [];
      if (name.includes('/')) problems.push("may not contain '/'");
      if (name.includes('%')) problems.push("may not contain '%'");
      return problems;
    }
  }
}

function labelKeyProblems(key: string): string[] {
  const parts = key.split('/');
  if (parts.length > 2) return [QUALIFIED_NAME_MESSAGE];
  const name = parts[parts.length - 1] ?? '';
  const problems: string[] = [];
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix.length === 0) problems.push('prefix part must be non-empty');
    else if (!DNS1123_SUBDOMAIN.test(prefix) || prefix.length > 253) problems.push(`prefix part ${SUBDOMAIN_MESSAGE}`);
  }
  if (name.length === 0) problems.push('name part must be non-empty');
  else if (name.length > 63) problems.push('name part must be no more than 63 characters');
  else if (!QUALIFIED_NAME.test(name)) problems.push(QUALIFIED_NAME_MESSAGE);
  return problems;
}

function stringMap(value: unknown): Record<string, unknown> {
  return isJsonObject(value) ? value : {};
}

/** Field errors of an object about to be stored (ObjectMeta plus the cheap per-kind rules). */
export function validateObject(definition: ResourceDefinition, object: JsonObject): FieldError[] {
  const metadata = objectAt(object, 'metadata');
  const name = stringAt(metadata, 'name') ?? '';
  const errors: FieldError[] = [];
  if (name === '') {
    errors.push({ type: 'FieldValueRequired', field: 'metadata.name', detail: 'Required value: name or generateName is required' });
  } else {
    for (const problem of nameProblems(definition.nameRule, name)) errors.push(invalidValue('metadata.name', name, problem));
  }
  for (const [key, value] of Object.entries(stringMap(metadata?.['labels']))) {
    for (const problem of labelKeyProblems(key)) errors.push(invalidValue('metadata.labels', key, problem));
    const text = typeof value === 'string' ? value : '';
    if (text.length > 63) errors.push(invalidValue('metadata.labels', text, 'must be no more than 63 characters'));
    else if (!LABEL_VALUE.test(text)) errors.push(invalidValue('metadata.labels', text, LABEL_VALUE_MESSAGE));
  }
  for (const key of Object.keys(stringMap(metadata?.['annotations']))) {
    for (const problem of labelKeyProblems(key)) errors.push(invalidValue('metadata.annotations', key, problem));
  }
  if (definition.kind === 'ConfigMap' || definition.kind === 'Secret') {
    for (const field of ['data', 'binaryData'] as const) {
      for (const key of Object.keys(stringMap(object[field]))) {
        if (!CONFIG_KEY.test(key)) errors.push(invalidValue(`${field}[${key}]`, key, CONFIG_KEY_MESSAGE));
      }
    }
  }
  return errors;
}

const METADATA_FIELDS: ReadonlySet<string> = new Set(METADATA_ORDER);

/** Paths of fields a strict decode would reject (top level and metadata; nested schemas are not modelled). */
export function unknownFields(definition: ResourceDefinition, object: JsonObject): string[] {
  const known = new Set(['apiVersion', 'kind', 'metadata', ...(BODY_ORDER[definition.kind] ?? ['spec', 'status'])]);
  const unknown = Object.keys(object).filter((key) => !known.has(key));
  const metadata = objectAt(object, 'metadata');
  if (metadata !== undefined) {
    unknown.push(...Object.keys(metadata).filter((key) => !METADATA_FIELDS.has(key)).map((key) => `metadata.${key}`));
  }
  return unknown;
}
