import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDetectors, DETECTOR_TYPES } from './index.ts';
import {
  CORPUS_DETECTOR_CONFIG,
  evaluateCorpus,
  formatTable,
  loadCorpus,
  STRUCTURED_TYPES,
} from './testing/corpus.ts';

const MIN_SCORE = 0.95;
/** The context-dependent types (dates of birth, MRNs, keyed secrets) are held to less. */
const MIN_OTHER = 0.9;
const lines = loadCorpus();

test('the corpus is large, labels every type, and its labels occur in their lines', () => {
  assert.ok(lines.length >= 400, `${lines.length} lines`);
  const labelled = new Set(lines.flatMap((l) => l.findings.map((f) => f.type)));
  assert.deepEqual([...labelled].sort(), [...DETECTOR_TYPES].sort());
  for (const line of lines) {
    for (const f of line.findings) assert.ok(line.text.includes(f.value), f.value);
  }
  assert.ok(lines.filter((l) => l.findings.length === 0).length >= 150, 'negatives');
});

test(`precision and recall reach ${MIN_SCORE} on the structured types`, (t) => {
  const report = evaluateCorpus(createDetectors(CORPUS_DETECTOR_CONFIG), lines);
  t.diagnostic(`\n${formatTable(report.byType)}`);
  for (const m of report.mistakes) {
    t.diagnostic(
      `${m.kind} ${m.type} ${JSON.stringify(m.value)} in ${JSON.stringify(m.text).slice(0, 120)}`,
    );
  }
  for (const type of DETECTOR_TYPES) {
    const s = report.byType[type];
    const min = STRUCTURED_TYPES.includes(type) ? MIN_SCORE : MIN_OTHER;
    assert.ok(s.tp + s.fn > 0, `${type} has labels`);
    assert.ok(s.precision >= min, `${type} precision ${s.precision.toFixed(3)}`);
    assert.ok(s.recall >= min, `${type} recall ${s.recall.toFixed(3)}`);
  }
});
