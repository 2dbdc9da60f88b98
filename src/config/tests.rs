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
