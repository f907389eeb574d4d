//! Relevance scores of (query, passage) pairs from a BERT sequence-classification model.

use crate::bert::{load_tokenizer, set_truncation};
use crate::encoder::{encoder_prefix, load_weights, Batch, BertConfig, BertEncoder};
use crate::{infer_err, require_dir};
use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use hektor_core::rag::models::CrossEncoder;
use hektor_core::{Error, ErrorCode, Result};
use std::path::{Path, PathBuf};
use tokenizers::{EncodeInput, Tokenizer};

/// Options of [`BertCrossEncoder::load_with`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrossEncoderOptions {
    /// Longest pair in tokens (special tokens included); longer pairs are truncated,
    /// longest side first. Default: 512, or the model's position table if smaller.
    pub max_length: Option<usize>,
    /// Pairs per forward pass. Default 16.
    pub batch_size: Option<usize>,
}

/// How the classification head turns the encoder output into logits.
enum Head {
    /// BERT: `classifier(tanh(pooler(h[CLS])))`.
    Bert { pooler_w: Tensor, pooler_b: Tensor, cls_w: Tensor, cls_b: Tensor },
    /// RoBERTa: `out_proj(tanh(dense(h[CLS])))`.
    Roberta { dense_w: Tensor, dense_b: Tensor, out_w: Tensor, out_b: Tensor },
}

/// A cross-encoder reranker (for example `cross-encoder/ms-marco-MiniLM-L-6-v2`) loaded
/// from a Hugging Face folder: `config.json`, `model.safetensors` with a BERT encoder,
/// its pooler and a `classifier` head, and `tokenizer.json`.
///
/// Each pair is encoded as `[CLS] query [SEP] passage [SEP]` with token type ids 0/1.
/// The score is a raw logit (higher is more relevant): with `num_labels == 1` the single
/// logit; with more labels the logit of the label named `LABEL_1` in `id2label` (else
/// label index 1), the "relevant" class of binary classifiers. No sigmoid is applied, so
/// scores order exactly as sentence-transformers' `CrossEncoder.predict` orders them.
pub struct BertCrossEncoder {
    encoder: BertEncoder,
    head: Head,
    label: usize,
    tokenizer: Tokenizer,
    batch_size: usize,
    path: PathBuf,
}

fn linear(vb: &VarBuilder, out: usize, inp: usize) -> candle_core::Result<(Tensor, Tensor)> {
    Ok((vb.get((out, inp), "weight")?.t()?.contiguous()?, vb.get(out, "bias")?))
}

impl BertCrossEncoder {
    /// Loads the model folder `dir` with default options.
    ///
    /// Errors: `ERR_NOT_FOUND` for a missing folder, `config.json`, `model.safetensors` or
    /// `tokenizer.json`; `ERR_PARSE` when the weights lack the encoder or the
    /// classification head (`classifier.weight` / `classifier.bias`, or RoBERTa's
    /// `classifier.dense` + `classifier.out_proj`); `ERR_INVALID_ARG` for PyTorch-only
    /// weights.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with(dir, CrossEncoderOptions::default())
    }

    /// Loads the model folder `dir` with `opts`.
    pub fn load_with(dir: &Path, opts: CrossEncoderOptions) -> Result<Self> {
        require_dir(dir, "cross-encoder model folder")?;
        if opts.batch_size == Some(0) {
            return Err(Error::invalid("batch_size must be at least 1"));
        }
        let cfg = BertConfig::load(dir)?;
        let max_seq = cfg.max_sequence();
        let max_length = match opts.max_length {
            Some(m) if m < 3 || m > max_seq => {
                return Err(Error::invalid(format!("max_length must be between 3 and the model's {max_seq} positions, got {m}")));
            }
            Some(m) => m,
            None => 512.min(max_seq),
        };
        let mut tokenizer = load_tokenizer(dir)?;
        set_truncation(&mut tokenizer, max_length)?;
        let vb = load_weights(dir)?;
        let parse = |what: &str, e: candle_core::Error| Error::new(ErrorCode::Parse, format!("{}: {what}: {e}", dir.display()));
        let prefix = encoder_prefix(&vb, &cfg).ok_or_else(|| {
            Error::new(ErrorCode::Parse, format!("{}: model.safetensors has no BERT embeddings (embeddings.word_embeddings.weight)", dir.display()))
        })?;
        let encoder = BertEncoder::load(&vb, &prefix, &cfg).map_err(|e| parse("model.safetensors does not match config.json", e))?;
        let h = cfg.hidden_size;
        let num_labels = cfg.num_labels.or_else(|| cfg.id2label.as_ref().map(|m| m.len())).unwrap_or(1).max(1);
        let head = if vb.contains_tensor("classifier.out_proj.weight") {
            let (dense_w, dense_b) = linear(&vb.pp("classifier.dense"), h, h).map_err(|e| parse("classification head", e))?;
            let (out_w, out_b) = linear(&vb.pp("classifier.out_proj"), num_labels, h).map_err(|e| parse("classification head", e))?;
            Head::Roberta { dense_w, dense_b, out_w, out_b }
        } else if vb.contains_tensor("classifier.weight") {
            let pp = format!("{prefix}pooler.dense");
            let (pooler_w, pooler_b) = linear(&vb.pp(&pp), h, h).map_err(|e| parse("pooler (pooler.dense)", e))?;
            let (cls_w, cls_b) = linear(&vb.pp("classifier"), num_labels, h).map_err(|e| parse("classifier", e))?;
            Head::Bert { pooler_w, pooler_b, cls_w, cls_b }
        } else {
            return Err(Error::new(
                ErrorCode::Parse,
                format!("{}: model.safetensors has no classification head (classifier.weight): not a cross-encoder", dir.display()),
            ));
        };
        let label = if num_labels == 1 {
            0
        } else {
            cfg.id2label
                .as_ref()
                .and_then(|m| m.iter().find(|(_, v)| v.as_str() == "LABEL_1").and_then(|(k, _)| k.parse::<usize>().ok()))
                .filter(|&i| i < num_labels)
                .unwrap_or(1)
        };
        Ok(BertCrossEncoder { encoder, head, label, tokenizer, batch_size: opts.batch_size.unwrap_or(16), path: dir.to_path_buf() })
    }

    /// The folder the model was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn logits(&self, hidden: &[f32], batch: &Batch) -> candle_core::Result<Vec<f32>> {
        let h = self.encoder.hidden();
        let b = batch.lens.len();
        let mut cls = Vec::with_capacity(b * h);
        for (&start, &len) in batch.starts.iter().zip(&batch.lens) {
            match len {
                0 => cls.extend(std::iter::repeat_n(0.0, h)),
                _ => cls.extend_from_slice(&hidden[start * h..(start + 1) * h]),
            }
        }
        let cls = Tensor::from_vec(cls, (b, h), &Device::Cpu)?;
        let logits = match &self.head {
            Head::Bert { pooler_w, pooler_b, cls_w, cls_b } => {
                let pooled = cls.matmul(pooler_w)?.broadcast_add(pooler_b)?.tanh()?;
                pooled.matmul(cls_w)?.broadcast_add(cls_b)?
            }
            Head::Roberta { dense_w, dense_b, out_w, out_b } => {
                let x = cls.matmul(dense_w)?.broadcast_add(dense_b)?.tanh()?;
                x.matmul(out_w)?.broadcast_add(out_b)?
            }
        };
        logits.narrow(1, self.label, 1)?.flatten_all()?.to_vec1::<f32>()
    }
}

impl CrossEncoder for BertCrossEncoder {
    fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>> {
        if passages.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<EncodeInput> = passages.iter().map(|p| EncodeInput::Dual(query.into(), (*p).into())).collect();
        let encodings = self.tokenizer.encode_batch_fast(inputs, true).map_err(|e| Error::invalid(format!("cannot tokenize the input: {e}")))?;
        let mut order: Vec<usize> = (0..passages.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
        let mut scores = vec![0f32; passages.len()];
        for chunk in order.chunks(self.batch_size) {
            let seqs: Vec<(&[u32], &[u32])> = chunk.iter().map(|&i| (encodings[i].get_ids(), encodings[i].get_type_ids())).collect();
            let batch = Batch::pack(&seqs);
            let hidden = self.encoder.forward(&batch)?;
            let logits = self.logits(&hidden, &batch).map_err(infer_err)?;
            for (&i, s) in chunk.iter().zip(logits) {
                scores[i] = s;
            }
        }
        Ok(scores)
    }
}

impl std::fmt::Debug for BertCrossEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertCrossEncoder").field("path", &self.path).field("label", &self.label).field("batch_size", &self.batch_size).finish()
    }
}
