//! Citations in generated answers (`[1]`, `[1, 3]`, `[2-4]`) and the grounding check
//! that flags answer sentences no retrieved passage supports.

use super::models::Embedder;
use crate::error::{Error, Result};
use crate::text::Analyzer;
use crate::vector::distance::{dot, normalize};
use std::collections::HashSet;
use unicode_segmentation::UnicodeSegmentation;

/// Citation markers found in an answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Citations {
    /// Valid passage numbers (1-based), in order of first appearance.
    pub valid: Vec<usize>,
    /// Numbers that name no passage (dropped), in order of appearance.
    pub invalid: Vec<usize>,
}

/// Finds `[n]`, `[n, m]`, `[n][m]` and `[n-m]` markers; `n_passages` passages exist.
pub fn parse_citations(answer: &str, n_passages: usize) -> Citations {
    let mut out = Citations::default();
    let mut seen = HashSet::new();
    let mut push = |n: usize, out: &mut Citations| {
        if n >= 1 && n <= n_passages {
            if seen.insert(n) {
                out.valid.push(n);
            }
        } else if !out.invalid.contains(&n) {
            out.invalid.push(n);
        }
    };
    for (open, _) in answer.match_indices('[') {
        let rest = &answer[open + 1..];
        let Some(close) = rest.find(']') else { continue };
        let inner = &rest[..close];
        if inner.is_empty() || inner.len() > 40 || !inner.chars().all(|c| c.is_ascii_digit() || " ,;-–".contains(c)) {
            continue;
        }
        for part in inner.split([',', ';']) {
            let part = part.trim();
            if let Some((a, b)) = part.split_once(['-', '–']) {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                    if a <= b && b - a < 50 {
                        (a..=b).for_each(|n| push(n, &mut out));
                    }
                }
            } else if let Ok(n) = part.parse::<usize>() {
                push(n, &mut out);
            }
        }
    }
    out
}

/// Support of one answer sentence.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentenceSupport {
    /// The sentence (citation markers included).
    pub text: String,
    /// Support in [0, 1] (see [`grounding`] for how it is made).
    pub score: f32,
    /// 1-based number of the passage that supports it best.
    pub passage: Option<usize>,
    /// Whether the sentence was judged (sentences with fewer than 3 content words are not).
    pub judged: bool,
    /// Whether it is supported (judged sentences: score >= threshold).
    pub supported: bool,
    /// Names and numbers of the sentence that no passage contains (each lowers the score).
    pub missing: Vec<String>,
}

/// Result of the grounding check.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Grounding {
    /// Share of judged sentences that are supported (1 when none is judged).
    pub score: f32,
    /// Judged sentences below the threshold.
    pub unsupported: Vec<String>,
    /// Per-sentence detail.
    pub sentences: Vec<SentenceSupport>,
    /// Whether the answer cites at least one passage that exists (`[n]` with 1 <= n <= passages).
    pub cited: bool,
    /// Citation numbers that name no passage (dropped from the citations), in order of appearance.
    pub invalid_citations: Vec<usize>,
}

/// Default support threshold.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// Weight of the embedding similarity in a sentence's score when sentence and passage
/// embeddings are given (the lexical evidence has the rest).
pub const EMBEDDING_WEIGHT: f32 = 0.2;

/// Score taken off a sentence for each name or number that no passage contains.
pub const MISSING_NAME_PENALTY: f32 = 0.5;

fn strip_markers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut skip = false;
    for c in s.chars() {
        match c {
            '[' => skip = true,
            ']' if skip => skip = false,
            _ if !skip => out.push(c),
            _ => {}
        }
    }
    out
}

/// What the check knows of one passage: its content terms, their near pairs, its words.
struct PassageIndex {
    terms: HashSet<String>,
    /// Unordered pairs of content terms at most two terms apart.
    pairs: HashSet<(String, String)>,
}

fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

impl PassageIndex {
    fn new(text: &str, analyzer: &Analyzer) -> Self {
        let toks = analyzer.analyze(text);
        let mut pairs = HashSet::new();
        for i in 0..toks.len() {
            for j in i + 1..(i + 3).min(toks.len()) {
                pairs.insert(pair(&toks[i], &toks[j]));
            }
        }
        PassageIndex { terms: toks.into_iter().collect(), pairs }
    }
}

/// Lexical support of a sentence (its content terms in order) by one passage, in [0, 1]:
/// the mean of the share of its distinct terms the passage contains and the share of its
/// adjacent term pairs that stand at most two terms apart in the passage (a sentence from
/// another text shares words with the passage, rarely its phrases).
fn lexical_support(terms: &[String], p: &PassageIndex) -> f32 {
    let distinct: HashSet<&String> = terms.iter().collect();
    if distinct.is_empty() {
        return 0.0;
    }
    let coverage = distinct.iter().filter(|t| p.terms.contains(t.as_str())).count() as f32 / distinct.len() as f32;
    let adjacent: HashSet<(String, String)> = terms.windows(2).filter(|w| w[0] != w[1]).map(|w| pair(&w[0], &w[1])).collect();
    let phrases = if adjacent.is_empty() { coverage } else { adjacent.iter().filter(|q| p.pairs.contains(q)).count() as f32 / adjacent.len() as f32 };
    0.5 * (coverage + phrases)
}

/// What the passages contain, for the name check: their text and words, lowercased.
struct PassageNames {
    text: String,
    words: HashSet<String>,
}

impl PassageNames {
    fn new(passages: &[&str]) -> Self {
        let text = passages.join("\n").to_lowercase();
        let words = text.unicode_words().map(str::to_string).collect();
        PassageNames { text, words }
    }

    /// The names and numbers of `sentence` that no passage contains, as written.
    ///
    /// Identifiers first (whitespace-separated tokens with an inner `-`, `_`, `.`, `/` or
    /// `::`, such as package names, file names and versions): one is missing when the
    /// passages do not contain it and it has a digit, two hyphens or another separator, or
    /// a part that no passage has (so a compound like "command-line" is found when "command"
    /// and "line" are there). Then words: a word with a digit, two capitals or more, or a
    /// capital inside a sentence (not at its start, after a colon, a double quote or a line break; not
    /// "I"), is missing when no passage has it (case-insensitive).
    fn missing(&self, sentence: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut rest = sentence.to_string();
        for tok in sentence.split_whitespace() {
            let tok = tok.trim_matches(|c: char| !c.is_alphanumeric());
            let inner = ['-', '_', '.', '/', ':'];
            if !tok.contains(inner) || !tok.chars().any(char::is_alphanumeric) {
                continue;
            }
            let lower = tok.to_lowercase();
            if self.text.contains(&lower) {
                continue;
            }
            let strong = tok.chars().any(|c| c.is_ascii_digit()) || tok.matches('-').count() >= 2 || tok.contains(['_', '.', '/', ':']);
            if strong || lower.unicode_words().any(|w| !self.words.contains(w)) {
                if !out.contains(&tok.to_string()) {
                    out.push(tok.to_string());
                }
                rest = rest.replace(tok, " ");
            }
        }
        for (at, w) in rest.unicode_word_indices() {
            let upper = w.chars().filter(|c| c.is_uppercase()).count();
            // capitals that start a sentence, a line, a quote or what follows a colon say nothing
            let starts = rest[..at].trim_end().chars().next_back().is_none_or(|c| ".!?:;\"*•\n".contains(c));
            let named = w.chars().any(|c| c.is_ascii_digit()) || (upper > 0 && !starts && w != "I") || upper > 1;
            if named && !self.words.contains(&w.to_lowercase()) && !out.iter().any(|o| o == w) {
                out.push(w.to_string());
            }
        }
        out
    }
}

/// Scores each sentence of `answer` against `passages` and reads its citation markers.
/// `sentence_sims[i][j]`, when given, is the cosine similarity of sentence `i` (in
/// [`answer_sentences`] order) and passage `j`.
///
/// A sentence's score is its best passage's: lexical support (the mean of the share of the
/// sentence's content terms the passage contains and the share of its adjacent term pairs
/// found near each other in the passage), mixed with the cosine similarity at
/// [`EMBEDDING_WEIGHT`] when given, minus [`MISSING_NAME_PENALTY`] for each name or number
/// of the sentence that no passage contains (a changed version, licence, language or package
/// name is the typical hallucination that shares every other word with its source), clamped
/// to [0, 1]. Sentences with fewer than 3 content terms are not judged. A judged sentence is
/// supported when its score is at least `threshold` ([`DEFAULT_THRESHOLD`]).
pub fn grounding(answer: &str, passages: &[&str], analyzer: &Analyzer, sentence_sims: Option<&[Vec<f32>]>, threshold: f32) -> Grounding {
    let index: Vec<PassageIndex> = passages.iter().map(|p| PassageIndex::new(p, analyzer)).collect();
    let names = PassageNames::new(passages);
    let mut sentences = Vec::new();
    for (i, s) in answer_sentences(answer).into_iter().enumerate() {
        let plain = strip_markers(s);
        let terms = analyzer.analyze(&plain);
        let distinct = terms.iter().collect::<HashSet<_>>().len();
        let judged = distinct >= 3 && !passages.is_empty();
        let mut best = (0f32, None);
        let mut missing = Vec::new();
        if judged {
            for (j, p) in index.iter().enumerate() {
                let lexical = lexical_support(&terms, p);
                let score = match sentence_sims.and_then(|m| m.get(i)).and_then(|row| row.get(j)) {
                    Some(&cos) => (1.0 - EMBEDDING_WEIGHT) * lexical + EMBEDDING_WEIGHT * cos.clamp(0.0, 1.0),
                    None => lexical,
                };
                if score > best.0 || best.1.is_none() {
                    best = (score, Some(j + 1));
                }
            }
            missing = names.missing(&plain);
            best.0 = (best.0 - MISSING_NAME_PENALTY * missing.len() as f32).clamp(0.0, 1.0);
        }
        sentences.push(SentenceSupport {
            text: s.trim().to_string(),
            score: best.0,
            passage: best.1,
            judged,
            supported: !judged || best.0 >= threshold,
            missing,
        });
    }
    let judged: Vec<&SentenceSupport> = sentences.iter().filter(|s| s.judged).collect();
    let score = if judged.is_empty() { 1.0 } else { judged.iter().filter(|s| s.supported).count() as f32 / judged.len() as f32 };
    let unsupported = judged.iter().filter(|s| !s.supported).map(|s| s.text.clone()).collect();
    let cites = parse_citations(answer, passages.len());
    Grounding { score, unsupported, sentences, cited: !cites.valid.is_empty(), invalid_citations: cites.invalid }
}

/// [`grounding`] with the semantic evidence of `embedder` when one is given: the answer's
/// sentences and the passages are embedded (one call each) and their cosine similarities
/// join the lexical evidence at [`EMBEDDING_WEIGHT`].
pub fn grounding_with_embedder(answer: &str, passages: &[&str], analyzer: &Analyzer, embedder: Option<&dyn Embedder>, threshold: f32) -> Result<Grounding> {
    let sims = match embedder {
        Some(e) if !passages.is_empty() => {
            let sentences: Vec<String> = answer_sentences(answer).into_iter().map(strip_markers).collect();
            let sentences: Vec<&str> = sentences.iter().map(String::as_str).collect();
            let context = |err: Error| err.context(format!("grounding: embedding with {}", e.describe()));
            let mut sv = if sentences.is_empty() { Vec::new() } else { e.embed(&sentences).map_err(context)? };
            let mut pv = e.embed(passages).map_err(context)?;
            if sv.len() != sentences.len() || pv.len() != passages.len() {
                return Err(Error::internal(format!("embedder {} returned a wrong number of vectors", e.describe())));
            }
            sv.iter_mut().chain(pv.iter_mut()).for_each(|v| {
                normalize(v);
            });
            Some(sv.iter().map(|s| pv.iter().map(|p| dot(s, p)).collect::<Vec<f32>>()).collect::<Vec<_>>())
        }
        _ => None,
    };
    Ok(grounding(answer, passages, analyzer, sims.as_deref(), threshold))
}

/// The sentences of an answer, as grounding sees them (non-blank UAX #29 sentences).
pub fn answer_sentences(answer: &str) -> Vec<&str> {
    answer.split_sentence_bounds().filter(|s| !s.trim().is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citation_forms() {
        let c = parse_citations("Rust is fast [1]. It is safe [2, 3][5]. See [2-4] and [x] and [10].", 4);
        assert_eq!(c.valid, vec![1, 2, 3, 4]);
        assert_eq!(c.invalid, vec![5, 10]);
        assert_eq!(parse_citations("no markers [link](url)", 3), Citations::default());
    }

    #[test]
    fn unsupported_sentences_are_flagged() {
        let a = Analyzer::default();
        let passages = ["The Eiffel Tower is in Paris and was completed in 1889.", "Bananas are rich in potassium."];
        let answer = "The Eiffel Tower was completed in 1889 [1]. It is made entirely of chocolate and cheese. Yes.";
        let g = grounding(answer, &passages, &a, None, DEFAULT_THRESHOLD);
        assert_eq!(g.sentences.len(), 3);
        assert!(g.sentences[0].supported && g.sentences[0].passage == Some(1));
        assert!(!g.sentences[1].supported);
        assert!(!g.sentences[2].judged);
        assert_eq!(g.unsupported, vec!["It is made entirely of chocolate and cheese."]);
        assert!((g.score - 0.5).abs() < 1e-6);
        assert!(g.cited && g.invalid_citations.is_empty());
    }

    #[test]
    fn names_and_numbers_no_passage_contains_are_flagged() {
        let a = Analyzer::default();
        let passages = ["libfoo-perl\nFoo::Bar is a Perl module for parsing command-line options, version 2.1, under the GPL.", "Unrelated text about GTK."];
        let ok = "Foo::Bar is a Perl module for parsing command line options [1].";
        let g = grounding(ok, &passages, &a, None, DEFAULT_THRESHOLD);
        assert!(g.unsupported.is_empty() && g.sentences[0].missing.is_empty(), "{g:?}");
        // capitals after a colon or a quote, and "I", are not names
        let g = grounding("In short: Foo::Bar is, I think, a Perl module for parsing \"Command line options\" [1].", &passages, &a, None, DEFAULT_THRESHOLD);
        assert!(g.unsupported.is_empty(), "{g:?}");
        for (bad, missing) in [
            ("Foo::Bar is a Python module for parsing command-line options [1].", "Python"),
            ("Foo::Bar is a Perl module for parsing command-line options, version 3.1 [1].", "3.1"),
            ("The libfoo-ruby package is a Perl module for parsing command-line options [1].", "libfoo-ruby"),
            ("Foo::Baz is a Perl module for parsing command-line options under the GPL [1].", "Foo::Baz"),
        ] {
            let g = grounding(bad, &passages, &a, None, DEFAULT_THRESHOLD);
            assert_eq!(g.unsupported.len(), 1, "{bad}: {g:?}");
            assert_eq!(g.sentences[0].missing, vec![missing.to_string()], "{bad}");
        }
    }

    #[test]
    fn an_answer_citing_nothing_valid_says_so() {
        let a = Analyzer::default();
        let passages = ["The Eiffel Tower is in Paris.", "Bananas are yellow."];
        let g = grounding("The Eiffel Tower is in Paris [3].", &passages, &a, None, DEFAULT_THRESHOLD);
        assert!(!g.cited);
        assert_eq!(g.invalid_citations, vec![3]);
        let g = grounding("The Eiffel Tower is in Paris.", &passages, &a, None, DEFAULT_THRESHOLD);
        assert!(!g.cited && g.invalid_citations.is_empty());
        let g = grounding("The Eiffel Tower is in Paris [1][7].", &passages, &a, None, DEFAULT_THRESHOLD);
        assert!(g.cited);
        assert_eq!(g.invalid_citations, vec![7]);
    }
}
