//! Citations in generated answers (`[1]`, `[1, 3]`, `[2-4]`) and the grounding check
//! that flags answer sentences no retrieved passage supports.

use crate::text::Analyzer;
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
    /// Support in [0, 1]: the best passage's share of the sentence's content words,
    /// averaged with the best cosine similarity when embeddings are available.
    pub score: f32,
    /// 1-based number of the passage that supports it best.
    pub passage: Option<usize>,
    /// Whether the sentence was judged (sentences with fewer than 3 content words are not).
    pub judged: bool,
    /// Whether it is supported (score >= threshold).
    pub supported: bool,
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
}

/// Default support threshold.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

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

/// Scores each sentence of `answer` against `passages`. `sentence_sims[i][j]`, when
/// given, is the cosine similarity of sentence `i` (in [`answer_sentences`] order) and
/// passage `j`.
pub fn grounding(answer: &str, passages: &[&str], analyzer: &Analyzer, sentence_sims: Option<&[Vec<f32>]>, threshold: f32) -> Grounding {
    let passage_terms: Vec<HashSet<String>> = passages.iter().map(|p| analyzer.analyze(p).into_iter().collect()).collect();
    let mut sentences = Vec::new();
    for (i, s) in answer_sentences(answer).into_iter().enumerate() {
        let terms: HashSet<String> = analyzer.analyze(&strip_markers(s)).into_iter().collect();
        let judged = terms.len() >= 3 && !passages.is_empty();
        let mut best = (0f32, None);
        if judged {
            for (j, pt) in passage_terms.iter().enumerate() {
                let lexical = terms.iter().filter(|t| pt.contains(*t)).count() as f32 / terms.len() as f32;
                let score = match sentence_sims.and_then(|m| m.get(i)).and_then(|row| row.get(j)) {
                    Some(&cos) => 0.5 * lexical + 0.5 * cos.clamp(0.0, 1.0),
                    None => lexical,
                };
                if score > best.0 || best.1.is_none() {
                    best = (score, Some(j + 1));
                }
            }
        }
        sentences.push(SentenceSupport {
            text: s.trim().to_string(),
            score: best.0,
            passage: best.1,
            judged,
            supported: !judged || best.0 >= threshold,
        });
    }
    let judged: Vec<&SentenceSupport> = sentences.iter().filter(|s| s.judged).collect();
    let score = if judged.is_empty() { 1.0 } else { judged.iter().filter(|s| s.supported).count() as f32 / judged.len() as f32 };
    let unsupported = judged.iter().filter(|s| !s.supported).map(|s| s.text.clone()).collect();
    Grounding { score, unsupported, sentences }
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
    }
}
