/**
 * Answers with sources: embedders (text to vectors), rerankers, generators, chunking,
 * and the types of {@link Collection.ask}.
 * @packageDocumentation
 */
import * as path from 'node:path'
import { withCancel } from './abort'
import { call, callSync, invalidArg } from './errors'
import { native, type NativeEmbedder, type NativeGenerator, type NativeReranker } from './native'
import type { AnalyzerOptions, ChunkingOptions, Filter, Fusion, SearchMode } from './types'
import { checkNumberOption, checkString, optionsJson, optionsObject } from './validate'

/**
 * Wraps a user function as a native callback: the engine calls it from a worker thread
 * with `{ id, payload }`; its result (or streamed pieces) goes back by id.
 */
function jsCallback(fn: (payload: never) => unknown, normalize: (v: unknown) => unknown = (v) => v): (json: string) => void {
  return (json: string) => {
    const { id, payload } = JSON.parse(json) as { id: number; payload: never }
    Promise.resolve()
      .then(() => fn(payload))
      .then(async (v) => {
        if (v !== null && typeof v === 'object' && Symbol.asyncIterator in v) {
          for await (const piece of v as AsyncIterable<unknown>) {
            // the engine stopped waiting (aborted, done): stop the producer too
            if (!native.callbackPush(id, String(piece))) return
          }
          native.callbackResolve(id, 'null')
        } else {
          native.callbackResolve(id, JSON.stringify(normalize(v)) ?? 'null')
        }
      })
      .catch((e: unknown) => native.callbackReject(id, e instanceof Error ? e.message : String(e)))
  }
}

/**
 * Runs a native call that streams text pieces and resolves to `{ streamed, value }`, and
 * settles only once all `streamed` pieces reached `onToken`: the pieces and the promise's
 * resolution cross from Rust on separate queues, in no fixed order.
 * @internal
 */
export async function settleStream<T>(start: (onPiece: ((piece: string) => void) | undefined) => Promise<string>, onToken?: (piece: string) => void): Promise<T> {
  let received = 0
  let expected = Infinity
  let allIn: (() => void) | undefined
  const onPiece = onToken
    ? (piece: string): void => {
        received++
        try {
          onToken(piece)
        } finally {
          if (received >= expected) allIn?.()
        }
      }
    : undefined
  const { streamed, value } = JSON.parse(await call(() => start(onPiece))) as { streamed: number; value: T }
  if (onPiece && received < streamed) {
    await new Promise<void>((resolve) => {
      expected = streamed
      allIn = resolve
      if (received >= expected) resolve()
    })
  }
  return value
}

/** Turns text into vectors. Create one with an `embedders.*` function. */
export class Embedder {
  /** @internal */
  readonly native: NativeEmbedder
  /** @internal */
  readonly descriptor: Record<string, unknown> | null

  /** @internal */
  constructor(native: NativeEmbedder, descriptor: Record<string, unknown> | null) {
    this.native = native
    this.descriptor = descriptor
  }

  /** A description (model path or name; never a key). */
  get description(): string {
    return this.native.description
  }

  /** Embeds texts (off the JavaScript thread), one vector per text. */
  async embed(texts: string[]): Promise<Float32Array[]> {
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) throw invalidArg('embed: expected an array of strings')
    const raw = JSON.parse(await call(() => this.native.embed(texts))) as number[][]
    return raw.map((v) => Float32Array.from(v))
  }

  /**
   * Warms up: a local model loads its weights now (off the JavaScript thread) instead of on
   * its first use, and the promise resolves once it can serve. Safe to call any number of
   * times and concurrently with other calls (one load).
   * @returns `loadMs`: the milliseconds this call spent loading (or waiting for a load
   *   already under way); 0 when the model was loaded, and for HTTP and custom embedders.
   * @example
   * ```ts
   * const minilm = embedders.local({ path: './models/all-MiniLM-L6-v2' })
   * const { loadMs } = await minilm.ready()
   * ```
   */
  async ready(): Promise<ModelReady> {
    return JSON.parse(await call(() => this.native.ready())) as ModelReady
  }
}

/** What `ready()` of an embedder or generator resolves to. */
export interface ModelReady {
  /** Milliseconds this call spent loading the model (or waiting for its load); 0 when already loaded. */
  loadMs: number
}

/** Options of `embedders.custom`. */
export interface CustomEmbedderOptions {
  /** The vectors' dimension, if known up front. */
  dimension?: number
}

/** Options of `embedders.local`. */
export interface LocalEmbedderOptions {
  /**
   * A model folder in Hugging Face / sentence-transformers layout: `config.json`,
   * `model.safetensors`, `tokenizer.json`, and optionally `modules.json`,
   * `sentence_bert_config.json` and `1_Pooling/config.json` (BERT, MiniLM, BGE, E5, GTE...).
   */
  path: string
  /** Longest input in tokens; longer texts are truncated. Default: the folder's `max_seq_length`, else 512. */
  maxLength?: number
  /** Texts per forward pass, default 32. */
  batchSize?: number
  /** L2-normalise the vectors. Default: whether the folder has a `Normalize` module. */
  normalize?: boolean
  /** Pooling. Default: the folder's pooling config, else `mean`. */
  pooling?: 'mean' | 'cls' | 'max' | 'meanSqrtLen' | 'lastToken'
  /**
   * Threads of the model's matrix products: a pool of this many threads of its own. Default:
   * the process-wide pool, one thread per core.
   */
  threads?: number
  /**
   * Arithmetic of the dense layers. `f32` (default) gives sentence-transformers' vectors
   * (cosine > 0.9999); `int8` quantizes weights and activations on CPUs with AVX-512 VNNI
   * (faster; cosine >= 0.995 to the f32 vectors) and stays `f32` on other CPUs.
   */
  precision?: 'f32' | 'int8'
}

/** Options of `embedders.openai` and `generators.openai`. */
export interface OpenAIOptions {
  /**
   * Base URL including the API version. Default `https://api.openai.com/v1`; Ollama is
   * `http://localhost:11434/v1`, the llama.cpp server `http://localhost:8080/v1`, vLLM
   * `http://localhost:8000/v1`.
   */
  baseURL?: string
  /** Model name, e.g. `text-embedding-3-small`, `nomic-embed-text`, `gpt-4o-mini`, `llama3.2`. */
  model: string
  /**
   * Bearer token. Default: `OPENAI_API_KEY` from the environment when `baseURL` is
   * OpenAI's, else none. Sent only in the `Authorization` header, never in errors or stats.
   */
  apiKey?: string
  /** Limit for one request (and for silence while streaming), ms. Default 60 s (embeddings), 120 s (chat). */
  timeoutMs?: number
}

/** Options of `embedders.openai`. */
export interface OpenAIEmbedderOptions extends OpenAIOptions {
  /** Requested output dimension (for models that can shorten their vectors). */
  dimensions?: number
  /** Texts per request, default 64. */
  batchSize?: number
}

const OPENAI_BASE = 'https://api.openai.com/v1'

function openaiJson(options: OpenAIOptions, what: string): { json: Record<string, unknown>; keyed: boolean } {
  if (options === null || typeof options !== 'object') throw invalidArg(`${what}: expected an options object`)
  if (typeof options.model !== 'string' || options.model.trim() === '') throw invalidArg(`${what}: model must be a non-empty string`)
  const baseURL = options.baseURL ?? OPENAI_BASE
  if (typeof baseURL !== 'string') throw invalidArg(`${what}: baseURL must be a string`)
  const apiKey = options.apiKey ?? (baseURL.startsWith(OPENAI_BASE) ? process.env.OPENAI_API_KEY : undefined)
  return { json: { ...options, baseURL, apiKey }, keyed: apiKey !== undefined }
}

function modelPath(options: { path?: unknown } | null | undefined, what: string): string {
  if (options === null || typeof options !== 'object' || typeof options.path !== 'string' || options.path === '') {
    throw invalidArg(`${what}: path must be a non-empty string`)
  }
  checkString(options.path, `${what}: path`)
  return path.resolve(options.path)
}

/** Embedder constructors. */
export const embedders = {
  /**
   * A sentence-embedding model run in-process (Rust, on worker threads), from a folder
   * you have on disk: nothing is downloaded. The weights load on first use; the folder
   * is checked now (`ERR_NOT_FOUND`).
   * @example
   * ```ts
   * const minilm = embedders.local({ path: './models/all-MiniLM-L6-v2' })
   * const col = await db.createCollection('docs', { embedder: minilm })
   * ```
   */
  local(options: LocalEmbedderOptions): Embedder {
    const p = modelPath(options, 'embedders.local')
    const json = { ...options, path: p }
    const text = optionsJson(json, 'embedders.local options')
    return new Embedder(callSync(() => native.embedderLocal(text)), { kind: 'local', ...json })
  },

  /** An OpenAI-compatible `/embeddings` endpoint (OpenAI, Ollama, llama.cpp server, vLLM, ...). */
  openai(options: OpenAIEmbedderOptions): Embedder {
    const { json, keyed } = openaiJson(options, 'embedders.openai')
    const { apiKey: _secret, ...descriptor } = json
    const text = optionsJson(json, 'embedders.openai options')
    return new Embedder(callSync(() => native.embedderOpenai(text)), { kind: 'openai', ...descriptor, keyed })
  },

  /**
   * An embedder calling your function with a batch of texts; it resolves to one vector
   * (array of numbers or Float32Array) per text. Runs on the JavaScript thread.
   */
  custom(fn: (texts: string[]) => Promise<ArrayLike<number>[]> | ArrayLike<number>[], options: CustomEmbedderOptions = {}): Embedder {
    if (typeof fn !== 'function') throw invalidArg('embedders.custom: expected a function')
    options = optionsObject(options, 'embedders.custom')
    if (options.dimension !== undefined && !(Number.isInteger(options.dimension) && options.dimension > 0)) {
      throw invalidArg('embedders.custom: dimension must be a positive integer')
    }
    const cb = jsCallback(fn as (p: never) => unknown, (v) => (Array.isArray(v) ? v.map((x) => Array.from(x as ArrayLike<number>)) : v))
    return new Embedder(native.embedderCustom(cb, options.dimension), { kind: 'custom' })
  },
}

/**
 * Re-creates a collection's embedder from its stored descriptor, when that needs no
 * secret and no user code: local models (if the folder is still there) and keyless
 * OpenAI-compatible servers (or OpenAI itself with `OPENAI_API_KEY` set).
 * @internal
 */
export function restoreEmbedder(descriptor: Record<string, unknown>): Embedder | null {
  try {
    switch (descriptor.kind) {
      case 'local': {
        const { kind: _k, ...options } = descriptor
        return embedders.local(options as unknown as LocalEmbedderOptions)
      }
      case 'openai': {
        const { kind: _k, keyed, ...options } = descriptor
        const o = options as unknown as OpenAIEmbedderOptions
        if (keyed === true && !(String(o.baseURL).startsWith(OPENAI_BASE) && process.env.OPENAI_API_KEY)) return null
        return embedders.openai(o)
      }
      default:
        return null
    }
  } catch {
    return null
  }
}

/** Reorders retrieved passages before the best ones go into the prompt. */
export class Reranker {
  /** @internal */
  readonly native: NativeReranker
  /** @internal */
  constructor(native: NativeReranker) {
    this.native = native
  }
}

/** Reranker constructors. */
export const rerankers = {
  /** Maximal marginal relevance: trades relevance (`lambda`, default 0.7) for diversity. */
  mmr(options: { lambda?: number } = {}): Reranker {
    const { lambda } = optionsObject(options, 'rerankers.mmr')
    checkNumberOption(lambda, 'lambda', 'rerankers.mmr')
    return new Reranker(callSync(() => native.rerankerMmr(lambda ?? 0.7)))
  },
  /** Reciprocal rank fusion of the candidates' vector and text rankings. */
  rrf(options: { k?: number } = {}): Reranker {
    const { k } = optionsObject(options, 'rerankers.rrf')
    checkNumberOption(k, 'k', 'rerankers.rrf')
    return new Reranker(callSync(() => native.rerankerRrf(k)))
  },
  /**
   * A cross-encoder run in-process: a BERT-family sequence-classification model folder
   * (`config.json`, `model.safetensors`, `tokenizer.json`), for example
   * `cross-encoder/ms-marco-MiniLM-L-6-v2`. Scores each (question, passage) pair; loads on first use.
   */
  crossEncoder(options: { path: string; maxLength?: number; batchSize?: number }): Reranker {
    const p = modelPath(options, 'rerankers.crossEncoder')
    const text = optionsJson({ ...options, path: p }, 'rerankers.crossEncoder options')
    return new Reranker(callSync(() => native.rerankerCrossEncoder(text)))
  },
  /** Your function scores passages for a query (higher is better). */
  custom(fn: (query: string, passages: string[]) => Promise<number[]> | number[]): Reranker {
    if (typeof fn !== 'function') throw invalidArg('rerankers.custom: expected a function')
    const cb = jsCallback(((p: { query: string; passages: string[] }) => fn(p.query, p.passages)) as (p: never) => unknown)
    return new Reranker(native.rerankerCustom(cb))
  },
}

/** A chat message. */
export interface ChatMessage {
  /** `system`, `user` or `assistant`. */
  role: 'system' | 'user' | 'assistant'
  /** The text. */
  content: string
}

/** Sampling and stopping parameters. */
export interface GenerateOptions {
  /** Sampling temperature, default 0.2 (0 = greedy). */
  temperature?: number
  /** Nucleus sampling threshold, default 0.95. */
  topP?: number
  /** Largest number of generated tokens, default 512. */
  maxTokens?: number
  /** Stop sequences (not included in the output). */
  stop?: string[]
  /** Seed for reproducible sampling. */
  seed?: number
  /**
   * Penalises tokens generated in the last 64 (divides their logits), so that small local
   * models do not loop; default 1.1, 1 turns it off. Local models only.
   */
  repeatPenalty?: number
  /** Stops generation (`ERR_ABORTED`). */
  signal?: AbortSignal
}

/** What a generation produced. */
export interface Generation {
  /** The text. */
  text: string
  /** Prompt tokens, when known. */
  promptTokens: number | null
  /** Generated tokens, when known. */
  completionTokens: number | null
  /** `stop`, `length` or `aborted`. */
  finishReason: string
}

/** Produces answers. Create one with a `generators.*` function. */
export class Generator {
  /** @internal */
  readonly native: NativeGenerator
  /** @internal */
  constructor(native: NativeGenerator) {
    this.native = native
  }

  /** A description (model path or name; never a key). */
  get description(): string {
    return this.native.description
  }

  /** Generates a reply to chat messages, calling `onToken` with each streamed piece. */
  async generate(messages: ChatMessage[], options: GenerateOptions & { onToken?: (piece: string) => void } = {}): Promise<Generation> {
    const { signal, onToken, ...rest } = optionsObject(options, 'generate')
    const json = optionsJson(rest, 'generate options')
    const messagesJson = optionsJson(messages, 'messages')
    return settleStream<Generation>((onPiece) => withCancel(signal, (id) => this.native.generate(messagesJson, json, onPiece, id)), onToken)
  }

  /**
   * Warms up: a local model loads now (off the JavaScript thread) instead of on its first
   * use, and the promise resolves once it can generate; `ask` then reports `timings.loadMs: 0`.
   * @returns `loadMs`: the milliseconds this call spent loading (or waiting for a load
   *   already under way); 0 when the model was loaded, and for HTTP and custom generators.
   */
  async ready(): Promise<ModelReady> {
    return JSON.parse(await call(() => this.native.ready())) as ModelReady
  }
}

/** Options of `generators.local`. */
export interface LocalGeneratorOptions {
  /**
   * A GGUF chat model file (llama-family: SmolLM2, Llama 3.x, TinyLlama, Mistral; or
   * Qwen2/2.5). Its chat template and tokenizer come from the file's metadata.
   */
  path: string
  /**
   * Threads that run the model: the worker thread of the call and `threads - 1` helpers
   * that spin briefly between the many short products of a decoding step and sleep when
   * the model is idle. Default: the machine's cores, at most 8.
   */
  threads?: number
  /**
   * Convert Q4_0 / Q4_1 weights to Q8_0 at load (1.7x the memory, a little closer to the
   * original model). Default false: 4-bit weights run on their own kernels. Types without
   * a kernel (Q5, K-quants, f16) are always converted to Q8_0.
   */
  requantize?: boolean
  /** @deprecated Ignored: weights stay quantized, prompts and decoding run on the same integer kernels. */
  dequantize?: boolean
}

/** Generator constructors. */
export const generators = {
  /**
   * A quantized GGUF chat model run in-process by hektor's own engine (Rust, 8-bit integer
   * kernels for AVX-512 VNNI / AVX2, portable code elsewhere) on worker threads; tokens
   * stream to JavaScript. The file is checked now and loaded on first use. Calls whose
   * prompts start the same way (the same instructions and passages) reuse the kept
   * key/value cache of that prefix, with exactly the answer a fresh run gives.
   * @example
   * ```ts
   * const smol = generators.local({ path: './models/SmolLM2-135M-Instruct.Q4_1.gguf' })
   * const answer = await col.ask('What is hektor?', { generator: smol })
   * ```
   */
  local(options: LocalGeneratorOptions): Generator {
    const p = modelPath(options, 'generators.local')
    const text = optionsJson({ ...options, path: p }, 'generators.local options')
    return new Generator(callSync(() => native.generatorLocal(text)))
  },

  /** An OpenAI-compatible `/chat/completions` endpoint, streamed (OpenAI, Ollama, llama.cpp server, vLLM). */
  openai(options: OpenAIOptions): Generator {
    const { json } = openaiJson(options, 'generators.openai')
    const text = optionsJson(json, 'generators.openai options')
    return new Generator(callSync(() => native.generatorOpenai(text)))
  },

  /**
   * Your function answers chat messages: it returns (a promise of) the whole text, or an
   * async iterable of text pieces, which are streamed.
   */
  custom(fn: (messages: ChatMessage[], options: GenerateOptions) => Promise<string> | string | AsyncIterable<string>): Generator {
    if (typeof fn !== 'function') throw invalidArg('generators.custom: expected a function')
    const cb = jsCallback(((p: { messages: ChatMessage[]; options: GenerateOptions }) => fn(p.messages, p.options)) as (p: never) => unknown)
    return new Generator(native.generatorCustom(cb))
  },
}

/** A prompt template: `{{context}}` (the numbered passages) and `{{question}}` placeholders. */
export type PromptTemplate =
  | string
  | {
      /** The system message (default: hektor's instructions to answer from the passages and cite). */
      system?: string
      /**
       * Example turns (`user` / `assistant` messages, sent as written) between the system
       * message and the user message. hektor's default template has one: a question over two
       * numbered passages and a one-sentence answer ending with `[2]`.
       */
      examples?: ChatMessage[]
      /** The user message, with `{{context}}` and `{{question}}`. */
      user: string
    }

/** Options of {@link Collection.ask}. */
export interface AskOptions extends Omit<GenerateOptions, 'signal'> {
  /** Produces the answer (required). */
  generator: Generator
  /** Passages given to the generator, default 5. */
  k?: number
  /** Candidates retrieved before reranking (default 4k with a reranker, else k). */
  candidates?: number
  /** Reorders candidates before the best `k` are kept. */
  rerank?: Reranker
  /**
   * The prompt; default: numbered passages, answer only from them in short sentences that each
   * end with `[n]`, shown by one worked example (a template you pass has no example unless it
   * says so).
   */
  template?: PromptTemplate
  /** Metadata filter for retrieval. */
  filter?: Filter
  /** Retrieval mode; default hybrid when the collection has an embedder, else text. */
  mode?: SearchMode
  /** Hybrid fusion. */
  fusion?: Fusion
  /**
   * Support below which an answer sentence counts as unsupported, default 0.5 (see
   * {@link checkGrounding} for how support is scored).
   */
  groundingThreshold?: number
  /** Stops retrieval or generation with `ERR_ABORTED`. */
  signal?: AbortSignal
}

/** A passage given to the generator. */
export interface Context {
  /** Its number in the prompt: `[n]` in the answer. */
  n: number
  /** The record id (the parent record when passages are chunks). */
  id: string
  /** The chunk's id, when the passage is a chunk of a larger record. */
  chunkId: string | null
  /** The chunk's `[start, end)` span in the parent's text. */
  span: [number, number] | null
  /** The passage. */
  text: string
  /** Retrieval (or rerank) score. */
  score: number
  /** The record's metadata. */
  metadata: Record<string, unknown> | null
}

/** A citation `[n]` found in the answer. */
export interface Citation {
  /** The number as written. */
  n: number
  /** Record id. */
  id: string
  /** Chunk id, when chunked. */
  chunkId: string | null
  /** Span in the parent's text. */
  span: [number, number] | null
  /** The passage's score. */
  score: number
}

/** Support of one answer sentence. */
export interface SentenceSupport {
  /** The sentence. */
  text: string
  /** Support in [0, 1]. */
  score: number
  /** The passage that supports it best. */
  passage: number | null
  /** Whether it was judged (very short sentences are not). */
  judged: boolean
  /** Whether it is supported. */
  supported: boolean
  /**
   * Names and numbers of the sentence that no passage contains (a package, language, licence
   * or version the passages do not mention); each one takes 0.5 off its score.
   */
  missing: string[]
}

/** How well the passages support an answer. */
export interface Grounding {
  /** Share of the judged sentences that are supported, in [0, 1]. */
  score: number
  /** The answer sentences no passage supports. */
  unsupported: string[]
  /** Every sentence with its support. */
  sentences: SentenceSupport[]
  /**
   * Whether the answer cites at least one passage that exists (`[n]` with n between 1 and the
   * number of passages). `false` means no sentence of the answer points to a source: do not
   * present it as sourced.
   */
  cited: boolean
  /** Citation numbers that name no passage (dropped from `citations`), e.g. `[7]` with 5 passages. */
  invalidCitations: number[]
}

/** Where the time of an answer went, in milliseconds. */
export interface AnswerTimings {
  /**
   * Loading models on their first use in this call (the collection's embedder, a
   * cross-encoder reranker, the generator), or waiting for a load under way; always present,
   * 0 when every model was already loaded (see `ready()`). No other stage includes a load.
   */
  loadMs: number
  /** Embedding the question. */
  embedMs: number
  /** Retrieval (vector, text or hybrid search). */
  retrieveMs: number
  /** Reranking. */
  rerankMs: number
  /** Generation, prompt processing included (a model's load is in `loadMs`). */
  generateMs: number
  /** From the start of the call to the first generated token (time to first token, `loadMs` included), when known. */
  firstTokenMs: number | null
  /** The grounding check. */
  groundingMs: number
  /** The whole call. */
  totalMs: number
  /** Decoding speed: tokens per second after the first one (prompt processing excluded), when the token count is known. */
  tokensPerSecond: number | null
}

/** The result of {@link Collection.ask}. */
export interface Answer {
  /** The generated answer. */
  answer: string
  /** Valid citations, in order of first appearance. */
  citations: Citation[]
  /** Citation numbers that named no passage (dropped). */
  invalidCitations: number[]
  /** The passages, numbered as in the prompt. */
  contexts: Context[]
  /** Which answer sentences the passages support. */
  grounding: Grounding
  /** Where the time went (ms), and generation speed. */
  timings: AnswerTimings
  /** Prompt tokens, when known. */
  promptTokens: number | null
  /** Generated tokens, when known. */
  completionTokens: number | null
  /** `stop`, `length` or `aborted`. */
  finishReason: string
}

/** An event of {@link Collection.askStream}. */
export type AskEvent =
  | {
      /** A piece of the answer as it is generated. */
      type: 'token'
      /** The text of the piece. */
      text: string
    }
  | {
      /** The last event. */
      type: 'done'
      /** The whole answer with citations, grounding and timings. */
      answer: Answer
    }

/** Options of {@link checkGrounding}. */
export interface GroundingOptions {
  /** Support below which a sentence counts as unsupported, in [0, 1], default 0.5. */
  threshold?: number
  /** Adds semantic evidence: the cosine of sentence and passage embeddings (weight 0.2). */
  embedder?: Embedder
  /** How words are analysed (as a collection's `analyzer`), default English with stemming. */
  analyzer?: AnalyzerOptions
}

/**
 * Checks how well `passages` support each sentence of `answer`: the check {@link Collection.ask}
 * runs on its answer (with the collection's analyzer and embedder), for answers made elsewhere.
 *
 * Each sentence with 3 content words or more is scored against each passage, and its best
 * passage's score counts: the mean of the share of its content words the passage contains and
 * the share of its adjacent word pairs found near each other in the passage (blended 80/20
 * with the embeddings' cosine when `embedder` is given), minus 0.5 for each name or number of
 * the sentence that no passage contains (a capitalised word, a word with a digit, an
 * identifier such as `libfoo-perl` or `2.1`). A sentence scoring below `threshold` is listed
 * in `unsupported`. `[n]` markers are read as citations (`cited`, `invalidCitations`).
 * Measured on 280 labelled sentences (`__test__/fixtures/grounding`): precision and recall of
 * `unsupported` 1.00 and 0.95 without an embedder.
 */
export async function checkGrounding(answer: string, passages: string[], options: GroundingOptions = {}): Promise<Grounding> {
  if (typeof answer !== 'string') throw invalidArg('checkGrounding: answer must be a string')
  checkString(answer, 'checkGrounding: answer')
  if (!Array.isArray(passages) || !passages.every((p) => typeof p === 'string')) throw invalidArg('checkGrounding: passages must be an array of strings')
  passages.forEach((p, i) => checkString(p, `checkGrounding: passage ${i}`))
  const { embedder, ...rest } = optionsObject(options, 'checkGrounding')
  if (embedder !== undefined && !(embedder instanceof Embedder)) throw invalidArg('checkGrounding: embedder must come from embedders.*')
  checkNumberOption(rest.threshold, 'threshold', 'checkGrounding')
  const json = optionsJson(rest, 'checkGrounding options')
  return JSON.parse(await call(() => native.checkGrounding(answer, passages, json, embedder?.native))) as Grounding
}

/** Chunking options of {@link chunkText} (the same as a collection's `chunking`). */
export type ChunkOptions = ChunkingOptions

/** A chunk of a text: `text.slice(start, end) === chunk.text`. */
export interface TextChunk {
  /** The chunk. */
  text: string
  /** Start index in the source string. */
  start: number
  /** End index in the source string. */
  end: number
  /** Size in the measuring unit. */
  size: number
}

/**
 * Splits text into chunks (in Rust, off the JavaScript thread). Sizes count tokens of
 * `embedder`'s tokenizer when given, else characters.
 */
export async function chunkText(text: string, options: ChunkOptions = {}, embedder?: Embedder): Promise<TextChunk[]> {
  if (typeof text !== 'string') throw invalidArg('chunkText: text must be a string')
  checkString(text, 'chunkText: text')
  const json = optionsJson(optionsObject(options, 'chunkText'), 'chunkText options')
  return JSON.parse(await call(() => native.chunkText(text, json, embedder?.native))) as TextChunk[]
}
