//! The tokenizer of a GGUF model, rebuilt from its `tokenizer.ggml.*` metadata with the
//! `tokenizers` crate so that token ids equal llama.cpp's.
//!
//! - `tokenizer.ggml.model = "gpt2"`: byte-level BPE from `tokens` + `merges`, with the
//!   pre-tokenizer named by `tokenizer.ggml.pre` (`smollm`: single digits then GPT-2
//!   byte level, as SmolLM2's own tokenizer.json; `qwen2`, `llama-bpe`: their split
//!   regexes; anything else: GPT-2's).
//! - `tokenizer.ggml.model = "llama"`: SentencePiece BPE (Llama 2, TinyLlama, Mistral)
//!   with byte fallback; merges are derived from the token scores the way Hugging Face's
//!   converter derives them.
//! - Control tokens (`token_type` 3) become special tokens, user-defined ones (4) added
//!   tokens, so chat-template markers such as `<|im_start|>` encode to their single id.

use candle_core::quantized::gguf_file::Value;
use hektor_core::{Error, ErrorCode, Result};
use std::collections::{HashMap, HashSet};
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, NFC};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

const REGEX_QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const REGEX_LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Token types of `tokenizer.ggml.token_type` (llama.cpp's `llama_token_type`).
const TYPE_CONTROL: u32 = 3;
const TYPE_USER_DEFINED: u32 = 4;

/// Tokens that end a turn in common chat formats, used as extra stop tokens when the
/// vocabulary has them as control tokens.
const END_OF_TURN: &[&str] = &["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|endoftext|>", "<end_of_turn>", "<|end|>", "</s>"];

/// A GGUF model's tokenizer plus the ids and texts of its special tokens.
pub(crate) struct GgufTokenizer {
    tokenizer: Tokenizer,
    /// Beginning-of-sequence id.
    pub bos: Option<u32>,
    /// The text of the BOS token (for chat templates).
    pub bos_text: String,
    /// The text of the EOS token (for chat templates).
    pub eos_text: String,
    /// Whether llama.cpp would put BOS in front of a prompt.
    pub add_bos: bool,
    /// Ids that end generation (EOS, EOT, end-of-turn markers).
    pub stop_ids: HashSet<u32>,
    /// Ids of control tokens (never shown in output text).
    pub control_ids: HashSet<u32>,
}

fn md<'a>(m: &'a HashMap<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key)
}

fn md_u32(m: &HashMap<String, Value>, key: &str) -> Option<u32> {
    match md(m, key)? {
        Value::U8(v) => Some(*v as u32),
        Value::I8(v) => u32::try_from(*v).ok(),
        Value::U16(v) => Some(*v as u32),
        Value::I16(v) => u32::try_from(*v).ok(),
        Value::U32(v) => Some(*v),
        Value::I32(v) => u32::try_from(*v).ok(),
        Value::U64(v) => u32::try_from(*v).ok(),
        Value::I64(v) => u32::try_from(*v).ok(),
        _ => None,
    }
}

fn md_bool(m: &HashMap<String, Value>, key: &str) -> Option<bool> {
    md(m, key).and_then(|v| v.to_bool().ok())
}

/// An unsigned integer of the metadata as usize (u32, u64, or a non-negative-clamped i32).
pub(crate) fn md_usize(m: &HashMap<String, Value>, key: &str) -> Option<usize> {
    let v = m.get(key)?;
    v.to_u32().map(|x| x as usize).or_else(|_| v.to_u64().map(|x| x as usize)).or_else(|_| v.to_i32().map(|x| x.max(0) as usize)).ok()
}

pub(crate) fn md_string(m: &HashMap<String, Value>, key: &str) -> Option<String> {
    md(m, key).and_then(|v| v.to_string().ok()).cloned()
}

fn parse_err(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::Parse, msg)
}

fn string_array(m: &HashMap<String, Value>, key: &str) -> Result<Vec<String>> {
    let arr = md(m, key).ok_or_else(|| parse_err(format!("GGUF metadata has no {key}")))?;
    let arr = arr.to_vec().map_err(|_| parse_err(format!("GGUF metadata {key} is not an array")))?;
    arr.iter()
        .enumerate()
        .map(|(i, v)| v.to_string().cloned().map_err(|_| parse_err(format!("GGUF metadata {key}[{i}] is not a string"))))
        .collect()
}

fn number_array(m: &HashMap<String, Value>, key: &str) -> Option<Vec<f64>> {
    let arr = md(m, key)?.to_vec().ok()?;
    Some(
        arr.iter()
            .map(|v| match v {
                Value::F32(x) => *x as f64,
                Value::F64(x) => *x,
                Value::I32(x) => *x as f64,
                Value::U32(x) => *x as f64,
                Value::I8(x) => *x as f64,
                Value::U8(x) => *x as f64,
                Value::I16(x) => *x as f64,
                Value::U16(x) => *x as f64,
                Value::I64(x) => *x as f64,
                Value::U64(x) => *x as f64,
                _ => 0.0,
            })
            .collect(),
    )
}

fn tok_err(what: &str) -> impl Fn(tokenizers::Error) -> Error + '_ {
    move |e| parse_err(format!("cannot build the GGUF tokenizer ({what}): {e}"))
}

/// Derives SentencePiece-BPE merges from token scores: every split of a token into two
/// vocabulary tokens is a merge, ranked by the merged token's score (highest first).
fn merges_from_scores(tokens: &[String], scores: &[f64]) -> Vec<(String, String)> {
    let vocab: HashMap<&str, usize> = tokens.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
    let mut merges: Vec<(usize, usize, f64)> = Vec::new();
    for (id, piece) in tokens.iter().enumerate() {
        let score = scores.get(id).copied().unwrap_or(0.0);
        let mut local = Vec::new();
        for (split, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(split);
            if let (Some(&li), Some(&ri)) = (vocab.get(l), vocab.get(r)) {
                local.push((li, ri, score));
            }
        }
        local.sort_by_key(|&(l, r, _)| (l, r));
        merges.extend(local);
    }
    merges.sort_by(|a, b| b.2.total_cmp(&a.2));
    merges.into_iter().map(|(l, r, _)| (tokens[l].clone(), tokens[r].clone())).collect()
}

impl GgufTokenizer {
    /// Builds the tokenizer from GGUF metadata.
    pub fn from_metadata(m: &HashMap<String, Value>) -> Result<GgufTokenizer> {
        let kind = md_string(m, "tokenizer.ggml.model").unwrap_or_else(|| "gpt2".into());
        let tokens = string_array(m, "tokenizer.ggml.tokens")?;
        if tokens.is_empty() {
            return Err(parse_err("GGUF metadata tokenizer.ggml.tokens is empty"));
        }
        let types: Vec<u32> = number_array(m, "tokenizer.ggml.token_type").unwrap_or_default().into_iter().map(|v| v as u32).collect();
        let vocab: HashMap<String, u32> = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let bos = md_u32(m, "tokenizer.ggml.bos_token_id").filter(|&i| (i as usize) < tokens.len());
        let eos = md_u32(m, "tokenizer.ggml.eos_token_id").filter(|&i| (i as usize) < tokens.len());

        let (mut tokenizer, default_add_bos) = match kind.as_str() {
            "gpt2" => {
                let merges: Vec<(String, String)> = string_array(m, "tokenizer.ggml.merges")?
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| {
                        s.split_once(' ')
                            .map(|(a, b)| (a.to_string(), b.to_string()))
                            .ok_or_else(|| parse_err(format!("GGUF metadata tokenizer.ggml.merges[{i}] is not 'a b'")))
                    })
                    .collect::<Result<_>>()?;
                let bpe = BPE::builder()
                    .vocab_and_merges(vocab.into_iter().collect::<Vocab>(), merges)
                    .ignore_merges(md_bool(m, "tokenizer.ggml.ignore_merges").unwrap_or(false))
                    .build()
                    .map_err(tok_err("BPE"))?;
                let mut t = Tokenizer::new(bpe);
                let pre = md_string(m, "tokenizer.ggml.pre").unwrap_or_else(|| "default".into());
                let byte_level_plain = ByteLevel::new(false, true, false);
                let split = |re: &str| -> Result<PreTokenizerWrapper> {
                    let s = Split::new(SplitPattern::Regex(re.to_string()), SplitDelimiterBehavior::Isolated, false).map_err(tok_err("split regex"))?;
                    Ok(PreSequence::new(vec![s.into(), byte_level_plain.into()]).into())
                };
                let pre_tok: PreTokenizerWrapper = match pre.as_str() {
                    "smollm" => PreSequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()]).into(),
                    "qwen2" | "deepseek-r1-qwen" => {
                        t.with_normalizer(Some(NormalizerWrapper::from(NFC))).map_err(tok_err("normalizer"))?;
                        split(REGEX_QWEN2)?
                    }
                    "llama-bpe" | "llama3" | "smaug-bpe" | "falcon3" | "dbrx" => split(REGEX_LLAMA3)?,
                    _ => ByteLevel::new(false, true, true).into(),
                };
                t.with_pre_tokenizer(Some(pre_tok));
                t.with_decoder(Some(DecoderWrapper::from(ByteLevelDecoder::new(false, true, true))));
                (t, false)
            }
            "llama" => {
                let scores = number_array(m, "tokenizer.ggml.scores").unwrap_or_default();
                let merges = merges_from_scores(&tokens, &scores);
                let mut builder = BPE::builder().vocab_and_merges(vocab.into_iter().collect::<Vocab>(), merges).byte_fallback(true).fuse_unk(true);
                if let Some(unk) = md_u32(m, "tokenizer.ggml.unknown_token_id").and_then(|i| tokens.get(i as usize)) {
                    builder = builder.unk_token(unk.clone());
                }
                let bpe = builder.build().map_err(tok_err("BPE"))?;
                let mut t = Tokenizer::new(bpe);
                let add_space = md_bool(m, "tokenizer.ggml.add_space_prefix").unwrap_or(true);
                let replace = Replace::new(" ", "\u{2581}").map_err(tok_err("normalizer"))?;
                let norm: NormalizerWrapper = if add_space {
                    tokenizers::normalizers::Sequence::new(vec![Prepend::new("\u{2581}".into()).into(), replace.into()]).into()
                } else {
                    replace.into()
                };
                t.with_normalizer(Some(norm)).map_err(tok_err("normalizer"))?;
                let replace_back = Replace::new("\u{2581}", " ").map_err(tok_err("decoder"))?;
                let mut steps: Vec<DecoderWrapper> = vec![replace_back.into(), ByteFallback::default().into(), Fuse::default().into()];
                if add_space {
                    steps.push(Strip::new(' ', 1, 0).into());
                }
                t.with_decoder(Some(DecoderSequence::new(steps)));
                (t, true)
            }
            other => {
                return Err(Error::invalid(format!("GGUF tokenizer model '{other}' is not supported (only 'gpt2' BPE and 'llama' SentencePiece)")));
            }
        };

        // Special and added tokens.
        let mut control_ids = HashSet::new();
        let mut specials = Vec::new();
        let mut added = Vec::new();
        for (i, tok) in tokens.iter().enumerate() {
            match types.get(i).copied() {
                Some(TYPE_CONTROL) => {
                    control_ids.insert(i as u32);
                    specials.push(AddedToken::from(tok.clone(), true));
                }
                Some(TYPE_USER_DEFINED) => added.push(AddedToken::from(tok.clone(), false).normalized(false)),
                _ => {}
            }
        }
        for id in [bos, eos].into_iter().flatten() {
            if control_ids.insert(id) {
                specials.push(AddedToken::from(tokens[id as usize].clone(), true));
            }
        }
        tokenizer.add_special_tokens(specials).map_err(tok_err("special tokens"))?;
        tokenizer.add_tokens(added).map_err(tok_err("added tokens"))?;

        let mut stop_ids: HashSet<u32> = HashSet::new();
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let Some(id) = md_u32(m, key).filter(|&i| (i as usize) < tokens.len()) {
                stop_ids.insert(id);
            }
        }
        for name in END_OF_TURN {
            if let Some(id) = tokens.iter().position(|t| t == name) {
                if types.is_empty() || control_ids.contains(&(id as u32)) {
                    stop_ids.insert(id as u32);
                }
            }
        }
        let text_of = |id: Option<u32>| id.and_then(|i| tokens.get(i as usize)).cloned().unwrap_or_default();
        Ok(GgufTokenizer {
            tokenizer,
            bos,
            bos_text: text_of(bos),
            eos_text: text_of(eos),
            add_bos: md_bool(m, "tokenizer.ggml.add_bos_token").unwrap_or(default_add_bos) && bos.is_some(),
            stop_ids,
            control_ids,
        })
    }

    /// Token ids of `text`; special-token markers in the text encode to their ids. No BOS.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer
            .encode_fast(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| Error::invalid(format!("cannot tokenize the prompt: {e}")))
    }

    /// The text of `ids`, control tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let ids: Vec<u32> = ids.iter().copied().filter(|i| !self.control_ids.contains(i)).collect();
        self.tokenizer.decode(&ids, false).map_err(|e| Error::internal(format!("cannot decode tokens: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_rank_by_merged_score() {
        let tokens: Vec<String> = ["a", "b", "c", "ab", "bc", "abc"].iter().map(|s| s.to_string()).collect();
        let scores = [0.0, 0.0, 0.0, -1.0, -2.0, -0.5];
        let merges = merges_from_scores(&tokens, &scores);
        // "abc" (score -0.5) splits as a+bc and ab+c; then "ab" (-1), then "bc" (-2).
        assert_eq!(merges.len(), 4);
        assert_eq!(merges[2], ("a".into(), "b".into()));
        assert_eq!(merges[3], ("b".into(), "c".into()));
    }
}
