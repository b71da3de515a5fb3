// meta.k8s.io/v1 Table answers for `kubectl get`: the kind's columns and rows, and each row's object
// embedded as includeObject asks (PartialObjectMetadata by default, the full object, or none).

import { queryChoice } from '../http/query-choice.js';
import { objectAt, type JsonObject, type JsonValue } from '../store/json-value.js';
import { printerFor } from './kind-printers.js';
import { columnJson } from './kind-table.js';

export const IncludeObject = { none: 'None', metadata: 'Metadata', object: 'Object' } as const;
export type IncludeObject = (typeof IncludeObject)[keyof typeof IncludeObject];

export function parseIncludeObject(value: string | null): IncludeObject {
  return queryChoice(IncludeObject, value, IncludeObject.metadata, (unknown) => `unrecognized includeObject value: "${unknown}"`);
}

export interface TableOptions {
  readonly kind: string;
  readonly includeObject: IncludeObject;
  readonly nowMs: number;
  /** the list's (or the single object's) metadata: resourceVersion, continue, remainingItemCount */
  readonly listMeta: JsonObject;
  /** `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`, whichever the client asked for */
  readonly tableApiVersion: string;
}

function embedded(object: JsonObject, includeObject: IncludeObject, tableApiVersion: string): JsonValue {
  switch (includeObject) {
    case IncludeObject.none:
      return null;
    case IncludeObject.object:
      return object;
    case IncludeObject.metadata:
      return { kind: 'PartialObjectMetadata', apiVersion: tableApiVersion, metadata: objectAt(object, 'metadata') ?? {} };
  }
}

export function toTable(objects: readonly JsonObject[], options: TableOptions): JsonObject {
  const printer = printerFor(options.kind);
  return {
    kind: 'Table',
    apiVersion: options.tableApiVersion,
    metadata: options.listMeta,
    columnDefinitions: printer.columns.map(columnJson),
    rows: objects.map((object) => {
      const printed = printer.row(object, options.nowMs);
      const row: JsonObject = { cells: printed.cells };
      if (printed.conditions !== undefined) row['conditions'] = printed.conditions;
      row['object'] = embedded(object, options.includeObject, options.tableApiVersion);
      return row;
    }),
  };
}
