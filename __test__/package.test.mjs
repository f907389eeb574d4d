// Shipping: the .node links only the C runtime, loads in worker threads, and the packed
// tarballs install offline into a fresh project and work from ESM, CommonJS and TypeScript.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { modelPaths, root, tmpDir } from './helpers.mjs';

const nodeFile = path.join(root, 'ts', 'native', 'hektor.linux-x64-gnu.node');
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64' && fs.existsSync(nodeFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

describe('package', () => {
  test('the native binary links nothing beyond the C runtime', { skip: !onLinuxX64 && 'linux-x64 only' }, () => {
    const out = execFileSync('ldd', [nodeFile], { encoding: 'utf8' });
    const libs = out.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
    const allowed = /^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|\/lib64\/ld-linux-x86-64\.so\.2|ld-linux-x86-64\.so\.2)$/;
    const extra = libs.filter((l) => !allowed.test(l));
    assert.deepEqual(extra, [], `unexpected shared libraries:\n${out}`);
    const mib = fs.statSync(nodeFile).size / 1048576;
    console.log(`# ${path.basename(nodeFile)}: ${mib.toFixed(1)} MiB; ldd: ${libs.join(', ')}`);
  });

  test('loads in worker threads, several at once, and unloads cleanly', async () => {
    const { Worker } = await import('node:worker_threads');
    const script = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { open } = require(${JSON.stringify(path.join(root, 'ts', 'dist', 'index.js'))});
      (async () => {
        const db = await open(workerData.dir);
        const col = await db.createCollection('w', { dimension: 2 });
        await col.upsert([{ id: 'a', vector: [1, 0], text: 'worker ' + workerData.n }]);
        const hits = await col.search({ vector: [1, 0], k: 1 });
        await db.close();
        parentPort.postMessage(hits[0].id);
      })().catch((e) => parentPort.postMessage('error: ' + e.message));`;
    const run = (n) => new Promise((resolve, reject) => {
      const w = new Worker(script, { eval: true, workerData: { dir: tmpDir(`worker${n}`), n } });
      let msg;
      w.on('message', (m) => { msg = m; });
      w.on('error', reject);
      w.on('exit', (code) => (code === 0 ? resolve(msg) : reject(new Error(`worker exited with ${code}`))));
    });
    assert.deepEqual(await Promise.all([1, 2, 3, 4].map(run)), ['a', 'a', 'a', 'a']);
    // and again, after the first workers' environments were torn down
    assert.deepEqual(await Promise.all([5, 6].map(run)), ['a', 'a']);
  });

  test('a process exits on its own after using hektor (no handle left behind)', () => {
    const code = `import { open, sources, embedders } from ${JSON.stringify(path.join(root, 'ts', 'dist', 'index.js'))};
      const db = await open(process.argv[1]);
      const col = await db.createCollection('c', { embedder: embedders.custom(async (t) => t.map(() => [1, 0])) });
      await col.upsert([{ id: 'a', text: 'x' }]);
      await col.search({ text: 'x' });
      await db.close();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, tmpDir('exit')], { timeout: 20000, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.signal ?? ''} ${r.stderr}`);
  });

  test('npm pack + offline install into a fresh project: ESM, CommonJS and tsc --strict', { skip: !onLinuxX64 && 'linux-x64 only', timeout: 600000 }, () => {
    const work = tmpDir('pack');
    const t0 = Date.now();
    // the platform package gets its binary the way the release workflow puts it there
    const platDir = path.join(work, 'linux-x64-gnu');
    fs.cpSync(path.join(root, 'npm', 'linux-x64-gnu'), platDir, { recursive: true });
    fs.copyFileSync(nodeFile, path.join(platDir, path.basename(nodeFile)));
    const packOut = (cwd) => JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', work], { cwd, encoding: 'utf8' }))[0];
    const main = packOut(root);
    const plat = packOut(platDir);
    const mainTgz = path.join(work, main.filename);
    const platTgz = path.join(work, plat.filename);
    console.log(`# tarballs: ${main.filename} ${(main.size / 1024).toFixed(0)} KiB (${main.entryCount} files), ${plat.filename} ${(plat.size / 1048576).toFixed(1)} MiB`);
    assert.ok(!main.files.some((f) => f.path.endsWith('.node')), 'the main package carries no binary');
    assert.ok(main.files.some((f) => f.path === 'ts/dist/index.d.ts'), 'types are shipped');
    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    const t1 = Date.now();
    execFileSync(npm, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', mainTgz, platTgz], { cwd: app, stdio: 'pipe' });
    console.log(`# offline install of both tarballs: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    const esm = `import { open } from 'hektor';
      const db = await open('./db-esm');
      const c = await db.createCollection('c', { dimension: 3 });
      await c.upsert([{ id: 'a', vector: [1, 0, 0], text: 'hello esm' }]);
      const h = await c.search({ text: 'hello', vector: [1, 0, 0] });
      await db.close();
      console.log(h[0].id);`;
    const cjs = `const { open } = require('hektor');
      (async () => {
        const db = await open('./db-cjs');
        const c = await db.createCollection('c', { dimension: 3 });
        await c.upsert([{ id: 'b', vector: [0, 1, 0], text: 'hello cjs' }]);
        const h = await c.search({ vector: [0, 1, 0], k: 1 });
        await db.close();
        console.log(h[0].id);
      })();`;
    fs.writeFileSync(path.join(app, 'esm.mjs'), esm);
    fs.writeFileSync(path.join(app, 'cjs.cjs'), cjs);
    assert.equal(execFileSync(process.execPath, ['esm.mjs'], { cwd: app, encoding: 'utf8' }).trim(), 'a');
    assert.equal(execFileSync(process.execPath, ['cjs.cjs'], { cwd: app, encoding: 'utf8' }).trim(), 'b');
    // TypeScript users get full types: the README examples typecheck under --strict
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```(?:js|ts)\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.includes("from 'hektor'") && !b.includes('...'));
    assert.ok(blocks.length >= 1);
    blocks.forEach((b, i) => fs.writeFileSync(path.join(app, `readme${i}.mts`), `export {}\n${b}`));
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '--strict', '--noEmit', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', '--typeRoots', path.join(root, 'node_modules', '@types'), ...blocks.map((_, i) => `readme${i}.mts`)], { cwd: app, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);

    // the CLI from the installed tarballs: help, then a scripted ingest -> search -> ask session
    const hektor = (...argv) => spawnSync(npx, ['--no', '--', 'hektor', ...argv], { cwd: app, encoding: 'utf8', timeout: 180000 });
    const help = hektor('--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /ingest <file\|url>/);
    for (const cmd of ['ingest', 'search', 'ask', 'stats', 'list']) {
      const h = hektor(cmd, '--help');
      assert.equal(h.status, 0, `${cmd} --help: ${h.stderr}`);
      assert.match(h.stdout, new RegExp(`Usage: hektor ${cmd}`));
    }
    assert.equal(hektor('search').status, 2, 'a missing query is a usage error');
    assert.equal(hektor('frobnicate').status, 2, 'an unknown command is a usage error');
    const models = modelPaths();
    fs.writeFileSync(path.join(app, 'facts.csv'), 'id,topic,body\n' + [
      ['eiffel', 'landmark', 'The Eiffel Tower in Paris was completed in 1889 and is 330 metres tall.'],
      ['nile', 'river', 'The Nile is a river in northeastern Africa, about 6650 kilometres long.'],
      ['rust', 'software', 'Rust is a programming language focused on memory safety.'],
    ].map((r) => r.map((x) => `"${x}"`).join(',')).join('\n') + '\n');
    const ing = hektor('ingest', 'facts.csv', '--db', 'kb', '--id', 'id', '--text', 'body', '--metadata', 'topic', '--embedder', models.minilm, '--json');
    assert.equal(ing.status, 0, ing.stderr);
    assert.equal(JSON.parse(ing.stdout).upserted, 3);
    const srch = hektor('search', 'how long is the river', '--db', 'kb', '-k', '2', '--json');
    assert.equal(srch.status, 0, srch.stderr);
    assert.equal(JSON.parse(srch.stdout)[0].id, 'nile');
    const filtered = hektor('search', 'tower', '--db', 'kb', '--filter', '{"topic": "software"}', '--json');
    assert.deepEqual(JSON.parse(filtered.stdout).map((h) => h.id), ['rust']);
    const ask = hektor('ask', 'When was the Eiffel Tower completed?', '--db', 'kb', '--generator', models.smollm2, '-k', '2', '--max-tokens', '32', '--temperature', '0', '--json');
    assert.equal(ask.status, 0, ask.stderr);
    const answer = JSON.parse(ask.stdout);
    assert.equal(answer.contexts[0].id, 'eiffel');
    assert.ok(answer.answer.trim().length > 0);
    const stats = hektor('stats', '--db', 'kb', '--json');
    assert.equal(JSON.parse(stats.stdout).count, 3);
    const missing = hektor('stats', '--db', 'kb', '-c', 'nope');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /ERR_NOT_FOUND/);
    console.log(`# pack + install + run + CLI session: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
});
