//! The interfaces of model-backed stages. Implementations: in-process models
//! (`hektor-models`: candle BERT embedder and cross-encoder, GGUF chat models), HTTP
//! clients of OpenAI-compatible servers, and JavaScript callbacks (in the binding).

use crate::cancel::Cancel;
use crate::error::Result;
use crate::rag::prompt::Message;

/// Turns texts into vectors.
pub trait Embedder: Send + Sync {
    /// Embeds a batch of texts (one vector each, all of [`dimension`](Self::dimension)).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// [`embed`](Self::embed), stopping with `ERR_ABORTED` once `cancel` is set: checked
    /// before the call by default; a model that works in batches of its own checks between
    /// them, so a long call stops within one of its batches.
    fn embed_cancellable(&self, texts: &[&str], cancel: &Cancel) -> Result<Vec<Vec<f32>>> {
        cancel.check()?;
        self.embed(texts)
    }
    /// The output dimension, when known before the first call.
    fn dimension(&self) -> Option<usize>;
    /// Counts tokens the way the model does (for chunk sizes), when it can.
    fn count_tokens(&self, _text: &str) -> Option<usize> {
        None
    }
    /// A short description (model name or path) for stats and errors; never a secret.
    fn describe(&self) -> String;
    /// Loads whatever the model needs before it can serve (a local model's weights on
    /// first use), reporting [`ModelLoading`](crate::cancel::Progress::ModelLoading) /
    /// [`ModelLoaded`](crate::cancel::Progress::ModelLoaded) to
    /// `cancel`'s observer. Returns the milliseconds this call spent loading or waiting for
    /// a load: 0 when the model was already loaded, and always 0 for models with nothing to
    /// load (HTTP clients, callbacks), which is the default.
    fn warm_up(&self, _cancel: &Cancel) -> Result<f64> {
        Ok(0.0)
    }
}

/// Scores (query, passage) pairs; higher is more relevant.
pub trait CrossEncoder: Send + Sync {
    /// One score per passage.
    fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>>;
    /// Loads whatever the model needs before it can serve (a local model's weights on
    /// first use), reporting [`ModelLoading`](crate::cancel::Progress::ModelLoading) /
    /// [`ModelLoaded`](crate::cancel::Progress::ModelLoaded) to
    /// `cancel`'s observer. Returns the milliseconds this call spent loading or waiting for
    /// a load: 0 when the model was already loaded, and always 0 for models with nothing to
    /// load (HTTP clients, callbacks), which is the default.
    fn warm_up(&self, _cancel: &Cancel) -> Result<f64> {
        Ok(0.0)
    }
}

/// Sampling and stopping parameters of a generation.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct GenerateOptions {
    /// Sampling temperature (0 = greedy).
    pub temperature: f32,
    /// Nucleus sampling threshold.
    pub top_p: f32,
    /// Largest number of generated tokens.
    pub max_tokens: usize,
    /// Stop when any of these strings is produced (not included in the output).
    pub stop: Vec<String>,
    /// RNG seed for reproducible sampling.
    pub seed: Option<u64>,
    /// Divides (or, for negative logits, multiplies) the logit of every token already
    /// generated in the last 64 by this factor, so that small models do not loop; 1.0 turns
    /// it off. Prompt tokens are not penalised: answers may quote their passages.
    /// In-process models apply it; HTTP generators leave it to the server.
    pub repeat_penalty: f32,
}

impl GenerateOptions {
    /// Checks the ranges: temperature >= 0, top_p in (0, 1], max_tokens >= 1,
    /// repeat_penalty > 0 (`ERR_INVALID_ARG` naming the option otherwise).
    pub fn validate(&self) -> Result<()> {
        use crate::error::Error;
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(Error::invalid(format!("temperature must be a number >= 0, got {}", self.temperature)));
        }
        if !self.top_p.is_finite() || self.top_p <= 0.0 || self.top_p > 1.0 {
            return Err(Error::invalid(format!("topP must be in (0, 1], got {}", self.top_p)));
        }
        if self.max_tokens == 0 {
            return Err(Error::invalid("maxTokens must be at least 1"));
        }
        if !self.repeat_penalty.is_finite() || self.repeat_penalty <= 0.0 {
            return Err(Error::invalid(format!("repeatPenalty must be a number > 0, got {}", self.repeat_penalty)));
        }
        Ok(())
    }
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions { temperature: 0.2, top_p: 0.95, max_tokens: 512, stop: Vec::new(), seed: None, repeat_penalty: 1.1 }
    }
}

/// What a generation produced, with counts for throughput reports.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Generation {
    /// The text.
    pub text: String,
    /// Prompt tokens (when known).
    pub prompt_tokens: Option<usize>,
    /// Generated tokens (when known).
    pub completion_tokens: Option<usize>,
    /// Why it stopped: `stop`, `length`, `aborted`.
    pub finish_reason: String,
}

/// Produces an answer from chat messages, streaming text pieces to `on_token`
/// (return `false` from it to stop early).
pub trait Generator: Send + Sync {
    /// Generates.
    fn generate(&self, messages: &[Message], opts: &GenerateOptions, on_token: &mut dyn FnMut(&str) -> bool) -> Result<Generation>;
    /// A short description (model name or path); never a secret.
    fn describe(&self) -> String;
    /// Loads whatever the model needs before it can serve (a local model's weights on
    /// first use), reporting [`ModelLoading`](crate::cancel::Progress::ModelLoading) /
    /// [`ModelLoaded`](crate::cancel::Progress::ModelLoaded) to
    /// `cancel`'s observer. Returns the milliseconds this call spent loading or waiting for
    /// a load: 0 when the model was already loaded, and always 0 for models with nothing to
    /// load (HTTP clients, callbacks), which is the default.
    fn warm_up(&self, _cancel: &Cancel) -> Result<f64> {
        Ok(0.0)
    }
}
