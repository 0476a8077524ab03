//! `kindling::fuzzing::fleetlock_body` under libFuzzer (the body and its checks live in the library,
//! shared with `tests/fuzz_replay.rs`). Run: `cargo +nightly fuzz run fleetlock_body fuzz/corpus/fleetlock_body`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kindling::fuzzing::fleetlock_body(data));
