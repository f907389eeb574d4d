#!/usr/bin/env node
// Local models beside their peers, in one run:
// - generation: hektor's `generators.local` beside node-llama-cpp (llama.cpp's Node binding,
//   prebuilt CPU binary) on the same GGUF file, the same prompts (ChatML rendered the same
//   way: the prompt token counts are printed for both), the same thread count, greedy;
//   prompt tokens/s and decoding tokens/s, and the ratios hektor / llama.cpp.
// - embedding: `benches/embed.mjs` (hektor's local MiniLM beside sentence-transformers).
//
//   node benches/models.mjs [--threads 1,2] [--runs 3] [--tokens 64] [--model FILE.gguf]
//                           [--isa avx2,native] [--only gen|embed] [--peers DIR]
//   --model takes a GGUF path or a split model of scripts/fetch-models.mjs (qwen2.5-coder-0.5b).
//
// Every engine and setting runs in its own child process (node-llama-cpp's threads
// busy-wait, and hektor picks its kernels once per process), one after the other.
// The machine should be quiet: these figures are wall-clock rates.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { args, loadavg, installPeer, loadPeer } from './lib.mjs';
import { fetchModels, fetchSplitModel } from '../scripts/fetch-models.mjs';
import { LLAMA_PEER, chatml } from '../scripts/llama-reference.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { opt } = args();

const SYSTEM = 'You are a helpful assistant. Answer from the passages and cite them with [n].';
/** Passages of a RAG prompt (~500 tokens); run `r` starts with a different one so that no run reuses another's prompt. */
function userPrompt(run) {
  const openers = [
    'The Louvre in Paris is the most-visited art museum in the world, with the Mona Lisa among its works.',
    'The Seine is a 777-kilometre river in northern France that flows through Paris into the English Channel.',
    'Notre-Dame de Paris is a medieval Catholic cathedral on the Ile de la Cite, finished in 1260.',
    'The Arc de Triomphe honours those who fought for France in the French Revolutionary and Napoleonic Wars.',
  ];
  const rest = [
    'The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named after the engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889 as the centrepiece of the 1889 World\'s Fair. Although initially criticised by some of France\'s leading artists and intellectuals for its design, it has since become a global cultural icon of France and one of the most recognisable structures in the world.',
    'Mount Everest is Earth\'s highest mountain above sea level, located in the Mahalangur Himal sub-range of the Himalayas. The China-Nepal border runs across its summit point. Its elevation of 8,848.86 m was most recently established in 2020 by the Chinese and Nepali authorities. Mount Everest attracts many climbers, including highly experienced mountaineers.',
    'The Great Wall of China is a series of fortifications that were built across the historical northern borders of ancient Chinese states and Imperial China as protection against various nomadic groups from the Eurasian Steppe. Several walls were built from as early as the 7th century BC, with selective stretches later joined by Qin Shi Huang, the first emperor of China.',
    'The Amazon rainforest is a moist broadleaf tropical rainforest in the Amazon biome that covers most of the Amazon basin of South America. This basin encompasses seven million square kilometres, of which five and a half million square kilometres are covered by the rainforest. The majority of the forest is contained within Brazil, with 60% of the rainforest.',
  ];
  const passages = [openers[run % openers.length], ...rest].map((p, i) => `[${i + 1}] ${p}`).join('\n\n');
  return `${passages}\n\nQuestion: When was the Eiffel Tower built, and by whose company? Answer in detail.`;
}

// ------------------------------------------------------------------ child processes
async function childHektor({ model, threads, runs, tokens }) {
  const { generators } = await import(pathToFileURL(path.join(here, '..', 'ts', 'dist', 'index.js')).href);
  const t0 = performance.now();
  const gen = generators.local({ path: model, threads });
  await gen.generate([{ role: 'user', content: 'Hi' }], { temperature: 0, maxTokens: 1 });
  const loadMs = performance.now() - t0;
  const out = [];
  for (let r = 0; r <= runs; r++) {
    // The last run repeats the previous prompt: what the kept KV cache saves.
    const user = userPrompt(r === runs ? runs - 1 : r);
    let first = 0;
    const start = performance.now();
    const g = await gen.generate([{ role: 'system', content: SYSTEM }, { role: 'user', content: user }], {
      temperature: 0, maxTokens: tokens, repeatPenalty: 1,
      onToken: () => { if (!first) first = performance.now(); },
    });
    const end = performance.now();
    out.push({ repeat: r === runs, promptTokens: g.promptTokens, completionTokens: g.completionTokens, promptMs: first - start, decodeMs: end - first, text: g.text });
  }
  return { loadMs, runs: out };
}

async function childLlama({ model, threads, runs, tokens, peers, counts }) {
  const { getLlama } = await loadPeer(peers, 'node-llama-cpp');
  const t0 = performance.now();
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
  const m = await llama.loadModel({ modelPath: model });
  const context = await m.createContext({ contextSize: 2048, threads, batchSize: 512 });
  const loadMs = performance.now() - t0;
  const out = [];
  for (let r = 0; r < runs; r++) {
    const ids = m.tokenize(chatml(SYSTEM, userPrompt(r)), true);
    const seq = context.getSequence();
    const n = counts?.[r] || tokens;
    let first = 0;
    let count = 0;
    const start = performance.now();
    for await (const _ of seq.evaluate(ids, { temperature: 0 })) {
      if (!first) first = performance.now();
      if (++count >= n) break;
    }
    const end = performance.now();
    seq.dispose();
    out.push({ promptTokens: ids.length, completionTokens: count, promptMs: first - start, decodeMs: end - first });
  }
  await context.dispose();
  await m.dispose();
  await llama.dispose();
  return { loadMs, runs: out, version: JSON.parse(fs.readFileSync(path.join(peers, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')).version };
}

function child(kind, params, env = {}) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind, '--params', JSON.stringify(params)], {
    env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000,
  });
  const line = (r.stdout || '').trim().split('\n').pop();
  if (r.status !== 0 || !line) throw new Error(`${kind} child failed (status ${r.status})`);
  return JSON.parse(line);
}

// ------------------------------------------------------------------ report
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const rate = (runs, f) => median(runs.map(f));
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

function cpuFlags() {
  const flags = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m) || ['', ''])[1].split(/\s+/);
  return ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni'].filter((f) => flags.includes(f)).join(' ');
}

async function benchGeneration({ model, threadsList, runs, tokens, isas, peers }) {
  console.log(`\n## Generation: ${path.basename(model)}, greedy, ${tokens} tokens, median of ${runs} prompts (~${'500'} tokens)\n`);
  const llamaOk = installPeer(peers, [LLAMA_PEER]);
  if (!llamaOk) console.log(`${LLAMA_PEER} could not be installed: hektor alone`);
  const rows = [];
  for (const threads of threadsList) {
    const results = {};
    for (const isa of isas) {
      const env = isa === 'native' ? {} : { HEKTOR_ISA: isa };
      results[isa] = child('hektor', { model, threads, runs, tokens }, env);
    }
    const first = results[isas[0]];
    const counts = first.runs.filter((r) => !r.repeat).map((r) => r.completionTokens);
    const llama = llamaOk ? child('llama', { model, threads, runs, tokens, peers, counts }) : null;
    for (const isa of isas) {
      const h = results[isa].runs.filter((r) => !r.repeat);
      const rep = results[isa].runs.find((r) => r.repeat);
      rows.push({
        threads, engine: `hektor (${isa})`, load: results[isa].loadMs,
        promptTokens: h[0].promptTokens,
        prompt: rate(h, (r) => r.promptTokens / (r.promptMs / 1e3)),
        decode: rate(h, (r) => (r.completionTokens - 1) / (r.decodeMs / 1e3)),
        firstRepeatMs: rep?.promptMs,
      });
    }
    if (llama) {
      rows.push({
        threads, engine: `node-llama-cpp ${llama.version}`, load: llama.loadMs,
        promptTokens: llama.runs[0].promptTokens,
        prompt: rate(llama.runs, (r) => r.promptTokens / (r.promptMs / 1e3)),
        decode: rate(llama.runs, (r) => (r.completionTokens - 1) / (r.decodeMs / 1e3)),
      });
    }
  }
  console.log('| threads | engine | load ms | prompt tokens | prompt tok/s | decode tok/s | first token, same prompt again |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.threads} | ${r.engine} | ${fmt(r.load, 0)} | ${r.promptTokens} | ${fmt(r.prompt, 0)} | ${fmt(r.decode)} | ${r.firstRepeatMs ? fmt(r.firstRepeatMs, 0) + ' ms' : '-'} |`);
  const peer = (t) => rows.find((r) => r.threads === t && r.engine.startsWith('node-llama-cpp'));
  if (rows.some((r) => peer(r.threads))) {
    console.log('\n| threads | hektor kernels | prompt tok/s ratio | decode tok/s ratio |');
    console.log('|---|---|---|---|');
    for (const r of rows.filter((r) => r.engine.startsWith('hektor'))) {
      const p = peer(r.threads);
      if (p) console.log(`| ${r.threads} | ${r.engine.slice(8, -1)} | ${fmt(r.prompt / p.prompt, 2)}x | ${fmt(r.decode / p.decode, 2)}x |`);
    }
  }
  return rows;
}

async function main() {
  if (opt('child')) {
    const params = JSON.parse(opt('params'));
    const res = opt('child') === 'hektor' ? await childHektor(params) : await childLlama(params);
    process.stdout.write(JSON.stringify(res) + '\n');
    return;
  }
  const only = opt('only', 'all');
  const threadsList = String(opt('threads', '1,2')).split(',').map(Number);
  const runs = Number(opt('runs', 3));
  const tokens = Number(opt('tokens', 64));
  const isas = String(opt('isa', 'native,avx2')).split(',');
  const peers = opt('peers', path.join(os.tmpdir(), 'hektor-bench', 'peers'));
  console.log(`# Local models, ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} cores (${os.cpus()[0]?.model}), CPU flags: ${cpuFlags()}; load average before: ${loadavg()}`);
  if (only === 'all' || only === 'gen') {
    const m = opt('model');
    const model = !m ? fetchModels().smollm2 : fs.existsSync(m) ? m : fetchSplitModel(m);
    await benchGeneration({ model, threadsList, runs, tokens, isas, peers });
  }
  if (only === 'all' || only === 'embed') {
    const embed = path.join(here, 'embed.mjs');
    if (fs.existsSync(embed)) {
      const { benchEmbed } = await import(pathToFileURL(embed).href);
      for (const threads of threadsList) await benchEmbed({ n: Number(opt('n', 3000)), threads });
    } else {
      console.log('\n(embedding: benches/embed.mjs is missing)');
    }
  }
  console.log(`\nload average after: ${loadavg()}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
