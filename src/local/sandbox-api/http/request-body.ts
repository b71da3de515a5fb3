// Request bodies and write options: decoding JSON or YAML objects, DeleteOptions, and the dryRun and
// fieldValidation query parameters, with the apiserver's errors for each malformed case.

import YAML from 'yaml';
import { badRequest, unsupportedMediaType } from './api-status.js';
import { queryChoice } from './query-choice.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../store/json-value.js';
import type { MediaType } from './media-type.js';
import { decodeProtobufObject } from './protobuf-body.js';

const ACCEPTED_FOR_OBJECTS = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

/** Parses JSON bytes; malformed JSON is a 400. */
export function parseJson(body: Buffer): JsonValue {
  try {
    return JSON.parse(body.toString('utf8')) as JsonValue;
  } catch (error) {
    throw badRequest(`couldn't get version/kind; json parse error: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Decodes an object body sent as JSON (the default) or YAML; any other media type is a 415. */
export function decodeObject(body: Buffer, contentType: MediaType | undefined): JsonObject {
  const essence = contentType?.essence ?? 'application/json';
  let value: JsonValue;
  if (essence === 'application/yaml') {
    try {
      value = YAML.parse(body.toString('utf8')) as JsonValue;
    } catch (error) {
      throw badRequest(`error converting YAML to JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else if (essence === 'application/json') {
    value = parseJson(body);
  } else if (essence === 'application/vnd.kubernetes.protobuf') {
    value = decodeProtobufObject(body);
  } else {
    throw unsupportedMediaType(ACCEPTED_FOR_OBJECTS);
  }
  if (!isJsonObject(value)) throw badRequest("couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct");
  return value;
}

/** `dryRun=All` means validate and answer, but persist nothing. */
export function isDryRun(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  for (const value of values) {
    if (value !== 'All') throw badRequest(`Invalid value: "${value}": supported values: "All"`);
  }
  return values.length > 0;
}

export const FieldValidation = { ignore: 'Ignore', warn: 'Warn', strict: 'Strict' } as const;
export type FieldValidation = (typeof FieldValidation)[keyof typeof FieldValidation];

/** The fieldValidation directive (Warn when absent, as the apiserver defaults). */
export function fieldValidationOf(query: URLSearchParams): FieldValidation {
  return queryChoice(FieldValidation, query.get('fieldValidation'), FieldValidation.warn, (value) => `fieldValidation: Unsupported value: "${value}": supported values: "Ignore", "Strict", "Warn"`);
}

export interface DeleteOptions {
  readonly isDryRun: boolean;
  readonly preconditions: { readonly uid?: string; readonly resourceVersion?: string };
}

/**
 * DeleteOptions of a DELETE: the body (client-go sends dryRun and preconditions there) merged with the
 * dryRun query parameter; an empty body has none.
 */
export function deleteOptionsOf(query: URLSearchParams, body: Buffer, contentType: MediaType | undefined): DeleteOptions {
  let isBodyDryRun = false;
  const preconditions: { uid?: string; resourceVersion?: string } = {};
  if (body.length > 0) {
    const options = decodeObject(body, contentType);
    const dryRun = options['dryRun'];
    if (Array.isArray(dryRun)) {
      for (const value of dryRun) {
        if (value !== 'All') throw badRequest(`Invalid value: "${String(value)}": supported values: "All"`);
      }
      isBodyDryRun = dryRun.length > 0;
    }
    const given = options['preconditions'];
    if (isJsonObject(given)) {
      if (typeof given['uid'] === 'string') preconditions.uid = given['uid'];
      if (typeof given['resourceVersion'] === 'string') preconditions.resourceVersion = given['resourceVersion'];
    }
  }
  return { isDryRun: isDryRun(query) || isBodyDryRun, preconditions };
}
