//! The `cxrshard` binary. Exit codes: 0 success, 1 the run failed, 2 invalid usage or
//! pipeline file, 3 the dataset is complete but some inputs were rejected (see the manifest).

mod cli;

/// jemalloc keeps freed pages for reuse: every image allocates and frees buffers of several
/// MB, and glibc's malloc returns those to the kernel at once, so each new buffer paid a page
/// fault per 4 KiB (measured: about half the run's CPU time went to the kernel).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc options, read before `main`: one arena (the big buffers are few and short-lived,
/// and one arena reuses them best) and freed pages kept, not purged: purging is what made every
/// buffer fault its pages in again. Memory stays bounded by the run's named bounds (images in
/// flight, channel and row-group sizes), so keeping the peak costs nothing more. Measured on
/// 200 images (2 workers): kernel time 5.1 s with jemalloc's defaults, 1.2 s with these.
/// `_RJEM_MALLOC_CONF` in the environment still overrides them.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 46] = b"narenas:1,dirty_decay_ms:-1,muzzy_decay_ms:-1\0";

fn main() -> std::process::ExitCode {
    cli::main()
}
