//! Text chunking: recursive (paragraph, then sentence, then word), sentence and
//! paragraph modes, sized in tokens of a tokenizer (or in characters), with overlap.
//! Every chunk keeps its span in the source text, so `&text[chunk.start..chunk.end]`
//! is the chunk (byte offsets; [`Chunk::span_utf16`] gives JavaScript string indices).

use crate::error::{Error, Result};
use unicode_segmentation::UnicodeSegmentation;

/// How text is split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChunkMode {
    /// Paragraphs, then sentences, then words, then characters, merged up to the size.
    Recursive,
    /// Whole sentences merged up to the size (a longer sentence is split by words).
    Sentence,
    /// Whole paragraphs merged up to the size (a longer paragraph is split recursively).
    Paragraph,
}

/// Chunking options.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ChunkOptions {
    /// Mode, default recursive.
    pub mode: ChunkMode,
    /// Largest chunk, in tokens (or characters without a tokenizer). Default 256.
    pub size: usize,
    /// Overlap between consecutive chunks, same unit. Default 32.
    pub overlap: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions { mode: ChunkMode::Recursive, size: 256, overlap: 32 }
    }
}

impl ChunkOptions {
    /// Checks size and overlap.
    pub fn validate(&self) -> Result<()> {
        if self.size == 0 || self.size > 1_000_000 {
            return Err(Error::invalid("chunk size must be between 1 and 1000000"));
        }
        if self.overlap >= self.size {
            return Err(Error::invalid("chunk overlap must be smaller than the chunk size"));
        }
        Ok(())
    }
}

/// A chunk of a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset after the last byte.
    pub end: usize,
    /// Size in the measuring unit.
    pub size: usize,
}

impl Chunk {
    /// The chunk's span in UTF-16 code units (JavaScript string indices).
    pub fn span_utf16(&self, text: &str) -> (usize, usize) {
        let s = text[..self.start].encode_utf16().count();
        (s, s + text[self.start..self.end].encode_utf16().count())
    }
}

/// Measures text length: tokens of a model's tokenizer, or characters.
pub trait Measure: Sync {
    /// The length of `s`.
    fn len(&self, s: &str) -> usize;
}

/// Counts Unicode scalar values.
pub struct Chars;

impl Measure for Chars {
    fn len(&self, s: &str) -> usize {
        s.chars().count()
    }
}

impl<F: Fn(&str) -> usize + Sync> Measure for F {
    fn len(&self, s: &str) -> usize {
        self(s)
    }
}

/// A piece of the text at a split level, as a byte range.
type Piece = (usize, usize);

/// Paragraph pieces: runs separated by blank lines (separators stay with the previous piece).
fn paragraphs(text: &str, base: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            // a blank line: \n followed by optional spaces and another \n
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t' || bytes[j] == b'\r') {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'\n' {
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                out.push((base + start, base + j));
                start = j;
                i = j;
                continue;
            }
        }
        i += 1;
    }
    if start < text.len() {
        out.push((base + start, base + text.len()));
    }
    out
}

fn sentences(text: &str, base: usize) -> Vec<Piece> {
    text.split_sentence_bound_indices().map(|(i, s)| (base + i, base + i + s.len())).collect()
}

fn words(text: &str, base: usize) -> Vec<Piece> {
    // word bounds keep the whitespace as its own piece; glue it to the preceding word
    let mut out: Vec<Piece> = Vec::new();
    for (i, w) in text.split_word_bound_indices() {
        let p = (base + i, base + i + w.len());
        if w.trim().is_empty() {
            if let Some(last) = out.last_mut() {
                last.1 = p.1;
                continue;
            }
        }
        out.push(p);
    }
    out
}

fn chars(text: &str, base: usize) -> Vec<Piece> {
    text.grapheme_indices(true).map(|(i, g)| (base + i, base + i + g.len())).collect()
}

/// Splits `text` into chunks of at most `opts.size` (measured by `m`), overlapping by
/// about `opts.overlap`. Whitespace-only chunks are dropped; chunks are in text order.
pub fn chunk(text: &str, opts: &ChunkOptions, m: &dyn Measure) -> Result<Vec<Chunk>> {
    opts.validate()?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let levels: &[fn(&str, usize) -> Vec<Piece>] = match opts.mode {
        ChunkMode::Recursive | ChunkMode::Paragraph => &[paragraphs, sentences, words, chars],
        ChunkMode::Sentence => &[sentences, words, chars],
    };
    // 1. split into pieces that each fit, recursing into the next level only where needed
    let mut pieces = Vec::new();
    split(text, 0, text.len(), levels, opts.size, m, &mut pieces);
    // 2. merge consecutive pieces up to the size, starting each next chunk `overlap` back
    let mut chunks = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        let start = pieces[i].0;
        let mut j = i;
        let mut end = pieces[i].1;
        while j + 1 < pieces.len() && m.len(&text[start..pieces[j + 1].1]) <= opts.size {
            j += 1;
            end = pieces[j].1;
        }
        let s = text[start..end].trim_end();
        if !s.trim().is_empty() {
            let lead = s.len() - s.trim_start().len();
            chunks.push(Chunk { start: start + lead, end: start + s.len(), size: m.len(&s[lead..]) });
        }
        if j + 1 >= pieces.len() {
            break;
        }
        // next chunk: go back over whole pieces covering at most `overlap`, but always move forward
        let mut k = j + 1;
        while k > i + 1 && opts.overlap > 0 && m.len(&text[pieces[k - 1].0..end]) <= opts.overlap {
            k -= 1;
        }
        i = k;
    }
    Ok(chunks)
}

fn split(text: &str, a: usize, b: usize, levels: &[fn(&str, usize) -> Vec<Piece>], size: usize, m: &dyn Measure, out: &mut Vec<Piece>) {
    if m.len(&text[a..b]) <= size || levels.is_empty() {
        out.push((a, b));
        return;
    }
    let parts = levels[0](&text[a..b], a);
    if parts.len() <= 1 {
        split(text, a, b, &levels[1..], size, m, out);
        return;
    }
    for (pa, pb) in parts {
        split(text, pa, pb, &levels[1..], size, m, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Rust is fast. It has no garbage collector! Is it safe? Yes.\n\nSecond paragraph here, with ünïcödé and 日本語のテキスト. Another sentence follows it.\n\n\nThird.";

    fn check(text: &str, chunks: &[Chunk], size: usize, m: &dyn Measure) {
        let mut last_start = 0;
        for c in chunks {
            assert!(c.start < c.end && c.end <= text.len());
            assert!(text.is_char_boundary(c.start) && text.is_char_boundary(c.end));
            assert!(c.start >= last_start, "chunks in order");
            last_start = c.start;
            assert!(m.len(&text[c.start..c.end]) <= size || text[c.start..c.end].chars().count() == 1, "{:?}", &text[c.start..c.end]);
            assert_eq!(c.size, m.len(&text[c.start..c.end]));
        }
        // every non-whitespace character is covered
        let mut covered = vec![false; text.len()];
        for c in chunks {
            covered[c.start..c.end].iter_mut().for_each(|x| *x = true);
        }
        for (i, ch) in text.char_indices() {
            assert!(ch.is_whitespace() || covered[i], "char {ch:?} at {i} not covered");
        }
    }

    #[test]
    fn recursive_spans_round_trip() {
        for size in [5, 12, 20, 40, 200] {
            let opts = ChunkOptions { size, overlap: size / 4, ..Default::default() };
            let chunks = chunk(TEXT, &opts, &Chars).unwrap();
            check(TEXT, &chunks, size, &Chars);
        }
        let whole = chunk(TEXT, &ChunkOptions { size: 1000, overlap: 0, ..Default::default() }, &Chars).unwrap();
        assert_eq!(whole.len(), 1);
        assert_eq!(&TEXT[whole[0].start..whole[0].end], TEXT.trim());
    }

    #[test]
    fn paragraphs_and_sentences_are_kept_whole_when_they_fit() {
        let opts = ChunkOptions { mode: ChunkMode::Paragraph, size: 90, overlap: 0 };
        let chunks = chunk(TEXT, &opts, &Chars).unwrap();
        assert_eq!(&TEXT[chunks[0].start..chunks[0].end], "Rust is fast. It has no garbage collector! Is it safe? Yes.");
        let opts = ChunkOptions { mode: ChunkMode::Sentence, size: 30, overlap: 0 };
        let chunks = chunk(TEXT, &opts, &Chars).unwrap();
        assert_eq!(&TEXT[chunks[0].start..chunks[0].end], "Rust is fast.");
        check(TEXT, &chunks, 30, &Chars);
    }

    #[test]
    fn overlap_repeats_the_tail() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let words = |s: &str| s.split_whitespace().count();
        let chunks = chunk(text, &ChunkOptions { size: 4, overlap: 1, ..Default::default() }, &words).unwrap();
        let got: Vec<&str> = chunks.iter().map(|c| &text[c.start..c.end]).collect();
        assert_eq!(got[0], "one two three four");
        assert!(got[1].starts_with("four "), "{got:?}");
        check(text, &chunks, 4, &words);
    }

    #[test]
    fn utf16_spans_and_bad_options() {
        let text = "😀 emoji then text";
        let c = chunk(text, &ChunkOptions { size: 100, overlap: 0, ..Default::default() }, &Chars).unwrap();
        assert_eq!(c[0].span_utf16(text), (0, text.encode_utf16().count()));
        assert!(chunk(text, &ChunkOptions { size: 4, overlap: 4, ..Default::default() }, &Chars).is_err());
        assert!(chunk("   \n\n ", &ChunkOptions::default(), &Chars).unwrap().is_empty());
    }
}
