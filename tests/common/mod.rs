//! Helpers shared by the integration tests: run the real binary, temp folders, readers.
#![allow(dead_code)]

pub mod dicom;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The compiled `cxrshard` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cxrshard"))
}

/// Path of a file in the repository.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Run a command, returning its output; panics with stdout/stderr if the exit code differs.
pub fn run_expect(cmd: &mut Command, code: i32) -> Output {
    let out = cmd.output().expect("spawn cxrshard");
    let got = out.status.code().unwrap_or(-1);
    assert_eq!(
        got,
        code,
        "exit code {got}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Generate a small synthetic dataset (small sides keep tests fast).
pub fn synth(dir: &Path, n: usize, format: &str) {
    run_expect(
        bin()
            .args([
                "synth",
                "--n",
                &n.to_string(),
                "--seed",
                "7",
                "--format",
                format,
                "--min-side",
                "160",
                "--max-side",
                "260",
                "--out",
            ])
            .arg(dir),
        0,
    );
}

/// Run a pipeline file with input/output and extra `--set`s; expects exit code 0.
pub fn run_pipeline(pipeline: &str, input: &Path, output: &Path, sets: &[&str]) -> Output {
    run_pipeline_code(pipeline, input, output, sets, 0)
}

/// `cxrshard run` command for a pipeline file (repo-relative or absolute) with `--set`s.
pub fn run_cmd(pipeline: &str, input: &Path, output: &Path, sets: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.arg("run").arg(repo(pipeline)).arg("--input").arg(input).arg("--output").arg(output);
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd
}

/// Run a pipeline and expect `code`.
pub fn run_pipeline_code(pipeline: &str, input: &Path, output: &Path, sets: &[&str], code: i32) -> Output {
    run_expect(&mut run_cmd(pipeline, input, output, sets), code)
}

/// Parse a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("valid JSON")
}

/// Hex sha256 of a file.
pub fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).expect("read file")))
}

/// Two output folders hold the same dataset: identical manifest bytes and identical shard files.
pub fn assert_same_dataset(a: &Path, b: &Path) {
    let ma = std::fs::read(a.join("manifest.json")).unwrap();
    assert_eq!(ma, std::fs::read(b.join("manifest.json")).unwrap(), "manifests differ");
    let card = |d: &Path| std::fs::read_to_string(d.join("README.md")).expect("dataset card");
    assert_eq!(card(a), card(b), "dataset cards differ");
    let m: serde_json::Value = serde_json::from_slice(&ma).unwrap();
    for split in m["splits"].as_array().unwrap() {
        for shard in split["shards"].as_array().unwrap() {
            let p = shard["path"].as_str().unwrap();
            assert_eq!(sha256(&a.join(p)), sha256(&b.join(p)), "{p}");
        }
    }
}
