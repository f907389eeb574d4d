// The README's usage example runs as written, and its errors table lists every code.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES } from '../ts/dist/index.js';
import { root, tmpDir } from './helpers.mjs';

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

test('README shows the two set-up commands first', () => {
  const setup = readme.indexOf('npm run demo');
  assert.ok(setup > 0 && setup < readme.indexOf('## Usage'));
  assert.ok(readme.indexOf('npm test') < readme.indexOf('## Usage'));
});

test('README usage example runs', () => {
  const m = readme.match(/## Usage\s+```js\n([\s\S]*?)```/);
  assert.ok(m, 'usage example not found');
  assert.ok(m[1].split('\n').length <= 24, 'the usage example stays short');
  // inside the package directory so that `import 'hektor'` resolves to this package
  const dir = path.join(root, '__test__', '.tmp');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `readme-${process.pid}.mjs`);
  fs.writeFileSync(file, m[1]);
  try {
    const out = execFileSync(process.execPath, [file], { cwd: tmpDir('readme'), encoding: 'utf8' });
    const lines = out.trim().split('\n');
    assert.match(lines[0], /^a /, out);
    assert.equal(lines.at(-1), '2');
  } finally {
    fs.rmSync(file, { force: true });
  }
});

test('README errors table lists every code', () => {
  for (const code of Object.keys(ERROR_CODES)) assert.ok(readme.includes(`| \`${code}\``), `${code} missing from README`);
});
