// The kind schemas of the OpenAPI v3 documents, the part `kubectl explain` reads. They are derived from
// the Kubernetes models that @kubernetes/client-node ships: each model class names its fields and their
// types (getAttributeTypeMap), and its declaration file carries the field descriptions and which fields
// are required. The shapes follow kube-apiserver's documents: component names like
// io.k8s.api.core.v1.Pod, object fields as `allOf: [{$ref}]`, and the kind's
// x-kubernetes-group-version-kind on its top-level schema, which is how kubectl finds it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as kubernetesModels from '@kubernetes/client-node';
import type { JsonObject, JsonValue } from '../store/json-value.js';

interface Attribute {
  readonly name: string;
  readonly baseName: string;
  readonly type: string;
  readonly format: string;
}

interface ModelClass {
  getAttributeTypeMap(): readonly Attribute[];
}

interface ModelDocs {
  readonly description: string;
  readonly fields: ReadonlyMap<string, { readonly description: string; readonly isRequired: boolean }>;
}

/** The kinds of ObjectMeta and friends, which kube-apiserver names under apimachinery. */
const META_TYPES = new Set([
  'ObjectMeta', 'ListMeta', 'LabelSelector', 'LabelSelectorRequirement', 'OwnerReference', 'ManagedFieldsEntry', 'Condition',
  'Status', 'StatusDetails', 'StatusCause', 'DeleteOptions', 'Preconditions',
]);

const META_PACKAGE = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';

function isModelClass(value: unknown): value is ModelClass {
  return typeof value === 'function' && typeof (value as Partial<ModelClass>).getAttributeTypeMap === 'function';
}

function modelClass(className: string): ModelClass | undefined {
  const value = (kubernetesModels as Record<string, unknown>)[className];
  return isModelClass(value) ? value : undefined;
}

let modelsDirectory: string | null | undefined;

function modelDeclarationPath(className: string): string | undefined {
  if (modelsDirectory === undefined) {
    try {
      const entry = createRequire(import.meta.url).resolve('@kubernetes/client-node');
      modelsDirectory = join(dirname(entry), 'gen', 'models');
    } catch {
      modelsDirectory = null;
    }
  }
  return modelsDirectory === null ? undefined : join(modelsDirectory, `${className}.d.ts`);
}

function commentText(block: string): string {
  return block
    .split('\n')
    .map((line) => line.replace(/^\s*\*\s?/, '').trim())
    .filter((line) => line !== '' && line !== '/')
    .join(' ')
    .replace(/\\(['"\\])/g, '$1');
}

const CLASS_DOC = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export declare class /;
const FIELD_DOC = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*'([^']+)'(\??):/g;
const FIELD_BARE = /^\s*'([^']+)'(\??):/gm;

/** Descriptions and required fields from the model's declaration file; empty when it cannot be read. */
function modelDocs(className: string): ModelDocs {
  const path = modelDeclarationPath(className);
  let text = '';
  try {
    if (path !== undefined) text = readFileSync(path, 'utf8');
  } catch {
    text = '';
  }
  const fields = new Map<string, { description: string; isRequired: boolean }>();
  for (const match of text.matchAll(FIELD_BARE)) fields.set(match[1] ?? '', { description: '', isRequired: match[2] !== '?' });
  for (const match of text.matchAll(FIELD_DOC)) fields.set(match[2] ?? '', { description: commentText(match[1] ?? ''), isRequired: match[3] !== '?' });
  const classDoc = CLASS_DOC.exec(text);
  return { description: classDoc === null ? '' : commentText(classDoc[1] ?? ''), fields };
}

/** `V1PodSpec` → `PodSpec`; `V1alpha2TCPRoute` → `TCPRoute`. */
function typeName(className: string): string {
  return className.replace(/^V\d+(?:(?:alpha|beta)\d+)?/, '');
}

function versionPrefix(version: string): string {
  return `V${version.slice(1)}`;
}

function groupPackage(group: string): string {
  return group === '' ? 'core' : (group.split('.')[0] ?? group);
}

class SchemaBuilder {
  readonly schemas: JsonObject = {};
  readonly #names = new Map<string, string>();

  constructor(readonly group: string, readonly version: string) {}

  /** Adds the kind and every type it reaches; false when the models know no such kind. */
  addKind(kind: string): boolean {
    const className = `${versionPrefix(this.version)}${kind}`;
    if (modelClass(className) === undefined) return false;
    const name = this.#reference(className, kind);
    const schema = this.schemas[name] as JsonObject;
    schema['x-kubernetes-group-version-kind'] = [{ group: this.group, kind, version: this.version }];
    return true;
  }

  /** The component name of a model class, building its schema on first use. */
  #reference(className: string, kind: string): string {
    const known = this.#names.get(className);
    if (known !== undefined) return known;
    const type = typeName(className);
    const pkg = META_TYPES.has(type)
      ? META_PACKAGE
      : `io.k8s.api.${type.startsWith(kind) ? groupPackage(this.group) : 'core'}.${this.version}`;
    const name = `${pkg}.${type}`;
    this.#names.set(className, name);
    this.schemas[name] = {};
    this.schemas[name] = this.#objectSchema(className, kind);
    return name;
  }

  #objectSchema(className: string, kind: string): JsonObject {
    const model = modelClass(className);
    const docs = modelDocs(className);
    const properties: JsonObject = {};
    const required: string[] = [];
    for (const attribute of model?.getAttributeTypeMap() ?? []) {
      const field = docs.fields.get(attribute.name);
      const property = this.#typeSchema(attribute.type, attribute.format, kind);
      if (field !== undefined && field.description !== '') property['description'] = field.description;
      properties[attribute.baseName] = property;
      if (field?.isRequired === true) required.push(attribute.baseName);
    }
    const schema: JsonObject = {};
    if (docs.description !== '') schema['description'] = docs.description;
    schema['properties'] = properties;
    if (required.length > 0) schema['required'] = required;
    schema['type'] = 'object';
    return schema;
  }

  #typeSchema(type: string, format: string, kind: string): JsonObject {
    const arrayOf = /^Array<(.+)>$/.exec(type);
    if (arrayOf !== null) return { type: 'array', items: this.#itemSchema(arrayOf[1] ?? 'any', format, kind) };
    const mapOf = /^\{ \[key: string\]: (.+); \}$/.exec(type);
    if (mapOf !== null) return { type: 'object', additionalProperties: this.#itemSchema(mapOf[1] ?? 'any', format, kind) };
    return this.#itemSchema(type, format, kind);
  }

  #itemSchema(type: string, format: string, kind: string): JsonObject {
    switch (type) {
      case 'string':
        return format === '' ? { type: 'string' } : { type: 'string', format };
      case 'number':
        return format === 'double' ? { type: 'number', format } : { type: 'integer', format: format === '' ? 'int64' : format };
      case 'boolean':
        return { type: 'boolean' };
      case 'Date':
        return { type: 'string', format: 'date-time' };
      case 'IntOrString':
        this.schemas[INT_OR_STRING] = {
          description: 'A value that is either a 32-bit integer or a string, such as a port number or a port name.',
          format: 'int-or-string',
          type: 'string',
        };
        return { allOf: [{ $ref: `#/components/schemas/${INT_OR_STRING}` }] };
      case 'any':
      case 'object':
        return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
      default: {
        if (modelClass(type) === undefined) return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
        const reference: JsonValue = { $ref: `#/components/schemas/${this.#reference(type, kind)}` };
        return { allOf: [reference], default: {} };
      }
    }
  }
}

const cache = new Map<string, JsonObject>();

/** components.schemas of one group-version document: each kind's schema and the types it reaches. */
export function kindSchemas(group: string, version: string, kinds: readonly string[]): JsonObject {
  const key = `${group}/${version}:${kinds.join(',')}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const builder = new SchemaBuilder(group, version);
  for (const kind of kinds) builder.addKind(kind);
  cache.set(key, builder.schemas);
  return builder.schemas;
}
