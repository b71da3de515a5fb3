// A query parameter that takes one of a fixed set of values, as kube-apiserver reads fieldValidation,
// includeObject and their kin: absent or empty means the default, anything outside the set is a 400.

import { badRequest } from './api-status.js';

export function queryChoice<T extends string>(choices: Readonly<Record<string, T>>, value: string | null, fallback: T, unknownMessage: (value: string) => string): T {
  if (value === null || value === '') return fallback;
  if ((Object.values(choices) as string[]).includes(value)) return value as T;
  throw badRequest(unknownMessage(value));
}
