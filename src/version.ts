// The agent's version, read once from package.json next to the build output (dist/src → ../../), and the
// commit and build date that scripts/stamp-build.mjs writes to dist/build-info.json at build time.

import { readFileSync } from 'node:fs';

/** What /version reports when a build was not stamped (plain `tsc -b`). */
export const UNKNOWN_BUILD_FIELD = 'unknown';

export interface BuildInfo {
  /** Git commit the build was made from, or `unknown`. */
  readonly commit: string;
  /** RFC 3339 time of the build, or `unknown`. */
  readonly buildDate: string;
}

function readJson(relative: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function readVersion(): string {
  return nonEmptyString(readJson('../../package.json')?.['version']) ?? '0.0.0';
}

/** A missing or damaged stamp must not stop the agent: each field falls back to `unknown`. */
function readBuildInfo(): BuildInfo {
  const stamp = readJson('../build-info.json');
  return {
    commit: nonEmptyString(stamp?.['commit']) ?? UNKNOWN_BUILD_FIELD,
    buildDate: nonEmptyString(stamp?.['build_date']) ?? UNKNOWN_BUILD_FIELD,
  };
}

export const AGENT_VERSION = readVersion();
export const BUILD_INFO: BuildInfo = Object.freeze(readBuildInfo());
