//! Fuzz the annotation parser: any bytes give entries or a located error, never a panic.
#![no_main]

use cxrshard::config::default_labels;
use cxrshard::source::annotations;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = annotations::parse(data, "fuzz.json", &default_labels());
});
