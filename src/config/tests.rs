use super::*;

fn parse_ok(text: &str) -> Plan {
    parse(text, "test.toml", &Overrides::default()).expect("valid pipeline")
}

fn problems(text: &str, o: &Overrides) -> Vec<String> {
    match parse(text, "test.toml", o) {
        Err(Error::Config { problems, .. }) => problems,
        other => panic!("expected a config error, got {other:?}"),
    }
}

const MINIMAL: &str = "[input]\nroot = \"in\"\n[output]\nroot = \"out\"\n";

#[test]
fn defaults_follow_the_dataset_authors() {
    let plan = parse_ok(MINIMAL);
    assert_eq!((plan.image.height, plan.image.width), (512, 512));
    assert_eq!(plan.image.resize, ResizeMode::Stretch);
    assert_eq!(plan.image.dtype, DType::Uint8);
    assert_eq!(plan.labels.len(), 20);
    assert_eq!(plan.labels[0], "R1");
    assert_eq!(plan.labels[19], "L10");
    assert_eq!(plan.splits.len(), 2);
    assert_eq!(plan.splits[1].name, "validation");
    assert_eq!(plan.splits[1].images_split, "val");
    assert_eq!(plan.output.shard_rows, 64);
    assert_eq!(plan.output.compression, Compression::Zstd { level: 1 });
}

#[test]
fn unknown_key_is_named() {
    let p = problems("[image]\nsze = [1, 2]\n", &Overrides::default());
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("sze"), "{p:?}");
    assert!(p[0].contains("size"), "should list the valid keys: {p:?}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "[image]\nsize = [0, 512]\ndtype = \"int8\"\nresize = \"crop\"\n[output]\nshard_rows = 0\n";
    let p = problems(text, &Overrides::default());
    let joined = p.join("\n");
    for key in ["input.root", "output.root", "image.size", "image.dtype", "image.resize", "output.shard_rows"] {
        assert!(joined.contains(&format!("`{key}`")), "missing {key} in {joined}");
    }
    assert!(joined.contains("\"uint8\""), "lists the allowed values: {joined}");
}

#[test]
fn wrong_type_names_key_and_line() {
    let p =
        problems("[input]\nroot = \"in\"\n[output]\nroot = \"out\"\nshard_rows = \"many\"\n", &Overrides::default());
    assert!(p[0].contains("shard_rows"), "{p:?}");
}

#[test]
fn overrides_replace_roots_and_settings() {
    let o = Overrides {
        input: Some("/data/in".into()),
        output: Some("/data/out".into()),
        set: vec!["image.size=[256, 128]".into(), "image.window=minmax".into(), "run.workers=3".into()],
    };
    let plan = parse("", "t", &o).unwrap();
    assert_eq!(plan.input.root, "/data/in");
    assert_eq!(plan.output.root, "/data/out");
    assert_eq!((plan.image.height, plan.image.width), (256, 128));
    assert_eq!(plan.image.window, WindowChoice::MinMax);
    assert_eq!(plan.run.workers, 3);
    assert_eq!(plan.run.in_flight, 6);
    assert_eq!(plan.run.read_concurrency, super::AUTO_READS_LOCAL, "0 = auto, local input");
    assert!(plan.run.mmap, "large local files are mapped by default");
    let with = |set: &str| Overrides { set: vec![set.into()], ..o.clone() };
    assert!(!parse("", "t", &with("run.mmap=false")).unwrap().run.mmap);
    let e = parse("", "t", &with("run.mmap=\"no\"")).unwrap_err().to_string();
    assert!(e.contains("`run.mmap`: invalid type: string \"no\", expected a boolean"), "{e}");
}

#[test]
fn bad_set_is_reported() {
    let o = Overrides { set: vec!["novalue".into(), "image.nope=1".into()], ..Default::default() };
    let p = problems(MINIMAL, &o);
    assert!(p.iter().any(|m| m.contains("novalue")), "{p:?}");
}

#[test]
fn fixed_window_and_shard_bytes() {
    let text = format!("{MINIMAL}[image]\nwindow = {{ center = 2048.0, width = 4096.0 }}\n");
    let plan = parse_ok(&format!("{text}shard_bytes = 1\n").replace("shard_bytes = 1\n", ""));
    assert_eq!(plan.image.window, WindowChoice::Fixed { center: 2048.0, width: 4096.0 });
    let o = Overrides { set: vec![format!("output.shard_bytes={}", 512 * 512 * 21 * 10)], ..Default::default() };
    let plan = parse(MINIMAL, "t", &o).unwrap();
    assert_eq!(plan.output.shard_rows, 10);
}

#[test]
fn canonical_config_ignores_locations_and_concurrency() {
    let a = parse_ok(MINIMAL);
    let o = Overrides { input: Some("elsewhere".into()), set: vec!["run.workers=7".into()], ..Default::default() };
    let b = parse(MINIMAL, "t", &o).unwrap();
    assert_eq!(a.canonical_json(), b.canonical_json());
    let c = parse(MINIMAL, "t", &Overrides { set: vec!["image.dtype=uint16".into()], ..Default::default() }).unwrap();
    assert_ne!(a.canonical_json(), c.canonical_json());
}

#[test]
fn max_rejects_accepts_counts_fractions_and_percentages() {
    let with =
        |v: &str| parse(MINIMAL, "t", &Overrides { set: vec![format!("run.max_rejects={v}")], ..Default::default() });
    assert_eq!(with("10").unwrap().run.max_rejects, Some(MaxRejects::Count(10)));
    assert_eq!(with("0.05").unwrap().run.max_rejects, Some(MaxRejects::Fraction(0.05)));
    assert_eq!(with("5%").unwrap().run.max_rejects, Some(MaxRejects::Fraction(0.05)));
    assert_eq!(MaxRejects::Fraction(0.05).limit(245), 12);
    for bad in ["-1", "1.5", "lots", "150%"] {
        assert!(with(bad).is_err(), "{bad} should be rejected");
    }
}
const S3: &str = "[input]\nroot = \"s3://cxr-data/vindr\"\n[input.s3]\nendpoint = \"http://127.0.0.1:9000\"\n\
                  region = \"eu-west-1\"\naddressing = \"path\"\nallow_http = true\nmax_retries = 3\n\
                  retry_timeout_seconds = 20\n[output]\nroot = \"s3://cxr-shards/run1/\"\n";

#[test]
fn s3_roots_and_storage_options_are_resolved() {
    let plan = parse_ok(S3);
    assert_eq!(plan.input.root, "s3://cxr-data/vindr");
    let s3 = &plan.input.s3;
    assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(s3.region.as_deref(), Some("eu-west-1"));
    assert_eq!(s3.addressing, Some(Addressing::Path));
    assert_eq!(s3.allow_http, Some(true));
    assert_eq!((s3.max_retries, s3.retry_timeout), (3, std::time::Duration::from_secs(20)));
    assert_eq!(plan.output.s3, S3Options::default(), "no [output.s3]: environment and defaults");
    assert_eq!(plan.run.read_concurrency, super::AUTO_READS_S3, "0 = auto, S3 input");
    let fixed = Overrides { set: vec!["run.read_concurrency=3".into()], ..Default::default() };
    assert_eq!(parse(S3, "t", &fixed).unwrap().run.read_concurrency, 3);
}

#[test]
fn canonical_config_ignores_storage_options() {
    let a = parse_ok(MINIMAL);
    let b = parse_ok(S3);
    assert_eq!(a.canonical_json(), b.canonical_json());
    for word in ["s3", "endpoint", "127.0.0.1", "cxr-data", "region", "retries"] {
        assert!(!b.canonical_json().contains(word), "{word} leaked into {}", b.canonical_json());
    }
}

#[test]
fn credentials_in_the_pipeline_file_are_refused_without_echoing_them() {
    let text = "[input]\nroot = \"s3://cxr-data/x\"\n[input.s3]\naccess_key_id = \"AKIDSECRETISH\"\n\
                secret_access_key = \"hunter2hunter2\"\n[output]\nroot = \"out\"\n";
    let p = problems(text, &Overrides::default());
    let joined = p.join("\n");
    assert!(joined.contains("`input.s3.access_key_id`") && joined.contains("`input.s3.secret_access_key`"));
    assert!(joined.contains("AWS_SECRET_ACCESS_KEY"), "{joined}");
    assert!(!joined.contains("hunter2") && !joined.contains("AKIDSECRETISH"), "{joined}");
}

#[test]
fn bad_storage_settings_are_all_reported() {
    let text = "[input]\nroot = \"gs://b/x\"\n[output]\nroot = \"s3://B/x\"\n[output.s3]\n\
                endpoint = \"http://user:pw@minio:9000\"\naddressing = \"dns\"\nmax_retries = -1\n\
                connect_timeout_seconds = 0\n";
    let p = problems(text, &Overrides::default());
    let joined = p.join("\n");
    for key in [
        "input.root",
        "output.root",
        "output.s3.endpoint",
        "output.s3.addressing",
        "output.s3.max_retries",
        "output.s3.connect_timeout_seconds",
    ] {
        assert!(joined.contains(&format!("`{key}`")), "missing {key} in {joined}");
    }
    assert!(!joined.contains("pw@"), "{joined}");
    let p = problems(&format!("{MINIMAL}[output.s3]\nendpoint = \"http://h:1/bucket\"\n"), &Overrides::default());
    assert!(p[0].contains("s3:// root"), "{p:?}");
}

#[test]
fn typos_in_keys_and_values_suggest_the_right_one() {
    let p = problems("[input]\nroot = \"in\"\nformats = \"dicom\"\n[output]\nroot = \"out\"\n", &Overrides::default());
    assert!(p[0].contains("unknown field `formats`") && p[0].contains("did you mean `format`?"), "{p:?}");
    let p = problems(&format!("{MINIMAL}[image]\nfilter = \"lanczos\"\n"), &Overrides::default());
    assert!(p[0].contains("did you mean \"lanczos3\"?"), "{p:?}");
    let o = Overrides { set: vec!["output.shard_row=3".into()], ..Overrides::default() };
    let p = problems(MINIMAL, &o);
    assert!(p[0].contains("did you mean `shard_rows`?"), "{p:?}");
    let p = problems(&format!("{MINIMAL}[image]\nzzz = 1\n"), &Overrides::default());
    assert!(!p[0].contains("did you mean"), "no suggestion for a key unlike any: {p:?}");
}

#[test]
fn nested_tensor_layout_is_parquet_only_and_outside_the_default_canonical_config() {
    let plan = parse_ok(MINIMAL);
    assert!(!plan.canonical_json().contains("tensor_layout"), "default layout keeps old config hashes");
    let nested = parse_ok(&MINIMAL.replace("root = \"out\"", "root = \"out\"\ntensor_layout = \"nested\""));
    assert!(nested.canonical_json().contains("\"tensor_layout\":\"nested\""));
    let text = MINIMAL.replace("root = \"out\"", "root = \"out\"\nformat = \"arrow\"\ntensor_layout = \"nested\"");
    let p = problems(&text, &Overrides::default());
    assert!(p[0].contains("output.tensor_layout"), "{p:?}");
}

#[test]
fn multiframe_and_colour_policies_default_and_validate() {
    let plan = parse_ok(MINIMAL);
    assert_eq!((plan.image.multiframe, plan.image.color), (MultiFrame::First, ColorPolicy::Reject));
    let plan = parse_ok(&format!("{MINIMAL}[image]\nmultiframe = \"reject\"\ncolor = \"luma\"\n"));
    assert_eq!((plan.image.multiframe, plan.image.color), (MultiFrame::Reject, ColorPolicy::Luma));
    let p = problems(&format!("{MINIMAL}[image]\nmultiframe = \"all\"\ncolor = \"rgb\"\n"), &Overrides::default());
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].contains("image.multiframe") && p[0].contains("\"first\""), "{p:?}");
    assert!(p[1].contains("image.color") && p[1].contains("\"luma\""), "{p:?}");
}
