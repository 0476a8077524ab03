//! `kindling::fuzzing::content_range` under libFuzzer (the body and its checks live in the library,
//! shared with `tests/fuzz_replay.rs`). Run: `cargo +nightly fuzz run content_range fuzz/corpus/content_range`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kindling::fuzzing::content_range(data));
