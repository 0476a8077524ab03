//! `kindling::fuzzing::configdrive` under libFuzzer (the body and its checks live in the library,
//! shared with `tests/fuzz_replay.rs`). Run: `cargo +nightly fuzz run configdrive fuzz/corpus/configdrive`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kindling::fuzzing::configdrive(data));
