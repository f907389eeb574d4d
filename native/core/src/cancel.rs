//! Cooperative cancellation for long operations, and the progress they report on the way.

use crate::error::{Error, ErrorCode, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A step of a long operation, reported to the observer of its [`Cancel`] token (see
/// [`Cancel::with_observer`]): a model loading on first use, and texts embedded inside a
/// write batch, so that an ingest never goes quiet while a model works.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// A model started loading (its first use); `model` is its description.
    ModelLoading {
        /// The model's description (a path or name, never a secret).
        model: String,
    },
    /// A model finished loading, after `load_ms` milliseconds.
    ModelLoaded {
        /// The model's description.
        model: String,
        /// How long the load took.
        load_ms: f64,
    },
    /// `done` of the `total` texts of the current write batch are embedded.
    Embedded {
        /// Texts embedded so far in this batch.
        done: usize,
        /// Texts of this batch to embed.
        total: usize,
    },
}

type Observer = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A flag shared between the caller (who may cancel) and a running operation
/// (which checks it between units of work), optionally with an observer of the
/// operation's [`Progress`]. Cloning shares both.
#[derive(Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel").field("cancelled", &self.is_cancelled()).field("observed", &self.observer.is_some()).finish()
    }
}

impl Cancel {
    /// A fresh, un-cancelled token.
    pub fn new() -> Cancel {
        Cancel::default()
    }
    /// The same token (cancelling either cancels both) with `observer` receiving the
    /// operation's progress reports. The observer runs on the operation's thread: it must
    /// not block (queue the event and return).
    ///
    /// ```
    /// use hektor_core::cancel::{Cancel, Progress};
    /// use std::sync::{Arc, Mutex};
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// let cancel = Cancel::new().with_observer(move |p: &Progress| s.lock().unwrap().push(p.clone()));
    /// cancel.report(Progress::Embedded { done: 32, total: 100 });
    /// assert_eq!(seen.lock().unwrap().len(), 1);
    /// ```
    pub fn with_observer(self, observer: impl Fn(&Progress) + Send + Sync + 'static) -> Cancel {
        Cancel { flag: self.flag, observer: Some(Arc::new(observer)) }
    }
    /// Sends `progress` to the observer, if any.
    pub fn report(&self, progress: Progress) {
        if let Some(o) = &self.observer {
            o(&progress);
        }
    }
    /// Requests cancellation.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Release);
    }
    /// True once cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
    /// `Err(ERR_ABORTED)` once cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::new(ErrorCode::Aborted, "the operation was aborted"))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn an_observed_token_shares_the_flag() {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        let plain = Cancel::new();
        let observed = plain.clone().with_observer(move |_| {
            m.fetch_add(1, Ordering::SeqCst);
        });
        plain.report(Progress::Embedded { done: 1, total: 2 });
        observed.report(Progress::Embedded { done: 2, total: 2 });
        assert_eq!(n.load(Ordering::SeqCst), 1);
        plain.cancel();
        assert!(observed.check().is_err());
    }
}
