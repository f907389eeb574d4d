// The grounding check through the SDK: `checkGrounding` on the labelled set
// (__test__/fixtures/grounding/set.json, made by scripts/make-grounding-set.mjs) keeps precision
// and recall of "unsupported" above a floor, without an embedder and with the local MiniLM one;
// `ask` says when its answer cites nothing valid.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { checkGrounding, embedders, generators, open } from '../ts/dist/index.js';
import { modelPaths, rejectsWith, root, tmpDir } from './helpers.mjs';

const set = JSON.parse(fs.readFileSync(path.join(root, '__test__/fixtures/grounding/set.json'), 'utf8'));
// issue 13 asks for 0.8; measured 2026-12-02: lexical 1.000 / 0.950, with MiniLM 1.000 / 0.943
const FLOOR = 0.85;

async function measure(options) {
  let tp = 0, fp = 0, fn = 0;
  for (const item of set.items) {
    const g = await checkGrounding(item.sentence, item.passages.map((id) => set.docs[id]), options);
    const flagged = g.unsupported.length > 0;
    const bad = item.label === 'unsupported';
    if (flagged && bad) tp++;
    else if (flagged) fp++;
    else if (bad) fn++;
  }
  return { precision: tp / (tp + fp), recall: tp / (tp + fn) };
}

describe('grounding check on the labelled set', () => {
  test('the set is what the script makes: 280 sentences, half unsupported', () => {
    assert.ok(set.items.length >= 200);
    assert.equal(set.items.filter((i) => i.label === 'unsupported').length * 2, set.items.length);
  });

  test('lexical: precision and recall above the floor', async () => {
    const { precision, recall } = await measure({});
    assert.ok(precision >= FLOOR && recall >= FLOOR, `precision ${precision.toFixed(3)} recall ${recall.toFixed(3)}`);
  });

  test('with the MiniLM embedder: precision and recall above the floor', async () => {
    const models = modelPaths();
    const { precision, recall } = await measure({ embedder: embedders.local({ path: models.minilm }) });
    assert.ok(precision >= FLOOR && recall >= FLOOR, `precision ${precision.toFixed(3)} recall ${recall.toFixed(3)}`);
  });

  test('a changed name is reported, arguments are checked', async () => {
    const passages = ['libfoo-perl\nFoo::Bar is a Perl module that parses command-line options. It is released under the GPL.'];
    const ok = await checkGrounding('Foo::Bar is a Perl module that parses command-line options [1].', passages);
    assert.deepEqual(ok.unsupported, []);
    assert.equal(ok.cited, true);
    const bad = await checkGrounding('Foo::Bar is a Ruby module that parses command-line options [1][4].', passages);
    assert.deepEqual(bad.unsupported, ['Foo::Bar is a Ruby module that parses command-line options [1][4].']);
    assert.deepEqual(bad.sentences[0].missing, ['Ruby']);
    assert.deepEqual(bad.invalidCitations, [4]);
    await rejectsWith(assert, checkGrounding('x', 'not an array'), 'ERR_INVALID_ARG');
    await rejectsWith(assert, checkGrounding('x', [], { threshold: 2 }), 'ERR_INVALID_ARG');
    await rejectsWith(assert, checkGrounding('x', [], { nope: 1 }), 'ERR_INVALID_ARG');
  });
});

describe('ask reports citations that point nowhere', () => {
  test('an answer citing only a passage number that does not exist: cited false, the number reported', async () => {
    const db = await open(tmpDir('grounding-ask'));
    const col = await db.createCollection('kb');
    await col.upsert([
      { id: 'eiffel', text: 'The Eiffel Tower in Paris opened in 1889.' },
      { id: 'nile', text: 'The Nile is a river in Africa.' },
    ]);
    const say = (text) => generators.custom(() => text);
    let a = await col.ask('When did the Eiffel Tower open?', { generator: say('The Eiffel Tower opened in 1889 [7].'), k: 2 });
    assert.equal(a.grounding.cited, false);
    assert.deepEqual(a.grounding.invalidCitations, [7]);
    assert.deepEqual(a.invalidCitations, [7]);
    assert.deepEqual(a.citations, []);
    a = await col.ask('When did the Eiffel Tower open?', { generator: say('The Eiffel Tower opened in 1889.'), k: 2 });
    assert.equal(a.grounding.cited, false);
    assert.deepEqual(a.grounding.invalidCitations, []);
    a = await col.ask('When did the Eiffel Tower open?', { generator: say('The Eiffel Tower opened in 1889 [1].'), k: 2 });
    assert.equal(a.grounding.cited, true);
    assert.equal(a.citations[0].id, 'eiffel');
    await db.close();
  });
});
