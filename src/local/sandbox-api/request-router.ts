// Turns one authenticated request into an outcome: version, health, discovery and OpenAPI documents,
// or a resource verb (get/list/watch, create, update, patch, delete) with negotiated rendering. Every
// failure becomes the apiserver's Status body; nothing here touches sockets.

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
import type { JsonObject } from './json-value.js';
import { DiscoveryFormat, Rendering, chooseDiscovery, chooseOutput, parseAccept, parseMediaType } from './media-type.js';
import { OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_DEPRECATED, openApiV2Json, openApiV2Protobuf, openApiV3Documents, type OpenApiV3Documents } from './openapi.js';
import { deleteResource } from './resource-deletes.js';
import { readResource } from './resource-reads.js';
import type { ApiReply, EndpointContext, ResourceRequest } from './resource-request.js';
import { createResource, patchResource, updateResource } from './resource-writes.js';
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
  | { readonly type: 'watch'; readonly request: ResourceRequest };

export interface RouterOptions {
  readonly context: EndpointContext;
  readonly minorVersion: number;
  /** host:port clients reach the server at, for /api's serverAddressByClientCIDRs (known once listening) */
  readonly serverAddress: () => string;
}

function statusOutcome(error: ApiStatusError): Outcome {
  return { type: 'object', statusCode: error.code, body: error.body, contentType: 'application/json', rendering: 'json' };
}

function objectOutcome(body: JsonObject, contentType = 'application/json', headers?: Record<string, string>): Outcome {
  return { type: 'object', statusCode: 200, body, contentType, rendering: 'json', ...(headers === undefined ? {} : { headers }) };
}

function isWatch(query: URLSearchParams): boolean {
  const value = query.get('watch');
  return value === 'true' || value === '1';
}

export class RequestRouter {
  readonly #options: RouterOptions;
  readonly #openApiV2: Buffer;
  readonly #openApiV3: OpenApiV3Documents;

  constructor(options: RouterOptions) {
    this.#options = options;
    const gitVersion = gitVersionOf(options.minorVersion);
    this.#openApiV2 = openApiV2Protobuf(gitVersion);
    this.#openApiV3 = openApiV3Documents(gitVersion);
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

  #resource(request: IncomingApiRequest, target: ResourceTarget): Outcome {
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
    const isYaml = output.rendering === Rendering.yaml && reply.contentType === undefined;
    return {
      type: 'object',
      statusCode: reply.statusCode,
      body: reply.body,
      contentType: reply.contentType ?? (isYaml ? 'application/yaml' : 'application/json'),
      rendering: isYaml ? 'yaml' : 'json',
      ...(reply.warnings === undefined ? {} : { warnings: reply.warnings }),
    };
  }
}
