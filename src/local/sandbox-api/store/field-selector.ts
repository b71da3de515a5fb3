// Field selectors as list requests carry them (`metadata.name=x,status.phase!=Running`), and the fields
// each kind exposes to them; an unsupported field is the apiserver's "field label not supported".

import { objectAt, stringAt, type JsonObject } from './json-value.js';
import type { ResourceDefinition } from './resource-catalog.js';

export interface FieldRequirement {
  readonly field: string;
  readonly negated: boolean;
  readonly value: string;
}

export class FieldSelectorError extends Error {
  readonly code = 'SANDBOX_FIELD_SELECTOR_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'FieldSelectorError';
  }
}

/** Splits on unescaped commas, as fields.ParseSelector does. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let current = '';
  for (let at = 0; at < selector.length; at += 1) {
    const char = selector[at] ?? '';
    if (char === '\\' && at + 1 < selector.length) {
      current += char + (selector[at + 1] ?? '');
      at += 1;
    } else if (char === ',') {
      terms.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  terms.push(current);
  return terms.filter((term) => term.length > 0);
}

function unescape(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

export function parseFieldSelector(selector: string): FieldRequirement[] {
  return splitTerms(selector).map((term) => {
    for (const [operator, negated] of [['!=', true], ['==', false], ['=', false]] as const) {
      const at = term.indexOf(operator);
      if (at > 0) return { field: term.slice(0, at), negated, value: unescape(term.slice(at + operator.length)) };
    }
    throw new FieldSelectorError(`invalid selector: '${selector}'; can't understand '${term}'`);
  });
}

/** The fields a kind supports in selectors, with the object's values. */
export function selectableFields(definition: ResourceDefinition, object: JsonObject): Record<string, string> {
  const metadata = objectAt(object, 'metadata');
  const fields: Record<string, string> = { 'metadata.name': stringAt(metadata, 'name') ?? '' };
  if (definition.namespaced) fields['metadata.namespace'] = stringAt(metadata, 'namespace') ?? '';
  const spec = objectAt(object, 'spec');
  const status = objectAt(object, 'status');
  switch (definition.kind) {
    case 'Pod':
      fields['spec.nodeName'] = stringAt(spec, 'nodeName') ?? '';
      fields['spec.restartPolicy'] = stringAt(spec, 'restartPolicy') ?? '';
      fields['spec.schedulerName'] = stringAt(spec, 'schedulerName') ?? '';
      fields['spec.serviceAccountName'] = stringAt(spec, 'serviceAccountName') ?? '';
      fields['spec.hostNetwork'] = spec?.['hostNetwork'] === true ? 'true' : 'false';
      fields['status.phase'] = stringAt(status, 'phase') ?? '';
      fields['status.podIP'] = stringAt(status, 'podIP') ?? '';
      fields['status.nominatedNodeName'] = stringAt(status, 'nominatedNodeName') ?? '';
      break;
    case 'Secret':
      fields['type'] = stringAt(object, 'type') ?? '';
      break;
    case 'Namespace':
      fields['status.phase'] = stringAt(status, 'phase') ?? '';
      break;
    case 'Node':
      fields['spec.unschedulable'] = spec?.['unschedulable'] === true ? 'true' : 'false';
      break;
    case 'Event':
      for (const key of ['kind', 'namespace', 'name', 'uid', 'fieldPath'] as const) {
        fields[`involvedObject.${key}`] = stringAt(objectAt(object, 'involvedObject'), key) ?? '';
      }
      fields['reason'] = stringAt(object, 'reason') ?? '';
      fields['type'] = stringAt(object, 'type') ?? '';
      break;
    default:
      break;
  }
  return fields;
}

/** Throws FieldSelectorError for a field the kind does not support. */
export function checkFieldsSupported(definition: ResourceDefinition, requirements: readonly FieldRequirement[]): void {
  const supported = selectableFields(definition, {});
  for (const requirement of requirements) {
    if (!(requirement.field in supported)) throw new FieldSelectorError(`field label not supported: ${requirement.field}`);
  }
}

export function fieldsMatch(requirements: readonly FieldRequirement[], fields: Readonly<Record<string, string>>): boolean {
  return requirements.every((requirement) => (fields[requirement.field] === requirement.value) !== requirement.negated);
}
