//! Sentence embeddings from a BERT-family model folder in sentence-transformers layout.

use crate::encoder::{encoder_prefix, load_weights, Batch, BertConfig, BertEncoder};
use crate::{read_json_opt, require_dir};
use hektor_core::rag::models::Embedder;
use hektor_core::{Cancel, Error, ErrorCode, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// How token vectors become one sentence vector (sentence-transformers' `Pooling` modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// The mean of the token vectors (padding excluded). The usual choice.
    Mean,
    /// The vector of the first (`[CLS]`) token.
    Cls,
    /// The element-wise maximum over the tokens.
    Max,
    /// The sum of the token vectors divided by the square root of the token count.
    MeanSqrtLen,
    /// The vector of the last real token.
    LastToken,
}

/// Options of [`BertEmbedder::load`]. Every field is optional; `None` means "what the
/// model folder says".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BertOptions {
    /// Longest input in tokens, special tokens included; longer texts are truncated.
    /// Default: `max_seq_length` of `sentence_bert_config.json`, else 512 (never more
    /// than the model's position table).
    pub max_length: Option<usize>,
    /// Texts per forward pass. Default 32.
    pub batch_size: Option<usize>,
    /// L2-normalise the vectors. Default: true when `modules.json` has a `Normalize` module.
    pub normalize: Option<bool>,
    /// Pooling. Default: from `1_Pooling/config.json` (the folder named by `modules.json`),
    /// else mean pooling.
    pub pooling: Option<Pooling>,
    /// Threads of the matrix products: `Some(n)` gives this embedder a pool of `n` threads
    /// of its own; default: rayon's global pool (one thread per core).
    pub threads: Option<usize>,
    /// Arithmetic of the dense layers. Default [`Precision::F32`].
    pub precision: Option<Precision>,
}

/// The arithmetic of the encoder's dense layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// f32 throughout: the vectors of sentence-transformers (cosine > 0.9999).
    #[default]
    F32,
    /// Int8 weights and per-row int8 activations in the dense layers (AVX-512 VNNI), f32
    /// elsewhere: faster, cosine >= 0.995 to the f32 vectors. On a CPU without AVX-512 VNNI
    /// the layers stay f32 (see [`BertEmbedder::precision`]).
    Int8,
}

/// A sentence-embedding model (all-MiniLM-L6-v2, bge-small, e5-small, gte-small...)
/// loaded from a Hugging Face folder and run in-process on the CPU.
///
/// The folder holds `config.json`, `model.safetensors`, `tokenizer.json` and, for
/// sentence-transformers models, `modules.json`, `sentence_bert_config.json` and the
/// pooling folder. Embeddings match sentence-transformers' `encode` (cosine > 0.9999 on
/// all-MiniLM-L6-v2). `embed` is thread-safe; calls sort their texts by token length into
/// batches so that little padding is computed, and return vectors in input order.
pub struct BertEmbedder {
    encoder: BertEncoder,
    tokenizer: Tokenizer,
    counter: Tokenizer,
    pooling: Vec<Pooling>,
    normalize: bool,
    max_length: usize,
    batch_size: usize,
    path: PathBuf,
    pool: Option<rayon::ThreadPool>,
    precision: Precision,
}

#[derive(Deserialize)]
struct StModule {
    #[serde(default)]
    path: String,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct StPooling {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
    #[serde(default)]
    pooling_mode_lasttoken: bool,
    #[serde(default)]
    pooling_mode_weightedmean_tokens: bool,
    /// Newer sentence-transformers versions write the mode as one string.
    #[serde(default)]
    pooling_mode: Option<String>,
}

#[derive(Deserialize)]
struct StConfig {
    max_seq_length: Option<usize>,
}

impl StPooling {
    fn modes(&self, path: &Path) -> Result<Vec<Pooling>> {
        if let Some(m) = &self.pooling_mode {
            return Ok(vec![parse_mode(m, path)?]);
        }
        if self.pooling_mode_weightedmean_tokens {
            return Err(Error::invalid(format!("{}: weighted-mean pooling is not supported", path.display())));
        }
        // sentence-transformers concatenates the enabled modes in this order.
        let mut modes = Vec::new();
        if self.pooling_mode_cls_token {
            modes.push(Pooling::Cls);
        }
        if self.pooling_mode_max_tokens {
            modes.push(Pooling::Max);
        }
        if self.pooling_mode_mean_tokens {
            modes.push(Pooling::Mean);
        }
        if self.pooling_mode_mean_sqrt_len_tokens {
            modes.push(Pooling::MeanSqrtLen);
        }
        if self.pooling_mode_lasttoken {
            modes.push(Pooling::LastToken);
        }
        if modes.is_empty() {
            modes.push(Pooling::Mean);
        }
        Ok(modes)
    }
}

fn parse_mode(m: &str, path: &Path) -> Result<Pooling> {
    Ok(match m {
        "mean" => Pooling::Mean,
        "cls" => Pooling::Cls,
        "max" => Pooling::Max,
        "mean_sqrt_len_tokens" => Pooling::MeanSqrtLen,
        "lasttoken" => Pooling::LastToken,
        other => return Err(Error::invalid(format!("{}: pooling mode '{other}' is not supported", path.display()))),
    })
}

/// Text run through the f32 model once when it loads in [`Precision::Int8`], to find the
/// range of each channel of the dense layers' inputs (see `BertEncoder::quantize_int8`):
/// short and long, prose, queries, code, numbers, symbols and other scripts.
const CALIBRATION: &[&str] = &[
    "ok",
    "Why?",
    "install a package from source",
    "what is the population of Tokyo",
    "The library provides a fast, portable implementation of the standard algorithms. It is used by many \
     programs for compression, and this package contains the shared library needed to run them.",
    "Command-line tool to convert images between formats; supports PNG, JPEG, GIF (animated) and WebP.",
    "fn main() { println!(\"{}\", 40 + 2); } // prints 42",
    "Error 404: page not found at 10:45 on 2024-06-01, retry in 30 s (+1 555 0100).",
    "!!! ??? ... --- *** ### @@@",
    "Der schnelle braune Fuchs springt über den faulen Hund. Le renard brun saute par-dessus le chien.",
    "北京是中国的首都。これは日本語の文です。Москва — столица России.",
    "I loved this movie 😍 but the ending was so sad 😢 #cinema",
    "This metapackage depends on the documentation, the development headers and the examples of the \
     toolkit, a set of widgets for building graphical user interfaces with themes, accessibility \
     support and bindings for several programming languages. Install it to get everything at once; \
     the individual packages can be installed on their own as well.",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9",
];

/// Loads `tokenizer.json` of a model folder.
pub(crate) fn load_tokenizer(dir: &Path) -> Result<Tokenizer> {
    let path = dir.join("tokenizer.json");
    let bytes = crate::read_required(&path, "tokenizer")?;
    Tokenizer::from_bytes(&bytes).map_err(|e| {
        Error::new(ErrorCode::Parse, format!("tokenizer {} is not valid: {e}", path.display())).with_source(path.display().to_string())
    })
}

/// Sets truncation at `max_length` (longest first) and removes fixed padding.
pub(crate) fn set_truncation(tok: &mut Tokenizer, max_length: usize) -> Result<()> {
    tok.with_padding(None);
    tok.with_truncation(Some(TruncationParams {
        max_length,
        strategy: TruncationStrategy::LongestFirst,
        stride: 0,
        direction: TruncationDirection::Right,
    }))
    .map_err(|e| Error::invalid(format!("cannot truncate at {max_length} tokens: {e}")))?;
    Ok(())
}

impl BertEmbedder {
    /// Loads the model folder `dir`.
    ///
    /// Errors: `ERR_NOT_FOUND` when the folder, `config.json`, `model.safetensors` or
    /// `tokenizer.json` is missing; `ERR_INVALID_ARG` for PyTorch-only weights
    /// (`pytorch_model.bin`: convert to safetensors), an unsupported architecture option
    /// or bad options; `ERR_PARSE` when a file cannot be read as what it should be.
    ///
    /// ```no_run
    /// # use hektor_models::{BertEmbedder, BertOptions};
    /// # use std::path::Path;
    /// let e = BertEmbedder::load(Path::new("all-MiniLM-L6-v2"), BertOptions { batch_size: Some(16), ..Default::default() })?;
    /// # Ok::<(), hektor_core::Error>(())
    /// ```
    pub fn load(dir: &Path, opts: BertOptions) -> Result<Self> {
        require_dir(dir, "embedding model folder")?;
        if opts.batch_size == Some(0) {
            return Err(Error::invalid("batch_size must be at least 1"));
        }
        if opts.threads == Some(0) {
            return Err(Error::invalid("threads must be at least 1"));
        }
        if opts.max_length.is_some_and(|m| m < 2) {
            return Err(Error::invalid("max_length must be at least 2 (room for the special tokens)"));
        }
        let cfg = BertConfig::load(dir)?;
        let (has_normalize, pooling) = pooling_of(dir, opts.pooling)?;
        let st_cfg: Option<StConfig> = read_json_opt(&dir.join("sentence_bert_config.json"), "sentence-transformers config")?;
        let model_max = cfg.max_sequence();
        let max_length = match opts.max_length {
            Some(m) if m > model_max => {
                return Err(Error::invalid(format!("max_length {m} exceeds the model's {model_max} positions")));
            }
            Some(m) => m,
            None => st_cfg.and_then(|c| c.max_seq_length).unwrap_or(512).min(model_max),
        };

        let mut tokenizer = load_tokenizer(dir)?;
        let mut counter = tokenizer.clone();
        set_truncation(&mut tokenizer, max_length)?;
        counter.with_padding(None);
        counter.with_truncation(None).map_err(|e| Error::internal(format!("tokenizer: {e}")))?;

        let vb = load_weights(dir)?;
        let prefix = encoder_prefix(&vb, &cfg).ok_or_else(|| {
            Error::new(ErrorCode::Parse, format!("{}: model.safetensors has no BERT embeddings (embeddings.word_embeddings.weight)", dir.display()))
        })?;
        let precision = match opts.precision.unwrap_or_default() {
            Precision::Int8 if crate::int8::available() => Precision::Int8,
            _ => Precision::F32,
        };
        let mut encoder = BertEncoder::load(&vb, &prefix, &cfg)
            .map_err(|e| Error::new(ErrorCode::Parse, format!("{}: model.safetensors does not match config.json: {e}", dir.display())))?;
        if precision == Precision::Int8 {
            let encodings = tokenizer.encode_batch_fast(CALIBRATION.to_vec(), true).map_err(|e| Error::internal(format!("tokenizing the calibration text: {e}")))?;
            let seqs: Vec<(&[u32], &[u32])> = encodings.iter().map(|e| (e.get_ids(), e.get_type_ids())).collect();
            encoder.quantize_int8(&Batch::pack(&seqs))?;
        }
        let pool = match opts.threads {
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("hektor-embed-{i}"))
                    .build()
                    .map_err(|e| Error::internal(format!("cannot start {n} embedding threads: {e}")))?,
            ),
            None => None,
        };
        Ok(BertEmbedder {
            encoder,
            tokenizer,
            counter,
            pooling,
            normalize: opts.normalize.unwrap_or(has_normalize),
            max_length,
            batch_size: opts.batch_size.unwrap_or(32),
            path: dir.to_path_buf(),
            pool,
            precision,
        })
    }

    /// The arithmetic the dense layers use: [`Precision::Int8`] only when it was asked for
    /// and the CPU has AVX-512 VNNI.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The output dimension of the model in `dir` (hidden size times pooling modes),
    /// read from its small config files without loading the weights.
    pub fn probe_dimension(dir: &Path, opts: &BertOptions) -> Result<usize> {
        require_dir(dir, "embedding model folder")?;
        let cfg = BertConfig::load(dir)?;
        Ok(cfg.hidden_size * pooling_of(dir, opts.pooling)?.1.len())
    }

    /// The longest input in tokens (special tokens included); longer texts are truncated.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Whether vectors are L2-normalised.
    pub fn normalizes(&self) -> bool {
        self.normalize
    }

    /// The pooling modes, concatenated in this order.
    pub fn pooling(&self) -> &[Pooling] {
        &self.pooling
    }

    fn pool(&self, hidden: &[f32], batch: &Batch) -> Vec<Vec<f32>> {
        let h = self.encoder.hidden();
        batch
            .starts
            .iter()
            .zip(&batch.lens)
            .map(|(&start, &len)| {
                let rows = &hidden[start * h..(start + len) * h];
                let mut out = Vec::with_capacity(h * self.pooling.len());
                if rows.is_empty() {
                    out.resize(h * self.pooling.len(), 0.0);
                    return out;
                }
                for mode in &self.pooling {
                    match mode {
                        Pooling::Cls => out.extend_from_slice(&rows[..h]),
                        Pooling::LastToken => out.extend_from_slice(&rows[rows.len() - h..]),
                        Pooling::Max => {
                            let mut m = vec![f32::NEG_INFINITY; h];
                            for row in rows.chunks(h) {
                                for (a, &b) in m.iter_mut().zip(row) {
                                    *a = a.max(b);
                                }
                            }
                            out.extend(m);
                        }
                        Pooling::Mean | Pooling::MeanSqrtLen => {
                            let mut s = vec![0f64; h];
                            for row in rows.chunks(h) {
                                for (a, &b) in s.iter_mut().zip(row) {
                                    *a += b as f64;
                                }
                            }
                            let n = (rows.len() / h) as f64;
                            let div = if *mode == Pooling::Mean { n } else { n.sqrt() };
                            out.extend(s.into_iter().map(|v| (v / div) as f32));
                        }
                    }
                }
                if self.normalize {
                    let norm = out.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt().max(1e-12);
                    for v in &mut out {
                        *v = (*v as f64 / norm) as f32;
                    }
                }
                out
            })
            .collect()
    }
}

/// Reads `modules.json` and the pooling config: whether the model normalises, and its
/// pooling modes (`forced` overrides the folder's).
fn pooling_of(dir: &Path, forced: Option<Pooling>) -> Result<(bool, Vec<Pooling>)> {
    let modules: Option<Vec<StModule>> = read_json_opt(&dir.join("modules.json"), "sentence-transformers modules")?;
    let modules = modules.unwrap_or_default();
    let has_normalize = modules.iter().any(|m| m.kind.ends_with(".Normalize") || m.kind == "Normalize");
    let pooling_dir = modules
        .iter()
        .find(|m| m.kind.ends_with(".Pooling") || m.kind == "Pooling")
        .map(|m| dir.join(&m.path))
        .unwrap_or_else(|| dir.join("1_Pooling"));
    let pooling = match forced {
        Some(p) => vec![p],
        None => {
            let pc = pooling_dir.join("config.json");
            match read_json_opt::<StPooling>(&pc, "pooling config")? {
                Some(p) => p.modes(&pc)?,
                None => vec![Pooling::Mean],
            }
        }
    };
    Ok((has_normalize, pooling))
}

impl Embedder for BertEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_cancellable(texts, &Cancel::new())
    }

    /// Tokenizes all `texts`, sorts them by length (little padding per batch) and runs the
    /// model batch by batch, checking `cancel` before each.
    fn embed_cancellable(&self, texts: &[&str], cancel: &Cancel) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        match &self.pool {
            Some(pool) => pool.install(|| self.embed_sorted(texts, cancel)),
            None => self.embed_sorted(texts, cancel),
        }
    }

    fn dimension(&self) -> Option<usize> {
        Some(self.encoder.hidden() * self.pooling.len())
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.counter.encode_fast(text, false).ok().map(|e| e.get_ids().len())
    }

    fn describe(&self) -> String {
        format!("local:{}", self.path.display())
    }
}

impl BertEmbedder {
    /// The body of `embed_cancellable`, on the current rayon pool.
    fn embed_sorted(&self, texts: &[&str], cancel: &Cancel) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| Error::invalid(format!("cannot tokenize the input: {e}")))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(self.batch_size) {
            cancel.check()?;
            let seqs: Vec<(&[u32], &[u32])> = chunk.iter().map(|&i| (encodings[i].get_ids(), encodings[i].get_type_ids())).collect();
            let batch = Batch::pack(&seqs);
            let hidden = self.encoder.forward(&batch)?;
            for (&i, v) in chunk.iter().zip(self.pool(&hidden, &batch)) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder")
            .field("path", &self.path)
            .field("dimension", &self.dimension())
            .field("pooling", &self.pooling)
            .field("normalize", &self.normalize)
            .field("max_length", &self.max_length)
            .field("batch_size", &self.batch_size)
            .field("threads", &self.pool.as_ref().map(|p| p.current_num_threads()))
            .field("precision", &self.precision)
            .finish()
    }
}
