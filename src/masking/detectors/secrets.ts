/**
 * Credentials with a recognisable shape: cloud keys, forge and chat tokens (the gitleaks rules),
 * and keys that are only recognisable next to their name (AWS secret keys, Azure client secrets).
 */
import { KEYWORD_AWS, KEYWORD_AZURE, KEYWORD_SECRET, keywordsOf } from './context.ts';
import {
  type ByteNeeds,
  type Candidate,
  type Detector,
  defineDetector,
  forEachMatch,
  HAS_COLON,
  HAS_EQUALS,
  HAS_TILDE,
  HAS_UNDERSCORE,
  type Needs,
  type ScanInput,
} from './detector.ts';
import {
  LIT_AWS_KEY_ID,
  LIT_AWS_WORD,
  LIT_AZURE_KEY,
  LIT_AZURE_WORD,
  LIT_GCP,
  LIT_GITHUB,
  LIT_GITLAB,
  LIT_SECRET_WORD,
  LIT_SLACK,
  literalsOf,
} from './literals.ts';
import type { DetectorType } from './types.ts';
import { charClasses, looksLikePlaceholder, shannonEntropy } from './validate.ts';

interface TokenRule {
  readonly type: DetectorType;
  readonly re: RegExp;
  readonly score: number;
  /** Capture group holding the secret (the rest of the match is its label). */
  readonly group?: number;
  /** Cheap check that the rule's regex can match at all. */
  readonly when?: (input: ScanInput) => boolean;
  readonly valid?: (value: string) => boolean;
}

function pushRule(input: ScanInput, rule: TokenRule, out: Candidate[]): void {
  if (rule.when !== undefined && !rule.when(input)) return;
  forEachMatch(rule.re, input.text, (m) => {
    const value = rule.group === undefined ? m[0] : m[rule.group]!;
    if (rule.valid !== undefined && !rule.valid(value)) return;
    const end = m.index + m[0].length;
    out.push({ type: rule.type, start: end - value.length, end, score: rule.score });
  });
}

function notPlaceholder(value: string): boolean {
  return !looksLikePlaceholder(value);
}

function randomLooking(minEntropy: number) {
  return (value: string): boolean =>
    !looksLikePlaceholder(value) && charClasses(value) >= 2 && shannonEntropy(value) >= minEntropy;
}

/** A text gate: one of the `LIT_*` families. */
function hasLiteral(families: number) {
  return (t: ScanInput): boolean => (literalsOf(t) & families) !== 0;
}

/**
 * `bytes`: a literal family that every rule's regex (or `when`) requires, and that `gate` (by
 * default `hasLiteral` of it) checks in the text.
 */
function ruleDetector(
  type: DetectorType,
  needs: Needs,
  gate: Detector['gate'],
  rules: readonly TokenRule[],
  bytes: ByteNeeds,
): Detector {
  const find: Detector['find'] = (input, out) => {
    for (const rule of rules) pushRule(input, rule, out);
  };
  return defineDetector(type, needs, find, gate, bytes);
}

export const awsAccessKey = ruleDetector(
  'aws_access_key',
  { minLength: 20, minUpper: 4, minNonHex: 2 },
  hasLiteral(LIT_AWS_KEY_ID),
  [
    {
      type: 'aws_access_key',
      re: /(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
      score: 0.95,
      valid: (v) => notPlaceholder(v.slice(4)),
    },
  ],
  { literals: LIT_AWS_KEY_ID },
);

export const gcpApiKey = ruleDetector(
  'gcp_api_key',
  { minLength: 39, minUpper: 1, minNonHex: 2 },
  (t) => t.text.includes('AIza'),
  [
    {
      type: 'gcp_api_key',
      re: /(?<![\w-])AIza[\w-]{35}(?![\w-])/g,
      score: 0.95,
      valid: notPlaceholder,
    },
  ],
  { literals: LIT_GCP },
);

export const githubToken = ruleDetector(
  'github_token',
  { minLength: 40, minNonHex: 2, anyFlags: HAS_UNDERSCORE },
  hasLiteral(LIT_GITHUB),
  [
    {
      type: 'github_token',
      re: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{82,221})(?![A-Za-z0-9_])/g,
      score: 0.95,
      valid: notPlaceholder,
    },
  ],
  { literals: LIT_GITHUB },
);

const GITLAB_PREFIXES = 'glpat|gldt|glrt|glptt|glft|glsoat|glcbt|glimt|glagent|gloas';

export const gitlabToken = ruleDetector(
  'gitlab_token',
  { minLength: 25, minNonHex: 2 },
  (t) =>
    (t.stats.dashes > 0 && t.stats.lower >= 5 && t.text.includes('gl')) ||
    (t.stats.upper >= 2 && t.stats.digits >= 7 && t.text.includes('GR1348941')),
  [
    {
      type: 'gitlab_token',
      re: new RegExp(
        `(?<![\\w-])(?:(?:${GITLAB_PREFIXES})-[\\w-]{20,300}(?:\\.[0-9a-z]{9})?|GR1348941[\\w-]{20,64})(?![\\w-])`,
        'g',
      ),
      score: 0.95,
      valid: notPlaceholder,
    },
  ],
  {
    anyOf: [
      { minDashes: 1, minLower: 5 },
      { minUpper: 2, minDigits: 7 },
    ],
    literals: LIT_GITLAB,
  },
);

export const slackToken = ruleDetector(
  'slack_token',
  { minLength: 24, minNonHex: 2 },
  (t) =>
    t.stats.nonHexLetters >= 3 &&
    ((t.stats.dashes > 0 && (t.text.includes('xox') || t.text.includes('xapp-'))) ||
      (t.stats.dots >= 2 && t.text.includes('hooks.slack'))),
  [
    {
      type: 'slack_token',
      re: /(?<![\w-])(?:xox[abposer]-|xapp-)[A-Za-z0-9-]{10,250}(?![\w-])/g,
      score: 0.9,
      valid: (v) => v.length >= 24 && /\d/.test(v) && notPlaceholder(v.slice(5)),
    },
    {
      type: 'slack_token',
      re: /hooks\.slack\.com\/(?:services|workflows|triggers)\/([A-Za-z0-9/]{20,120})(?![A-Za-z0-9/])/g,
      score: 0.9,
      group: 1,
      valid: notPlaceholder,
    },
  ],
  {
    anyOf: [
      { minNonHex: 3, minDashes: 1 },
      { minNonHex: 3, minDots: 2 },
    ],
    literals: LIT_SLACK,
  },
);

export const azureKey = ruleDetector(
  'azure_key',
  { minLength: 30, minNonHex: 1, anyFlags: HAS_EQUALS | HAS_TILDE | HAS_COLON },
  hasLiteral(LIT_AZURE_KEY | LIT_AZURE_WORD | LIT_SECRET_WORD),
  [
    {
      type: 'azure_key',
      re: /(?<![A-Za-z])[Aa]ccount[Kk]ey=([A-Za-z0-9+/]{86}==)/g,
      when: (t) => t.text.includes('ccountKey=') || t.text.includes('ccountkey='),
      score: 0.95,
      group: 1,
      valid: notPlaceholder,
    },
    {
      type: 'azure_key',
      re: /(?<![A-Za-z])[Ss]hared[Aa]ccess[Kk]ey=([A-Za-z0-9+/]{43}=)/g,
      when: (t) => t.text.includes('ccessKey=') || t.text.includes('ccesskey='),
      score: 0.95,
      group: 1,
      valid: notPlaceholder,
    },
    {
      // Entra ID (Azure AD) client secrets: three characters, a digit, `Q~`, then 31-34 more.
      type: 'azure_key',
      re: /(?<![\w~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])/g,
      when: (t) => t.text.includes('Q~'),
      score: 0.85,
      valid: randomLooking(3.5),
    },
    {
      type: 'azure_key',
      re: /(?:client[_-]?secret|azure[_-]?(?:client[_-]?)?secret|azure[_-]?(?:storage[_-]?)?key)["']?\s{0,3}[:=]\s{0,3}["']?([A-Za-z0-9_~.+/=-]{32,88})(?![A-Za-z0-9_~.+/=-])/gi,
      score: 0.8,
      group: 1,
      when: (t) => (keywordsOf(t) & (KEYWORD_AZURE | KEYWORD_SECRET)) !== 0,
      valid: randomLooking(3.5),
    },
  ],
  { literals: LIT_AZURE_KEY | LIT_AZURE_WORD | LIT_SECRET_WORD },
);

const AWS_SECRET_CONTEXT_RE = /aws.{0,20}?(?:secret|sk)|secret.?access.?key/gi;
const AWS_SECRET_GATE_RE = /aws.{0,20}?(?:secret|sk)|secret.?access.?key/i;
const AWS_SECRET_RE = /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g;
const AWS_SECRET_WINDOW = 80;
const AWS_SECRET_SCORE = 0.9;
const awsSecretValue = randomLooking(4);

/** Secrets starting before `limit` in `text` (a slice of the value that starts at `offset`). */
function pushAwsSecrets(text: string, offset: number, limit: number, out: Candidate[]): void {
  forEachMatch(AWS_SECRET_RE, text, (m) => {
    if (m.index >= limit || !awsSecretValue(m[0]) || charClasses(m[0]) < 3) return;
    const start = offset + m.index;
    out.push({ type: 'aws_secret_key', start, end: start + 40, score: AWS_SECRET_SCORE });
  });
}

/** Forty base64 characters shortly after `aws…secret` / `secret_access_key`, or in such a column. */
function findAwsSecrets(input: ScanInput, out: Candidate[]): void {
  const { text } = input;
  if (input.hint.boosts.has('aws_secret_key')) {
    pushAwsSecrets(text, 0, text.length, out);
    return;
  }
  let from = 0;
  forEachMatch(AWS_SECRET_CONTEXT_RE, text, (m) => {
    const start = Math.max(from, m.index + m[0].length);
    const end = Math.min(text.length, start + AWS_SECRET_WINDOW);
    // 41 more characters so a longer run is seen whole and refused.
    if (end > start) pushAwsSecrets(text.slice(start, end + 41), start, end - start, out);
    from = end;
  });
}

export const awsSecretKey: Detector = defineDetector(
  'aws_secret_key',
  { minLength: 40 },
  findAwsSecrets,
  (t) =>
    t.hint.boosts.has('aws_secret_key') ||
    (t.stats.nonHexLetters >= 2 &&
      (keywordsOf(t) & (KEYWORD_AWS | KEYWORD_SECRET)) !== 0 &&
      AWS_SECRET_GATE_RE.test(t.text)),
  {
    hint: (hint) => hint.boosts.has('aws_secret_key'),
    anyOf: [{ minNonHex: 2 }],
    literals: LIT_AWS_WORD | LIT_SECRET_WORD,
  },
);
