//! What marks a user-data's kind on sight: the `#cloud-config` header line, and an
//! Ignition config's JSON. Shared by `classify` (a whole user-data) and `multipart` (each
//! part).

/// The header line every cloud-config starts with.
pub const HEADER: &str = "#cloud-config";

/// Whether `text` is an Ignition config (JSON with `ignitionVersion` or
/// `ignition.version`).
pub(super) fn is_ignition(text: &str) -> bool {
    if !text.trim_start().starts_with('{') {
        return false;
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return false;
    };
    value
        .get("ignitionVersion")
        .is_some_and(serde_json::Value::is_i64)
        || value
            .get("ignition")
            .and_then(|i| i.get("version"))
            .is_some_and(serde_json::Value::is_string)
}
