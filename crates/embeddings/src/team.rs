//! The encoder's parallel sections, on candle's barrier pool
//! ([`candle_core::utils::barrier_pool`]): worker threads that spin between jobs (about a
//! millisecond, `CANDLE_BARRIER_POOL_SPIN_LIMIT`) before they park, with the calling thread
//! taking a share.
//!
//! Why not rayon: a search query's forward pass is two dozen products of ~100 µs each, with
//! a few microseconds of single-threaded work between them. Rayon's workers fall asleep
//! within microseconds of running out of work, so every product paid a futex wake-up
//! (tens of microseconds in a VM); measured on the 2-core machine, one short text's
//! products took 4.7 ms on two threads through rayon, more than on one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads a parallel section runs on: the pool's workers and the caller.
pub(crate) fn threads() -> usize {
    candle_core::utils::barrier_pool().n_workers() + 1
}

/// `f` of every item, in order, the items shared out between [`threads`] threads.
///
/// Items are handed out one at a time from a shared cursor, so a thread that finishes
/// early takes the next (candle's `execute_chunked` hands out chunks of an eighth of a
/// share: a batch embedding's last chunk of four batches left one thread waiting for the
/// other, ~2% of the time profiled).
pub(crate) fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    if items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    // Each item is taken once, by whichever thread's turn at the cursor gives its index;
    // the locks are uncontended and make the hand-over safe code.
    let inputs: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let outputs: Vec<Mutex<Option<R>>> = inputs.iter().map(|_| Mutex::new(None)).collect();
    let cursor = AtomicUsize::new(0);
    // One share per thread (`execute_chunked` also runs nested calls inline); each drains
    // the cursor.
    candle_core::utils::barrier_pool().execute_chunked(threads(), |_| {
        loop {
            let i = cursor.fetch_add(1, Ordering::Relaxed);
            let Some(input) = inputs.get(i) else { break };
            let item = take(input).expect("every item is handed out once");
            *lock(&outputs[i]) = Some(f(item));
        }
    });
    outputs.into_iter().map(|r| into_inner(r).expect("every item was run")).collect()
}

/// `f` of every item, shared out as [`map`] does.
pub(crate) fn for_each<T: Send>(items: Vec<T>, f: impl Fn(T) + Sync) {
    map(items, f);
}

// A panic in `f` poisons at most its own slot and is propagated by the pool; the values
// are still whole, so poisoning is ignored.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn take<T>(m: &Mutex<Option<T>>) -> Option<T> {
    lock(m).take()
}

fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_order_and_runs_each_item_once() {
        let items: Vec<usize> = (0..1000).collect();
        let out = map(items, |i| i * 2);
        assert_eq!(out, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(map(Vec::<usize>::new(), |i| i), Vec::<usize>::new());
        assert_eq!(map(vec![7], |i| i + 1), vec![8]);
    }

    #[test]
    fn for_each_writes_disjoint_parts() {
        let mut data = vec![0u32; 4096];
        for_each(data.chunks_mut(100).enumerate().collect(), |(c, part)| {
            part.iter_mut().for_each(|v| *v = c as u32);
        });
        assert!(data.iter().enumerate().all(|(i, &v)| v == (i / 100) as u32));
    }
}
