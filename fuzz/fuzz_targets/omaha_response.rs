//! `kindling::fuzzing::omaha_response` under libFuzzer (the body and its checks live in the library,
//! shared with `tests/fuzz_replay.rs`). Run: `cargo +nightly fuzz run omaha_response fuzz/corpus/omaha_response`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kindling::fuzzing::omaha_response(data));
