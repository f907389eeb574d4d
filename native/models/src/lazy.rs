//! Models loaded on first use.
//!
//! Loading a model reads tens or hundreds of megabytes; hosts (the Node binding, the CLI)
//! want a handle at once and the load to happen on a worker thread with the first real
//! call. [`Lazy`] holds the loader, runs it once on first use (concurrent first callers
//! wait for the one load), and forwards the stage's trait. A failed load is reported to
//! that caller and retried by the next one, so a model file fixed on disk needs no
//! restart.
//!
//! The load is observable: [`Lazy::warm_up`] (the SDK's `ready()`) loads ahead of the first
//! call and returns how long it took, and the load reports
//! [`Progress::ModelLoading`] / [`Progress::ModelLoaded`] to the observer of the call's
//! [`Cancel`] token (an ingest's `onProgress`).

use hektor_core::rag::models::{CrossEncoder, Embedder, GenerateOptions, Generation, Generator};
use hektor_core::rag::prompt::Message;
use hektor_core::{Cancel, Progress, Result};
use parking_lot::Mutex;
use std::sync::OnceLock;
use std::time::Instant;

type Loader<T> = Box<dyn Fn() -> Result<T> + Send + Sync>;

/// A model of type `T` loaded by `loader` on first use.
///
/// ```
/// use hektor_core::rag::models::Embedder;
/// use hektor_models::Lazy;
/// struct Ones;
/// impl Embedder for Ones {
///     fn embed(&self, texts: &[&str]) -> hektor_core::Result<Vec<Vec<f32>>> { Ok(texts.iter().map(|_| vec![1.0; 3]).collect()) }
///     fn dimension(&self) -> Option<usize> { Some(3) }
///     fn describe(&self) -> String { "ones".into() }
/// }
/// let lazy = Lazy::new("ones (lazy)", Some(3), || Ok(Ones));
/// assert!(!lazy.is_loaded());
/// assert_eq!(lazy.embed(&["a"]).unwrap()[0].len(), 3);
/// assert!(lazy.is_loaded());
/// ```
pub struct Lazy<T> {
    description: String,
    dimension: Option<usize>,
    loader: Loader<T>,
    loading: Mutex<()>,
    model: OnceLock<T>,
    load_ms: OnceLock<f64>,
}

impl<T> Lazy<T> {
    /// A handle that runs `loader` on first use. `description` is what `describe()`
    /// reports (a path or model name, never a secret); `dimension` is an embedder's output
    /// dimension when it is known without loading (for example from `config.json`).
    pub fn new(description: impl Into<String>, dimension: Option<usize>, loader: impl Fn() -> Result<T> + Send + Sync + 'static) -> Self {
        Lazy { description: description.into(), dimension, loader: Box::new(loader), loading: Mutex::new(()), model: OnceLock::new(), load_ms: OnceLock::new() }
    }

    /// The model, loading it now if this is the first use.
    pub fn get(&self) -> Result<&T> {
        self.get_observed(&Cancel::new()).map(|(m, _)| m)
    }

    /// The model, loading it now if this is the first use (reporting the load to
    /// `cancel`'s observer), with the milliseconds this call spent loading it or waiting
    /// for another caller's load: 0 when it was already loaded.
    pub fn get_observed(&self, cancel: &Cancel) -> Result<(&T, f64)> {
        if let Some(m) = self.model.get() {
            return Ok((m, 0.0));
        }
        let t = Instant::now();
        let _one_loader = self.loading.lock();
        if let Some(m) = self.model.get() {
            return Ok((m, elapsed_ms(t)));
        }
        cancel.report(Progress::ModelLoading { model: self.description.clone() });
        let m = (self.loader)()?;
        let load_ms = elapsed_ms(t);
        let m = self.model.get_or_init(|| m);
        let _ = self.load_ms.set(load_ms);
        cancel.report(Progress::ModelLoaded { model: self.description.clone(), load_ms });
        Ok((m, load_ms))
    }

    /// Loads the model now unless it is loaded: the milliseconds this call spent on it
    /// (0 when already loaded). See [`get_observed`](Self::get_observed).
    pub fn warm_up(&self, cancel: &Cancel) -> Result<f64> {
        self.get_observed(cancel).map(|(_, ms)| ms)
    }

    /// How long the load took (milliseconds), once loaded.
    pub fn load_time_ms(&self) -> Option<f64> {
        self.load_ms.get().copied()
    }

    /// Whether the model has been loaded.
    pub fn is_loaded(&self) -> bool {
        self.model.get().is_some()
    }
}

/// Milliseconds since `t`, to the microsecond.
fn elapsed_ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

impl<T: Embedder> Embedder for Lazy<T> {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.get()?.embed(texts)
    }
    fn embed_cancellable(&self, texts: &[&str], cancel: &Cancel) -> Result<Vec<Vec<f32>>> {
        self.get_observed(cancel)?.0.embed_cancellable(texts, cancel)
    }
    fn warm_up(&self, cancel: &Cancel) -> Result<f64> {
        Lazy::warm_up(self, cancel)
    }
    fn dimension(&self) -> Option<usize> {
        self.model.get().and_then(Embedder::dimension).or(self.dimension)
    }
    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.get().ok()?.count_tokens(text)
    }
    fn describe(&self) -> String {
        self.description.clone()
    }
}

impl<T: CrossEncoder> CrossEncoder for Lazy<T> {
    fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>> {
        self.get()?.score(query, passages)
    }
    fn warm_up(&self, cancel: &Cancel) -> Result<f64> {
        Lazy::warm_up(self, cancel)
    }
}

impl<T: Generator> Generator for Lazy<T> {
    fn generate(&self, messages: &[Message], opts: &GenerateOptions, on_token: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        self.get()?.generate(messages, opts, on_token)
    }
    fn describe(&self) -> String {
        self.description.clone()
    }
    fn warm_up(&self, cancel: &Cancel) -> Result<f64> {
        Lazy::warm_up(self, cancel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hektor_core::{Error, ErrorCode};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Fixed(usize);
    impl Embedder for Fixed {
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            Ok(texts.iter().map(|_| vec![0.5; self.0]).collect())
        }
        fn dimension(&self) -> Option<usize> {
            Some(self.0)
        }
        fn describe(&self) -> String {
            "fixed".into()
        }
    }

    #[test]
    fn loads_once_across_threads() {
        let loads = Arc::new(AtomicUsize::new(0));
        let l = loads.clone();
        let lazy = Arc::new(Lazy::new("fixed", None, move || {
            l.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(Fixed(4))
        }));
        assert_eq!(lazy.dimension(), None);
        let handles: Vec<_> = (0..4).map(|_| {
            let lazy = lazy.clone();
            std::thread::spawn(move || lazy.embed(&["x"]).unwrap())
        }).collect();
        for h in handles {
            assert_eq!(h.join().unwrap()[0].len(), 4);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(lazy.dimension(), Some(4));
    }

    #[test]
    fn a_failed_load_is_retried() {
        let tries = Arc::new(AtomicUsize::new(0));
        let t = tries.clone();
        let lazy = Lazy::new("flaky", Some(2), move || {
            if t.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(Error::new(ErrorCode::NotFound, "model file missing"))
            } else {
                Ok(Fixed(2))
            }
        });
        assert_eq!(lazy.dimension(), Some(2));
        assert_eq!(lazy.embed(&["a"]).unwrap_err().code(), ErrorCode::NotFound);
        assert!(!lazy.is_loaded());
        assert_eq!(lazy.embed(&["a"]).unwrap().len(), 1);
        assert_eq!(lazy.describe(), "flaky");
    }

    #[test]
    fn warm_up_loads_once_reports_progress_and_times_the_load() {
        let events = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let ev = events.clone();
        let cancel = Cancel::new().with_observer(move |p: &Progress| ev.lock().push(p.clone()));
        let lazy = Lazy::new("slow", Some(3), || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            Ok(Fixed(3))
        });
        assert_eq!(lazy.load_time_ms(), None);
        let first = Embedder::warm_up(&lazy, &cancel).unwrap();
        assert!(first >= 30.0, "load took {first} ms");
        assert_eq!(lazy.load_time_ms(), Some(first));
        assert_eq!(Embedder::warm_up(&lazy, &cancel).unwrap(), 0.0);
        // an embed after the load reports nothing more
        lazy.embed_cancellable(&["a"], &cancel).unwrap();
        let events = events.lock();
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0], Progress::ModelLoading { model: "slow".into() });
        assert!(matches!(&events[1], Progress::ModelLoaded { model, load_ms } if model == "slow" && *load_ms == first));
    }
}
