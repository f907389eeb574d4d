//! In-process chat generation with a quantized GGUF model (candle).

use crate::gguf_tokenizer::{md_string, GgufTokenizer};
use crate::stream::StopFilter;
use crate::template::ChatTemplate;
use crate::{candle_err, infer_err};
use candle_core::quantized::gguf_file::{Content, TensorInfo, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::utils::apply_repeat_penalty;
use candle_transformers::models::{quantized_llama, quantized_qwen2};
use hektor_core::rag::models::{GenerateOptions, Generation, Generator};
use hektor_core::rag::prompt::Message;
use hektor_core::{Error, ErrorCode, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of [`GgufChat::load`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufOptions {
    /// Threads of the matrix kernels. Default 1: with more, a decode step
    /// waits for every thread at each of its hundreds of small products, and on a busy
    /// machine that waiting costs more than the second core gives.
    ///
    /// f32 products run on a pool of this many threads owned by the model. Candle sizes
    /// the pool of its quantized kernels once per process, when the first one runs, from
    /// the `CANDLE_NUM_THREADS` environment variable. The first `load` sets that variable
    /// to this value unless it is already set; later loads, or loads after another part of
    /// the process already ran candle's quantized kernels, cannot change it. Set
    /// `CANDLE_NUM_THREADS` before starting the process to be certain.
    pub threads: Option<usize>,
    /// Re-quantize tensors whose candle CPU kernels are scalar (Q4_1, Q5_0, Q5_1) to Q8_0
    /// at load: about a second for a small model, 2-3x faster generation, and Q8_0
    /// represents the 4/5-bit values almost exactly. Default true.
    pub requantize: bool,
    /// Keep the weights as f32 instead of quantized: every matrix product then runs on
    /// the f32 gemm kernels (AVX-512/AVX2), about 4x faster prompt processing (which is
    /// most of a RAG answer: the retrieved passages) but about 0.6x the generation speed
    /// and 4 bytes per parameter of memory. Default (`None`): true when the f32 weights
    /// take at most 1 GiB (models up to ~250M parameters, such as SmolLM2-135M).
    pub dequantize: Option<bool>,
}

impl Default for GgufOptions {
    fn default() -> Self {
        GgufOptions { threads: None, requantize: true, dequantize: None }
    }
}

/// Timings of one generation, for throughput reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenerationStats {
    /// Tokens of the rendered prompt (BOS included).
    pub prompt_tokens: usize,
    /// Tokens generated (the stop token excluded).
    pub completion_tokens: usize,
    /// Time to process the prompt (until the first sampled token).
    pub prompt_time: Duration,
    /// Time spent generating after the prompt.
    pub generation_time: Duration,
}

impl GenerationStats {
    /// Prompt tokens per second.
    pub fn prompt_tokens_per_second(&self) -> f64 {
        self.prompt_tokens as f64 / self.prompt_time.as_secs_f64().max(1e-9)
    }
    /// Generated tokens per second.
    pub fn tokens_per_second(&self) -> f64 {
        self.completion_tokens as f64 / self.generation_time.as_secs_f64().max(1e-9)
    }
}

enum Weights {
    /// Llama-family weights are cheap to clone (shared tensors): each call gets its own
    /// copy with an empty KV cache, so calls from several threads run concurrently.
    Llama(quantized_llama::ModelWeights),
    /// Qwen2 weights cannot be cloned: calls take turns.
    Qwen2(Mutex<quantized_qwen2::ModelWeights>),
}

/// A quantized chat model (GGUF: SmolLM2, Llama 3.x, TinyLlama, Mistral, Qwen2/2.5...)
/// running in-process on the CPU with candle.
///
/// The tokenizer, special tokens, context length and chat template all come from the
/// file's metadata; a model without a template gets ChatML. The model is loaded once;
/// [`generate`](Generator::generate) may be called from several threads.
pub struct GgufChat {
    weights: Weights,
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
    context_length: usize,
    architecture: String,
    name: String,
    path: PathBuf,
    requantized: usize,
    dequantized: bool,
    pool: rayon::ThreadPool,
    load_time: Duration,
}

/// What slow tensors are re-quantized to: Q8_0 keeps 4/5-bit values almost exactly (Q4_0
/// was no faster here and visibly hurt SmolLM2 answers).
const REQUANT_TARGET: GgmlDType = GgmlDType::Q8_0;

/// `dequantize: None` keeps f32 weights up to this size.
const AUTO_DEQUANTIZE_BYTES: usize = 1 << 30;

/// Prompt tokens per forward pass (bounds the attention scratch memory).
const PROMPT_CHUNK: usize = 512;
/// Generated tokens that `repeat_penalty` looks back over (llama.cpp's default window).
const REPEAT_WINDOW: usize = 64;

/// Quantization types whose candle CPU kernels are scalar.
fn is_slow(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

fn configure_threads(threads: Option<usize>) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
            // Set before candle's pool exists (it reads the variable when first used).
            std::env::set_var("CANDLE_NUM_THREADS", threads.unwrap_or(1).max(1).to_string());
        }
    });
}

/// Reads every tensor into an in-memory blob that `Content` can read back as if it were
/// the file, converting matrices to f32 (`dequantize`) or the slow quantizations to Q8_0.
fn convert_all<R: Read + Seek>(content: &Content, reader: &mut R, dequantize: bool) -> candle_core::Result<(Content, Cursor<Vec<u8>>, usize)> {
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort_by_key(|n| content.tensor_infos[*n].offset);
    let mut blob: Vec<u8> = Vec::new();
    let mut infos = HashMap::new();
    let mut count = 0;
    for name in names {
        let info = &content.tensor_infos[name];
        let qt = info.read(reader, content.tensor_data_offset, &Device::Cpu)?;
        let dims = qt.shape().dims().to_vec();
        let row = dims.last().copied().unwrap_or(0);
        let qt = if dequantize && dims.len() == 2 && qt.dtype() != GgmlDType::F32 {
            count += 1;
            QTensor::quantize(&qt.dequantize(&Device::Cpu)?, GgmlDType::F32)?
        } else if !dequantize && is_slow(qt.dtype()) && dims.len() == 2 && row % REQUANT_TARGET.block_size() == 0 {
            count += 1;
            QTensor::quantize(&qt.dequantize(&Device::Cpu)?, REQUANT_TARGET)?
        } else {
            qt
        };
        let data = qt.data()?;
        let offset = blob.len() as u64;
        blob.extend_from_slice(&data);
        blob.resize(blob.len().div_ceil(32) * 32, 0);
        infos.insert(name.clone(), TensorInfo { ggml_dtype: qt.dtype(), shape: qt.shape().clone(), offset });
    }
    let new = Content { magic: content.magic, metadata: content.metadata.clone(), tensor_infos: infos, tensor_data_offset: 0 };
    Ok((new, Cursor::new(blob), count))
}

fn md_usize(m: &HashMap<String, Value>, key: &str) -> Option<usize> {
    let v = m.get(key)?;
    v.to_u32().map(|x| x as usize).or_else(|_| v.to_u64().map(|x| x as usize)).or_else(|_| v.to_i32().map(|x| x.max(0) as usize)).ok()
}

impl GgufChat {
    /// Loads the GGUF file at `path`.
    ///
    /// Errors: `ERR_NOT_FOUND` when the file does not exist; `ERR_PARSE` when it is not
    /// a readable GGUF file or lacks tensors/metadata the architecture needs;
    /// `ERR_INVALID_ARG` for an architecture or tokenizer kind that is not supported
    /// (supported: `llama` — SmolLM, Llama 2/3, TinyLlama, Mistral — and `qwen2`).
    ///
    /// ```no_run
    /// # use hektor_models::{GgufChat, GgufOptions};
    /// let chat = GgufChat::load("SmolLM2-135M-Instruct.Q4_1.gguf".as_ref(), GgufOptions::default())?;
    /// println!("{} ({} tokens of context)", chat.architecture(), chat.context_length());
    /// # Ok::<(), hektor_core::Error>(())
    /// ```
    pub fn load(path: &Path, opts: GgufOptions) -> Result<Self> {
        if opts.threads == Some(0) {
            return Err(Error::invalid("threads must be at least 1"));
        }
        let started = Instant::now();
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(ErrorCode::NotFound, format!("GGUF model not found: {}", path.display())).with_source(path.display().to_string()));
            }
            Err(e) => return Err(Error::io(e, format!("opening {}", path.display()))),
        };
        if path.is_dir() {
            return Err(Error::invalid(format!("{} is a folder; a GGUF model is a single .gguf file", path.display())));
        }
        let mut reader = std::io::BufReader::new(file);
        let content = Content::read(&mut reader).map_err(candle_err(ErrorCode::Parse, format!("{} is not a readable GGUF file", path.display())))?;
        let md = &content.metadata;
        let architecture = md_string(md, "general.architecture").unwrap_or_else(|| "llama".into());
        if !matches!(architecture.as_str(), "llama" | "qwen2") {
            return Err(Error::invalid(format!(
                "{}: GGUF architecture '{architecture}' is not supported (supported: llama, qwen2)",
                path.display()
            )));
        }
        let tokenizer = GgufTokenizer::from_metadata(md).map_err(|e| e.context(path.display()))?;
        let template = ChatTemplate::new(md_string(md, "tokenizer.chat_template"), tokenizer.bos_text.clone(), tokenizer.eos_text.clone())?;
        let meta_ctx = md_usize(md, &format!("{architecture}.context_length")).unwrap_or(2048);
        let context_length = match architecture.as_str() {
            // candle's llama precomputes rotary tables for MAX_SEQ_LEN positions.
            "llama" => meta_ctx.min(quantized_llama::MAX_SEQ_LEN),
            _ => meta_ctx,
        }
        .max(1);
        let name = md_string(md, "general.name")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());

        configure_threads(opts.threads);
        let f32_bytes: usize = content.tensor_infos.values().filter(|t| t.shape.rank() == 2).map(|t| t.shape.elem_count() * 4).sum();
        let dequantize = opts.dequantize.unwrap_or(f32_bytes <= AUTO_DEQUANTIZE_BYTES);
        let needs_requant = dequantize || (opts.requantize && content.tensor_infos.values().any(|t| is_slow(t.ggml_dtype)));
        let bad = |e: candle_core::Error| Error::new(ErrorCode::Parse, format!("{}: cannot load the model weights: {e}", path.display()));
        let dev = Device::Cpu;
        let (weights, requantized) = if needs_requant {
            let (content, mut blob, n) = convert_all(&content, &mut reader, dequantize).map_err(bad)?;
            (build(&architecture, content, &mut blob, &dev).map_err(bad)?, n)
        } else {
            (build(&architecture, content, &mut reader, &dev).map_err(bad)?, 0)
        };
        let threads = opts.threads.unwrap_or(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("hektor-gguf-{i}"))
            .build()
            .map_err(|e| Error::internal(format!("cannot start {threads} threads: {e}")))?;
        Ok(GgufChat {
            weights,
            tokenizer,
            template,
            context_length,
            architecture,
            name,
            path: path.to_path_buf(),
            requantized: if dequantize { 0 } else { requantized },
            dequantized: dequantize,
            pool,
            load_time: started.elapsed(),
        })
    }

    /// `general.architecture` of the file (`llama`, `qwen2`).
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// The model's name from its metadata (or the file name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The longest prompt + answer in tokens.
    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// How many tensors were re-quantized to Q8_0 at load.
    pub fn requantized_tensors(&self) -> usize {
        self.requantized
    }

    /// Whether the weights are held as f32 (see [`GgufOptions::dequantize`]).
    pub fn is_dequantized(&self) -> bool {
        self.dequantized
    }

    /// How long [`load`](Self::load) took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Whether the chat template came from the model (false: the ChatML fallback).
    pub fn has_own_template(&self) -> bool {
        self.template.from_model
    }

    /// The prompt text the chat template makes of `messages` (with the assistant's
    /// generation prompt at the end).
    pub fn render_prompt(&self, messages: &[Message]) -> Result<String> {
        self.template.render(messages)
    }

    /// Token ids of `text` (special-token markers such as `<|im_start|>` included; no BOS).
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text)
    }

    /// The text of token ids (control tokens left out).
    pub fn detokenize(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.decode(ids)
    }

    /// Like [`Generator::generate`], also returning timings.
    pub fn generate_with_stats(
        &self,
        messages: &[Message],
        opts: &GenerateOptions,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(Generation, GenerationStats)> {
        opts.validate()?;
        let prompt = self.template.render(messages)?;
        let mut ids = self.tokenizer.encode(&prompt)?;
        if self.tokenizer.add_bos {
            if let Some(bos) = self.tokenizer.bos {
                if ids.first() != Some(&bos) {
                    ids.insert(0, bos);
                }
            }
        }
        if ids.is_empty() {
            return Err(Error::invalid("the prompt is empty"));
        }
        if ids.len() >= self.context_length {
            return Err(Error::invalid(format!(
                "the prompt has {} tokens, the model's context holds {}: use fewer or shorter passages",
                ids.len(),
                self.context_length
            )));
        }
        let max_tokens = opts.max_tokens.min(self.context_length - ids.len());
        let seed = opts.seed.unwrap_or_else(random_seed);
        let sampling = if opts.temperature <= 0.0 {
            Sampling::ArgMax
        } else if opts.top_p >= 1.0 {
            Sampling::All { temperature: opts.temperature as f64 }
        } else {
            Sampling::TopP { p: opts.top_p as f64, temperature: opts.temperature as f64 }
        };
        let mut sampler = LogitsProcessor::from_sampling(seed, sampling);
        match &self.weights {
            Weights::Llama(base) => {
                let mut model = base.clone();
                self.run(|x: &Tensor, pos| model.forward(x, pos), &ids, max_tokens, opts, &mut sampler, on_token)
            }
            Weights::Qwen2(m) => {
                let mut guard = m.lock();
                let model: &mut quantized_qwen2::ModelWeights = &mut guard;
                model.clear_kv_cache();
                self.run(|x: &Tensor, pos| model.forward(x, pos), &ids, max_tokens, opts, &mut sampler, on_token)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run<F: FnMut(&Tensor, usize) -> candle_core::Result<Tensor> + Send>(
        &self,
        mut forward: F,
        prompt: &[u32],
        max_tokens: usize,
        opts: &GenerateOptions,
        sampler: &mut LogitsProcessor,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(Generation, GenerationStats)> {
        let dev = Device::Cpu;
        let started = Instant::now();
        let mut logits = None;
        let mut pos = 0;
        for chunk in prompt.chunks(PROMPT_CHUNK) {
            let x = Tensor::new(chunk, &dev).and_then(|t| t.unsqueeze(0)).map_err(infer_err)?;
            logits = Some(self.pool.install(|| forward(&x, pos)).map_err(infer_err)?);
            pos += chunk.len();
        }
        let mut logits = logits.ok_or_else(|| Error::internal("no prompt tokens"))?;
        let mut stats = GenerationStats { prompt_tokens: prompt.len(), ..Default::default() };
        let mut prompt_done: Option<Instant> = None;
        let mut decoder = StreamDecoder::default();
        let mut text = StopFilter::new(&opts.stop);
        let mut generated: Vec<u32> = Vec::new();
        let mut out = String::new();
        let finish_reason;
        loop {
            let mut last = logits.squeeze(0).map_err(infer_err)?;
            if opts.repeat_penalty != 1.0 && !generated.is_empty() {
                let recent = &generated[generated.len().saturating_sub(REPEAT_WINDOW)..];
                last = apply_repeat_penalty(&last, opts.repeat_penalty, recent).map_err(infer_err)?;
            }
            let next = sampler.sample(&last).map_err(infer_err)?;
            generated.push(next);
            if prompt_done.is_none() {
                prompt_done = Some(Instant::now());
            }
            if self.tokenizer.stop_ids.contains(&next) {
                finish_reason = "stop";
                break;
            }
            stats.completion_tokens += 1;
            let piece = decoder.step(&self.tokenizer, next)?;
            let (emit, stopped) = text.push(&piece);
            if !emit.is_empty() {
                out.push_str(&emit);
                if !on_token(&emit) {
                    finish_reason = "aborted";
                    break;
                }
            }
            if stopped {
                finish_reason = "stop";
                break;
            }
            if stats.completion_tokens >= max_tokens {
                finish_reason = "length";
                break;
            }
            let x = Tensor::new(&[next], &dev).and_then(|t| t.unsqueeze(0)).map_err(infer_err)?;
            logits = self.pool.install(|| forward(&x, pos)).map_err(infer_err)?;
            pos += 1;
        }
        if finish_reason != "aborted" {
            let tail = text.finish(&decoder.flush(&self.tokenizer)?);
            if !tail.is_empty() {
                out.push_str(&tail);
                on_token(&tail);
            }
        }
        let done = Instant::now();
        let prompt_done = prompt_done.unwrap_or(done);
        stats.prompt_time = prompt_done - started;
        stats.generation_time = done - prompt_done;
        let generation = Generation {
            text: out,
            prompt_tokens: Some(stats.prompt_tokens),
            completion_tokens: Some(stats.completion_tokens),
            finish_reason: finish_reason.to_string(),
        };
        Ok((generation, stats))
    }
}

fn build<R: Read + Seek>(arch: &str, content: Content, reader: &mut R, dev: &Device) -> candle_core::Result<Weights> {
    Ok(match arch {
        "qwen2" => Weights::Qwen2(Mutex::new(quantized_qwen2::ModelWeights::from_gguf(content, reader, dev)?)),
        _ => Weights::Llama(quantized_llama::ModelWeights::from_gguf(content, reader, dev)?),
    })
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

/// Turns token ids into text pieces as they come, emitting only complete characters: a
/// character split across byte tokens is held until its last byte arrives.
#[derive(Default)]
struct StreamDecoder {
    /// Recent ids: the context the next piece is decoded in.
    window: Vec<u32>,
    /// The text of `window[..prefix_len]`.
    prefix: String,
    prefix_len: usize,
}

impl StreamDecoder {
    fn step(&mut self, tok: &GgufTokenizer, id: u32) -> Result<String> {
        self.window.push(id);
        let text = tok.decode(&self.window)?;
        if text.len() <= self.prefix.len() || text.ends_with('\u{FFFD}') || !text.starts_with(self.prefix.as_str()) {
            return Ok(String::new());
        }
        let piece = text[self.prefix.len()..].to_string();
        // Keep the tokens after the old prefix as the context of the next piece.
        self.window.drain(..self.prefix_len);
        self.prefix = tok.decode(&self.window)?;
        self.prefix_len = self.window.len();
        Ok(piece)
    }

    /// Whatever is still held (an incomplete character at the very end).
    fn flush(&mut self, tok: &GgufTokenizer) -> Result<String> {
        let text = tok.decode(&self.window)?;
        let rest = if text.len() > self.prefix.len() && text.starts_with(self.prefix.as_str()) { text[self.prefix.len()..].to_string() } else { String::new() };
        self.window.clear();
        self.prefix.clear();
        self.prefix_len = 0;
        Ok(rest)
    }
}

impl Generator for GgufChat {
    fn generate(&self, messages: &[Message], opts: &GenerateOptions, on_token: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        self.generate_with_stats(messages, opts, on_token).map(|(g, _)| g)
    }

    fn describe(&self) -> String {
        format!("local:{}", self.path.display())
    }
}

impl std::fmt::Debug for GgufChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufChat")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("architecture", &self.architecture)
            .field("context_length", &self.context_length)
            .field("requantized", &self.requantized)
            .field("dequantized", &self.dequantized)
            .finish()
    }
}
