import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OPENAPI, OPERATIONS } from './openapi.ts';
import { ROUTES } from './server.ts';

/** `/^\/v1\/reviews\/(r_[0-9a-f]{30})\/(approve|deny)$/` → the concrete paths it answers. */
function pathsOf(re: RegExp): string[] {
  const src = re.source.replace(/^\^/, '').replace(/\$$/, '').replaceAll('\\/', '/');
  const alternatives = /\((\w+(?:\|\w+)+)\)/.exec(src);
  const forms = alternatives?.[1]
    ? alternatives[1].split('|').map((a) => src.replace(alternatives[0], a))
    : [src];
  return forms.map((f) => f.replace(/\([^)]*\)/g, '{}').replace(/^\/v1/, '/api'));
}

test('every API route is described in the OpenAPI document, and nothing else', () => {
  const described = Object.entries(OPERATIONS).flatMap(([path, methods]) =>
    Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace(/\{\w+\}/g, '{}')}`),
  );
  const routed = ROUTES.flatMap((r) => pathsOf(r.path).map((p) => `${r.method} ${p}`));
  assert.deepEqual([...described].sort(), [...routed].sort());
  assert.equal(OPENAPI.openapi, '3.1.0');
});
