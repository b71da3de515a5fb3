// Label selectors as the apiserver parses them (k8s.io/apimachinery/pkg/labels): =, ==, !=, in, notin,
// exists, !key, >, <; and matching against an object's labels. Parsing never touches the store.

export const SelectorOperator = {
  equals: '=',
  doubleEquals: '==',
  notEquals: '!=',
  in: 'in',
  notIn: 'notin',
  exists: 'exists',
  doesNotExist: '!',
  greaterThan: 'gt',
  lessThan: 'lt',
} as const;
export type SelectorOperator = (typeof SelectorOperator)[keyof typeof SelectorOperator];

export interface LabelRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

/** A selector that cannot be parsed or names an invalid key or value; the message is the apiserver's. */
export class LabelSelectorError extends Error {
  readonly code = 'SANDBOX_LABEL_SELECTOR_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'LabelSelectorError';
  }
}

const TokenKind = {
  identifier: 'identifier',
  operator: 'operator',
  openParen: '(',
  closeParen: ')',
  comma: ',',
  end: 'end of string',
} as const;
type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

const OPERATOR_TEXTS = ['!=', '==', '=', '!', '>', '<'] as const;
const SPECIAL_CHARS = new Set(['!', '=', '(', ')', ',', '>', '<']);

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < input.length) {
    const char = input[at] ?? '';
    if (/\s/.test(char)) {
      at += 1;
      continue;
    }
    if (char === '(' || char === ')' || char === ',') {
      tokens.push({ kind: char, text: char });
      at += 1;
      continue;
    }
    const operator = OPERATOR_TEXTS.find((text) => input.startsWith(text, at));
    if (operator !== undefined) {
      tokens.push({ kind: TokenKind.operator, text: operator });
      at += operator.length;
      continue;
    }
    let end = at;
    while (end < input.length && !/\s/.test(input[end] ?? '') && !SPECIAL_CHARS.has(input[end] ?? '')) end += 1;
    tokens.push({ kind: TokenKind.identifier, text: input.slice(at, end) });
    at = end;
  }
  tokens.push({ kind: TokenKind.end, text: '' });
  return tokens;
}

const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const LABEL_VALUE_MESSAGE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_MESSAGE =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

function validateKey(key: string): void {
  const parts = key.split('/');
  const name = parts.length === 2 ? (parts[1] ?? '') : key;
  const prefix = parts.length === 2 ? (parts[0] ?? '') : undefined;
  const problems: string[] = [];
  if (parts.length > 2) {
    problems.push("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
  } else {
    if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
      problems.push(prefix.length === 0 ? 'prefix part must be non-empty' : 'prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character (e.g. \'example.com\', regex used for validation is \'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\')');
    }
    if (name.length === 0) problems.push('name part must be non-empty');
    else if (name.length > 63) problems.push('name part must be no more than 63 characters');
    else if (!QUALIFIED_NAME_PART.test(name)) problems.push(QUALIFIED_NAME_MESSAGE);
  }
  if (problems.length > 0) {
    throw new LabelSelectorError(`unable to parse requirement: key: Invalid value: "${key}": ${problems.join(', ')}`);
  }
}

function validateValues(key: string, values: readonly string[]): void {
  values.forEach((value, index) => {
    const problem = value.length > 63 ? 'must be no more than 63 characters' : LABEL_VALUE.test(value) ? undefined : LABEL_VALUE_MESSAGE;
    if (problem !== undefined) {
      throw new LabelSelectorError(`unable to parse requirement: values[${index}][${key}]: Invalid value: "${value}": ${problem}`);
    }
  });
}

class Parser {
  readonly #tokens: Token[];
  #position = 0;
  constructor(input: string) {
    this.#tokens = tokenize(input);
  }

  #peek(): Token {
    return this.#tokens[this.#position] ?? { kind: TokenKind.end, text: '' };
  }

  #next(): Token {
    const token = this.#peek();
    if (this.#position < this.#tokens.length) this.#position += 1;
    return token;
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    for (;;) {
      const token = this.#peek();
      if (token.kind === TokenKind.end) return requirements;
      if (token.kind !== TokenKind.identifier && !(token.kind === TokenKind.operator && token.text === '!')) {
        throw new LabelSelectorError(`found '${token.text}', expected: !, identifier, or 'end of string'`);
      }
      requirements.push(this.#requirement());
      const after = this.#next();
      if (after.kind === TokenKind.end) return requirements;
      if (after.kind !== TokenKind.comma) throw new LabelSelectorError(`found '${after.text}', expected: ',' or 'end of string'`);
      const following = this.#peek();
      if (following.kind !== TokenKind.identifier && following.text !== '!') {
        throw new LabelSelectorError(`found '${following.text}', expected: identifier after ','`);
      }
    }
  }

  #requirement(): LabelRequirement {
    let token = this.#next();
    if (token.kind === TokenKind.operator && token.text === '!') {
      token = this.#next();
      if (token.kind !== TokenKind.identifier) throw new LabelSelectorError(`found '${token.text}', expected: identifier`);
      validateKey(token.text);
      return { key: token.text, operator: SelectorOperator.doesNotExist, values: [] };
    }
    const key = token.text;
    validateKey(key);
    const operatorToken = this.#peek();
    if (operatorToken.kind === TokenKind.end || operatorToken.kind === TokenKind.comma) {
      return { key, operator: SelectorOperator.exists, values: [] };
    }
    this.#next();
    const operator = operatorFor(operatorToken);
    if (operator === SelectorOperator.in || operator === SelectorOperator.notIn) {
      const values = this.#valueSet();
      validateValues(key, values);
      return { key, operator, values };
    }
    const valueToken = this.#peek();
    let value = '';
    if (valueToken.kind === TokenKind.identifier) {
      this.#next();
      value = valueToken.text;
    } else if (valueToken.kind !== TokenKind.end && valueToken.kind !== TokenKind.comma) {
      throw new LabelSelectorError(`found '${valueToken.text}', expected: identifier`);
    }
    if (operator === SelectorOperator.greaterThan || operator === SelectorOperator.lessThan) {
      if (!/^-?\d+$/.test(value)) {
        throw new LabelSelectorError(`unable to parse requirement: values[0]: Invalid value: "${value}": for 'Gt', 'Lt' operators, the value must be an integer`);
      }
      return { key, operator, values: [value] };
    }
    validateValues(key, [value]);
    return { key, operator, values: [value] };
  }

  #valueSet(): string[] {
    const open = this.#next();
    if (open.kind !== TokenKind.openParen) throw new LabelSelectorError(`found '${open.text}', expected: '('`);
    const values: string[] = [];
    let expectValue = true;
    for (;;) {
      const token = this.#next();
      if (token.kind === TokenKind.closeParen) {
        if (expectValue && values.length > 0) values.push('');
        return values;
      }
      if (token.kind === TokenKind.identifier && expectValue) {
        values.push(token.text);
        expectValue = false;
      } else if (token.kind === TokenKind.comma) {
        if (expectValue) values.push('');
        expectValue = true;
      } else {
        throw new LabelSelectorError(`found '${token.text}', expected: ',', ')' or identifier`);
      }
    }
  }
}

function operatorFor(token: Token): SelectorOperator {
  if (token.kind === TokenKind.identifier && token.text === 'in') return SelectorOperator.in;
  if (token.kind === TokenKind.identifier && token.text === 'notin') return SelectorOperator.notIn;
  if (token.kind === TokenKind.operator) {
    switch (token.text) {
      case '=':
        return SelectorOperator.equals;
      case '==':
        return SelectorOperator.doubleEquals;
      case '!=':
        return SelectorOperator.notEquals;
      case '>':
        return SelectorOperator.greaterThan;
      case '<':
        return SelectorOperator.lessThan;
      default:
        break;
    }
  }
  throw new LabelSelectorError(`found '${token.text}', expected: !=, ==, =, <, >, notin, in`);
}

/** Parses a `labelSelector` query value; an empty string selects everything. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  return new Parser(selector).parse();
}

export function requirementMatches(requirement: LabelRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const value = labels[requirement.key];
  switch (requirement.operator) {
    case SelectorOperator.exists:
      return has;
    case SelectorOperator.doesNotExist:
      return !has;
    case SelectorOperator.equals:
    case SelectorOperator.doubleEquals:
    case SelectorOperator.in:
      return has && value !== undefined && requirement.values.includes(value);
    case SelectorOperator.notEquals:
    case SelectorOperator.notIn:
      return !has || value === undefined || !requirement.values.includes(value);
    case SelectorOperator.greaterThan:
    case SelectorOperator.lessThan: {
      if (!has || value === undefined || !/^-?\d+$/.test(value)) return false;
      const actual = Number(value);
      const bound = Number(requirement.values[0]);
      return requirement.operator === SelectorOperator.greaterThan ? actual > bound : actual < bound;
    }
  }
}

export function labelsMatch(requirements: readonly LabelRequirement[], labels: Readonly<Record<string, string>>): boolean {
  return requirements.every((requirement) => requirementMatches(requirement, labels));
}
