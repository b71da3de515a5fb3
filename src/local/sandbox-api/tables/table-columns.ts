// Column definitions shared by the kind printers: the TableColumnDefinition shape and the descriptions
// kube-apiserver takes from the API's swagger docs.

import type { JsonObject, JsonValue } from '../store/json-value.js';

export interface ColumnDefinition {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly format?: string;
  readonly description: string;
  readonly priority?: number;
}

/** One printed row: its cells and (for finished pods) the row conditions. */
export interface PrintedRow {
  readonly cells: JsonValue[];
  readonly conditions?: JsonObject[];
}

export interface KindPrinter {
  readonly columns: readonly ColumnDefinition[];
  row(object: JsonObject, nowMs: number): PrintedRow;
}

export const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
export const AGE_DESCRIPTION =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

export const NAME_COLUMN: ColumnDefinition = { name: 'Name', type: 'string', format: 'name', description: NAME_DESCRIPTION };
export const AGE_COLUMN: ColumnDefinition = { name: 'Age', type: 'string', description: AGE_DESCRIPTION };

export function columnJson(column: ColumnDefinition): JsonObject {
  return {
    name: column.name,
    type: column.type,
    format: column.format ?? '',
    description: column.description,
    priority: column.priority ?? 0,
  };
}
