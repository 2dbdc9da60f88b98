//! S3 in and out, against a real S3 server on loopback (`s3s` + `s3s-fs`, see `s3_server`),
//! running the real binary: byte-identical output to a local run, multipart uploads for large
//! shards, the manifest last, clear errors (credentials, bucket, endpoint, vanished object),
//! and a server that goes away mid-run.

mod common;
mod s3_server;

use common::*;
use s3_server::{S3Server, ACCESS_KEY, SECRET_KEY};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const DATA: &str = "cxr-data";
const SHARDS: &str = "cxr-shards";
/// `sink::shard::PART_SIZE`: shards above it must go up in parts.
const PART_SIZE: u64 = 8 * 1024 * 1024;
/// Uncompressed 512×512 rows (~5.5 MB each), 4 per shard: 22 MB shards, three parts each.
const BIG_SHARDS: [&str; 2] = ["output.compression=none", "output.shard_rows=4"];

/// The binary with every `AWS_*` variable of the test environment removed, so each test
/// states its own credentials and endpoint.
fn bin_without_aws_env() -> Command {
    let mut cmd = bin();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// `cxrshard run pipelines/minio.toml` against `server`, with a clean AWS environment.
fn s3_command(server: &S3Server, input: &str, output: &str, secret: &str, sets: &[&str]) -> Command {
    let mut cmd = bin_without_aws_env();
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY).env("AWS_SECRET_ACCESS_KEY", secret);
    cmd.arg("run").arg(repo("pipelines/minio.toml")).args(["--input", input, "--output", output]);
    for side in ["input", "output"] {
        cmd.args(["--set", &format!("{side}.s3.endpoint={}", server.endpoint)]);
    }
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd
}

/// The run's stderr (also echoed, so `--nocapture` shows the messages users get).
fn stderr(o: &Output) -> String {
    let s = String::from_utf8_lossy(&o.stderr).into_owned();
    eprintln!("--- cxrshard stderr\n{s}");
    s
}

/// A synthetic dataset uploaded to `cxr-data/vindr`; returns its local copy's folder.
fn dataset(tmp: &Path, server: &S3Server, n: usize) -> std::path::PathBuf {
    let data = tmp.join("data");
    synth(&data, n, "dicom");
    assert!(server.upload_dir(&data, DATA, "vindr") > n, "images and annotation files uploaded");
    data
}

fn assert_no_secrets(what: &str, text: &str) {
    assert!(!text.contains(SECRET_KEY), "{what} shows the secret key:\n{text}");
    assert!(!text.contains(ACCESS_KEY), "{what} shows the access key id:\n{text}");
}

#[test]
fn bucket_run_is_byte_identical_to_local_run_with_multipart_shards_and_manifest_last() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start(&[DATA, SHARDS]);
    let data = dataset(tmp.path(), &server, 12);
    let local = tmp.path().join("local");
    run_pipeline("pipelines/minio.toml", &data, &local, &BIG_SHARDS);

    let out =
        run_expect(&mut s3_command(&server, "s3://cxr-data/vindr", "s3://cxr-shards/run1", SECRET_KEY, &BIG_SHARDS), 0);
    let bucket = server.bucket_dir(SHARDS).join("run1");
    let manifest = std::fs::read(bucket.join("manifest.json")).unwrap();
    assert_eq!(
        manifest,
        std::fs::read(local.join("manifest.json")).unwrap(),
        "manifest bytes differ from the local run"
    );
    assert!(bucket.join("run_report.json").is_file());
    let man: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let requests = server.requests();
    let manifest_put = requests.iter().position(|r| r.starts_with("PUT /cxr-shards/run1/manifest.json")).unwrap();
    let mut multipart = 0;
    for split in man["splits"].as_array().unwrap() {
        assert_eq!(
            split["rows"].as_u64().unwrap() + split["rejected"].as_u64().unwrap(),
            split["inputs"].as_u64().unwrap()
        );
        for shard in split["shards"].as_array().unwrap() {
            let rel = shard["path"].as_str().unwrap();
            let (bytes, sha) = (shard["bytes"].as_u64().unwrap(), shard["sha256"].as_str().unwrap());
            assert_eq!(sha256(&bucket.join(rel)), sha, "{rel} in the bucket");
            assert_eq!(sha256(&local.join(rel)), sha, "{rel} on disk");
            let key = format!("/cxr-shards/run1/{rel}?");
            let of_key: Vec<&String> = requests.iter().filter(|r| r.contains(&key)).collect();
            let creates = of_key.iter().filter(|r| r.starts_with("POST") && r.contains("uploads")).count();
            let parts = of_key.iter().filter(|r| r.starts_with("PUT") && r.contains("partNumber=")).count();
            let completes: Vec<usize> = (0..requests.len())
                .filter(|&i| {
                    requests[i].contains(&key) && requests[i].starts_with("POST") && requests[i].contains("uploadId=")
                })
                .collect();
            if bytes > PART_SIZE {
                multipart += 1;
                assert_eq!(creates, 1, "{rel}: {bytes} bytes must be one multipart upload: {of_key:?}");
                assert_eq!(parts as u64, bytes.div_ceil(PART_SIZE), "{rel}: {bytes} bytes in {PART_SIZE}-byte parts");
                assert_eq!(completes.len(), 1, "{rel}: completed once");
                assert!(completes[0] < manifest_put, "{rel} committed after the manifest was written");
            }
        }
    }
    assert!(multipart >= 3, "expected several shards above {PART_SIZE} bytes, got {multipart}");
    assert_no_secrets("stdout", &String::from_utf8_lossy(&out.stdout));
    assert_no_secrets("stderr", &stderr(&out));
    assert_no_secrets("manifest", &String::from_utf8_lossy(&manifest));
    assert_no_secrets("run report", &std::fs::read_to_string(bucket.join("run_report.json")).unwrap());
    assert!(!String::from_utf8_lossy(&manifest).contains(&server.endpoint), "the endpoint is not part of the manifest");
}

#[test]
fn listing_a_large_prefix_follows_every_page() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start(&[DATA, SHARDS]);
    dataset(tmp.path(), &server, 4);
    // 1,500 other objects that sort before the images: those are on the second page.
    let images = server.bucket_dir(DATA).join("vindr/data/train/img");
    for i in 0..1500 {
        std::fs::write(images.join(format!("0-other-{i:04}.txt")), b"x").unwrap();
    }
    run_expect(&mut s3_command(&server, "s3://cxr-data/vindr", "s3://cxr-shards/run", SECRET_KEY, &[]), 0);
    let man = read_json(&server.bucket_dir(SHARDS).join("run/manifest.json"));
    for split in man["splits"].as_array().unwrap() {
        assert_eq!(split["rejected"], 0, "an image on a later page was missed: {split}");
    }
    let pages = server
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /cxr-data?") && r.contains("list-type=2") && r.contains("train%2Fimg"))
        .count();
    assert!(pages >= 2, "expected a paginated listing, saw {pages} LIST request(s)");
}

/// `cxrshard run PIPELINE` with the endpoint, region and credentials only in the environment.
fn env_command(pipeline: &str, env: &[(&str, &str)], input: &str, output: &str) -> Command {
    let mut cmd = bin_without_aws_env();
    cmd.envs(env.iter().copied());
    cmd.arg("run").arg(repo(pipeline)).args(["--input", input, "--output", output]);
    cmd
}

#[test]
fn endpoint_region_and_credentials_come_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start(&[DATA, SHARDS]);
    dataset(tmp.path(), &server, 3);
    let env = [
        ("AWS_ENDPOINT_URL", server.endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "eu-central-1"),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    // A pipeline file with no [input.s3] / [output.s3] at all.
    let pipeline = "pipelines/vindr-ribcxr-dicom.toml";
    run_expect(&mut env_command(pipeline, &env, "s3://cxr-data/vindr", "s3://cxr-shards/env"), 0);
    let man = read_json(&server.bucket_dir(SHARDS).join("env/manifest.json"));
    assert_eq!(man["splits"][0]["rows"].as_u64().unwrap() + man["splits"][1]["rows"].as_u64().unwrap(), 3);

    // The same endpoint without keys: a clear error at once, not a trip to the EC2 metadata service.
    let out = run_expect(&mut env_command(pipeline, &env[..3], "s3://cxr-data/vindr", "s3://cxr-shards/env2"), 1);
    let err = stderr(&out);
    assert!(err.contains("s3://cxr-data/vindr") && err.contains("no credentials"), "{err}");
    assert!(err.contains("AWS_ACCESS_KEY_ID") && err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    // Plain HTTP must be allowed explicitly.
    let env_no_http = [env[0], env[2], env[3], env[4]];
    let out = run_expect(&mut env_command(pipeline, &env_no_http, "s3://cxr-data/vindr", "s3://cxr-shards/env3"), 1);
    assert!(stderr(&out).contains("allow_http"));
}

#[test]
fn wrong_credentials_name_the_url_and_the_variables_to_check() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start(&[DATA, SHARDS]);
    dataset(tmp.path(), &server, 2);
    let wrong = "not-the-secret-Xw7Pq";
    let out = run_expect(&mut s3_command(&server, "s3://cxr-data/vindr", "s3://cxr-shards/x", wrong, &[]), 1);
    let err = stderr(&out);
    assert!(err.contains("s3://cxr-data/vindr"), "names the URL: {err}");
    assert!(err.contains("rejected the credentials") && err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    assert!(!err.contains(wrong), "shows the secret it was given: {err}");
    assert_no_secrets("stderr", &err);
}

#[test]
fn missing_bucket_is_named_for_input_and_output() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start(&[DATA]);
    dataset(tmp.path(), &server, 2);
    let out = run_expect(&mut s3_command(&server, "s3://no-such-bucket/x", "s3://cxr-data/out", SECRET_KEY, &[]), 1);
    let err = stderr(&out);
    assert!(err.contains("s3://no-such-bucket/x") && err.contains("bucket \"no-such-bucket\" does not exist"), "{err}");
    let out = run_expect(&mut s3_command(&server, "s3://cxr-data/vindr", "s3://cxr-shards/run", SECRET_KEY, &[]), 1);
    let err = stderr(&out);
    assert!(err.contains("s3://cxr-shards/run") && err.contains("bucket \"cxr-shards\" does not exist"), "{err}");
    assert!(err.contains(&server.endpoint), "names the endpoint: {err}");
}

#[test]
fn unreachable_endpoint_is_retried_then_named() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut cmd = bin();
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY).env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    cmd.arg("run").arg(repo("pipelines/minio.toml"));
    for s in [format!("input.s3.endpoint={endpoint}"), "input.s3.max_retries=2".into()] {
        cmd.args(["--set", &s]);
    }
    let t0 = Instant::now();
    let out = run_expect(&mut cmd, 1);
    let err = stderr(&out);
    assert!(err.contains("s3://cxr-data/vindr-ribcxr"), "names the URL: {err}");
    assert!(err.contains(&format!("cannot reach {endpoint}")) && err.contains("after 2 retries"), "{err}");
    assert!(err.contains("backing off"), "retries are logged as they happen: {err}");
    assert!(t0.elapsed() < Duration::from_secs(30), "gave up in {:?}", t0.elapsed());
    assert_no_secrets("stderr", &err);
}

#[test]
fn missing_image_is_a_reject_but_one_vanishing_between_list_and_get_fails_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start(&[DATA, SHARDS]);
    dataset(tmp.path(), &server, 6);
    let images = server.bucket_dir(DATA).join("vindr/data/train/img");
    std::fs::remove_file(images.join("VinDr_RibCXR_train_001.dcm")).unwrap();
    run_expect(&mut s3_command(&server, "s3://cxr-data/vindr", "s3://cxr-shards/run", SECRET_KEY, &[]), 3); // complete, with a reject
    let manifest = server.bucket_dir(SHARDS).join("run/manifest.json");
    let man = read_json(&manifest);
    let reject = &man["splits"][0]["rejects"][0];
    assert_eq!(reject["stage"], "read");
    let reason = reject["reason"].as_str().unwrap();
    assert_eq!(reason, "image not found: s3://cxr-data/vindr/data/train/img/VinDr_RibCXR_train_001.dcm");

    server.vanish_on_get(DATA, "vindr/data/train/img/VinDr_RibCXR_train_002.dcm");
    let out = run_expect(
        &mut s3_command(&server, "s3://cxr-data/vindr", "s3://cxr-shards/run", SECRET_KEY, &["output.overwrite=true"]),
        1,
    );
    let err = stderr(&out);
    assert!(err.contains("s3://cxr-data/vindr/data/train/img/VinDr_RibCXR_train_002.dcm"), "{err}");
    assert!(err.contains("listed at the start of the run but is gone now"), "{err}");
    assert!(!manifest.exists(), "a failed run must not leave a manifest claiming completeness");
}

#[test]
fn server_stopping_mid_run_is_retried_then_fails_without_a_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start(&[DATA, SHARDS]);
    dataset(tmp.path(), &server, 12);
    server.stop_after_completed_uploads(1);
    let mut sets = BIG_SHARDS.to_vec();
    sets.extend(["input.s3.max_retries=3", "output.s3.max_retries=3"]);
    let t0 = Instant::now();
    let out = run_expect(&mut s3_command(&server, "s3://cxr-data/vindr", "s3://cxr-shards/run", SECRET_KEY, &sets), 1);
    assert!(server.stopped(), "the server was stopped mid-run");
    let err = stderr(&out);
    let run = server.bucket_dir(SHARDS).join("run");
    // The first upload to complete is one split's first shard (the validation split starts
    // while the training split's last images are worked on, so either may come first).
    let committed = ["data/train-00000-of-00003.parquet", "data/validation-00000-of-00001.parquet"];
    assert!(committed.iter().any(|s| run.join(s).exists()), "a first shard was committed before the stop");
    assert!(!run.join("manifest.json").exists(), "no manifest after a failed run");
    assert!(err.contains("backing off"), "retried: {err}");
    assert!(err.contains("after 3 retries") && err.contains(&format!("cannot reach {}", server.endpoint)), "{err}");
    assert!(err.contains("s3://cxr-"), "names the URL: {err}");
    // A hang guard, not a speed check: three retries with backoff end in seconds, but a loaded
    // 2-core machine has taken over a minute.
    assert!(t0.elapsed() < Duration::from_secs(180), "gave up in {:?}", t0.elapsed());
    assert_no_secrets("stderr", &err);
}

/// Peak RSS (`/usr/bin/time -v`) of a bucket-to-bucket run with the given shard size.
fn peak_rss_kib(server: &S3Server, out: &str, shard_rows: usize) -> u64 {
    let sets = [
        "output.compression=none".to_string(),
        format!("output.shard_rows={shard_rows}"),
        "output.row_group_rows=4".into(),
        "run.workers=2".into(),
        "run.in_flight=4".into(),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let inner = s3_command(server, "s3://cxr-data/vindr", out, SECRET_KEY, &sets);
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-v").arg(inner.get_program()).args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let err = stderr(&run_expect(&mut cmd, 0));
    let line = err.lines().find(|l| l.contains("Maximum resident set size")).expect("time -v output");
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// Memory does not grow with the shard size: 4-row (≈22 MB) and 16-row (≈88 MB) uncompressed
/// shards, both multipart, peak within a few upload parts of each other. Needs `/usr/bin/time`
/// (Debian package `time`): `cargo test --test s3 -- --ignored --nocapture`.
#[test]
#[ignore = "measurement; needs /usr/bin/time"]
fn peak_memory_writing_to_s3_does_not_grow_with_shard_size() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start(&[DATA, SHARDS]);
    dataset(tmp.path(), &server, 20);
    let small = peak_rss_kib(&server, "s3://cxr-shards/small", 4);
    let large = peak_rss_kib(&server, "s3://cxr-shards/large", 16);
    let man = read_json(&server.bucket_dir(SHARDS).join("large/manifest.json"));
    let biggest = man["splits"][0]["shards"][0]["bytes"].as_u64().unwrap();
    eprintln!(
        "peak RSS: 4-row shards {} MiB, 16-row shards {} MiB (largest shard {} MiB)",
        small / 1024,
        large / 1024,
        biggest >> 20
    );
    assert!(biggest > 4 * PART_SIZE, "the large shards must be several parts");
    assert!(large < small + 3 * PART_SIZE / 1024, "peak grew with shard size: {small} KiB → {large} KiB");
}

#[test]
fn three_workers_on_the_bucket_then_merge_equal_a_single_local_run() {
    let tmp = tempfile::tempdir().unwrap();
    let server = S3Server::start(&[DATA, SHARDS]);
    let data = dataset(tmp.path(), &server, 11);
    let sets = ["output.shard_rows=2", "image.size=[48,48]", "run.workers=1"];
    let local = tmp.path().join("local");
    run_pipeline("pipelines/minio.toml", &data, &local, &sets);
    let children: Vec<_> = (0..3)
        .map(|i| {
            let mut cmd = s3_command(&server, "s3://cxr-data/vindr", "s3://cxr-shards/parts", SECRET_KEY, &sets);
            cmd.args(["--partition", &format!("{i}/3")]);
            cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let bucket = server.bucket_dir(SHARDS).join("parts");
    assert!(!bucket.join("manifest.json").exists(), "workers never write the manifest");
    let env = [
        ("AWS_ENDPOINT_URL", server.endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let mut merge = bin_without_aws_env();
    run_expect(merge.envs(env).args(["merge", "s3://cxr-shards/parts"]), 0);
    assert_same_dataset(&local, &bucket);
}
