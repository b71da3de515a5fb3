// Duration strings as the control plane writes them (Go syntax: `300ms`, `45s`, `1m30s`, `1.5h`).

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds of a Go duration string, or undefined when it does not parse. */
export function parseGoDuration(text: string): number | undefined {
  let input = text;
  let sign = 1;
  if (input.startsWith('-') || input.startsWith('+')) {
    sign = input.startsWith('-') ? -1 : 1;
    input = input.slice(1);
  }
  if (input === '') return undefined;
  if (input === '0') return 0;
  let total = 0;
  PART.lastIndex = 0;
  let index = 0;
  while (index < input.length) {
    PART.lastIndex = index;
    const match = PART.exec(input);
    if (match === null) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    index = PART.lastIndex;
  }
  return sign * total;
}
