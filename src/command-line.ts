// The one command-line parser of every command (node:util parseArgs underneath), the help text built from
// each command's table of flags and env vars, and the usage-error convention: one line naming the problem,
// one line with the hint, exit code 2, never a stack trace.

import { parseArgs } from 'node:util';
import { AGENT_VERSION, BUILD_INFO } from './version.js';

export const PROGRAM = 'pipeops-agent';
export const EXIT_USAGE = 2;

export interface FlagSpec {
  /** With the dashes: `--port`. */
  readonly name: string;
  /** Placeholder of the value (`N`, `PATH`); absent for a switch that takes no value. */
  readonly value?: string;
  readonly description: string;
  /** One-letter alias without the dash. */
  readonly short?: string;
}

/** The `default` of a variable that must be set. */
export const REQUIRED = 'required';

export interface EnvVarSpec {
  readonly name: string;
  readonly description: string;
  /** As shown in help; absent when there is none worth showing. */
  readonly default?: string;
}

export interface CommandSpec {
  /** `run`, `demo`…; empty for the top level. */
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly flags: readonly FlagSpec[];
  readonly env: readonly EnvVarSpec[];
  /** Subcommands and their summaries (the top level only). */
  readonly commands?: readonly (readonly [string, string])[];
  /** Paragraphs printed after the tables. */
  readonly notes?: readonly string[];
}

export const HELP_FLAG: FlagSpec = { name: '--help', short: 'h', description: 'Show this help and exit' };
export const VERSION_FLAG: FlagSpec = { name: '--version', description: 'Print the version and exit' };
const COMMON_FLAGS: readonly FlagSpec[] = [HELP_FLAG, VERSION_FLAG];

export const FlagProblemKind = { unknown: 'unknown', missingValue: 'missing-value', unexpectedValue: 'unexpected-value', positional: 'positional' } as const;
export type FlagProblemKind = (typeof FlagProblemKind)[keyof typeof FlagProblemKind];

export interface FlagProblem {
  readonly kind: FlagProblemKind;
  /** The flag as written without any `=value` (`--prot`, `-x`), or the positional argument. */
  readonly arg: string;
}

export interface ParsedFlags {
  /** By flag name with dashes; switches map to true. A repeated flag keeps its last value. */
  readonly values: ReadonlyMap<string, string | true>;
  readonly problems: readonly FlagProblem[];
  readonly isHelp: boolean;
  readonly isVersion: boolean;
}

export interface ParseOptions {
  /** Positional arguments are ignored instead of being problems (the agent's own `run`). */
  readonly isPositionalIgnored?: boolean;
}

/**
 * Parses `--flag value`, `--flag=value` and switches against `flags` (plus --help and --version). Never
 * throws: every problem is collected in argument order. A value that looks like a flag (`--port --tls`) is
 * read as a missing value, not swallowed. Values are never part of a problem, so a mistyped secret is not
 * echoed.
 */
export function parseFlags(flags: readonly FlagSpec[], argv: readonly string[], options: ParseOptions = {}): ParsedFlags {
  const all = [...flags, ...COMMON_FLAGS];
  const values = new Map<string, string | true>();
  const problems: FlagProblem[] = [];
  collect(all, [...argv], values, problems, options);
  const isHelp = values.delete(HELP_FLAG.name);
  const isVersion = values.delete(VERSION_FLAG.name);
  return { values, problems, isHelp, isVersion };
}

function collect(
  flags: readonly FlagSpec[],
  args: string[],
  values: Map<string, string | true>,
  problems: FlagProblem[],
  options: ParseOptions,
): void {
  const parseOptions = Object.fromEntries(
    flags.map((flag) => [
      flag.name.slice(2),
      { type: flag.value === undefined ? 'boolean' : 'string', ...(flag.short === undefined ? {} : { short: flag.short }) },
    ]),
  ) as Record<string, { type: 'boolean' | 'string'; short?: string }>;
  const { tokens } = parseArgs({ args, options: parseOptions, strict: false, allowPositionals: true, tokens: true });
  let isTerminated = false;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      isTerminated = true;
      continue;
    }
    if (token.kind === 'positional') {
      if (!isTerminated && options.isPositionalIgnored !== true) problems.push({ kind: FlagProblemKind.positional, arg: token.value });
      continue;
    }
    const spec = flags.find((flag) => flag.name === `--${token.name}` || flag.short === token.name);
    if (spec === undefined) {
      problems.push({ kind: FlagProblemKind.unknown, arg: token.rawName });
      continue;
    }
    if (spec.value === undefined) {
      if (token.value !== undefined) problems.push({ kind: FlagProblemKind.unexpectedValue, arg: spec.name });
      else values.set(spec.name, true);
      continue;
    }
    if (token.value === undefined || (token.inlineValue !== true && token.value.startsWith('-') && token.value !== '-')) {
      problems.push({ kind: FlagProblemKind.missingValue, arg: spec.name });
      // parseArgs took the next flag as this one's value: read the rest again from that flag on.
      if (token.value !== undefined) collect(flags, args.slice(token.index + 1), values, problems, options);
      if (token.value !== undefined) return;
      continue;
    }
    if (token.value === '') {
      problems.push({ kind: FlagProblemKind.missingValue, arg: spec.name });
      continue;
    }
    values.set(spec.name, token.value);
  }
}

/** ` (did you mean X?)` for the closest candidate within a few edits, else empty. */
export function suggestion(name: string, candidates: readonly string[]): string {
  const limit = Math.max(2, Math.floor(name.length / 4));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

/** Levenshtein distance, one rolling row. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The problem as one line in the project's words. */
export function describeFlagProblem(problem: FlagProblem, flags: readonly FlagSpec[]): string {
  switch (problem.kind) {
    case FlagProblemKind.unknown:
      return `unknown flag ${problem.arg}${suggestion(problem.arg, [...flags, ...COMMON_FLAGS].map((flag) => flag.name))}`;
    case FlagProblemKind.missingValue:
      return `${problem.arg}: requires a value`;
    case FlagProblemKind.unexpectedValue:
      return `${problem.arg}: takes no value`;
    default:
      return `unexpected argument "${problem.arg}"`;
  }
}

export function versionText(): string {
  return `${PROGRAM} ${AGENT_VERSION} (commit ${BUILD_INFO.commit}, built ${BUILD_INFO.buildDate})\n`;
}

const WIDTH = 100;

/** Word-wraps `text` after a first column of `indent` characters. */
function wrap(text: string, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

function table(rows: readonly (readonly [string, string])[]): string {
  const column = Math.min(30, Math.max(...rows.map(([left]) => left.length)) + 4);
  return rows
    .map(([left, right]) => {
      const head = `  ${left}`;
      return head.length + 2 > column ? `${head}\n${' '.repeat(column)}${wrap(right, column)}` : `${head.padEnd(column)}${wrap(right, column)}`;
    })
    .join('\n');
}

function describeEnvVar(env: EnvVarSpec): string {
  if (env.default === undefined) return env.description;
  return env.default === REQUIRED ? `${env.description} (required)` : `${env.description} (default: ${env.default})`;
}

function flagLabel(flag: FlagSpec): string {
  const long = flag.value === undefined ? flag.name : `${flag.name} ${flag.value}`;
  return flag.short === undefined ? long : `-${flag.short}, ${long}`;
}

export function renderHelp(spec: CommandSpec): string {
  const sections = [wrap(spec.summary, 0), `Usage: ${spec.usage}`];
  if (spec.commands !== undefined) sections.push(`Commands:\n${table(spec.commands)}`);
  sections.push(`Flags:\n${table([...spec.flags, ...COMMON_FLAGS].map((flag) => [flagLabel(flag), flag.description]))}`);
  if (spec.env.length > 0) {
    const rows = spec.env.map((env): [string, string] => [env.name, describeEnvVar(env)]);
    sections.push(`Environment:\n${table(rows)}`);
  } else if (spec.commands === undefined) {
    sections.push('Environment: none read.');
  }
  for (const note of spec.notes ?? []) sections.push(wrap(note, 0));
  return `${sections.join('\n\n')}\n`;
}

function commandLabel(spec: CommandSpec): string {
  return spec.name === '' ? PROGRAM : `${PROGRAM} ${spec.name}`;
}

/** One line naming the problem, one line with the hint; exit code 2. */
export function reportUsageError(spec: CommandSpec, message: string): void {
  process.stderr.write(`${commandLabel(spec)}: ${message}\nRun '${commandLabel(spec)} --help' for usage.\n`);
  process.exitCode = EXIT_USAGE;
}

/**
 * The common front of every command: answers --help and --version, reports the first usage problem, and
 * otherwise hands back the flags for the command to run with.
 */
export function readCommandLine(
  spec: CommandSpec,
  argv: readonly string[],
  options: ParseOptions = {},
  describe: (problem: FlagProblem) => string = (problem) => describeFlagProblem(problem, spec.flags),
): ParsedFlags | undefined {
  const parsed = parseFlags(spec.flags, argv, options);
  if (parsed.isHelp) {
    process.stdout.write(renderHelp(spec));
    return undefined;
  }
  if (parsed.isVersion) {
    process.stdout.write(versionText());
    return undefined;
  }
  const [first] = parsed.problems;
  if (first !== undefined) {
    reportUsageError(spec, describe(first));
    return undefined;
  }
  return parsed;
}

/** The value of a flag that takes one, if given. */
export function stringFlag(parsed: ParsedFlags, name: string): string | undefined {
  const value = parsed.values.get(name);
  return typeof value === 'string' ? value : undefined;
}
