//! Scale-out: `--partition I/N` runs one worker of an array job, and [`merge`] assembles the
//! dataset afterwards.
//!
//! Partitions own whole shards: the shards of all splits are numbered globally in pipeline
//! order, and partition `I` of `N` builds those whose global number `g` has `g % N == I`.
//! Shard bytes depend only on the shard's inputs and the configuration, so N workers write
//! exactly the files one machine would. Each partition journals its shards like any run and,
//! when done, writes `_cxrshard/partitions/part-IIIII-of-NNNNN.json`; `cxrshard merge`
//! verifies every shard against the journal (sha256) and writes the same `manifest.json` a
//! single-machine run writes, or refuses, naming the partitions that are missing or
//! inconsistent.

use super::journal::{self, ShardRecord};
use crate::error::{Error, Result};
use crate::sink::manifest::Manifest;
use crate::storage::Location;
use serde::{Deserialize, Serialize};

/// Folder of partition records under the output root.
pub const PARTITION_DIR: &str = "_cxrshard/partitions";

/// Environment variables that carry an array job's index, in the order they are tried:
/// Kubernetes Indexed Jobs, AWS Batch array jobs, Slurm job arrays.
pub const INDEX_VARS: [&str; 3] = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "SLURM_ARRAY_TASK_ID"];

/// One worker's share of the shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// 0-based index.
    pub index: usize,
    /// Number of partitions.
    pub count: usize,
}

impl Partition {
    /// Parse `I/N` (0 <= I < N).
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("--partition {s:?}: expected I/N with 0 <= I < N, e.g. 0/3");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        Self::new(index, count).ok_or_else(bad)
    }

    /// A partition if `index < count`.
    pub fn new(index: usize, count: usize) -> Option<Self> {
        (count > 0 && index < count).then_some(Self { index, count })
    }

    /// `count` partitions, index taken from the first array-job variable that is set.
    pub fn from_env(count: usize) -> std::result::Result<Self, String> {
        let (var, value) = INDEX_VARS
            .iter()
            .find_map(|v| std::env::var(v).ok().map(|x| (*v, x)))
            .ok_or_else(|| format!("--partitions {count}: none of {} is set", INDEX_VARS.join(", ")))?;
        let index = value.trim().parse().map_err(|_| format!("{var}={value:?} is not an index"))?;
        Self::new(index, count).ok_or_else(|| format!("{var}={index} is not below --partitions {count}"))
    }

    /// Does this partition own global shard number `g`?
    pub fn owns(&self, g: usize) -> bool {
        g % self.count == self.index
    }

    fn record_path(&self) -> String {
        format!("{PARTITION_DIR}/part-{:05}-of-{:05}.json", self.index, self.count)
    }
}

/// A split as a partition saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionSplit {
    /// Split name.
    pub name: String,
    /// Annotation file.
    pub annotations: String,
    /// Inputs listed.
    pub inputs: usize,
    /// Shards in the split.
    pub shards: usize,
}

/// What a finished partition leaves for `merge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionRecord {
    /// This partition.
    pub partition: Partition,
    /// The manifest without splits (configuration, tensors, unreferenced images).
    pub header: Manifest,
    /// Splits in order.
    pub splits: Vec<PartitionSplit>,
    /// Shards this partition committed: (split, index).
    pub committed: Vec<(String, usize)>,
}

/// Record a finished partition.
pub async fn write(out: &Location, r: &PartitionRecord) -> Result<()> {
    out.put(&r.partition.record_path(), serde_json::to_vec_pretty(r).expect("partition record serialises")).await
}

/// Check every partition finished and every shard matches its journal record, then build the
/// dataset's manifest (the caller writes it).
///
/// # Errors
/// [`Error::Output`] naming missing partitions, inconsistent configurations or shards that
/// are missing or do not match their sha256 (with the partition that owns them).
pub async fn merge(out: &Location) -> Result<Manifest> {
    let records = read_records(out).await?;
    let first = records.first().ok_or_else(|| {
        Error::Output(format!("{}: no partition records under {PARTITION_DIR}/; run the workers first", out.display()))
    })?;
    let count = first.partition.count;
    check_complete(out, &records, count)?;
    let sha = first.header.config_sha256.clone();
    let mut splits = Vec::new();
    let mut problems = Vec::new();
    let mut g = 0;
    for split in &first.splits {
        let mut shard_records: Vec<ShardRecord> = Vec::new();
        for index in 0..split.shards {
            match journal::verified(out, &split.name, index, &sha).await? {
                Some(r) => shard_records.push(r),
                None => problems.push(format!(
                    "shard {index} of split {} (partition {}/{count}) is missing or does not match its sha256",
                    split.name,
                    g % count
                )),
            }
            g += 1;
        }
        if problems.is_empty() {
            splits.push(journal::split_record(&split.name, &split.annotations, split.inputs, &shard_records)?);
        }
    }
    if !problems.is_empty() {
        return Err(Error::Output(format!("cannot merge {}:\n  - {}", out.display(), problems.join("\n  - "))));
    }
    Ok(Manifest { splits, ..first.header.clone() })
}

async fn read_records(out: &Location) -> Result<Vec<PartitionRecord>> {
    let mut records = Vec::new();
    for path in out.list_dir(PARTITION_DIR).await? {
        if !path.ends_with(".json") {
            continue;
        }
        let bytes = out.get(&path).await?;
        let r: PartitionRecord = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Output(format!("{}: not a partition record: {e}", out.describe(&path))))?;
        records.push(r);
    }
    records.sort_by_key(|r| (r.partition.count, r.partition.index));
    Ok(records)
}

/// Every index `0..count` present, once, with one configuration; nothing from another count.
fn check_complete(out: &Location, records: &[PartitionRecord], count: usize) -> Result<()> {
    let mut problems = Vec::new();
    let sha = &records[0].header.config_sha256;
    for r in records {
        if r.partition.count != count {
            problems.push(format!(
                "partition {}/{} belongs to a run with {} partitions, not {count}; remove {}",
                r.partition.index,
                r.partition.count,
                r.partition.count,
                r.partition.record_path()
            ));
        } else if &r.header.config_sha256 != sha {
            problems.push(format!("partition {}/{count} used a different configuration", r.partition.index));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !records.iter().any(|r| r.partition.count == count && r.partition.index == *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("partitions not finished (no record yet): {}", missing.join(", ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Output(format!("cannot merge {}:\n  - {}", out.display(), problems.join("\n  - "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_owns_round_robin() {
        let p = Partition::parse("1/3").unwrap();
        assert_eq!(p, Partition { index: 1, count: 3 });
        assert_eq!((0..7).filter(|g| p.owns(*g)).collect::<Vec<_>>(), vec![1, 4]);
        for bad in ["3/3", "1", "a/3", "0/0", "-1/2"] {
            assert!(Partition::parse(bad).is_err(), "{bad}");
        }
    }
}
