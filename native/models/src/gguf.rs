//! In-process chat generation with a GGUF model (hektor's own engine, `crate::llm`).

use crate::gguf_tokenizer::{md_string, md_usize, GgufTokenizer};
use crate::llm::{Arch, KvCache, Model};
use crate::stream::StopFilter;
use crate::template::ChatTemplate;
use crate::{candle_err, infer_err};
use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::utils::apply_repeat_penalty;
use hektor_core::rag::models::{GenerateOptions, Generation, Generator};
use hektor_core::rag::prompt::Message;
use hektor_core::{Error, ErrorCode, Result};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of [`GgufChat::load`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufOptions {
    /// Threads that run the model (the calling thread and `threads - 1` workers that
    /// spin briefly between the many short products of a decoding step and sleep when
    /// the model is idle). Default: the machine's cores, at most 8.
    pub threads: Option<usize>,
    /// Convert 4-bit Q4_0 / Q4_1 matrices to Q8_0 at load: 1.7x the memory, products a
    /// little closer to the original f32 model. Default false. Types without a kernel
    /// here (Q5, K-quants, f16) are always converted to Q8_0.
    pub requantize: bool,
    /// Ignored; kept so that older options still load. (The engine keeps weights
    /// quantized and processes prompts on f32 tiles of them.)
    pub dequantize: Option<bool>,
}

impl Default for GgufOptions {
    fn default() -> Self {
        GgufOptions { threads: None, requantize: false, dequantize: None }
    }
}

/// Timings of one generation, for throughput reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenerationStats {
    /// Tokens of the rendered prompt (BOS included).
    pub prompt_tokens: usize,
    /// Prompt tokens whose keys and values came from an earlier call with the same
    /// prefix (not processed again).
    pub reused_prompt_tokens: usize,
    /// Tokens generated (the stop token excluded).
    pub completion_tokens: usize,
    /// Time to process the prompt (until the first sampled token).
    pub prompt_time: Duration,
    /// Time spent generating after the prompt.
    pub generation_time: Duration,
}

impl GenerationStats {
    /// Prompt tokens processed per second (reused ones not counted).
    pub fn prompt_tokens_per_second(&self) -> f64 {
        (self.prompt_tokens - self.reused_prompt_tokens) as f64 / self.prompt_time.as_secs_f64().max(1e-9)
    }
    /// Generated tokens per second.
    pub fn tokens_per_second(&self) -> f64 {
        self.completion_tokens as f64 / self.generation_time.as_secs_f64().max(1e-9)
    }
}

/// A GGUF chat model (SmolLM2, Llama 3.x, TinyLlama, Mistral, Qwen2/2.5...) running
/// in-process on the CPU.
///
/// The tokenizer, special tokens, context length and chat template all come from the
/// file's metadata; a model without a template gets ChatML. The model is loaded once;
/// [`generate`](Generator::generate) may be called from several threads. The KV caches
/// of the last calls are kept, so a call whose prompt starts like an earlier one (the
/// same system prompt and instructions) skips that prefix.
pub struct GgufChat {
    model: Model,
    caches: Mutex<Vec<KvCache>>,
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
    context_length: usize,
    architecture: String,
    name: String,
    path: PathBuf,
    load_time: Duration,
}

/// Prompt tokens per forward pass (bounds the attention scratch memory).
const PROMPT_CHUNK: usize = 512;
/// Generated tokens that `repeat_penalty` looks back over (llama.cpp's default window).
const REPEAT_WINDOW: usize = 64;
/// KV caches kept for prefix reuse.
const KEPT_CACHES: usize = 2;

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
        let arch = match architecture.as_str() {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            _ => {
                return Err(Error::invalid(format!(
                    "{}: GGUF architecture '{architecture}' is not supported (supported: llama, qwen2)",
                    path.display()
                )))
            }
        };
        let tokenizer = GgufTokenizer::from_metadata(md).map_err(|e| e.context(path.display()))?;
        let template = ChatTemplate::new(md_string(md, "tokenizer.chat_template"), tokenizer.bos_text.clone(), tokenizer.eos_text.clone())?;
        let context_length = md_usize(md, &format!("{architecture}.context_length")).unwrap_or(2048).max(1);
        let name = md_string(md, "general.name")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        let threads = opts.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8));
        let model = Model::load(&content, &mut reader, arch, threads, opts.requantize)
            .map_err(|e| Error::new(ErrorCode::Parse, format!("{}: cannot load the model weights: {e}", path.display())))?;
        Ok(GgufChat {
            model,
            caches: Mutex::new(Vec::new()),
            tokenizer,
            template,
            context_length,
            architecture,
            name,
            path: path.to_path_buf(),
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

    /// How many matrices were converted to Q8_0 at load (types without a kernel here, or
    /// Q4 ones with [`GgufOptions::requantize`]).
    pub fn requantized_tensors(&self) -> usize {
        self.model.converted_tensors()
    }

    /// Always false: weights stay quantized (kept for callers of the earlier engine).
    pub fn is_dequantized(&self) -> bool {
        false
    }

    /// Bytes of weights held in memory.
    pub fn weight_bytes(&self) -> usize {
        self.model.weight_bytes()
    }

    /// Threads that run the model.
    pub fn threads(&self) -> usize {
        self.model.threads()
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

    /// The `n` tokens greedy decoding picks after `ids` (BOS not added, no stop tokens,
    /// no repeat penalty, no cached prefix): for comparisons with other engines.
    pub fn greedy(&self, ids: &[u32], n: usize) -> Result<Vec<u32>> {
        if ids.is_empty() || ids.len() + n > self.context_length {
            return Err(Error::invalid(format!("{} prompt tokens and {n} more do not fit the context of {}", ids.len(), self.context_length)));
        }
        let mut cache = self.model.new_cache(self.context_length);
        let mut logits = self.prefill(&mut cache, ids)?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let next = argmax(&logits);
            out.push(next);
            if i + 1 < n {
                logits = self.model.forward(&mut cache, &[next]).map_err(Error::internal)?;
            }
        }
        Ok(out)
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
        let mut cache = self.take_cache(&ids);
        let result = self.run(&mut cache, &ids, max_tokens, opts, &mut sampler, on_token);
        self.keep_cache(cache);
        result
    }

    /// Runs `ids` (at least one) after the cache's tokens, `PROMPT_CHUNK` at a time; the
    /// logits after the last.
    fn prefill(&self, cache: &mut KvCache, ids: &[u32]) -> Result<Vec<f32>> {
        let mut logits = Vec::new();
        for chunk in ids.chunks(PROMPT_CHUNK) {
            logits = self.model.forward(cache, chunk).map_err(Error::internal)?;
        }
        Ok(logits)
    }

    /// The kept cache sharing the longest prefix with `ids` (cut to that prefix), or a new one.
    fn take_cache(&self, ids: &[u32]) -> KvCache {
        let mut caches = self.caches.lock();
        let common = |c: &KvCache| c.tokens().iter().zip(ids).take_while(|(a, b)| a == b).count();
        let best = caches.iter().enumerate().max_by_key(|(_, c)| common(c)).map(|(i, c)| (i, common(c)));
        match best {
            Some((i, n)) if n > 0 => {
                let mut c = caches.swap_remove(i);
                // At least the last prompt token runs again, for its logits.
                c.truncate(n.min(ids.len() - 1));
                c
            }
            _ => self.model.new_cache(self.context_length),
        }
    }

    fn keep_cache(&self, cache: KvCache) {
        let mut caches = self.caches.lock();
        caches.insert(0, cache);
        caches.truncate(KEPT_CACHES);
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        cache: &mut KvCache,
        prompt: &[u32],
        max_tokens: usize,
        opts: &GenerateOptions,
        sampler: &mut LogitsProcessor,
        on_token: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(Generation, GenerationStats)> {
        let started = Instant::now();
        let reused = cache.tokens().len();
        let mut logits = self.prefill(cache, &prompt[reused..])?;
        let mut stats = GenerationStats { prompt_tokens: prompt.len(), reused_prompt_tokens: reused, ..Default::default() };
        let mut prompt_done: Option<Instant> = None;
        let mut decoder = StreamDecoder::default();
        let mut text = StopFilter::new(&opts.stop);
        let mut generated: Vec<u32> = Vec::new();
        let mut out = String::new();
        let finish_reason;
        loop {
            let mut last = Tensor::from_vec(std::mem::take(&mut logits), self.model.config().vocab, &Device::Cpu).map_err(infer_err)?;
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
            logits = self.model.forward(cache, &[next]).map_err(Error::internal)?;
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

/// The index of the largest value (the first of equals, as llama.cpp's greedy sampler).
fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
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
            .field("threads", &self.model.threads())
            .field("requantized", &self.model.converted_tensors())
            .finish()
    }
}
