//! hektor's own CPU inference engine for llama-family GGUF chat models.
//!
//! Why not candle's `quantized_llama`: its CPU path either dequantizes the weights to f32
//! (fast prompts, but decoding reads 4 bytes per parameter per token) or runs quantized
//! products one token row at a time with rayon (slow prompts, and threads that park and
//! wake at every one of the hundreds of small products of a decoding step), and it copies
//! the whole KV cache at every step. This engine keeps the weights quantized
//! ([`quant::QMatrix`]), runs prompts and decoding on the same 8-bit integer kernels
//! (AVX-512 VNNI / AVX2 / scalar, picked at run time; a prompt streams all its tokens
//! through one cached tile of weight rows at a time), splits the work over a spinning
//! [`pool::Pool`], and keeps an appendable KV cache that a later call with the same prompt
//! prefix reuses: since a token's numbers do not depend on how the prompt was split, a
//! reused prefix gives exactly the answer a fresh run gives. candle still reads the GGUF container and dequantizes
//! the block types that have no kernel here (they are converted to Q8_0 at load).

pub mod model;
pub mod pool;
pub mod quant;

pub use model::{Arch, Config, KvCache, Model};
pub use quant::{isa, Isa};
