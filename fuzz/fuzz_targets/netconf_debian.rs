//! `kindling::fuzzing::netconf_debian` under libFuzzer (the body and its checks live in the library,
//! shared with `tests/fuzz_replay.rs`). Run: `cargo +nightly fuzz run netconf_debian fuzz/corpus/netconf_debian`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kindling::fuzzing::netconf_debian(data));
