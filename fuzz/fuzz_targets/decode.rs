//! Fuzz the decoders and the display chain: any bytes must give an image or a reject, never
//! a panic, a hang or unbounded memory.
#![no_main]

use cxrshard::config::{self, Overrides};
use cxrshard::source::Decoder;
use cxrshard::transform::process;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn plan() -> &'static config::Plan {
    static PLAN: OnceLock<config::Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let text = "[input]\nroot = \".\"\n[image]\nsize = [16, 16]\n[output]\nroot = \".\"\n";
        config::parse(text, "fuzz", &Overrides::default()).expect("fuzz plan")
    })
}

fuzz_target!(|data: &[u8]| {
    let polygons = vec![Some(vec![[0.0, 0.0], [5.0, 1.0], [3.0, 7.0]]); 20];
    let bytes = bytes::Bytes::copy_from_slice(data);
    let _ = process(bytes.clone(), Decoder::Dicom, &polygons, plan());
    let _ = process(bytes, Decoder::Raster, &polygons, plan());
});
