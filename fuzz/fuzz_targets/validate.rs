//! Fuzz source + model + check: any bytes must validate without a panic, with every
//! finding inside the text. Run: `cargo +nightly fuzz run validate` (or with
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run validate` on a stable toolchain).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = b"#cloud-config\n".to_vec();
    bytes.extend_from_slice(data);
    for input in [data.to_vec(), bytes] {
        let v = kindling::validate("fuzz", input);
        for f in &v.findings {
            assert!(f.span.end <= v.source.text.len());
            assert!(v.source.text.is_char_boundary(f.span.start));
        }
    }
});
