//! Array-job workers (`--partition I/N`) + `merge` give exactly the single-machine dataset.

mod common;

use common::*;
use std::path::Path;
use std::process::Stdio;

const DICOM: &str = "pipelines/vindr-ribcxr-dicom.toml";
const SETS: [&str; 3] = ["output.shard_rows=2", "image.size=[48,48]", "run.workers=1"];

fn merge(out: &Path, code: i32) -> std::process::Output {
    run_expect(bin().arg("merge").arg(out), code)
}

#[test]
fn three_concurrent_workers_then_merge_equal_one_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 13, "dicom");
    let single = tmp.path().join("single");
    run_pipeline(DICOM, &data, &single, &SETS);
    let parts = tmp.path().join("parts");
    let children: Vec<_> = (0..3)
        .map(|i| {
            let mut cmd = run_cmd(DICOM, &data, &parts, &SETS);
            cmd.args(["--partition", &format!("{i}/3")]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(!parts.join("manifest.json").exists(), "workers never write the manifest");
    merge(&parts, 0);
    assert_same_dataset(&single, &parts);
}

#[test]
fn partitions_from_the_scheduler_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 7, "dicom");
    let single = tmp.path().join("single");
    run_pipeline(DICOM, &data, &single, &SETS);
    let parts = tmp.path().join("parts");
    for (i, var) in ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"].iter().enumerate() {
        let mut cmd = run_cmd(DICOM, &data, &parts, &SETS);
        run_expect(cmd.args(["--partitions", "2"]).env(var, i.to_string()), 0);
    }
    merge(&parts, 0);
    assert_same_dataset(&single, &parts);
}

#[test]
fn early_merge_refuses_and_a_failed_partition_can_be_rerun_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 11, "dicom");
    let single = tmp.path().join("single");
    run_pipeline(DICOM, &data, &single, &SETS);
    let parts = tmp.path().join("parts");
    std::fs::create_dir_all(&parts).unwrap();
    let err = String::from_utf8_lossy(&merge(&parts, 1).stderr).to_string();
    assert!(err.contains("no partition records"), "{err}");
    for i in [0, 2] {
        run_expect(run_cmd(DICOM, &data, &parts, &SETS).args(["--partition", &format!("{i}/3")]), 0);
    }
    let err = String::from_utf8_lossy(&merge(&parts, 1).stderr).to_string();
    assert!(err.contains("partitions not finished") && err.contains("1/3"), "{err}");
    assert!(!parts.join("manifest.json").exists());
    // partition 1 runs, then "crashes": its record is lost and one of its shards is garbage
    run_expect(run_cmd(DICOM, &data, &parts, &SETS).args(["--partition", "1/3"]), 0);
    let record = parts.join("_cxrshard/partitions/part-00001-of-00003.json");
    let saved = std::fs::read(&record).unwrap();
    std::fs::remove_file(&record).unwrap();
    let shard = parts.join("data/train-00001-of-00005.parquet"); // global shard 1: partition 1
    std::fs::write(&shard, b"half-written garbage").unwrap();
    let err = String::from_utf8_lossy(&merge(&parts, 1).stderr).to_string();
    assert!(err.contains("partitions not finished") && err.contains("1/3"), "{err}");
    std::fs::write(&record, saved).unwrap();
    let err = String::from_utf8_lossy(&merge(&parts, 1).stderr).to_string();
    assert!(err.contains("shard 1 of split train (partition 1/3)") && err.contains("sha256"), "{err}");
    // rerun partition 1 alone: it keeps its good shard and rebuilds the broken one
    run_expect(run_cmd(DICOM, &data, &parts, &SETS).args(["--partition", "1/3", "--resume"]), 0);
    merge(&parts, 0);
    assert_same_dataset(&single, &parts);
}
