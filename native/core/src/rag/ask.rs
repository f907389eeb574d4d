//! `ask`: retrieve, rerank, prompt, generate, cite, check grounding.

use super::cite::{self, Grounding};
use super::models::{CrossEncoder, GenerateOptions, Generator};
use super::prompt::Template;
use super::rerank;
use crate::cancel::Cancel;
use crate::collection::{Collection, Hit, Mode, SearchQuery, Select};
use crate::error::{Error, ErrorCode, Result};
use crate::filter::Filter;
use crate::hybrid::Fusion;
use crate::vector::distance::normalize;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// How retrieved candidates are reordered before the best `k` go into the prompt.
#[derive(Clone)]
pub enum Rerank {
    /// Keep the retrieval order.
    None,
    /// Maximal marginal relevance on the candidates' vectors (`lambda` = weight of relevance).
    Mmr {
        /// Relevance weight in [0, 1]; lower values favour diversity.
        lambda: f32,
    },
    /// Reciprocal rank fusion of the candidates' vector and text rankings.
    Rrf {
        /// The RRF constant (60).
        k: f32,
    },
    /// A model (cross-encoder, or a JavaScript callback) scoring (question, passage) pairs.
    Model(Arc<dyn CrossEncoder>),
}

/// Options of [`ask`].
#[derive(Clone)]
pub struct AskOptions {
    /// Passages given to the generator.
    pub k: usize,
    /// Candidates retrieved before reranking (default `4 * k` with a reranker, else `k`).
    pub candidates: Option<usize>,
    /// Metadata filter.
    pub filter: Option<Filter>,
    /// Retrieval mode (default: hybrid when a query vector can be made, else text).
    pub mode: Option<Mode>,
    /// Hybrid fusion.
    pub fusion: Fusion,
    /// Prompt template.
    pub template: Template,
    /// Generation parameters.
    pub generate: GenerateOptions,
    /// Grounding support threshold.
    pub grounding_threshold: f32,
}

impl Default for AskOptions {
    fn default() -> Self {
        AskOptions {
            k: 5,
            candidates: None,
            filter: None,
            mode: None,
            fusion: Fusion::default(),
            template: Template::default(),
            generate: GenerateOptions::default(),
            grounding_threshold: cite::DEFAULT_THRESHOLD,
        }
    }
}

/// A passage given to the generator.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    /// Its number in the prompt (1-based): `[n]` in the answer.
    pub n: usize,
    /// The record id (the parent record when the collection stores chunks).
    pub id: String,
    /// The chunk's id, when the passage is a chunk of a larger record.
    pub chunk_id: Option<String>,
    /// The chunk's `[start, end)` span in the parent's text (JavaScript string indices).
    pub span: Option<[u64; 2]>,
    /// The passage.
    pub text: String,
    /// Retrieval (or rerank) score.
    pub score: f32,
    /// The record's metadata.
    pub metadata: Option<Value>,
}

/// A citation `[n]` found in the answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    /// The number as written.
    pub n: usize,
    /// Record id.
    pub id: String,
    /// Chunk id, when chunked.
    pub chunk_id: Option<String>,
    /// Span in the parent's text.
    pub span: Option<[u64; 2]>,
    /// The passage's score.
    pub score: f32,
}

/// Where the time went, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// Loading models on their first use (the collection's embedder, a cross-encoder, the
    /// generator), waiting for a load another call started included; 0 when every model
    /// was already loaded. The other stages never include a load.
    pub load_ms: f64,
    /// Embedding the question.
    pub embed_ms: f64,
    /// Retrieval.
    pub retrieve_ms: f64,
    /// Reranking.
    pub rerank_ms: f64,
    /// Generation (prompt processing + decoding; the model's load is in `load_ms`).
    pub generate_ms: f64,
    /// From the start of the call until the first generated text (`load_ms` included).
    pub first_token_ms: Option<f64>,
    /// Grounding check.
    pub grounding_ms: f64,
    /// Everything.
    pub total_ms: f64,
    /// Decoding speed: generated tokens per second after the first token (prompt processing
    /// excluded), when the generator reports token counts.
    pub tokens_per_second: Option<f64>,
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// The generated text.
    pub answer: String,
    /// Valid citations, in order of first appearance.
    pub citations: Vec<Citation>,
    /// Citation numbers naming no passage (dropped).
    pub invalid_citations: Vec<usize>,
    /// The passages, numbered as in the prompt.
    pub contexts: Vec<Context>,
    /// Sentence-level support check.
    pub grounding: Grounding,
    /// Timings.
    pub timings: Timings,
    /// Prompt tokens, when known.
    pub prompt_tokens: Option<usize>,
    /// Generated tokens, when known.
    pub completion_tokens: Option<usize>,
    /// Why generation stopped: `stop`, `length` or `aborted`.
    pub finish_reason: String,
}

fn ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// A hit as a passage (a chunk's hit names its parent record, chunk id and span).
fn context(n: usize, h: &Hit, score: f32) -> Context {
    Context {
        n,
        id: h.id.clone(),
        chunk_id: h.chunk_id.clone(),
        span: h.span,
        text: h.text.clone().unwrap_or_default(),
        score,
        metadata: h.metadata.clone(),
    }
}

/// Answers `question` from the collection: retrieves (hybrid by default), reranks, builds
/// the prompt, generates (streaming text to `on_token`), parses citations and checks
/// grounding. Cancelling stops between stages and during generation, with `ERR_ABORTED`.
pub fn ask(
    col: &Collection,
    question: &str,
    opts: &AskOptions,
    rerank: &Rerank,
    generator: &dyn Generator,
    cancel: &Cancel,
    on_token: &mut dyn FnMut(&str),
) -> Result<Answer> {
    let t0 = Instant::now();
    if question.trim().is_empty() {
        return Err(Error::invalid("the question is empty"));
    }
    if opts.k == 0 || opts.k > 100 {
        return Err(Error::invalid("k must be between 1 and 100"));
    }
    opts.template.validate()?;
    // 0. models not loaded yet load now, timed apart from the stages (the generator's below)
    let mut load_ms = match col.embedder() {
        Some(e) => e.warm_up(cancel)?,
        None => 0.0,
    };
    if let Rerank::Model(m) = rerank {
        load_ms += m.warm_up(cancel)?;
    }
    cancel.check()?;
    // 1. the question's vector
    let t = Instant::now();
    let qv = match (col.embedder(), opts.mode) {
        (Some(_), m) if m != Some(Mode::Text) => col.embed(&[question])?.pop(),
        _ => None,
    };
    let embed_ms = ms(t);
    cancel.check()?;
    // 2. retrieve
    let t = Instant::now();
    let reranking = !matches!(rerank, Rerank::None);
    let n_cand = opts.candidates.unwrap_or(if reranking { opts.k * 4 } else { opts.k }).max(opts.k);
    let mode = opts.mode.unwrap_or(if qv.is_some() { Mode::Hybrid } else { Mode::Text });
    if mode != Mode::Text && qv.is_none() {
        return Err(Error::invalid("vector or hybrid retrieval needs an embedder on the collection"));
    }
    let q = SearchQuery {
        text: Some(question.to_string()),
        vector: qv.clone(),
        k: n_cand,
        filter: opts.filter.clone(),
        mode: Some(mode),
        fusion: opts.fusion,
        select: Select { text: true, metadata: true, vector: matches!(rerank, Rerank::Mmr { .. }) || col.embedder().is_some() },
        ..Default::default()
    };
    let hits = col.search(&q)?;
    let retrieve_ms = ms(t);
    cancel.check()?;
    // 3. rerank
    let t = Instant::now();
    let order: Vec<(usize, f32)> = match rerank {
        Rerank::None => hits.iter().enumerate().map(|(i, h)| (i, h.score)).collect(),
        Rerank::Mmr { lambda } => {
            let vecs: Vec<Option<Vec<f32>>> = hits
                .iter()
                .map(|h| {
                    h.vector.clone().map(|mut v| {
                        normalize(&mut v);
                        v
                    })
                })
                .collect();
            let refs: Vec<Option<&[f32]>> = vecs.iter().map(|v| v.as_deref()).collect();
            let rel: Vec<f32> = hits.iter().map(|h| h.score).collect();
            let mut qn = qv.clone().unwrap_or_default();
            normalize(&mut qn);
            if qn.is_empty() {
                return Err(Error::invalid("the mmr reranker needs an embedder on the collection"));
            }
            rerank::mmr(&qn, &refs, &rel, *lambda, opts.k).into_iter().map(|i| (i, hits[i].score)).collect()
        }
        Rerank::Rrf { k } => {
            let by = |f: &dyn Fn(&Hit) -> Option<f32>| {
                let mut idx: Vec<usize> = (0..hits.len()).filter(|&i| f(&hits[i]).is_some()).collect();
                idx.sort_by(|&a, &b| f(&hits[b]).unwrap().total_cmp(&f(&hits[a]).unwrap()));
                idx
            };
            let lists = [by(&|h: &Hit| h.vector_score), by(&|h: &Hit| h.text_score)];
            let fused = rerank::rrf(&lists, hits.len(), *k);
            fused.into_iter().map(|i| (i, hits[i].score)).collect()
        }
        Rerank::Model(m) => {
            let passages: Vec<&str> = hits.iter().map(|h| h.text.as_deref().unwrap_or("")).collect();
            let scores = if passages.is_empty() { Vec::new() } else { m.score(question, &passages)? };
            if scores.len() != hits.len() {
                return Err(Error::internal(format!("the reranker returned {} scores for {} passages", scores.len(), hits.len())));
            }
            let mut o: Vec<(usize, f32)> = scores.into_iter().enumerate().collect();
            o.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            o
        }
    };
    let contexts: Vec<Context> = order.iter().take(opts.k).enumerate().map(|(n, &(i, s))| context(n + 1, &hits[i], s)).collect();
    let rerank_ms = ms(t);
    cancel.check()?;
    // 4-5. prompt and generate
    let passages: Vec<&str> = contexts.iter().map(|c| c.text.as_str()).collect();
    let messages = opts.template.render(question, &passages);
    load_ms += generator.warm_up(cancel)?;
    cancel.check()?;
    let t = Instant::now();
    let mut first_token = None;
    let mut first_at: Option<Instant> = None;
    let mut aborted = false;
    let gen = generator.generate(&messages, &opts.generate, &mut |piece: &str| {
        if cancel.is_cancelled() {
            aborted = true;
            return false;
        }
        if first_token.is_none() && !piece.is_empty() {
            first_token = Some(ms(t0));
            first_at = Some(Instant::now());
        }
        on_token(piece);
        true
    })?;
    let generate_ms = ms(t);
    let decode_secs = first_at.map(|f| f.elapsed().as_secs_f64());
    if aborted || cancel.is_cancelled() {
        return Err(Error::new(ErrorCode::Aborted, "the answer was aborted"));
    }
    // 6. citations
    let cites = cite::parse_citations(&gen.text, contexts.len());
    let citations = cites
        .valid
        .iter()
        .map(|&n| {
            let c = &contexts[n - 1];
            Citation { n, id: c.id.clone(), chunk_id: c.chunk_id.clone(), span: c.span, score: c.score }
        })
        .collect();
    // 7. grounding (semantic support when an embedder is attached)
    let t = Instant::now();
    let grounding = cite::grounding_with_embedder(&gen.text, &passages, col.analyzer(), col.embedder().as_deref(), opts.grounding_threshold)?;
    let grounding_ms = ms(t);
    // decoding speed: the tokens after the first over the time since it (prompt processing and
    // a model's first load excluded), else all tokens over the whole generation
    let tokens_per_second = gen.completion_tokens.and_then(|n| {
        let rate = match decode_secs {
            Some(d) if n > 1 && d > 0.0 => (n - 1) as f64 / d,
            _ if generate_ms > 0.0 => n as f64 / (generate_ms / 1000.0),
            _ => return None,
        };
        Some((rate * 10.0).round() / 10.0)
    });
    Ok(Answer {
        answer: gen.text,
        citations,
        invalid_citations: cites.invalid,
        contexts,
        grounding,
        timings: Timings { load_ms: (load_ms * 1e3).round() / 1e3, embed_ms, retrieve_ms, rerank_ms, generate_ms, first_token_ms: first_token, grounding_ms, total_ms: ms(t0), tokens_per_second },
        prompt_tokens: gen.prompt_tokens,
        completion_tokens: gen.completion_tokens,
        finish_reason: gen.finish_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::models::Generation;
    use crate::rag::prompt::Message;
    use crate::{CollectionConfig, Database, OpenOptionsDb, Record};

    /// Answers with the first sentence of the passage that shares the most words with the question.
    struct Echo;
    impl Generator for Echo {
        fn generate(&self, messages: &[Message], _: &GenerateOptions, on_token: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
            let user = &messages.last().unwrap().content;
            let line = user.lines().find(|l| l.starts_with("[1]")).unwrap_or("");
            let text = format!("{} [1] [9]", line.trim_start_matches("[1] "));
            for w in text.split_inclusive(' ') {
                if !on_token(w) {
                    return Ok(Generation { text: String::new(), finish_reason: "aborted".into(), ..Default::default() });
                }
            }
            Ok(Generation { text, prompt_tokens: Some(10), completion_tokens: Some(5), finish_reason: "stop".into() })
        }
        fn describe(&self) -> String {
            "echo".into()
        }
    }

    /// Bag of words hashed into 16 buckets (deterministic); tokens are words.
    struct Words;
    impl crate::rag::models::Embedder for Words {
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0.0f32; 16];
                    v[15] = 0.01;
                    for w in t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                        let h = w.to_lowercase().bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
                        v[(h % 15) as usize] += 1.0;
                    }
                    v
                })
                .collect())
        }
        fn dimension(&self) -> Option<usize> {
            Some(16)
        }
        fn count_tokens(&self, text: &str) -> Option<usize> {
            Some(text.split_whitespace().count())
        }
        fn describe(&self) -> String {
            "words".into()
        }
    }

    #[test]
    fn ask_cites_the_record_with_the_answer() {
        let dir = crate::store::fsutil::test_dir("ask");
        let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
        let col = db.create_collection("kb", CollectionConfig::default()).unwrap();
        col.upsert(vec![
            Record { id: "paris".into(), text: Some("The Eiffel Tower stands in Paris and opened in 1889.".into()), ..Default::default() },
            Record { id: "bananas".into(), text: Some("Bananas are yellow fruit rich in potassium.".into()), ..Default::default() },
            Record { id: "rust".into(), text: Some("Rust is a systems programming language.".into()), ..Default::default() },
        ])
        .unwrap();
        let mut streamed = String::new();
        let a = ask(&col, "When did the Eiffel Tower open?", &AskOptions::default(), &Rerank::None, &Echo, &Cancel::new(), &mut |t| streamed.push_str(t)).unwrap();
        assert_eq!(streamed, a.answer);
        assert_eq!(a.contexts[0].id, "paris");
        assert_eq!(a.contexts[0].chunk_id, None);
        assert_eq!(a.citations.len(), 1);
        assert_eq!(a.citations[0].id, "paris");
        assert_eq!(a.invalid_citations, vec![9]);
        assert!(a.grounding.score > 0.99, "{:?}", a.grounding);
        assert_eq!(a.timings.tokens_per_second.is_some(), true);
        // abort
        let c = Cancel::new();
        c.cancel();
        assert_eq!(ask(&col, "Eiffel", &AskOptions::default(), &Rerank::None, &Echo, &c, &mut |_| {}).unwrap_err().code(), ErrorCode::Aborted);
        assert_eq!(ask(&col, " ", &AskOptions::default(), &Rerank::None, &Echo, &Cancel::new(), &mut |_| {}).unwrap_err().code(), ErrorCode::InvalidArg);
    }

    #[test]
    fn ask_over_chunks_cites_the_parent_record() {
        use crate::rag::chunk::{ChunkMode, ChunkOptions};
        let dir = crate::store::fsutil::test_dir("ask-chunks");
        let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
        let chunking = Some(ChunkOptions { mode: ChunkMode::Sentence, size: 12, overlap: 0 });
        let col = db.create_collection("kb", CollectionConfig { chunking, ..Default::default() }).unwrap();
        col.set_embedder(Some(Arc::new(Words)));
        let langs = "Python is a dynamic scripting language. Rust is a systems programming language without a garbage collector. Go has goroutines.";
        col.upsert(vec![
            Record { id: "langs".into(), text: Some(langs.into()), metadata: Some(serde_json::json!({"topic": "pl"})), ..Default::default() },
            Record { id: "paris".into(), text: Some("The Eiffel Tower stands in Paris and opened in 1889.".into()), ..Default::default() },
        ])
        .unwrap();
        for rerank in [Rerank::None, Rerank::Mmr { lambda: 0.7 }, Rerank::Rrf { k: 60.0 }] {
            let a = ask(&col, "Which systems programming language has no garbage collector?", &AskOptions::default(), &rerank, &Echo, &Cancel::new(), &mut |_| {})
                .unwrap();
            let c = &a.contexts[0];
            assert_eq!(c.id, "langs");
            assert_eq!(c.chunk_id.as_deref(), Some("langs#1"));
            assert_eq!(c.text, "Rust is a systems programming language without a garbage collector.");
            let [s, e] = c.span.unwrap();
            assert_eq!(String::from_utf16(&langs.encode_utf16().collect::<Vec<u16>>()[s as usize..e as usize]).unwrap(), c.text);
            assert_eq!(c.metadata, Some(serde_json::json!({"topic": "pl"})));
            assert_eq!(a.citations[0].id, "langs");
            assert_eq!(a.citations[0].chunk_id.as_deref(), Some("langs#1"));
            assert_eq!(a.citations[0].span, c.span);
            assert!(a.contexts.iter().all(|c| c.chunk_id.is_some()), "parents are never passages");
        }
    }
}
