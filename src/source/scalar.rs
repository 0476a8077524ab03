//! A YAML scalar as written (text, style, tag), and YAML 1.1 scalar resolution, as
//! go-yaml v1 does it on a node.
//!
//! A plain scalar is null, a boolean, an integer, a float or a string depending on its
//! text, with YAML 1.1's wider rules: `yes/no/on/off/y/n` are booleans, `0644` is an
//! (octal) integer. Quoted and block scalars are always strings. The model uses this to
//! decide whether a value *fits* a typed field (a bool field wants a boolean); a string
//! field keeps the raw text whatever it resolves to, which is why `permissions: 0644`
//! stays `"0644"` and `reboot-strategy: off` stays `"off"`.

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unquoted.
    Plain,
    /// `'...'`
    SingleQuoted,
    /// `"..."`
    DoubleQuoted,
    /// `|` block.
    Literal,
    /// `>` block.
    Folded,
}

/// A scalar's explicit tag, as far as the dialect cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag {
    /// `!!binary`: base64 text standing for bytes.
    Binary,
    /// `!!str`: a string whatever it looks like.
    Str,
    /// `!!bool`, `!!int`, `!!float`, `!!null`: the named core type.
    Core(String),
    /// Any other tag, as written.
    Other(String),
}

/// A scalar value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    /// The value as the YAML parser produced it (escapes and folding applied).
    pub text: String,
    /// How it was written.
    pub style: Style,
    /// Its explicit tag, if any.
    pub tag: Option<Tag>,
}

impl Scalar {
    /// Whether this is a plain scalar the YAML 1.1 resolver reads as null
    /// (`~`, `null`, `Null`, `NULL` or nothing at all).
    #[must_use]
    pub fn is_null(&self) -> bool {
        self.style == Style::Plain
            && self.tag.is_none()
            && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }
}

/// What a scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved {
    /// `~`, `null`, empty.
    Null,
    /// A YAML 1.1 boolean word.
    Bool(bool),
    /// An integer (decimal, `0x` hex, leading-`0` octal, `0b` binary, `_` separators).
    Int(i64),
    /// A float.
    Float(f64),
    /// Anything else, and every quoted or block scalar.
    Str,
    /// A `!!binary` scalar.
    Binary,
}

/// Resolve a scalar the way go-yaml v1 does.
#[must_use]
pub fn resolve(s: &Scalar) -> Resolved {
    match &s.tag {
        Some(Tag::Str | Tag::Other(_)) => return Resolved::Str,
        Some(Tag::Binary) => return Resolved::Binary,
        Some(Tag::Core(_)) | None => {}
    }
    if s.style != Style::Plain {
        return Resolved::Str;
    }
    resolve_plain(&s.text)
}

/// Resolve the text of a plain scalar.
#[must_use]
pub fn resolve_plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        _ => {}
    }
    if let Some(b) = bool_word(text) {
        return Resolved::Bool(b);
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Resolved::Str;
    }
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    if let Some(i) = parse_int(&plain) {
        return Resolved::Int(i);
    }
    if let Some(f) = parse_float(&plain) {
        return Resolved::Float(f);
    }
    Resolved::Str
}

/// The YAML 1.1 boolean words go-yaml v1 knows.
#[must_use]
pub fn bool_word(text: &str) -> Option<bool> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let (radix, body) = if let Some(rest) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // go-yaml v1: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = text.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits_at = |mut i: usize| {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        (i, i - start)
    };
    if b.get(i) == Some(&b'.') {
        let (next, n) = digits_at(i + 1);
        if n == 0 {
            return None;
        }
        i = next;
    } else {
        let (next, n) = digits_at(i);
        if n == 0 {
            return None;
        }
        i = next;
        if b.get(i) == Some(&b'.') {
            i = digits_at(i + 1).0;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let (next, n) = digits_at(i);
        if n == 0 {
            return None;
        }
        i = next;
    }
    if i != b.len() {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Resolved {
        resolve_plain(text)
    }

    #[test]
    fn yaml_1_1_readings() {
        assert_eq!(plain("off"), Resolved::Bool(false));
        assert_eq!(plain("yes"), Resolved::Bool(true));
        assert_eq!(plain("y"), Resolved::Bool(true));
        assert_eq!(plain("True"), Resolved::Bool(true));
        assert_eq!(plain("tRue"), Resolved::Str);
        assert_eq!(plain("0644"), Resolved::Int(420));
        assert_eq!(plain("644"), Resolved::Int(644));
        assert_eq!(plain("0x1F"), Resolved::Int(31));
        assert_eq!(plain("1_000"), Resolved::Int(1000));
        assert_eq!(plain("-12"), Resolved::Int(-12));
        assert_eq!(plain("09"), Resolved::Float(9.0));
        assert_eq!(plain("1.5"), Resolved::Float(1.5));
        assert_eq!(plain(".5"), Resolved::Float(0.5));
        assert_eq!(plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(plain("1.2.3"), Resolved::Str);
        assert_eq!(plain("~"), Resolved::Null);
        assert_eq!(plain(""), Resolved::Null);
        assert_eq!(plain("rwxr--r--"), Resolved::Str);
        assert_eq!(plain("99999999999999999999"), Resolved::Float(1e20));
    }

    #[test]
    fn quoted_is_always_a_string() {
        let s = Scalar {
            text: "true".into(),
            style: Style::DoubleQuoted,
            tag: None,
        };
        assert_eq!(resolve(&s), Resolved::Str);
    }
}
