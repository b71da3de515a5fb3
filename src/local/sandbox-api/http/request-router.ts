// Turns one authenticated request into an outcome: version, health, discovery and OpenAPI documents,
// a resource verb (get/list/watch, create, update, patch, delete) with negotiated rendering, or a pod
// subresource that streams (log, exec, attach, portforward), handed to its handler from the table below.
// Every failure becomes the apiserver's Status body; nothing here touches sockets.

import { ApiStatusError, internalError, methodNotAllowed, notAcceptable, resourceNotFound } from './api-status.js';
import { resolvePath, type ApiTarget, type ResourceTarget } from './api-path.js';
import {
  AGGREGATED_V2BETA1_CONTENT_TYPE,
  AGGREGATED_V2_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
} from './discovery.js';
import type { JsonObject } from '../store/json-value.js';
import { DiscoveryFormat, Rendering, chooseDiscovery, chooseOutput, parseAccept, parseMediaType } from './media-type.js';
import { OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_DEPRECATED, openApiV2Json, openApiV2Protobuf, openApiV3Documents, type OpenApiV3Documents } from './openapi.js';
import { createPodLogHandler } from '../streams/pod-logs.js';
import { answerAccessReview, isAccessReview } from '../resources/access-reviews.js';
import { queryFlag } from '../../query-bool.js';
import { createPortForwardHandler } from '../streams/portforward/port-forward-handler.js';
import {
  POD_STREAM_SUBRESOURCES,
  isPodStreamSubresource,
  replyStatus,
  type PodStreamContext,
  type PodStreamHandler,
  type PodStreamHandlerFactory,
  type PodStreamSubresource,
  type PodStreamTarget,
} from '../streams/pod-stream-handler.js';
import { createAttachHandler, createExecHandler } from '../streams/remote-command.js';
import { deleteResource } from '../resources/resource-deletes.js';
import { existingObject, readResource } from '../resources/resource-reads.js';
import type { ApiReply, EndpointContext, ResourceRequest } from '../resources/resource-request.js';
import { createResource, patchResource, updateResource } from '../resources/resource-writes.js';
import { gitVersionOf, versionInfo } from './version-info.js';

export interface IncomingApiRequest {
  readonly method: string;
  readonly url: URL;
  readonly accept: string | undefined;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

export type Outcome =
  | { readonly type: 'object'; readonly statusCode: number; readonly body: JsonObject; readonly contentType: string; readonly rendering: 'json' | 'yaml'; readonly warnings?: readonly string[]; readonly headers?: Readonly<Record<string, string>> }
  | { readonly type: 'bytes'; readonly statusCode: number; readonly body: Buffer; readonly contentType: string; readonly headers?: Readonly<Record<string, string>> }
  | { readonly type: 'text'; readonly statusCode: number; readonly text: string; readonly headers?: Readonly<Record<string, string>> }
  | { readonly type: 'watch'; readonly request: ResourceRequest }
  | { readonly type: 'podStream'; readonly handler: PodStreamHandler; readonly target: PodStreamTarget };

export interface RouterOptions {
  readonly context: EndpointContext;
  readonly minorVersion: number;
  /** host:port clients reach the server at, for /api's serverAddressByClientCIDRs (known once listening) */
  readonly serverAddress: () => string;
  /** what the streaming pod subresources need (pod runtime, logger) */
  readonly podStreams: PodStreamContext;
}

/** The methods kube-apiserver registers per streaming pod subresource (log is a getter, the rest connect). */
const POD_STREAM_METHODS: Readonly<Record<PodStreamSubresource, readonly string[]>> = {
  log: ['GET'],
  exec: ['GET', 'POST'],
  attach: ['GET', 'POST'],
  portforward: ['GET', 'POST'],
};

/**
 * Which handler serves each streaming pod subresource. A server builds one instance of each when it
 * starts. Port-forward plugs in by replacing its entry, or at run time through registerPortForwardHandler.
 */
const podStreamHandlers: Record<PodStreamSubresource, PodStreamHandlerFactory> = {
  log: createPodLogHandler,
  exec: createExecHandler,
  attach: createAttachHandler,
  portforward: createPortForwardHandler,
};

/**
 * The hook for the port-forward implementation: sandboxes started after this call serve
 * `pods/<name>/portforward` with `factory`'s handler (the router has already checked method and pod).
 * Returns a function that restores the previous handler (for tests).
 */
export function registerPortForwardHandler(factory: PodStreamHandlerFactory): () => void {
  const previous = podStreamHandlers.portforward;
  podStreamHandlers.portforward = factory;
  return () => {
    podStreamHandlers.portforward = previous;
  };
}

function statusOutcome(error: ApiStatusError): Outcome {
  return { type: 'object', statusCode: error.code, body: error.body, contentType: 'application/json', rendering: 'json' };
}

function objectOutcome(body: JsonObject, contentType = 'application/json', headers?: Record<string, string>): Outcome {
  return { type: 'object', statusCode: 200, body, contentType, rendering: 'json', ...(headers === undefined ? {} : { headers }) };
}

function replyOutcome(reply: ApiReply, wantsYaml: boolean): Outcome {
  const isYaml = wantsYaml && reply.contentType === undefined;
  return {
    type: 'object',
    statusCode: reply.statusCode,
    body: reply.body,
    contentType: reply.contentType ?? (isYaml ? 'application/yaml' : 'application/json'),
    rendering: isYaml ? 'yaml' : 'json',
    ...(reply.warnings === undefined ? {} : { warnings: reply.warnings }),
  };
}

function isWatch(query: URLSearchParams): boolean {
  return queryFlag(query, 'watch');
}

export class RequestRouter {
  readonly #options: RouterOptions;
  readonly #openApiV2: Buffer;
  readonly #openApiV3: OpenApiV3Documents;
  readonly #podStreams: ReadonlyMap<PodStreamSubresource, PodStreamHandler>;

  constructor(options: RouterOptions) {
    this.#options = options;
    const gitVersion = gitVersionOf(options.minorVersion);
    this.#openApiV2 = openApiV2Protobuf(gitVersion);
    this.#openApiV3 = openApiV3Documents(gitVersion);
    this.#podStreams = new Map(POD_STREAM_SUBRESOURCES.map((name) => [name, podStreamHandlers[name](options.podStreams)]));
  }

  /** Open log follows, exec/attach connections and forwarded ports. */
  get activeStreamSessions(): number {
    let total = 0;
    for (const handler of this.#podStreams.values()) total += handler.activeSessions;
    return total;
  }

  /** Ends every streaming session and the processes behind them. */
  async close(): Promise<void> {
    await Promise.all([...this.#podStreams.values()].map((handler) => handler.close()));
  }

  route(request: IncomingApiRequest): Outcome {
    try {
      return this.#route(request, resolvePath(request.url.pathname));
    } catch (error) {
      if (error instanceof ApiStatusError) return statusOutcome(error);
      return statusOutcome(internalError(error instanceof Error ? error.message : String(error)));
    }
  }

  #route(request: IncomingApiRequest, target: ApiTarget): Outcome {
    const isRead = request.method === 'GET' || request.method === 'HEAD';
    if (target.type !== 'resource' && target.type !== 'unknownPath' && !isRead) throw methodNotAllowed();
    switch (target.type) {
      case 'version':
        return objectOutcome(versionInfo(this.#options.minorVersion));
      case 'health':
        return { type: 'text', statusCode: 200, text: 'ok' };
      case 'apiRoot':
      case 'apisRoot':
        return this.#rootDiscovery(request, target.type === 'apiRoot');
      case 'group': {
        const body = apiGroup(target.group);
        if (body === undefined) throw resourceNotFound();
        return objectOutcome(body);
      }
      case 'groupVersion': {
        const body = apiResourceList(target.group, target.version);
        if (body === undefined) throw resourceNotFound();
        return objectOutcome(body);
      }
      case 'openApiV2':
        return this.#openApiV2Outcome(request);
      case 'openApiV3Root':
        return objectOutcome(this.#openApiV3.root);
      case 'openApiV3':
        return this.#openApiV3Outcome(request, target.path);
      case 'resource':
        return this.#resource(request, target);
      case 'unknownResource':
        throw resourceNotFound();
      case 'unknownPath':
        return { type: 'text', statusCode: 404, text: '404 page not found\n' };
    }
  }

  #rootDiscovery(request: IncomingApiRequest, isLegacyRoot: boolean): Outcome {
    const format = chooseDiscovery(parseAccept(request.accept));
    const headers = { Vary: 'Accept' };
    if (format === DiscoveryFormat.aggregatedV2) return objectOutcome(aggregatedDiscovery(isLegacyRoot, 'v2'), AGGREGATED_V2_CONTENT_TYPE, headers);
    if (format === DiscoveryFormat.aggregatedV2beta1) {
      return objectOutcome(aggregatedDiscovery(isLegacyRoot, 'v2beta1'), AGGREGATED_V2BETA1_CONTENT_TYPE, headers);
    }
    return objectOutcome(isLegacyRoot ? apiVersions(this.#options.serverAddress()) : apiGroupList(), 'application/json', headers);
  }

  #openApiV2Outcome(request: IncomingApiRequest): Outcome {
    const wantsProtobuf = parseAccept(request.accept).some((type) => type.essence === OPENAPI_V2_PROTOBUF || type.essence === OPENAPI_V2_PROTOBUF_DEPRECATED);
    if (wantsProtobuf) return { type: 'bytes', statusCode: 200, body: this.#openApiV2, contentType: OPENAPI_V2_PROTOBUF, headers: { Vary: 'Accept' } };
    return objectOutcome(openApiV2Json(gitVersionOf(this.#options.minorVersion)), 'application/json', { Vary: 'Accept' });
  }

  #openApiV3Outcome(request: IncomingApiRequest, path: string): Outcome {
    const document = this.#openApiV3.documents.get(path);
    if (document === undefined) return { type: 'text', statusCode: 404, text: '404 page not found\n' };
    const hash = request.url.searchParams.get('hash');
    if (hash !== null && hash !== document.hash) {
      return { type: 'text', statusCode: 301, text: '', headers: { Location: `/openapi/v3/${path}?hash=${document.hash}` } };
    }
    const headers: Record<string, string> = { Etag: `"${document.hash}"`, Vary: 'Accept' };
    if (hash !== null) headers['Cache-Control'] = 'public, immutable';
    return { type: 'bytes', statusCode: 200, body: document.body, contentType: 'application/json', headers };
  }

  #podStream(request: IncomingApiRequest, target: ResourceTarget, subresource: PodStreamSubresource, name: string): Outcome {
    if (!POD_STREAM_METHODS[subresource].includes(request.method)) throw methodNotAllowed();
    const handler = this.#podStreams.get(subresource);
    if (handler === undefined) throw resourceNotFound();
    // like the apiserver's ExecLocation/LogLocation, a missing pod is a 404 before anything streams
    const pod = existingObject(this.#options.context, { ...target, name });
    const podTarget: PodStreamTarget = { subresource, namespace: target.namespace ?? '', name, pod, method: request.method, query: request.url.searchParams };
    return { type: 'podStream', handler, target: podTarget };
  }

  #resource(request: IncomingApiRequest, target: ResourceTarget): Outcome {
    const isPods = target.definition.group === '' && target.definition.resource === 'pods';
    if (isPods && target.name !== undefined && isPodStreamSubresource(target.subresource)) {
      return this.#podStream(request, target, target.subresource, target.name);
    }
    const output = chooseOutput(parseAccept(request.accept));
    if (output === undefined) throw notAcceptable();
    const resourceRequest: ResourceRequest = {
      target,
      method: request.method,
      query: request.url.searchParams,
      body: request.body,
      contentType: request.contentType === undefined ? undefined : parseMediaType(request.contentType),
      output,
    };
    const context = this.#options.context;
    let reply: ApiReply;
    if (isAccessReview(target.definition)) return replyOutcome(answerAccessReview(resourceRequest), output.rendering === Rendering.yaml);
    switch (request.method) {
      case 'GET':
      case 'HEAD':
        if (isWatch(resourceRequest.query) && target.name === undefined) return { type: 'watch', request: resourceRequest };
        reply = readResource(context, resourceRequest);
        break;
      case 'POST':
        reply = createResource(context, resourceRequest);
        break;
      case 'PUT':
        reply = updateResource(context, resourceRequest);
        break;
      case 'PATCH':
        reply = patchResource(context, resourceRequest);
        break;
      case 'DELETE':
        reply = deleteResource(context, resourceRequest);
        break;
      default:
        throw methodNotAllowed();
    }
    return replyOutcome(reply, output.rendering === Rendering.yaml);
  }
}
