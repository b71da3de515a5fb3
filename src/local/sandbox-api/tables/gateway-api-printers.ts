// `kubectl get` tables of the Gateway API kinds, from their CRDs' additionalPrinterColumns (the apiserver
// prints a custom resource by those JSONPaths, with Name first and cells rendered as text).

import { ageOf } from './human-duration.js';
import { arrayAt, isJsonObject, objectAt, stringAt, type JsonObject } from '../store/json-value.js';
import { NAME_COLUMN, type ColumnDefinition, type KindPrinter } from './table-columns.js';

const CRD_AGE_COLUMN: ColumnDefinition = { name: 'Age', type: 'date', description: 'Custom resource definition column (in JSONPath format): .metadata.creationTimestamp' };

function ageCell(object: JsonObject, nowMs: number): string {
  return ageOf(stringAt(objectAt(object, 'metadata'), 'creationTimestamp'), nowMs);
}

/** `.status.conditions[?(@.type=="Programmed")].status` */
function conditionStatus(object: JsonObject, type: string): string {
  const condition = (arrayAt(objectAt(object, 'status'), 'conditions') ?? []).filter(isJsonObject).find((entry) => stringAt(entry, 'type') === type);
  return condition === undefined ? '' : (stringAt(condition, 'status') ?? '');
}

export const GATEWAY_PRINTER: KindPrinter = {
  columns: [
    NAME_COLUMN,
    { name: 'Class', type: 'string', description: 'Custom resource definition column (in JSONPath format): .spec.gatewayClassName' },
    { name: 'Address', type: 'string', description: 'Custom resource definition column (in JSONPath format): .status.addresses[*].value' },
    { name: 'Programmed', type: 'string', description: 'Custom resource definition column (in JSONPath format): .status.conditions[?(@.type=="Programmed")].status' },
    CRD_AGE_COLUMN,
  ],
  row: (object, nowMs) => {
    const addresses = (arrayAt(objectAt(object, 'status'), 'addresses') ?? []).filter(isJsonObject).map((entry) => stringAt(entry, 'value') ?? '');
    return {
      cells: [
        stringAt(objectAt(object, 'metadata'), 'name') ?? '',
        stringAt(objectAt(object, 'spec'), 'gatewayClassName') ?? '',
        addresses.join(' '),
        conditionStatus(object, 'Programmed'),
        ageCell(object, nowMs),
      ],
    };
  },
};

/** TCPRoute and UDPRoute declare only an Age column. */
export const ROUTE_PRINTER: KindPrinter = {
  columns: [NAME_COLUMN, CRD_AGE_COLUMN],
  row: (object, nowMs) => ({ cells: [stringAt(objectAt(object, 'metadata'), 'name') ?? '', ageCell(object, nowMs)] }),
};
