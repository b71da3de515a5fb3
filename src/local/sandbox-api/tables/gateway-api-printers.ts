// `kubectl get` tables of the Gateway API kinds, from their CRDs' additionalPrinterColumns (the apiserver
// prints a custom resource by those JSONPaths, with Name first and cells rendered as text).

import { objectAt, objectsAt, stringAt, type JsonObject } from '../store/json-value.js';
import { NAME_COLUMN, ageCell, kindPrinter, type KindPrinter, type TableColumn } from './kind-table.js';

const CRD_AGE_COLUMN: TableColumn<unknown> = {
  name: 'Age',
  type: 'date',
  description: 'Custom resource definition column (in JSONPath format): .metadata.creationTimestamp',
  cell: ageCell,
};

/** `.status.conditions[?(@.type=="Programmed")].status` */
function conditionStatus(object: JsonObject, type: string): string {
  const condition = objectsAt(objectAt(object, 'status'), 'conditions').find((entry) => stringAt(entry, 'type') === type);
  return condition === undefined ? '' : (stringAt(condition, 'status') ?? '');
}

export const GATEWAY_PRINTER: KindPrinter = kindPrinter({
  columns: [
    NAME_COLUMN,
    {
      name: 'Class',
      type: 'string',
      description: 'Custom resource definition column (in JSONPath format): .spec.gatewayClassName',
      cell: (object) => stringAt(objectAt(object, 'spec'), 'gatewayClassName') ?? '',
    },
    {
      name: 'Address',
      type: 'string',
      description: 'Custom resource definition column (in JSONPath format): .status.addresses[*].value',
      cell: (object) => objectsAt(objectAt(object, 'status'), 'addresses').map((entry) => stringAt(entry, 'value') ?? '').join(' '),
    },
    {
      name: 'Programmed',
      type: 'string',
      description: 'Custom resource definition column (in JSONPath format): .status.conditions[?(@.type=="Programmed")].status',
      cell: (object) => conditionStatus(object, 'Programmed'),
    },
    CRD_AGE_COLUMN,
  ],
});

/** TCPRoute and UDPRoute declare only an Age column. */
export const ROUTE_PRINTER: KindPrinter = kindPrinter({ columns: [NAME_COLUMN, CRD_AGE_COLUMN] });
