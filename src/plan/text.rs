//! How values are written into the files a node reads: systemd `Environment=` quoting,
//! and Go's `%v` (floats) and `%q` (strings), which coreos-cloudinit's outputs use.

/// `Environment="KEY=VALUE"` with the value quoted for systemd: `\` and `"` escaped, `%`
/// doubled (systemd would expand it as a specifier). coreos-cloudinit writes the value
/// verbatim, which breaks on any of the three; line breaks are refused by the checker.
#[must_use]
pub fn environment_line(key: &str, value: &str) -> String {
    let mut out = String::with_capacity(key.len() + value.len() + 16);
    out.push_str("Environment=\"");
    out.push_str(key);
    out.push('=');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value for `Environment=KEY=VALUE` without quotes when it needs none (the form the
/// update-engine proxy drop-in is documented with), quoted otherwise.
#[must_use]
pub fn environment_line_plain(key: &str, value: &str) -> String {
    if value
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'))
    {
        environment_line(key, value)
    } else {
        format!("Environment={key}={}", value.replace('%', "%%"))
    }
}

/// A float as Go's `%v` prints it: the shortest digits that round-trip, in `%e` form when
/// the decimal exponent is below -4 or at least 6 (`1e-06`, `1e+06`, `100000`).
#[must_use]
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e-6".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// A string as Go's `%q` prints it: double quotes, with `"`, `\` and control characters
/// escaped.
#[must_use]
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_formats() {
        // coreos-cloudinit's TestServiceContents: 0.000001 -> 1e-06.
        for (f, text) in [
            (0.000001, "1e-06"),
            (0.5, "0.5"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (123456789.0, "1.23456789e+08"),
            (0.0001, "0.0001"),
            (2.0, "2"),
        ] {
            assert_eq!(go_float(f), text);
        }
        assert_eq!(go_quote("a \"b\" \\ c\n"), "\"a \\\"b\\\" \\\\ c\\n\"");
    }

    #[test]
    fn systemd_quoting() {
        assert_eq!(
            environment_line("P", r#"a"b\c%d"#),
            r#"Environment="P=a\"b\\c%%d""#
        );
        assert_eq!(
            environment_line_plain("ALL_PROXY", "http://proxy:3128"),
            "Environment=ALL_PROXY=http://proxy:3128"
        );
        assert_eq!(
            environment_line_plain("ALL_PROXY", "http://u:p%40ss@proxy:3128"),
            "Environment=ALL_PROXY=http://u:p%%40ss@proxy:3128"
        );
    }
}
