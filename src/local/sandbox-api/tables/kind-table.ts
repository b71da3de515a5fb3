// The table a kind prints for `kubectl get`, built one way for every kind: each column is declared with
// the cell it prints, so a kind's column list and its rows cannot drift apart. Most kinds print Name
// first and Age after their own columns, as kube-apiserver's printers lay them out; the descriptions are
// the ones kube-apiserver takes from the API's swagger docs.

import { ageOf } from './human-duration.js';
import { objectAt, stringAt, type JsonObject, type JsonValue } from '../store/json-value.js';

export interface ColumnDefinition {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly format?: string;
  readonly description: string;
  readonly priority?: number;
}

/** A column and the cell it prints; `view` is what the kind derives once per row for several cells. */
export interface TableColumn<View> extends ColumnDefinition {
  cell(object: JsonObject, nowMs: number, view: View): JsonValue;
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

export interface KindTable<View> {
  readonly columns: readonly TableColumn<View>[];
  /** computed once per row and handed to every cell, for kinds whose cells share a derivation */
  readonly view?: (object: JsonObject, nowMs: number) => View;
  /** the row's conditions, when the kind prints any */
  readonly conditions?: (object: JsonObject) => JsonObject[] | undefined;
}

export function kindPrinter<View = undefined>(table: KindTable<View>): KindPrinter {
  return {
    columns: table.columns,
    row: (object, nowMs) => {
      // without a view function View is undefined, which is what every cell then receives
      const view = table.view === undefined ? (undefined as View) : table.view(object, nowMs);
      const cells = table.columns.map((column) => column.cell(object, nowMs, view));
      const conditions = table.conditions?.(object);
      return conditions === undefined ? { cells } : { cells, conditions };
    },
  };
}

export const NAME_DESCRIPTION =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
export const AGE_DESCRIPTION =
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

export function nameOf(object: JsonObject): string {
  return stringAt(objectAt(object, 'metadata'), 'name') ?? '';
}

export function ageCell(object: JsonObject, nowMs: number): string {
  return ageOf(stringAt(objectAt(object, 'metadata'), 'creationTimestamp'), nowMs);
}

export const NAME_COLUMN: TableColumn<unknown> = { name: 'Name', type: 'string', format: 'name', description: NAME_DESCRIPTION, cell: nameOf };
export const AGE_COLUMN: TableColumn<unknown> = { name: 'Age', type: 'string', description: AGE_DESCRIPTION, cell: ageCell };

export function columnJson(column: ColumnDefinition): JsonObject {
  return {
    name: column.name,
    type: column.type,
    format: column.format ?? '',
    description: column.description,
    priority: column.priority ?? 0,
  };
}
