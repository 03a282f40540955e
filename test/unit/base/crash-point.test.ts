import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CRASH_POINT_ENV, crashPoint, crashPointMessage, parseCrashPoints } from '../../../src/base/crash-point.js';

const MODULE_URL = new URL('../../../src/base/crash-point.js', import.meta.url).href;

/** Runs a node child that loads the module with the env given and passes the named points in order. */
function runPoints(env: string | undefined, points: readonly string[]) {
  const script = [
    `const { crashPoint } = await import(${JSON.stringify(MODULE_URL)});`,
    `for (const p of ${JSON.stringify(points)}) { crashPoint(p); process.stdout.write(p + '\\n'); }`,
  ].join('\n');
  const childEnv = { ...process.env };
  delete childEnv[CRASH_POINT_ENV];
  if (env !== undefined) childEnv[CRASH_POINT_ENV] = env;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: childEnv,
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    timeout: 10_000,
  });
}

describe('crash points', () => {
  it('parses a comma list, ignoring blanks', () => {
    assert.deepEqual([...parseCrashPoints(' a.b , ,c ')], ['a.b', 'c']);
    assert.equal(parseCrashPoints(undefined).size, 0);
    assert.equal(parseCrashPoints('').size, 0);
  });

  it('does nothing when no point is armed', () => {
    crashPoint('container.create.after-bundle'); // this test process lives on
    const res = runPoints(undefined, ['a', 'b']);
    assert.equal(res.signal, null);
    assert.equal(res.stdout, 'a\nb\n');
  });

  it('SIGKILLs the process at the first armed point it reaches, saying so on stderr', () => {
    const res = runPoints('x.never, b', ['a', 'b', 'c']);
    assert.equal(res.signal, 'SIGKILL');
    assert.equal(res.stdout, 'a\n', 'nothing after the armed point ran');
    assert.equal(res.stderr, crashPointMessage('b'));
  });
});
