//! The shard journal: one small JSON record per committed shard under `_cxrshard/shards/`,
//! written right after the shard itself is committed.
//!
//! It is what `--resume` trusts: a shard is skipped only when its record was written by the
//! same canonical configuration and the shard object still has the recorded size and sha256.
//! A record carries everything the manifest needs from that shard (rows, bytes, sha256,
//! rejects, clipped points), so a resumed run writes the same manifest as an uninterrupted one.

use crate::error::{Error, Result};
use crate::sink::manifest::{RejectRecord, SplitRecord};
use crate::sink::shard::ShardInfo;
use crate::storage::Location;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Folder (under the output root) of the journal.
pub const JOURNAL_DIR: &str = "_cxrshard/shards";

/// What the journal knows about one committed shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// sha256 of the canonical configuration that wrote it.
    pub config_sha256: String,
    /// Split name.
    pub split: String,
    /// Shard index within the split.
    pub index: usize,
    /// The shard as listed in the manifest.
    pub shard: ShardInfo,
    /// Inputs of this shard that were rejected, in input order.
    pub rejects: Vec<RejectRecord>,
    /// Polygon vertices clipped in this shard.
    pub clipped_points: u64,
}

fn record_path(split: &str, index: usize) -> String {
    format!("{JOURNAL_DIR}/{split}-{index:05}.json")
}

/// Write the record of a committed shard.
pub async fn write(out: &Location, r: &ShardRecord) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(r).expect("journal record serialises");
    out.put(&record_path(&r.split, r.index), bytes).await
}

/// The verified record of shard `index`, if the journal has one written by `config_sha256`
/// and the shard object matches it byte for byte (size and sha256).
pub async fn verified(out: &Location, split: &str, index: usize, config_sha256: &str) -> Result<Option<ShardRecord>> {
    let path = record_path(split, index);
    let bytes = match out.get(&path).await {
        Ok(b) => b,
        Err(Error::Storage { source: object_store::Error::NotFound { .. }, .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(record) = serde_json::from_slice::<ShardRecord>(&bytes) else {
        tracing::warn!("ignoring unreadable journal record {}", out.describe(&path));
        return Ok(None);
    };
    if record.config_sha256 != config_sha256 || record.split != split || record.index != index {
        return Ok(None);
    }
    let shard = match out.get(&record.shard.path).await {
        Ok(b) => b,
        Err(Error::Storage { source: object_store::Error::NotFound { .. }, .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let ok = shard.len() as u64 == record.shard.bytes && hex::encode(Sha256::digest(&shard)) == record.shard.sha256;
    if !ok {
        tracing::warn!("shard {} does not match its journal record; rebuilding it", record.shard.path);
    }
    Ok(ok.then_some(record))
}

/// Assemble a split's manifest record from the records of all its shards, in order.
///
/// # Errors
/// [`Error::Internal`] when the records do not account for every input.
pub fn split_record(name: &str, annotations: &str, inputs: usize, records: &[ShardRecord]) -> Result<SplitRecord> {
    let shards: Vec<ShardInfo> = records.iter().map(|r| r.shard.clone()).collect();
    let rejects: Vec<RejectRecord> = records.iter().flat_map(|r| r.rejects.clone()).collect();
    let rows: usize = shards.iter().map(|s| s.rows).sum();
    if rows + rejects.len() != inputs {
        return Err(Error::Internal(format!(
            "split {name}: {rows} rows + {} rejects != {inputs} inputs",
            rejects.len()
        )));
    }
    Ok(SplitRecord {
        name: name.to_string(),
        annotations: annotations.to_string(),
        inputs,
        rows,
        rejected: rejects.len(),
        clipped_points: records.iter().map(|r| r.clipped_points).sum(),
        bytes: shards.iter().map(|s| s.bytes).sum(),
        shards,
        rejects,
    })
}
