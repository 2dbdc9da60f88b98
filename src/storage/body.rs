//! Reading the body of a GET into one buffer.
//!
//! A local file is read into a buffer of the object's size that is not zero-filled first:
//! `GetResult::bytes` zero-fills it before reading (on CXR-sized files that memset was ~4% of
//! a run's CPU), so the file is read here, on a blocking thread, with `read_to_end` into spare
//! capacity. Streams (S3) go to `GetResult::bytes` as before.

use bytes::Bytes;
use object_store::{GetResult, GetResultPayload};
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

/// The whole body of a GET.
pub(super) async fn read(result: GetResult) -> object_store::Result<Bytes> {
    let GetResult { payload, meta, range, attributes, extensions } = result;
    match payload {
        GetResultPayload::File(file, path) => tokio::task::spawn_blocking(move || read_file(file, &path, range))
            .await
            .map_err(|e| generic(format!("reading a local file: {e}")))?,
        payload @ GetResultPayload::Stream(_) => {
            GetResult { payload, meta, range, attributes, extensions }.bytes().await
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

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic { store: "LocalFileSystem", source: message.into() }
}

#[cfg(test)]
mod tests {
    use object_store::{local::LocalFileSystem, path::Path, ObjectStoreExt};

    #[tokio::test]
    async fn a_local_file_reads_whole_and_equal_to_object_stores_own_read() {
        let dir = tempfile::tempdir().unwrap();
        let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.path().join("f.bin"), &content).unwrap();
        let store = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let ours = super::read(store.get(&Path::from("f.bin")).await.unwrap()).await.unwrap();
        let theirs = store.get(&Path::from("f.bin")).await.unwrap().bytes().await.unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(ours.as_ref(), content.as_slice());
        let empty = dir.path().join("e.bin");
        std::fs::write(&empty, b"").unwrap();
        assert!(super::read(store.get(&Path::from("e.bin")).await.unwrap()).await.unwrap().is_empty());
    }
}
