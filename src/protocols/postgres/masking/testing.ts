/**
 * Fixtures for the masking unit tests: an engine over fake detectors and session rules from YAML.
 */
import { parseConfig } from '../../../config/loader.ts';
import { MaskingEngine } from '../../../masking/engine.ts';
import type { SessionRules } from '../../../masking/rules.ts';
import { MaskTally } from '../../../masking/tally.ts';
import { fakeDetectors } from '../../../masking/testing/fake-detectors.ts';
import type { MaskContext } from './plan.ts';

export const TEST_SALT = 'a-long-enough-masking-salt';

/**
 * @example
 * const { engine, rules, ctx } = maskingFixture(`- { name: s, columns: ['*.ssn'] }`);
 */
export function maskingFixture(
  rulesYaml: string,
  opts: { throwOn?: string; groups?: string[] } = {},
): { engine: MaskingEngine; rules: SessionRules; ctx: MaskContext & { tally: MaskTally } } {
  const yaml = `masking:\n  salt: \${env:SALT}\n  rules:\n${rulesYaml
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}\n`;
  const cfg = parseConfig(yaml, 'test', { SALT: TEST_SALT });
  const engine = new MaskingEngine(cfg.masking, fakeDetectors(opts));
  const rules = engine.forSession('clinic', opts.groups ?? []);
  if (!rules) throw new Error('no rules apply');
  return { engine, rules, ctx: { values: engine.values, tally: new MaskTally() } };
}
