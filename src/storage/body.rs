//! Reading the body of a GET into one buffer.
//!
//! A local file of [`MAP_MIN_BYTES`] or more is mapped into memory when the location asks for
//! it (`run.mmap`, on by default), not copied into a buffer of its size (a fifth of a run's CPU
//! time on 12 MB DICOMs, with the page faults of every fresh buffer). A file whose pages are
//! not all cached yet is read into the page cache first, on the blocking thread that maps it,
//! ahead of the CPU worker that will need it (on Linux without copying it anywhere, see
//! [`read_into_cache`]; elsewhere the map asks for read-ahead, `MADV_WILLNEED`), so storage
//! I/O overlaps the CPU work; the map's pages are mapped only as they are touched: files
//! waiting for a CPU worker hold no memory of the process. Measured on 200 images (alternated
//! runs), mapping with read-ahead against reading into buffers: 0.97 → 0.85 s median, peak
//! RSS 214 → 125 MB; mapping every page up front (`MAP_POPULATE`) was as fast but peaked at
//! 185 MB.
//!
//! The decoder parses the header from the mapping, but the area resize does not read the
//! samples through it: it reads them from the file in small bands (`transform::staged`,
//! through [`Input`]'s `ReadAt`), so the sample pages are never mapped into the process (no
//! page faults, nothing to unmap, no other core's TLB flushed), and a file cut short during the
//! run gives that image an error instead of `SIGBUS`. A min–max window's pass reads the same
//! way; other readers of the samples (the values present with padding or a modality LUT, the
//! other filters) read the mapping. A mapped file's pages can be given back
//! while it is still being read ([`Input::release`]; the annotation parser releases each column
//! it has passed). Smaller files are read: mapping and unmapping cost more than copying them.
//!
//! The price of a map: a file truncated by another process while it is mapped makes the next
//! access to a missing page fail with `SIGBUS`, which ends the process (the output stays
//! incomplete, never wrong, and a rerun with `--resume` continues); with the staged reads that
//! can only happen in the header, or where the mapping itself is read. `run.mmap = false`
//! reads instead.
//!
//! Otherwise a local file is read into a buffer of the object's size that is not zero-filled
//! first: `GetResult::bytes` zero-fills it before reading (on CXR-sized files that memset was
//! ~4% of a run's CPU), so the file is read here, on a blocking thread, with `read_to_end` into
//! spare capacity. Streams (S3) go to `GetResult::bytes` as before.

use bytes::Bytes;
use object_store::{GetResult, GetResultPayload};
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

/// Local files at least this large are mapped rather than read, when mapping is on.
pub const MAP_MIN_BYTES: u64 = 1 << 20;

/// An object's bytes, and the file mapping they are, if they are one.
pub struct Input {
    bytes: Bytes,
    map: Option<Arc<Mapped>>,
}

/// A mapping of `file` from byte `offset` on.
struct Mapped {
    map: memmap2::Mmap,
    file: std::fs::File,
    offset: u64,
}

impl Input {
    /// The bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The bytes alone (a mapping stays mapped as long as they are alive).
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Whether `part` is a part of these bytes (the same memory, not equal bytes elsewhere).
    pub fn contains(&self, part: &[u8]) -> bool {
        let (base, start) = (self.bytes.as_ptr() as usize, part.as_ptr() as usize);
        start >= base && start + part.len() <= base + self.bytes.len()
    }

    /// Whether the bytes are a mapped file.
    pub fn is_mapped(&self) -> bool {
        self.map.is_some()
    }

    /// Say that `done`, a part of these bytes, will not be read again: the pages of a mapped
    /// file wholly inside it are unmapped from the process (`MADV_DONTNEED`). They stay in the
    /// page cache, and reading them again maps them again, so this changes what the process
    /// holds, never what it reads. Bytes in memory, or a slice that is not part of these
    /// bytes, are left alone.
    pub fn release(&self, done: &[u8]) {
        let Some(map) = self.map.as_ref().filter(|_| self.contains(done)) else { return };
        let start = done.as_ptr() as usize - self.bytes.as_ptr() as usize;
        // Whole pages only: the pages at either end may hold bytes still to be read.
        let first = start.next_multiple_of(RELEASE_PAGE);
        let end = (start + done.len()) / RELEASE_PAGE * RELEASE_PAGE;
        release_range(&map.map, first, end.saturating_sub(first));
    }
}

impl crate::transform::staged::ReadAt for Input {
    /// A mapped file's part is read from the file (`pread`), its pages left untouched; bytes
    /// in memory are copied. A file shorter than when it was mapped gives `UnexpectedEof`
    /// here, where reading the mapping would end the process with `SIGBUS`.
    fn read_at(&self, part: &[u8], buf: &mut [u8]) -> std::io::Result<()> {
        if !self.contains(part) || part.len() != buf.len() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a part of this input"));
        }
        let start = (part.as_ptr() as usize - self.bytes.as_ptr() as usize) as u64;
        match self.map.as_deref() {
            #[cfg(unix)]
            Some(Mapped { file, offset, .. }) => std::os::unix::fs::FileExt::read_exact_at(file, buf, offset + start),
            _ => {
                buf.copy_from_slice(part);
                Ok(())
            }
        }
    }
}

impl From<Bytes> for Input {
    fn from(bytes: Bytes) -> Self {
        Self { bytes, map: None }
    }
}

/// The page size [`Input::release`] rounds to. A larger real page size only means a page at
/// either end may be released while it still has bytes to read: they are read again from the
/// page cache.
const RELEASE_PAGE: usize = 4096;

#[cfg(unix)]
fn release_range(map: &memmap2::Mmap, offset: usize, len: usize) {
    if len == 0 {
        return;
    }
    // SAFETY: a shared, read-only file mapping (memmap2's `map`: `MAP_SHARED`, `PROT_READ`),
    // never written: dropping its pages from the process loses nothing, and the next read of
    // them maps the page cache's pages of the file again (the same bytes, as long as the file
    // is not changed meanwhile; see the module docs). The range is inside the mapping (checked
    // by the caller). Only a hint: a failure changes nothing but memory use.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len) };
}

#[cfg(not(unix))]
fn release_range(_: &memmap2::Mmap, _: usize, _: usize) {}

/// Lets `Bytes` own a mapping that [`Input`] also holds.
struct SharedMap(Arc<Mapped>);

impl AsRef<[u8]> for SharedMap {
    fn as_ref(&self) -> &[u8] {
        &self.0.map
    }
}

/// The whole body of a GET; local files of [`MAP_MIN_BYTES`] or more mapped when `map`.
pub(super) async fn read(result: GetResult, map: bool) -> object_store::Result<Input> {
    let GetResult { payload, meta, range, attributes, extensions } = result;
    match payload {
        GetResultPayload::File(file, path) if map && range.end - range.start >= MAP_MIN_BYTES => {
            tokio::task::spawn_blocking(move || map_file(file, &path, range))
                .await
                .map_err(|e| generic(format!("mapping a local file: {e}")))?
        }
        GetResultPayload::File(file, path) => tokio::task::spawn_blocking(move || read_file(file, &path, range))
            .await
            .map_err(|e| generic(format!("reading a local file: {e}")))?
            .map(Input::from),
        payload @ GetResultPayload::Stream(_) => {
            GetResult { payload, meta, range, attributes, extensions }.bytes().await.map(Input::from)
        }
    }
}

fn read_file(mut file: std::fs::File, path: &std::path::Path, range: Range<u64>) -> object_store::Result<Bytes> {
    let fail = |e: std::io::Error| generic(format!("reading {}: {e}", path.display()));
    let len = range.end - range.start;
    let mut buf =
        Vec::with_capacity(usize::try_from(len).map_err(|_| generic(format!("{len} bytes do not fit in memory")))?);
    file.seek(SeekFrom::Start(range.start)).map_err(fail)?;
    file.take(len).read_to_end(&mut buf).map_err(fail)?;
    if buf.len() as u64 != len {
        // The file shrank between the metadata read and this one.
        return Err(generic(format!(
            "{}: expected {len} bytes, read {} (the file changed)",
            path.display(),
            buf.len()
        )));
    }
    Ok(Bytes::from(buf))
}

/// `range` of the file, mapped read-only, read into the page cache first unless it looks
/// cached ([`looks_cached`], [`read_into_cache`]).
fn map_file(file: std::fs::File, path: &std::path::Path, range: Range<u64>) -> object_store::Result<Input> {
    let fail = |e: std::io::Error| generic(format!("mapping {}: {e}", path.display()));
    let len = usize::try_from(range.end - range.start).map_err(|_| generic(format!("{range:?} does not fit")))?;
    let size = file.metadata().map_err(fail)?.len();
    if size < range.end {
        return Err(generic(format!(
            "{}: expected {} bytes, the file has {size} (it changed)",
            path.display(),
            range.end
        )));
    }
    // SAFETY: a shared read-only map (`MAP_SHARED`, `PROT_READ`), only ever read through the
    // returned `Bytes`. Another process changing the file meanwhile changes what is read, as a
    // concurrent write would with `read`; truncating it makes reads past the new end raise
    // SIGBUS (see the module docs).
    let map = unsafe { memmap2::MmapOptions::new().offset(range.start).len(len).map(&file) }.map_err(fail)?;
    // Only for speed (and only on Unix): a failure changes nothing but timing. Reading a file
    // already in the page cache again would cost a page-cache lookup per page (4% of a warm
    // run's CPU).
    #[cfg(unix)]
    if !looks_cached(&map) && !read_into_cache(&file, range.clone()) {
        let _ = map.advise(memmap2::Advice::WillNeed);
    }
    let map = Arc::new(Mapped { map, file, offset: range.start });
    Ok(Input { bytes: Bytes::from_owner(SharedMap(map.clone())), map: Some(map) })
}

/// Read `range` of `file` into the page cache, copying it nowhere: `sendfile` to `/dev/null`,
/// which reads through the kernel's ordinary read-ahead (large folios where the filesystem
/// supports them) and whose sink drops the pages' references without touching their bytes.
/// Returns when the range is cached (or the file ends, or a read fails: the band reads then
/// meet the failure themselves); `false` where this cannot be done (not Linux, no `/dev/null`),
/// for the caller to ask for read-ahead instead.
///
/// Not `MADV_WILLNEED` (or `POSIX_FADV_WILLNEED`, `readahead(2)`): those read ahead in the
/// background but into 4 KiB folios, and every later read of those pages pays per-page
/// bookkeeping. Measured on 200 images (2 workers, this VM): a run from a cold page cache
/// 1.66 → 0.97 s (medians of 4 alternated runs), and the warm runs after it 0.38 → 0.31 s,
/// task-clock 738 → 593 ms.
#[cfg(target_os = "linux")]
fn read_into_cache(file: &std::fs::File, range: Range<u64>) -> bool {
    use std::os::fd::AsRawFd;
    static NULL: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    let Some(null) = NULL.get_or_init(|| std::fs::OpenOptions::new().write(true).open("/dev/null").ok()) else {
        return false;
    };
    let (Ok(mut offset), Ok(end)) = (libc::off_t::try_from(range.start), libc::off_t::try_from(range.end)) else {
        return false;
    };
    while offset < end {
        // At most 1 GiB a call (`sendfile` sends at most ~2 GiB).
        let count = usize::try_from(end - offset).map_or(1 << 30, |n| n.min(1 << 30));
        // SAFETY: two open descriptors; `offset` is a valid `off_t` the call advances.
        let sent = unsafe { libc::sendfile(null.as_raw_fd(), file.as_raw_fd(), &raw mut offset, count) };
        if sent <= 0 {
            break;
        }
    }
    true
}

/// See the Linux version: elsewhere the caller asks for read-ahead.
#[cfg(all(unix, not(target_os = "linux")))]
fn read_into_cache(_: &std::fs::File, _: Range<u64>) -> bool {
    false
}

/// How many pages [`looks_cached`] asks about.
#[cfg(unix)]
const CACHE_PROBES: usize = 8;

/// Whether a mapped file looks to be in the page cache already: [`CACHE_PROBES`] pages spread
/// from its first to its last are (`mincore`). A sample, not every page: a file cached only in
/// part may be taken for cached, and its missing pages are then read when the resize asks for
/// them (with only the kernel's own read-ahead), which costs time, never bytes.
#[cfg(unix)]
fn looks_cached(map: &memmap2::Mmap) -> bool {
    // SAFETY: `sysconf` has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(1);
    let (start, len) = (map.as_ptr() as usize, map.len());
    if len == 0 {
        return true;
    }
    (0..CACHE_PROBES).all(|i| {
        // The page holding byte `(len - 1) * i / (probes - 1)` (the last byte for the last probe),
        // aligned down: memmap2 maps from the page boundary below the first byte.
        let byte = (len - 1) * i / (CACHE_PROBES - 1);
        let addr = (start + byte) / page * page;
        let mut resident = 0u8;
        // SAFETY: `addr` is page-aligned and inside the mapping (the page of one of its bytes);
        // one page asked about, one byte of result written to `resident`.
        let r = unsafe { libc::mincore(addr as *mut libc::c_void, 1, (&raw mut resident).cast()) };
        r == 0 && resident & 1 == 1
    })
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic { store: "LocalFileSystem", source: message.into() }
}

#[cfg(test)]
mod tests {
    use super::Input;
    use object_store::{local::LocalFileSystem, path::Path, GetOptions, GetRange, ObjectStore, ObjectStoreExt};
    use std::ops::Range;

    /// Files in a temporary folder, read through a local object store as `run` reads them.
    struct Files {
        dir: tempfile::TempDir,
        store: LocalFileSystem,
    }

    impl Files {
        fn new(files: &[(&str, &[u8])]) -> Files {
            let dir = tempfile::tempdir().unwrap();
            files.iter().for_each(|(name, content)| std::fs::write(dir.path().join(name), content).unwrap());
            let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
            Files { dir, store }
        }

        /// `name` (or its `range`) through [`super::read`], mapped if `map` and large enough.
        async fn read(&self, name: &str, range: Option<Range<u64>>, map: bool) -> Input {
            let opts = GetOptions { range: range.map(GetRange::Bounded), ..Default::default() };
            super::read(self.store.get_opts(&Path::from(name), opts).await.unwrap(), map).await.unwrap()
        }
    }

    /// A file just written is in the page cache; once its pages are dropped from it
    /// (`POSIX_FADV_DONTNEED` after `fsync`) it is not. On tmpfs, where the page cache is the
    /// storage, pages cannot be dropped: only the first half is checked there.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_looks_cached_until_its_pages_are_dropped() {
        use std::os::fd::AsRawFd;
        let files = Files::new(&[("f.bin", &pattern(3 << 20, 7))]);
        let path = files.dir.path().join("f.bin");
        let map_of = |file: &std::fs::File| unsafe { memmap2::Mmap::map(file) }.unwrap();
        let file = std::fs::File::open(&path).unwrap();
        assert!(super::looks_cached(&map_of(&file)), "just written");
        file.sync_all().unwrap();
        // SAFETY: a valid descriptor; only a hint.
        assert_eq!(unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) }, 0);
        let mut fs = std::mem::MaybeUninit::<libc::statfs>::uninit();
        let dir = std::ffi::CString::new(files.dir.path().as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path and room for the result.
        assert_eq!(unsafe { libc::statfs(dir.as_ptr(), fs.as_mut_ptr()) }, 0);
        // SAFETY: initialised by the successful call.
        if unsafe { fs.assume_init() }.f_type != libc::TMPFS_MAGIC {
            assert!(!super::looks_cached(&map_of(&file)), "pages dropped");
        }
        assert_eq!(std::fs::read(&path).unwrap(), pattern(3 << 20, 7));
        assert!(super::looks_cached(&map_of(&file)), "read again");
    }

    /// `len` bytes of a repeating pattern (`i * step % 251`).
    fn pattern(len: usize, step: usize) -> Vec<u8> {
        (0..len).map(|i| (i * step % 251) as u8).collect()
    }

    /// Whether each page of `map` is in the page cache (`mincore` over the whole mapping).
    #[cfg(target_os = "linux")]
    fn cached_pages(map: &memmap2::Mmap) -> Vec<bool> {
        // SAFETY: `sysconf` has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap();
        let mut vec = vec![0u8; map.len().div_ceil(page)];
        // SAFETY: the mapping's page-aligned start, its length, one byte of result per page.
        assert_eq!(unsafe { libc::mincore(map.as_ptr() as *mut libc::c_void, map.len(), vec.as_mut_ptr()) }, 0);
        vec.iter().map(|&v| v & 1 == 1).collect()
    }

    /// `name` opened and mapped after its pages were dropped from the page cache; `None` if
    /// some stayed (tmpfs, where the page cache is the storage).
    #[cfg(target_os = "linux")]
    fn dropped(files: &Files, name: &str) -> Option<(std::fs::File, memmap2::Mmap)> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(files.dir.path().join(name)).unwrap();
        file.sync_all().unwrap();
        // SAFETY: a valid descriptor; only a hint.
        assert_eq!(unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) }, 0);
        // SAFETY: a read-only map of a file no one changes during the test.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        (!cached_pages(&map).contains(&true)).then_some((file, map))
    }

    /// A file whose pages were dropped from the page cache is back in it, every page, once
    /// [`super::read_into_cache`] returns; and so is a range of another one (with whatever the
    /// kernel read ahead). Skipped where pages cannot be dropped (tmpfs).
    #[cfg(target_os = "linux")]
    #[test]
    fn reading_into_the_cache_caches_every_page_of_the_range() {
        let files = Files::new(&[("f.bin", &pattern(5 << 20, 7)), ("g.bin", &pattern(4 << 20, 3))]);
        let (Some((f, f_map)), Some((g, g_map))) = (dropped(&files, "f.bin"), dropped(&files, "g.bin")) else {
            return; // the pages could not be dropped: nothing to check here
        };
        assert!(super::read_into_cache(&f, 0..5 << 20));
        assert!(cached_pages(&f_map).iter().all(|&c| c), "every page of the file");
        assert!(super::read_into_cache(&g, 1 << 20..2 << 20));
        let g_pages = cached_pages(&g_map);
        let per_mb = g_pages.len() / 4; // the file is 4 MiB
        assert!(g_pages[per_mb..2 * per_mb].iter().all(|&c| c), "every page of the megabyte asked for");
        assert_eq!(std::fs::read(files.dir.path().join("f.bin")).unwrap(), pattern(5 << 20, 7));
    }

    /// A mapped input whose pages were dropped from the page cache reads as written, and is
    /// cached whole by the time the read returns (the map reads it in first). Skipped where
    /// pages cannot be dropped (tmpfs).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn an_uncached_mapped_input_is_cached_when_it_is_read() {
        let content = pattern(3 << 20, 11);
        let files = Files::new(&[("cold.bin", &content)]);
        let Some((_file, probe)) = dropped(&files, "cold.bin") else {
            return; // the pages could not be dropped: nothing to check here
        };
        let input = files.read("cold.bin", None, true).await;
        assert!(input.is_mapped());
        assert!(cached_pages(&probe).iter().all(|&c| c), "cached before the bytes are touched");
        assert_eq!(input.bytes().as_ref(), content.as_slice());
    }

    #[tokio::test]
    async fn a_local_file_reads_whole_and_equal_to_object_stores_own_read() {
        let content = pattern(200_000, 7);
        let files = Files::new(&[("f.bin", &content), ("e.bin", b"")]);
        let ours = files.read("f.bin", None, false).await.into_bytes();
        let theirs = files.store.get(&Path::from("f.bin")).await.unwrap().bytes().await.unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(ours.as_ref(), content.as_slice());
        assert!(files.read("e.bin", None, true).await.bytes().is_empty());
    }

    /// Mapped files (whole, or a range starting off a page boundary) read as object_store's
    /// own read; small files are read, not mapped, and read the same.
    #[tokio::test]
    async fn a_mapped_file_reads_equal_to_object_stores_own_read() {
        let len = super::MAP_MIN_BYTES as usize * 3 + 12_345;
        let content = pattern(len, 7);
        let files = Files::new(&[("big.bin", &content), ("small.bin", &content[..1000])]);
        let mapped = files.read("big.bin", None, true).await;
        assert!(mapped.is_mapped());
        assert_eq!(mapped.bytes().as_ref(), content.as_slice());
        let part = files.read("big.bin", Some(5_001..len as u64 - 3), true).await;
        assert_eq!(part.bytes().as_ref(), &content[5_001..len - 3]);
        let small = files.read("small.bin", None, true).await;
        assert!(!small.is_mapped());
        assert_eq!(small.bytes().as_ref(), &content[..1000]);
    }

    /// Released pages of a mapped file leave the process (its resident size for the mapping
    /// drops by them) and read back the same bytes; slices of other memory are ignored.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn released_pages_leave_the_process_and_read_back_the_same() {
        let content = pattern(super::MAP_MIN_BYTES as usize * 4, 13);
        let files = Files::new(&[("big.bin", &content)]);
        let input = files.read("big.bin", None, true).await;
        let bytes = input.bytes().clone();
        let sum = |b: &[u8]| b.iter().map(|&v| u64::from(v)).sum::<u64>();
        let expected = sum(&content);
        assert_eq!(sum(&bytes), expected, "every page touched");
        let full = mapped_rss_kb(bytes.as_ptr());
        assert!(full >= 4000, "a touched 4 MiB mapping is resident: {full} kB");
        // Released from byte 100 to 3 MiB + 100: the first page keeps bytes 0..100, so the
        // 767 pages after it go (or more: a kernel that maps the file's page cache in 2 MiB
        // pieces unmaps the whole pieces they are part of).
        input.release(&bytes[100..3 * (1 << 20) + 100]);
        let after = mapped_rss_kb(bytes.as_ptr());
        assert!(full - after >= 3000, "released 3 MiB: {full} → {after} kB");
        input.release(&content[..]); // not part of the input: ignored
        assert_eq!(mapped_rss_kb(bytes.as_ptr()), after);
        assert_eq!(sum(&bytes), expected, "released pages read back the same");
        assert_eq!(bytes.as_ref(), content.as_slice());
    }

    /// A mapped file's parts read from the file equal the mapping's bytes and leave its pages
    /// unmapped; a part of a range mapped from an offset reads from that offset; a file cut
    /// short since it was mapped gives an error, not `SIGBUS`; other memory is refused.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn parts_read_from_the_file_equal_the_mapping_and_touch_no_page() {
        use crate::transform::staged::ReadAt;
        let len = super::MAP_MIN_BYTES as usize * 3;
        let content = pattern(len, 31);
        let files = Files::new(&[("big.bin", &content)]);
        let input = files.read("big.bin", Some(4_099..len as u64 - 7), true).await;
        assert!(input.is_mapped());
        let bytes = input.bytes().clone();
        let mut buf = vec![0u8; 1 << 20];
        input.read_at(&bytes[5_000..5_000 + buf.len()], &mut buf).unwrap();
        assert_eq!(buf, content[4_099 + 5_000..][..buf.len()]);
        assert!(mapped_rss_kb(bytes.as_ptr()) <= 8, "the mapping's pages were not touched");
        let e = input.read_at(&buf.clone(), &mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "memory outside the input");
        let file = files.dir.path().join("big.bin");
        std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(2 << 20).unwrap();
        let e = input.read_at(&bytes[(2 << 20) - 8_000..][..8_000], &mut buf[..8_000]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "the file was cut short");
    }

    /// `Rss` of the mapping holding `ptr`, from `/proc/self/smaps`.
    #[cfg(target_os = "linux")]
    fn mapped_rss_kb(ptr: *const u8) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let at = ptr as u64;
        let mut inside = false;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((a, b)) = first.split_once('-') {
                if let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                    inside = (a..b).contains(&at);
                    continue;
                }
            }
            if inside && line.starts_with("Rss:") {
                return line.split_whitespace().nth(1).unwrap().parse().unwrap();
            }
        }
        panic!("no mapping holds {ptr:?}");
    }
}
