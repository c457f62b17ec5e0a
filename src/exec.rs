//! Where the work runs: a cached rayon pool per thread count, and the progress/cancel callback,
//! which is only ever called on the caller's own thread (R and Python may only be re-entered there).

use crate::status::{fail, Result, *};
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

/// Pools by thread count, and the process that started their threads.
struct PoolCache {
    pid: u32,
    pools: Vec<(usize, Arc<rayon::ThreadPool>)>,
    /// Pools inherited through fork(): never used or dropped, kept reachable for leak checkers.
    inherited: Vec<Arc<rayon::ThreadPool>>,
}

const MAX_CACHED_POOLS: usize = 4;

fn pools() -> &'static Mutex<PoolCache> {
    static POOLS: OnceLock<Mutex<PoolCache>> = OnceLock::new();
    POOLS.get_or_init(|| Mutex::new(PoolCache { pid: std::process::id(), pools: Vec::new(), inherited: Vec::new() }))
}

/// Resolves "0 = all cores" to a number.
pub fn resolve_threads(n_threads: usize) -> usize {
    if n_threads > 0 {
        n_threads
    } else {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }
}

/// A pool with exactly `n_threads` workers (0 = all cores), built once and reused.
pub fn pool(n_threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    let n = resolve_threads(n_threads);
    if n > 4096 {
        fail!(SC_STATUS_INVALID_OPTION, "n_threads is {n}; expected at most 4096");
    }
    let mut guard = pools().lock().unwrap_or_else(|e| e.into_inner());
    let cache = &mut *guard;
    if cache.pid != std::process::id() {
        // A forked child (R's mcparallel, Python's multiprocessing): the parent's worker threads
        // do not exist here, so its pools would never run a job. Set them aside (dropping would signal
        // threads that are gone) and start new ones.
        let stale: Vec<_> = cache.pools.drain(..).map(|(_, p)| p).collect();
        cache.inherited.extend(stale);
        cache.pid = std::process::id();
    }
    let cache = &mut cache.pools;
    if let Some((_, p)) = cache.iter().find(|(k, _)| *k == n) {
        return Ok(p.clone());
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("scscale-{i}"))
        .build()
        .map_err(|e| Error::new(SC_STATUS_THREAD_POOL, format!("could not start {n} worker threads: {e}")))?;
    let p = Arc::new(p);
    // Keep a few pools: callers alternate between a handful of thread counts, and a pool in use
    // elsewhere stays alive through its Arc when it is evicted here.
    if cache.len() >= MAX_CACHED_POOLS {
        cache.remove(0);
    }
    cache.push((n, p.clone()));
    Ok(p)
}

/// Returns `false` to stop the call.
pub type ProgressFn<'a> = &'a dyn Fn(u64, u64) -> bool;

/// The pool plus the optional progress callback of one call.
pub struct Exec<'a> {
    pub pool: Arc<rayon::ThreadPool>,
    pub threads: usize,
    progress: Option<ProgressFn<'a>>,
}

/// Batches per call when a callback is set: enough for prompt cancellation, few enough that the
/// pool hand-offs cost nothing measurable.
const PROGRESS_BATCHES: usize = 64;

impl<'a> Exec<'a> {
    pub fn new(n_threads: usize, progress: Option<ProgressFn<'a>>) -> Result<Self> {
        let pool = pool(n_threads)?;
        let threads = pool.current_num_threads();
        Ok(Exec { pool, threads, progress })
    }

    /// Reports `(done, total)` to the callback, if any, on the calling thread; `false` when it
    /// asks to stop. For kernels that do not fit [`Exec::batched`] (C code, passes of their own).
    pub fn report(&mut self, done: u64, total: u64) -> bool {
        self.progress.as_mut().map_or(true, |cb| cb(done, total))
    }

    /// Runs `f` on the pool.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }

    /// Runs `f` over `0..n` in batches on the pool, reporting `(done, n)` after each batch on the
    /// calling thread. Without a callback it is a single batch.
    pub fn batched(&mut self, n: usize, f: impl Fn(Range<usize>) + Sync) -> Result<()> {
        let Some(cb) = self.progress else {
            self.pool.install(|| f(0..n));
            return Ok(());
        };
        if !cb(0, n as u64) {
            fail!(SC_STATUS_CANCELLED, "cancelled by the progress callback before any work");
        }
        let step = n.div_ceil(PROGRESS_BATCHES).max(1);
        let mut start = 0;
        while start < n {
            let end = (start + step).min(n);
            self.pool.install(|| f(start..end));
            if !cb(end as u64, n as u64) {
                fail!(SC_STATUS_CANCELLED, "cancelled by the progress callback after {end} of {n} rows; the output is unspecified");
            }
            start = end;
        }
        Ok(())
    }
}

/// A raw pointer that may be shared by workers writing disjoint elements. Use [`SharedMut::get`]
/// inside closures so that the wrapper, not the bare pointer, is captured.
pub struct SharedMut<T>(pub *mut T);
// SAFETY: only an address; every user writes disjoint elements from each worker (see each caller).
unsafe impl<T> Send for SharedMut<T> {}
// SAFETY: as for Send: shared references only hand out the address.
unsafe impl<T> Sync for SharedMut<T> {}
impl<T> Clone for SharedMut<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SharedMut<T> {}
impl<T> SharedMut<T> {
    #[inline(always)]
    pub fn get(&self) -> *mut T {
        self.0
    }
}

/// A raw pointer read by workers while another may write other (or, in place, the same) elements.
pub struct SharedConst<T>(pub *const T);
// SAFETY: only an address; readers and the one writer of an element are ordered by each caller.
unsafe impl<T> Send for SharedConst<T> {}
// SAFETY: as for Send: shared references only hand out the address.
unsafe impl<T> Sync for SharedConst<T> {}
impl<T> Clone for SharedConst<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SharedConst<T> {}
impl<T> SharedConst<T> {
    #[inline(always)]
    pub fn get(&self) -> *const T {
        self.0
    }
}
