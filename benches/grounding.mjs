#!/usr/bin/env node
// Answers users can trust, measured:
// 1. precision and recall of the grounding check (`checkGrounding`, the check `ask` runs) on the
//    labelled set __test__/fixtures/grounding/set.json ("positive" = unsupported), without an
//    embedder and with the local MiniLM embedder, per split (thresholds are chosen on `tune`;
//    `holdout` is the figure to quote), with a threshold sweep on `tune`;
// 2. with --citations N: how often the local SmolLM2-135M generator cites a passage that exists,
//    over N dev queries whose relevant document is one of 3 passages (the other two are its
//    nearest neighbours, in a seeded order), with hektor's default prompt template and the one
//    it had before (2026-12-02), in one run.
// usage: node benches/grounding.mjs [--citations 15] [--no-embedder] [--data ../shared/data/ir]
//        [--max-tokens 64] [--templates default,before] [--offset 18] [--show] [--dump-sims FILE]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchModels } from '../scripts/fetch-models.mjs';
import { checkGrounding, embedders, generators, open, rerankers } from '../ts/dist/index.js';
import { args, defaultDataDir, lines, loadavg, readNpy } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { opt, flag } = args();
const set = JSON.parse(fs.readFileSync(path.join(here, '..', '__test__', 'fixtures', 'grounding', 'set.json'), 'utf8'));
const models = fetchModels();
console.log(`# grounding (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cpus, load ${loadavg()})`);

/** Flags of the check for every item (one checkGrounding call per item). */
async function judge(options) {
  const out = [];
  for (const item of set.items) {
    const g = await checkGrounding(item.sentence, item.passages.map((id) => set.docs[id]), options);
    out.push({ item, score: Math.min(...g.sentences.filter((s) => s.judged).map((s) => s.score), 1), judged: g.sentences.some((s) => s.judged) });
  }
  return out;
}

/** Precision and recall of "unsupported" at `threshold` on the items of `split`. */
function pr(results, threshold, split) {
  let tp = 0, fp = 0, fn = 0, n = 0;
  for (const { item, score, judged } of results) {
    if (split && item.split !== split) continue;
    n++;
    const flagged = judged && score < threshold;
    const bad = item.label === 'unsupported';
    if (flagged && bad) tp++;
    else if (flagged) fp++;
    else if (bad) fn++;
  }
  return { n, precision: tp + fp ? tp / (tp + fp) : 0, recall: tp + fn ? tp / (tp + fn) : 0 };
}
const f3 = (x) => x.toFixed(3);

const variants = [['lexical (no embedder)', {}]];
if (!flag('no-embedder')) variants.push(['lexical + MiniLM', { embedder: embedders.local({ path: models.minilm }) }]);
console.log(`\n${set.items.length} labelled sentences (${set.counts.supported} supported, ${set.counts.unsupported} unsupported); threshold 0.5 unless said\n`);
console.log('| check | tune P | tune R | holdout P | holdout R | all P | all R | ms/item |\n|---|---|---|---|---|---|---|---|');
const sweeps = [];
for (const [name, options] of variants) {
  const t = performance.now();
  const results = await judge(options);
  const ms = (performance.now() - t) / set.items.length;
  const row = ['tune', 'holdout', undefined].map((s) => pr(results, 0.5, s));
  console.log(`| ${name} | ${row.map((r) => `${f3(r.precision)} | ${f3(r.recall)}`).join(' | ')} | ${ms.toFixed(1)} |`);
  sweeps.push([name, results]);
}
const dump = opt('dump-sims');
if (dump) {
  // cosine of each item's sentence and its passages with MiniLM, for native/core/tests/grounding.rs
  const minilm = embedders.local({ path: models.minilm });
  const sims = {};
  for (const item of set.items) {
    const [s, ...ps] = await minilm.embed([item.sentence.replace(/\[[\d,\s-]+\]/g, ''), ...item.passages.map((id) => set.docs[id])]);
    const norm = (v) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    sims[item.id] = ps.map((p) => p.reduce((a, x, i) => a + x * s[i], 0) / (norm(p) * norm(s)));
  }
  fs.writeFileSync(dump, JSON.stringify(sims));
  console.log(`\n(wrote the MiniLM cosines to ${dump})`);
}
console.log('\nthreshold sweep on the tune split (precision / recall):');
for (const [name, results] of sweeps) {
  console.log(`  ${name}: ${[0.3, 0.4, 0.5, 0.6, 0.7].map((t) => { const r = pr(results, t, 'tune'); return `${t}: ${f3(r.precision)}/${f3(r.recall)}`; }).join('  ')}`);
}
const byKind = {};
for (const { item, score, judged } of sweeps.at(-1)[1]) {
  const k = `${item.label}/${item.kind}`;
  byKind[k] ??= { n: 0, flagged: 0 };
  byKind[k].n++;
  if (judged && score < 0.5) byKind[k].flagged++;
}
console.log(`flagged by kind (${sweeps.at(-1)[0]}): ${Object.entries(byKind).map(([k, v]) => `${k} ${v.flagged}/${v.n}`).join(', ')}`);

// 2. citation rate of a small local model
const nCite = Number(opt('citations', '0'));
if (nCite > 0) {
  // hektor's default template before 2026-12-02, for the comparison
  const BEFORE = {
    system: 'You answer questions using only the numbered context passages you are given. Cite the passages that support each statement with their numbers in square brackets, like [1] or [2][3]. If the passages do not contain the answer, say that you do not know. Be concise.',
    user: 'Context passages:\n{{context}}\n\nQuestion: {{question}}',
  };
  const templates = Object.fromEntries(opt('templates', 'before,default').split(',').map((n) => [n, n === 'before' ? BEFORE : undefined]));
  const dataDir = path.resolve(opt('data', defaultDataDir));
  const corpus = new Map(lines(path.join(dataDir, 'corpus.jsonl')).map((l) => JSON.parse(l)).map((d) => [d.id, d]));
  const queries = lines(path.join(dataDir, 'queries-dev.jsonl')).map((l) => JSON.parse(l));
  const emb = readNpy(path.join(dataDir, 'emb', 'corpus.f32.npy'));
  const ids = lines(path.join(dataDir, 'emb', 'corpus.ids.txt'));
  const pos = new Map(ids.map((id, i) => [id, i]));
  const nearest = (id, n) => {
    const q = emb.row(pos.get(id));
    const best = [];
    for (let r = 0; r < emb.rows; r++) {
      if (ids[r] === id) continue;
      const v = emb.row(r);
      let s = 0;
      for (let k = 0; k < v.length; k++) s += q[k] * v[k];
      best.push([s, ids[r]]);
    }
    return best.sort((a, b) => b[0] - a[0]).slice(0, n).map(([, i]) => i);
  };
  // every 37th dev query from --offset (a fixed spread over the set) whose document is short
  // enough for a quick prompt. The default template was developed on offset 0: quote offset 18.
  const offset = Number(opt('offset', '18'));
  const picked = queries.filter((q, i) => i % 37 === offset && corpus.get(q.relevant[0]).text.length <= 700).slice(0, nCite);
  const gen = generators.local({ path: models.smollm2 });
  const maxTokens = Number(opt('max-tokens', '64'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hektor-grounding-'));
  const db = await open(dir);
  const stats = Object.fromEntries(Object.keys(templates).map((n) => [n, { cited: 0, right: 0, invalid: 0, ms: 0, answers: [] }]));
  for (const [qi, q] of picked.entries()) {
    const target = q.relevant[0];
    const docs = [target, ...nearest(target, 2)];
    const order = [(qi % 3), ...[0, 1, 2].filter((x) => x !== qi % 3)]; // the target at position qi % 3 + 1
    const placed = new Array(3);
    order.forEach((slot, i) => { placed[slot] = docs[i]; });
    // every passage equally near any question (a constant vector): retrieval returns all 3
    const col = await db.createCollection(`q${qi}`, { embedder: embedders.custom((texts) => texts.map(() => [1, 1])) });
    await col.upsert(placed.map((id) => ({ id, text: `${id}\n${corpus.get(id).text}` })));
    // the reranker fixes the passage order: [1], [2], [3] = placed
    const fixed = rerankers.custom((_, passages) => passages.map((p) => 3 - placed.findIndex((id) => p.startsWith(id + '\n'))));
    for (const [name, template] of Object.entries(templates)) {
      const t = performance.now();
      // a dev query is a package's synopsis: ask for the package
      const a = await col.ask(`Which package provides ${q.text}?`, { generator: gen, k: 3, candidates: 3, mode: 'vector', rerank: fixed, template, maxTokens, temperature: 0 });
      const s = stats[name];
      s.ms += performance.now() - t;
      if (a.grounding.cited) s.cited++;
      if (a.citations.some((c) => c.id === target)) s.right++;
      if (a.invalidCitations.length) s.invalid++;
      s.answers.push({ q: q.text, target: placed.indexOf(target) + 1, contexts: a.contexts.map((c) => c.id), answer: a.answer });
    }
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`\nSmolLM2-135M-Instruct (Q4_1), ${picked.length} dev questions (offset ${offset}), the right passage among 3 (at [1], [2], [3] in turn), greedy, maxTokens ${maxTokens}:\n`);
  console.log('| template | answers citing a passage that exists | citing the right passage | with an invalid number | s/answer |\n|---|---|---|---|---|');
  for (const [name, s] of Object.entries(stats)) {
    const n = picked.length;
    console.log(`| ${name} | ${s.cited}/${n} (${f3(s.cited / n)}) | ${s.right}/${n} | ${s.invalid}/${n} | ${(s.ms / n / 1000).toFixed(1)} |`);
  }
  if (flag('show')) for (const [name, s] of Object.entries(stats)) for (const a of s.answers) console.log(`[${name}] (${a.target}) ${a.q} -> ${JSON.stringify(a.answer)}`);
}
