//! The `cxrshard` binary. Exit codes: 0 success, 1 the run failed, 2 invalid usage or
//! pipeline file, 3 the dataset is complete but some inputs were rejected (see the manifest).

mod cli;

/// jemalloc keeps freed pages for reuse: every image allocates and frees buffers of several
/// MB, and glibc's malloc returns those to the kernel at once, so each new buffer paid a page
/// fault per 4 KiB (measured: about half the run's CPU time went to the kernel). The C
/// libraries linked in allocate from jemalloc too (`malloc` itself is jemalloc's, the
/// `unprefixed_malloc_on_supported_platforms` feature): Parquet's writer makes a zstd
/// compression and decompression context for every column chunk, ~1 MB of workspace that
/// glibc mapped afresh each time; a 200-image run took 12,556 page faults before, 11,364 after.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: NullTolerant = NullTolerant;

/// jemalloc, except that freeing a null pointer does nothing, as C's `free(NULL)` does. The
/// JPEG 2000 decoder (`openjp2`, a line-by-line port of OpenJPEG) frees code blocks' buffers
/// that were never allocated that way; the system allocator ignores it, jemalloc treats it as
/// impossible (a failed assertion in debug builds, undefined behaviour in release builds).
#[cfg(not(target_env = "msvc"))]
struct NullTolerant;

#[cfg(not(target_env = "msvc"))]
// SAFETY: every call is forwarded unchanged to jemalloc, except a null `dealloc`, which frees nothing.
unsafe impl std::alloc::GlobalAlloc for NullTolerant {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        unsafe { tikv_jemallocator::Jemalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        unsafe { tikv_jemallocator::Jemalloc.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        if !ptr.is_null() {
            unsafe { tikv_jemallocator::Jemalloc.dealloc(ptr, layout) }
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        unsafe { tikv_jemallocator::Jemalloc.realloc(ptr, layout, new_size) }
    }
}

/// jemalloc options, read before `main`: one arena (the big buffers are few and short-lived,
/// and one arena reuses them best), no separate arena for allocations over 8 MiB (so a freed
/// 12 MB read buffer can hold the next image's planes and masks: peak RSS ~10% lower at the same
/// speed, e.g. 2,000 images 449 → 401 MB) and freed pages kept, not purged: purging is what made
/// every buffer fault its pages in again. Memory stays bounded by the run's named bounds (images
/// in flight, channel and row-group sizes), so keeping the peak costs nothing more. Measured on
/// 200 images (2 workers): kernel time 5.1 s with jemalloc's defaults, 1.2 s with these.
/// `MALLOC_CONF` in the environment still overrides them.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "malloc_conf")]
static MALLOC_CONF: &[u8; 67] = b"narenas:1,dirty_decay_ms:-1,muzzy_decay_ms:-1,oversize_threshold:0\0";

fn main() -> std::process::ExitCode {
    #[cfg(not(target_env = "msvc"))]
    cxrshard::memory::set_release_freed(purge_freed);
    cli::main()
}

/// Return every arena's freed pages to the kernel now (`arena.<all>.purge`), however the
/// decay options above keep them otherwise. A failure changes nothing but memory use.
#[cfg(not(target_env = "msvc"))]
fn purge_freed() {
    // MALLCTL_ARENAS_ALL: the arena index that means every arena.
    const NAME: &[u8] = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated control name; this control reads and writes no values.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            NAME.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}
