#!/usr/bin/env node
// Builds the labelled grounding evaluation set: answer sentences, each with the passages an
// `ask` would have shown the generator, labelled `supported` (the passages say it) or
// `unsupported` (a realistic hallucination). Written from the shared IR corpus (Debian package
// descriptions, ../shared/data/ir) and deterministic: the same seed and data give the same file.
//
// usage: node scripts/make-grounding-set.mjs [--data ../shared/data/ir] [--seed 13] [--targets 140]
//        [--out __test__/fixtures/grounding/set.json]
//
// How an item is made (see __test__/fixtures/grounding/README.md):
// - targets: the relevant documents of the dev queries, in a seeded shuffle, keeping those
//   of 200-1,000 characters with at least one usable sentence (6-40 words, not a list item);
// - neighbours: the target's nearest documents by the corpus' MiniLM embeddings (emb/);
//   neighbours 1-2 are sources of hallucinations and are never shown, neighbours 3-4 are
//   the distractor passages shown beside the target (k = 3, in a seeded order);
// - each target gives one supported and one unsupported sentence:
//   supported: `copy` (a sentence of the target, verbatim) or `paraphrase` (the same with
//   1-3 light edits: the subject named as "The <package> package", conjuncts swapped,
//   parentheses or adverbs dropped, articles changed, cut to its first clause);
//   unsupported: `entity` (a language, licence, toolkit, format, protocol, database or
//   system swapped for another of its kind absent from the passages), `number` (a number
//   changed), `package` (the sentence said of a neighbour package by name), or `neighbour`
//   (a sentence of neighbour 1 or 2, its package name replaced by the target's). Neighbour
//   sentences that nearly repeat a passage sentence (word Jaccard >= 0.5) are skipped: they
//   would not be hallucinations;
// - about half the sentences end with a citation marker naming the target's passage, as
//   answers do;
// - `split`: targets alternate between `tune` and `holdout` (both items of a target share
//   the split): thresholds are chosen on `tune`, the figure to trust is `holdout`'s.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from '../__test__/helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf('--' + n); return i >= 0 && i + 1 < argv.length ? argv[i + 1] : d; };
const dataDir = path.resolve(opt('data', path.join(root, '..', 'shared', 'data', 'ir')));
const seed = Number(opt('seed', '13'));
const nTargets = Number(opt('targets', '140'));
const out = path.resolve(root, opt('out', '__test__/fixtures/grounding/set.json'));

const rand = rng(seed);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
function shuffle(xs) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const readLines = (f) => fs.readFileSync(f, 'utf8').trim().split('\n');
const corpus = readLines(path.join(dataDir, 'corpus.jsonl')).map((l) => JSON.parse(l));
const byId = new Map(corpus.map((d) => [d.id, d]));
const queries = readLines(path.join(dataDir, 'queries-dev.jsonl')).map((l) => JSON.parse(l));

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const hlen = buf.readUInt16LE(8);
  const shape = buf.subarray(10, 10 + hlen).toString('latin1').match(/'shape': \((\d+), (\d+)\)/);
  const [rows, dim] = [Number(shape[1]), Number(shape[2])];
  const off = 10 + hlen;
  return { rows, dim, data: new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + rows * dim * 4)) };
}
const emb = readNpy(path.join(dataDir, 'emb', 'corpus.f32.npy'));
const embIds = readLines(path.join(dataDir, 'emb', 'corpus.ids.txt'));
const embPos = new Map(embIds.map((id, i) => [id, i]));

/** The ids of the `n` documents nearest to `id` (cosine of the normalised MiniLM rows), itself excluded. */
function neighbours(id, n) {
  const { dim, data, rows } = emb;
  const q = embPos.get(id);
  const qo = q * dim;
  const best = [];
  for (let r = 0; r < rows; r++) {
    if (r === q) continue;
    let s = 0;
    const o = r * dim;
    for (let k = 0; k < dim; k++) s += data[qo + k] * data[o + k];
    if (best.length < n || s > best[best.length - 1][0]) {
      best.push([s, r]);
      best.sort((a, b) => b[0] - a[0]);
      if (best.length > n) best.pop();
    }
  }
  return best.map(([, r]) => embIds[r]);
}

/** The passage text an `ask` over this corpus shows: title and text, as the benches index it. */
const passageText = (d) => `${d.title}\n${d.text}`;
const flat = (s) => s.replace(/\s+/g, ' ').trim();
/** Sentences of a description (line wraps joined; bullets and short fragments dropped). */
function sentences(text) {
  const out = [];
  for (const para of text.split(/\n\s*\n/)) {
    if (/^\s*[*\-o+·•]\s/m.test(para)) continue; // lists
    for (const s of flat(para).split(/(?<=[.!?])\s+(?=[A-Z0-9"(])/)) {
      const words = s.split(' ').length;
      if (words >= 6 && words <= 40 && /[.!?]$/.test(s) && /^[A-Z0-9"]/.test(s) && !/(e\.g|i\.e|etc|vs|[A-Z])\.$/.test(s)) out.push(s);
    }
  }
  return out;
}
const words = (s) => s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
function jaccard(a, b) {
  const A = new Set(words(a)), B = new Set(words(b));
  let i = 0;
  for (const w of A) if (B.has(w)) i++;
  return i / (A.size + B.size - i || 1);
}
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const hasWord = (text, w) => new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRe(w)}($|[^\\p{L}\\p{N}])`, 'iu').test(text);

// Kinds of named things a hallucination swaps for one of the same kind.
const ENTITIES = [
  ['Python', 'Perl', 'Ruby', 'Java', 'PHP', 'Haskell', 'OCaml', 'Lua', 'Rust', 'Go', 'JavaScript', 'Tcl', 'Erlang', 'Scheme', 'Fortran', 'C++'],
  ['GPL', 'LGPL', 'BSD', 'MIT', 'Apache', 'MPL'],
  ['GTK', 'GTK+', 'Qt', 'Tk', 'wxWidgets', 'ncurses', 'SDL', 'Motif'],
  ['GNOME', 'KDE', 'Xfce', 'LXDE', 'MATE'],
  ['Emacs', 'Vim', 'Eclipse'],
  ['PNG', 'JPEG', 'GIF', 'TIFF', 'SVG', 'PDF', 'PostScript', 'XML', 'JSON', 'YAML', 'HTML', 'CSV', 'MP3', 'Ogg', 'FLAC', 'MIDI'],
  ['HTTP', 'FTP', 'SSH', 'SMTP', 'IMAP', 'POP3', 'DNS', 'LDAP', 'SNMP', 'XMPP', 'IRC'],
  ['MySQL', 'PostgreSQL', 'SQLite', 'Oracle', 'Redis', 'MongoDB'],
  ['Linux', 'Windows', 'FreeBSD', 'Solaris', 'macOS', 'Android'],
  ['Debian', 'Ubuntu', 'Fedora'],
  ['Apache', 'nginx', 'lighttpd'],
  ['OpenGL', 'Vulkan', 'DirectX'],
  ['X11', 'Wayland'],
  ['IPv4', 'IPv6'],
];

const FUNCTION_WORDS = new Set(['also', 'other', 'others', 'more', 'many', 'some', 'their', 'that', 'this', 'these', 'those', 'then', 'with', 'from', 'into', 'over', 'much', 'most', 'such']);
const SUBORDINATE = /^(If|When|Whenever|Although|Though|While|Unless|Since|Because|As|For|However|Once|Where|Whether|After|Before|Until|In order|Unlike|Like|Besides|Apart|In addition|Additionally|Also|Then)\b/;
const SUBJECT = /^(It|This package|This library|This module|This program|This tool|This utility|This plugin|This extension)\b/;

/** Light edits that keep a sentence's meaning; returns [text, edits] (edits empty: none applied). */
function paraphrase(s, doc) {
  const edits = [];
  const ops = shuffle([
    ['subject', (x) => (SUBJECT.test(x) ? x.replace(SUBJECT, `The ${doc.id} package`) : null)],
    ['conjuncts', (x) => {
      // two single-word conjuncts closing a phrase: "reading and writing."
      const m = x.match(/(?<=[ ,])([\p{Ll}+-]{4,}) and ([\p{Ll}+-]{4,})(?=[,.;)])/u);
      return m && m[1] !== m[2] && !FUNCTION_WORDS.has(m[1]) && !FUNCTION_WORDS.has(m[2]) ? x.replace(m[0], `${m[2]} and ${m[1]}`) : null;
    }],
    ['parentheses', (x) => (/ \([^()]{1,60}\)/.test(x) ? x.replace(/ \([^()]{1,60}\)/, '') : null)],
    ['adverbs', (x) => (/\b(also|very|simply|easily|currently|fully|really) /i.test(x) ? x.replace(/\b(also|very|simply|easily|currently|fully|really) /i, '') : null)],
    ['articles', (x) => (/\b(a|an) /.test(x) ? x.replace(/\b(a|an) /, 'the ') : / the /.test(x) ? x.replace(/ the /, ' a ') : null)],
    ['first-clause', (x) => {
      // a main clause first: not "If ...," / "For ...,"
      const m = x.match(/^(.{25,}?)[,;:] /);
      return m && m[1].split(' ').length >= 5 && !SUBORDINATE.test(m[1]) ? m[1] + '.' : null;
    }],
    ['which-is', (x) => (/, which (is|are) /.test(x) ? x.replace(/, which (is|are) /, ', ') : null)],
  ]);
  const want = 1 + Math.floor(rand() * 3);
  let x = s;
  for (const [name, f] of ops) {
    if (edits.length >= want) break;
    const y = f(x);
    if (y && y !== x) {
      x = y;
      edits.push(name);
    }
  }
  return [x, edits];
}

/** An entity of the sentence swapped for another of its kind that no passage mentions. */
function swapEntity(s, passages) {
  for (const kind of shuffle(ENTITIES)) {
    // as written (case-sensitive): "Perl" the language, not "perl" in a path
    const re = (e) => new RegExp(`(^|[^\\p{L}\\p{N}+])${escapeRe(e)}(?=$|[^\\p{L}\\p{N}+])`, 'u');
    const present = kind.filter((e) => re(e).test(s));
    if (!present.length) continue;
    const from = pick(present);
    const to = shuffle(kind).find((e) => e !== from && !passages.some((p) => hasWord(p, e)));
    const x = to && s.replace(re(from), `$1${to}`);
    if (x && x !== s) return x;
  }
  return null;
}

/** A number of the sentence changed to one no passage contains. */
function swapNumber(s, passages) {
  const nums = [...s.matchAll(/\b\d+(\.\d+)*\b/g)];
  if (!nums.length) return null;
  const m = pick(nums);
  const parts = m[0].split('.');
  for (let tries = 0; tries < 10; tries++) {
    const i = Math.floor(rand() * parts.length);
    const v = Number(parts[i]);
    const nv = v < 10 ? v + 1 + Math.floor(rand() * 5) : Math.max(1, Math.round(v * (rand() < 0.5 ? 0.5 + rand() * 0.3 : 1.3 + rand())));
    const np = [...parts];
    np[i] = String(nv);
    const to = np.join('.');
    if (to !== m[0] && !passages.some((p) => hasWord(p, to))) return s.slice(0, m.index) + to + s.slice(m.index + m[0].length);
  }
  return null;
}

const marker = (n) => (rand() < 0.5 ? '' : ` [${n}]`);
const withMarker = (s, n) => {
  const mk = marker(n);
  return mk ? s.replace(/([.!?])$/, `${mk}$1`) : s;
};

// targets: relevant documents of the dev queries, seeded order
const usable = (d) => d && d.text.length >= 200 && d.text.length <= 1000 && sentences(d.text).length >= 1;
const targets = [];
for (const q of shuffle(queries)) {
  const d = byId.get(q.relevant[0]);
  if (usable(d) && embPos.has(d.id) && !targets.includes(d)) targets.push(d);
  if (targets.length >= nTargets) break;
}

const docs = {};
const items = [];
let made = 0;
for (const [ti, t] of targets.entries()) {
  const nn = neighbours(t.id, 4).map((id) => byId.get(id));
  const shown = shuffle([t, nn[2], nn[3]]);
  const passages = shown.map(passageText);
  const tn = shown.indexOf(t) + 1;
  const split = ti % 2 === 0 ? 'tune' : 'holdout';
  const base = { passages: shown.map((d) => d.id), split, source: t.id };
  const sents = sentences(t.text);
  // supported: half verbatim, half lightly edited
  let sup = null;
  if (made % 2 === 0) sup = { sentence: pick(sents), kind: 'copy' };
  else {
    for (const s of shuffle(sents)) {
      const [p, edits] = paraphrase(s, t);
      if (edits.length) {
        sup = { sentence: p, kind: 'paraphrase', edits };
        break;
      }
    }
    sup ??= { sentence: pick(sents), kind: 'copy' };
  }
  // unsupported: the first kind (in a seeded order, weighted) that applies to this target
  const kinds = shuffle(['entity', 'entity', 'number', 'package', 'neighbour', 'neighbour', 'neighbour']);
  let uns = null;
  for (const kind of [...new Set(kinds), 'neighbour']) {
    if (kind === 'entity' || kind === 'number') {
      for (const s of shuffle(sents)) {
        const x = kind === 'entity' ? swapEntity(s, passages) : swapNumber(s, passages);
        if (x) {
          uns = { sentence: x, kind, from: s };
          break;
        }
      }
    } else if (kind === 'package') {
      const s = shuffle(sents).find((x) => SUBJECT.test(x));
      const other = nn[rand() < 0.5 ? 0 : 1];
      if (s && !passages.some((p) => hasWord(p, other.id))) uns = { sentence: s.replace(SUBJECT, `The ${other.id} package`), kind, from: s, neighbour: other.id };
    } else {
      for (const other of shuffle([nn[0], nn[1]])) {
        const passageSents = passages.flatMap((p) => sentences(p).concat(flat(p).split(/(?<=[.!?])\s+/)));
        const cands = shuffle(sentences(other.text)).filter((s) => !passageSents.some((p) => jaccard(s, p) >= 0.5));
        if (cands.length) {
          const s = cands[0];
          const named = hasWord(s, other.id) ? s.replace(new RegExp(escapeRe(other.id), 'gi'), t.id) : s;
          uns = { sentence: named, kind, neighbour: other.id };
          break;
        }
      }
    }
    if (uns) break;
  }
  if (!uns) continue;
  for (const d of shown) docs[d.id] = passageText(d);
  made++;
  for (const [label, it] of [['supported', sup], ['unsupported', uns]]) {
    items.push({ id: `g${String(items.length + 1).padStart(3, '0')}`, label, kind: it.kind, sentence: withMarker(it.sentence, tn), ...base, ...(it.edits ? { edits: it.edits } : {}), ...(it.neighbour ? { neighbour: it.neighbour } : {}) });
  }
}

const count = (f) => items.filter(f).length;
const set = {
  about: 'Labelled answer sentences for the grounding check; made by scripts/make-grounding-set.mjs from the shared IR corpus (Debian package descriptions). See README.md beside this file.',
  seed,
  counts: {
    items: items.length,
    supported: count((i) => i.label === 'supported'),
    unsupported: count((i) => i.label === 'unsupported'),
    byKind: Object.fromEntries([...new Set(items.map((i) => i.kind))].sort().map((k) => [k, count((i) => i.kind === k)])),
    tune: count((i) => i.split === 'tune'),
    holdout: count((i) => i.split === 'holdout'),
  },
  docs,
  items,
};
fs.mkdirSync(path.dirname(out), { recursive: true });
// one document and one item a line: small diffs when the script changes
const lines = [
  '{',
  `"about": ${JSON.stringify(set.about)},`,
  `"seed": ${seed},`,
  `"counts": ${JSON.stringify(set.counts)},`,
  '"docs": {',
  Object.entries(docs).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n'),
  '},',
  '"items": [',
  items.map((i) => JSON.stringify(i)).join(',\n'),
  ']',
  '}',
];
fs.writeFileSync(out, lines.join('\n') + '\n');
JSON.parse(fs.readFileSync(out, 'utf8'));
console.log(`wrote ${path.relative(root, out)}: ${JSON.stringify(set.counts)}`);
