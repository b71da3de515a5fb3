// Watches (?watch=1) over the store's change feed: initial ADDED events (or a replay from a
// resourceVersion, 410 when history no longer reaches it), then every matching change as one
// newline-terminated JSON event, rendered as Tables for `kubectl get -w`. Ends on timeoutSeconds or close.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiStatusError } from '../http/api-status.js';
import { commonHeaders, encodeJson } from '../http/http-exchange.js';
import { objectAt, stringAt, type JsonObject } from '../store/json-value.js';
import { Rendering } from '../http/media-type.js';
import type { StoreChange } from '../store/object-store.js';
import type { EndpointContext, ResourceRequest } from './resource-request.js';
import { objectFilter } from './resource-reads.js';
import { apiVersionOf } from '../store/resource-catalog.js';
import { parseIncludeObject, toTable } from '../tables/table-printer.js';
import { queryFlag } from '../../query-bool.js';

/** kube-apiserver picks 30-60 minutes when the client sets no timeoutSeconds */
const DEFAULT_WATCH_TIMEOUT_SECONDS = 1800;

export function streamWatch(context: EndpointContext, request: ResourceRequest, httpRequest: IncomingMessage, response: ServerResponse): void {
  const { definition, namespace } = request.target;
  const filter = objectFilter(definition, request.query);
  const includeObject = parseIncludeObject(request.query.get('includeObject'));
  const isTable = request.output.rendering === Rendering.table;
  let hasSentColumns = false;

  const render = (object: JsonObject): JsonObject => {
    if (!isTable) return object;
    const table = toTable([object], {
      kind: definition.kind,
      includeObject,
      nowMs: context.store.now(),
      listMeta: { resourceVersion: stringAt(objectAt(object, 'metadata'), 'resourceVersion') ?? '' },
      tableApiVersion: request.output.metaApiVersion,
    });
    // only the first event carries the column definitions (the apiserver sets NoHeaders afterwards)
    if (hasSentColumns) table['columnDefinitions'] = null;
    hasSentColumns = true;
    return table;
  };
  const send = (type: string, object: JsonObject): void => {
    response.write(encodeJson({ type, object }));
  };
  const isRelevant = (change: StoreChange): boolean =>
    change.key.group === definition.group &&
    change.key.resource === definition.resource &&
    (namespace === undefined || change.key.namespace === namespace) &&
    filter.matches(change.object);

  response.writeHead(200, { ...commonHeaders(), 'Content-Type': isTable ? request.output.contentType : 'application/json' });
  // clients wait for the headers before reading events; Node would hold them until the first write
  response.flushHeaders();
  const resourceVersion = request.query.get('resourceVersion') ?? '';
  if (resourceVersion === '' || resourceVersion === '0') {
    for (const object of context.store.list(definition, namespace).filter(filter.matches)) send('ADDED', render(object));
  } else {
    const replay = context.store.changesSince(Number(resourceVersion));
    if (replay === undefined) {
      const gone = new ApiStatusError(410, 'Expired', `too old resource version: ${resourceVersion} (${context.store.resourceVersion})`);
      send('ERROR', gone.body);
      response.end();
      return;
    }
    for (const change of replay.filter(isRelevant)) send(change.type, render(change.object));
  }
  if (queryFlag(request.query, 'sendInitialEvents')) {
    send('BOOKMARK', {
      kind: definition.kind,
      apiVersion: apiVersionOf(definition),
      metadata: { resourceVersion: context.store.resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } },
    });
  }

  const unsubscribe = context.store.onChange((change) => {
    if (isRelevant(change)) send(change.type, render(change.object));
  });
  const timeoutSeconds = Number(request.query.get('timeoutSeconds') ?? DEFAULT_WATCH_TIMEOUT_SECONDS);
  const timer = setTimeout(() => response.end(), (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds : DEFAULT_WATCH_TIMEOUT_SECONDS) * 1000);
  const stop = (): void => {
    clearTimeout(timer);
    unsubscribe();
  };
  response.on('close', stop);
  httpRequest.on('close', stop);
}
