//! A small pool of worker threads for the hundreds of short parallel sections of one
//! decoding step.
//!
//! A decode step of a small model is ~150 matrix-vector products of 20-500 µs each; a
//! general-purpose pool (rayon) parks its threads between them and the wake-ups cost more
//! than the second core gives. Here workers spin between sections for a fraction of a
//! millisecond, then sleep (so an idle model, or the pause between two tokens, costs no
//! CPU that other processes could use), and work is
//! handed out in small chunks from one atomic counter: the caller's thread works too, and
//! a worker that the OS deschedules (a busy machine) delays a section by at most its
//! current chunk instead of by a fixed share of the work.

use parking_lot::{Condvar, Mutex};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps: longer than the gaps between the
/// sections of one step, shorter than the pause between two tokens.
const SPIN_FOR: Duration = Duration::from_micros(200);
/// Spins between clock reads while waiting.
const SPINS: u32 = 64;

// `next` packs the job's epoch (24 bits), its chunk count (20 bits) and the next chunk
// (20 bits), so a worker claims a chunk of the job it saw, or nothing, in one CAS.
const IDX_BITS: u32 = 20;
const MAX_CHUNKS: usize = (1 << IDX_BITS) - 1;

fn pack(epoch: u64, total: usize, idx: usize) -> u64 {
    (epoch << (2 * IDX_BITS)) | ((total as u64) << IDX_BITS) | idx as u64
}
fn unpack(v: u64) -> (u64, usize, usize) {
    (v >> (2 * IDX_BITS), ((v >> IDX_BITS) as usize) & MAX_CHUNKS, (v as usize) & MAX_CHUNKS)
}

type Task<'a> = &'a (dyn Fn(usize) + Sync);

struct Shared {
    next: AtomicU64,
    /// The running job's closure (a `*const Task` on the caller's stack).
    job: AtomicPtr<()>,
    done: AtomicUsize,
    panicked: AtomicBool,
    stop: AtomicBool,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Shared {
    /// Claims and runs chunks of the job of `epoch` until none is left.
    fn work(&self, epoch: u64) {
        let mut v = self.next.load(Ordering::Acquire);
        loop {
            let (e, total, idx) = unpack(v);
            if e != epoch || idx >= total {
                return;
            }
            match self.next.compare_exchange_weak(v, v + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    // SAFETY: a chunk of this epoch was claimed, so its caller is still
                    // inside `run` (it returns only after `done` counts every chunk).
                    let task: Task = unsafe { *(self.job.load(Ordering::Acquire) as *const Task) };
                    if catch_unwind(AssertUnwindSafe(|| task(idx))).is_err() {
                        self.panicked.store(true, Ordering::Relaxed);
                    }
                    self.done.fetch_add(1, Ordering::AcqRel);
                    v = self.next.load(Ordering::Acquire);
                }
                Err(now) => v = now,
            }
        }
    }
}

/// A fixed set of worker threads that run chunks of one job at a time with the caller.
pub struct Pool {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
    /// One job at a time.
    running: Mutex<u64>,
    threads: usize,
}

impl Pool {
    /// A pool in which `threads` threads work on each job (the caller and `threads - 1`
    /// workers).
    pub fn new(threads: usize) -> std::io::Result<Pool> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            next: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let mut handles = Vec::new();
        for i in 1..threads {
            let s = shared.clone();
            handles.push(std::thread::Builder::new().name(format!("hektor-llm-{i}")).spawn(move || worker(&s))?);
        }
        Ok(Pool { shared, handles, running: Mutex::new(0), threads })
    }

    /// Threads working on each job.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `task(0) .. task(chunks - 1)` on the pool's threads and the caller's, returning
    /// when all are done. A panic in a chunk is re-raised here after the others finish.
    pub fn run(&self, chunks: usize, task: &(dyn Fn(usize) + Sync)) {
        if chunks == 0 {
            return;
        }
        if self.threads == 1 || chunks == 1 {
            for i in 0..chunks {
                task(i);
            }
            return;
        }
        assert!(chunks <= MAX_CHUNKS, "too many chunks");
        let mut epoch = self.running.lock();
        *epoch = (*epoch + 1) & ((1 << 24) - 1);
        let s = &*self.shared;
        let task_ref: Task = task;
        s.job.store(&task_ref as *const Task as *mut (), Ordering::Release);
        s.done.store(0, Ordering::Release);
        s.panicked.store(false, Ordering::Relaxed);
        s.next.store(pack(*epoch, chunks, 0), Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _g = s.lock.lock();
            s.wake.notify_all();
        }
        s.work(*epoch);
        let mut spins = 0u32;
        while s.done.load(Ordering::Acquire) < chunks {
            spins += 1;
            if spins < 1 << 14 {
                std::hint::spin_loop();
            } else {
                // A worker was descheduled inside its chunk: let it run.
                std::thread::yield_now();
            }
        }
        if s.panicked.load(Ordering::Relaxed) {
            panic!("a parallel section of the model panicked");
        }
    }
}

fn worker(s: &Shared) {
    let mut seen = 0u64;
    loop {
        let mut idle_since: Option<Instant> = None;
        let mut spins = 0u32;
        loop {
            if s.stop.load(Ordering::Acquire) {
                return;
            }
            let (e, total, idx) = unpack(s.next.load(Ordering::Acquire));
            if e != seen && idx < total {
                seen = e;
                break;
            }
            std::hint::spin_loop();
            spins += 1;
            if spins < SPINS {
                continue;
            }
            spins = 0;
            if idle_since.get_or_insert_with(Instant::now).elapsed() < SPIN_FOR {
                continue;
            }
            let mut g = s.lock.lock();
            s.sleepers.fetch_add(1, Ordering::SeqCst);
            let (e2, total2, idx2) = unpack(s.next.load(Ordering::SeqCst));
            if !s.stop.load(Ordering::SeqCst) && !(e2 != seen && idx2 < total2) {
                s.wake.wait(&mut g);
            }
            s.sleepers.fetch_sub(1, Ordering::SeqCst);
            idle_since = None;
        }
        s.work(seen);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _g = self.shared.lock.lock();
            self.shared.wake.notify_all();
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_every_chunk_once() {
        for threads in [1, 2, 3] {
            let pool = Pool::new(threads).unwrap();
            for round in 0..2000usize {
                let n = 1 + round % 37;
                let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                pool.run(n, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "threads {threads} round {round}");
                if round % 500 == 0 {
                    // Let the workers fall asleep, then wake them.
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    #[test]
    fn a_panicking_chunk_is_reraised_after_the_others() {
        let pool = Pool::new(2).unwrap();
        let count = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            pool.run(64, &|i| {
                count.fetch_add(1, Ordering::Relaxed);
                if i == 13 {
                    panic!("boom");
                }
            })
        }));
        assert!(r.is_err());
        assert_eq!(count.load(Ordering::Relaxed), 64);
        // The pool still works.
        let n = AtomicUsize::new(0);
        pool.run(10, &|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 10);
    }
}
