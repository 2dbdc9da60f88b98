//! Giving memory the process has freed back to the operating system, at chosen points of a
//! run.
//!
//! Role: the binary's allocator keeps freed pages for reuse (see `main.rs`: returning them
//! made every buffer fault its pages in again), so whatever a run frees stays counted in its
//! resident size. That is what a steady state wants, but not after a one-off phase whose
//! memory grows with the dataset, nor over a long run whose heap fragments a little more with
//! every shard. The pipeline calls [`release_freed`] after parsing the annotation files
//! (per-row tables dropped once the rows are built: with 8,000 rows, purging them took the
//! heap the run then held from 46 to 42 MB) and after each committed shard (each call frees
//! what one shard's 64 rows left behind: 2,000 images peaked at 50.7 MB with it and 51.6 MB
//! without, medians of 7 alternated runs, at the same speed). The binary installs what it does
//! ([`set_release_freed`]). A library user's allocator is theirs: without an installed
//! function, nothing happens.

use std::sync::OnceLock;

static RELEASE_FREED: OnceLock<fn()> = OnceLock::new();

/// Install the function [`release_freed`] calls (once; later calls change nothing).
pub fn set_release_freed(f: fn()) {
    let _ = RELEASE_FREED.set(f);
}

/// Ask the allocator to give freed memory back to the operating system, if the program
/// installed a way to ([`set_release_freed`]).
pub fn release_freed() {
    if let Some(f) = RELEASE_FREED.get() {
        f();
    }
}

/// A counting [`release_freed`] for tests: whichever test installs it first, every test that
/// uses it sees the calls (the installation is once per process).
#[cfg(test)]
pub(crate) mod counting {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    thread_local! {
        static CALLS_HERE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn count() {
        CALLS.fetch_add(1, Ordering::Relaxed);
        CALLS_HERE.with(|c| c.set(c.get() + 1));
    }

    /// Install the counter.
    pub(crate) fn install() {
        super::set_release_freed(count);
    }

    /// Calls so far (of every test in this process).
    pub(crate) fn calls() -> usize {
        CALLS.load(Ordering::Relaxed)
    }

    /// Calls so far made on the calling thread (no other test's).
    pub(crate) fn calls_on_this_thread() -> usize {
        CALLS_HERE.with(std::cell::Cell::get)
    }
}

#[cfg(test)]
mod tests {
    use super::counting;

    /// The installed function runs on every call, and only the first installation counts.
    #[test]
    fn release_freed_calls_the_installed_function() {
        counting::install();
        super::set_release_freed(|| panic!("a second installation is ignored"));
        let before = counting::calls_on_this_thread();
        super::release_freed();
        super::release_freed();
        assert_eq!(counting::calls_on_this_thread() - before, 2);
    }
}
