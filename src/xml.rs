//! kindling's one XML reader: a bounded reader that turns one document into a small element
//! tree (Omaha's requests and responses; the datasources' VMware OVF environment and Azure
//! `SharedConfig.xml`).
//!
//! Those documents carry everything in attributes, so the tree keeps element names,
//! attributes and children and drops text. Every document comes from the network, so the reader refuses
//! what a hostile peer could use against it before any of it is kept: a body over the size
//! limit, a `<!DOCTYPE>` (the only way to declare entities, so no entity is ever expanded),
//! any entity reference other than XML's five and character references, nesting deeper
//! than the limit, too many elements or attributes, over-long names and values, bytes that
//! are not UTF-8, a declared encoding other than UTF-8. Each refusal is its own error.

use quick_xml::events::{BytesStart, Event};
use thiserror::Error;

/// Bounds on one document; see [`REQUEST_LIMITS`] and [`RESPONSE_LIMITS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The whole document, in bytes.
    pub max_bytes: usize,
    /// How deep elements may nest (the root is depth 1).
    pub max_depth: usize,
    /// Elements in the whole document.
    pub max_elements: usize,
    /// Attributes on one element.
    pub max_attributes: usize,
    /// Length of an element or attribute name, in bytes.
    pub max_name_len: usize,
    /// Length of one attribute value after unescaping, in bytes.
    pub max_value_len: usize,
    /// Keep local names only (namespace prefixes dropped, as Go's `encoding/xml` matches
    /// them); otherwise names are kept as written.
    pub local_names: bool,
}

/// Requests a server accepts: update_engine's are about 1 KB, so 64 KiB is generous.
pub const REQUEST_LIMITS: Limits = Limits {
    max_bytes: 64 * 1024,
    max_depth: 8,
    max_elements: 512,
    max_attributes: 64,
    max_name_len: 128,
    max_value_len: 4096,
    local_names: false,
};

/// Responses a client accepts: 1 MiB, the cap go-omaha's client sets ("certainly bogus").
pub const RESPONSE_LIMITS: Limits = Limits {
    max_bytes: 1024 * 1024,
    max_depth: 16,
    max_elements: 8192,
    max_attributes: 64,
    max_name_len: 128,
    max_value_len: 16 * 1024,
    local_names: false,
};

/// The datasources' documents (VMware's OVF environment, Azure's `SharedConfig.xml`): local
/// names; an OVF property may carry a whole base64 user-data.
pub const DATASOURCE_LIMITS: Limits = Limits {
    max_bytes: 4 * 1024 * 1024,
    max_depth: 64,
    max_elements: 65_536,
    max_attributes: 256,
    max_name_len: 256,
    max_value_len: 4 * 1024 * 1024,
    local_names: true,
};

/// One element: its name, its attributes in document order, its child elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The element's name as written (prefix included, if any).
    pub name: String,
    /// Attributes, unescaped, in document order.
    pub attrs: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// The value of attribute `name`, if present.
    #[must_use]
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child named `name`.
    #[must_use]
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlError {
    /// The body is larger than the limit.
    #[error("the document is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Bytes received (at least).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is empty (or only whitespace).
    #[error("the document is empty")]
    Empty,
    /// The body is not UTF-8.
    #[error("the document is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The XML declaration names another encoding.
    #[error("the document declares encoding {0:?}; only UTF-8 is accepted")]
    Encoding(String),
    /// A document type declaration (where entities would be declared).
    #[error("a <!DOCTYPE> declaration is not allowed (entities are never expanded)")]
    Doctype,
    /// An entity reference other than the five predefined ones and character references.
    #[error("the entity reference &{0}; is not allowed (only XML's five and character references)")]
    Entity(String),
    /// Elements nested deeper than the limit.
    #[error("elements are nested deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More elements than the limit.
    #[error("the document has more than {limit} elements")]
    TooManyElements {
        /// The limit.
        limit: usize,
    },
    /// More attributes on one element than the limit.
    #[error("<{element}> has more than {limit} attributes")]
    TooManyAttributes {
        /// The element.
        element: String,
        /// The limit.
        limit: usize,
    },
    /// A name longer than the limit.
    #[error("a name is {len} bytes long, over the limit of {limit}")]
    NameTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// An attribute value longer than the limit.
    #[error("attribute {attribute} of <{element}> is {len} bytes long, over the limit of {limit}")]
    ValueTooLong {
        /// The element.
        element: String,
        /// The attribute.
        attribute: String,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not well-formed XML.
    #[error("not well-formed XML at byte {offset}: {message}")]
    Syntax {
        /// Where the reader was.
        offset: u64,
        /// quick-xml's description.
        message: String,
    },
    /// No root element.
    #[error("the document has no root element")]
    NoRoot,
    /// Content after the root element closed.
    #[error("the document has content after its root element")]
    TrailingContent,
}

/// Parse `bytes` as one XML document within `limits`.
///
/// # Errors
/// Each refusal described on [`XmlError`].
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    let text = document_text(bytes, limits)?;
    let mut reader = quick_xml::Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    let mut tree = Tree {
        limits,
        stack: Vec::new(),
        root: None,
        elements: 0,
    };
    loop {
        let event = reader.read_event().map_err(|e| XmlError::Syntax {
            offset: reader.error_position(),
            message: e.to_string(),
        })?;
        match event {
            Event::Start(_) | Event::Empty(_) if tree.root.is_some() => {
                return Err(XmlError::TrailingContent);
            }
            Event::Start(start) => {
                let open = tree.open(&start)?;
                tree.stack.push(open);
            }
            Event::Empty(start) => {
                let done = tree.open(&start)?;
                tree.close(done);
            }
            Event::End(_) => {
                // quick-xml has checked that the names match.
                let Some(done) = tree.stack.pop() else {
                    return Err(XmlError::Syntax {
                        offset: reader.buffer_position(),
                        message: "a closing tag without an opening one".into(),
                    });
                };
                tree.close(done);
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::GeneralRef(r) => check_reference(&r)?,
            Event::Decl(decl) => check_encoding(&decl)?,
            Event::Text(t) => {
                // Omaha puts nothing in text; only whitespace may follow the root.
                if tree.root.is_some() && !t.iter().all(u8::is_ascii_whitespace) {
                    return Err(XmlError::TrailingContent);
                }
            }
            Event::CData(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = tree.stack.last() {
        return Err(XmlError::Syntax {
            offset: reader.buffer_position(),
            message: format!("<{}> is never closed", open.name),
        });
    }
    tree.root.ok_or(XmlError::NoRoot)
}

/// The document as text: within the size limit, UTF-8, not blank.
fn document_text<'a>(bytes: &'a [u8], limits: &Limits) -> Result<&'a str, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| XmlError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    if text.trim().is_empty() {
        return Err(XmlError::Empty);
    }
    Ok(text)
}

/// The tree being built: the open elements, the root once closed, and the count.
struct Tree<'l> {
    limits: &'l Limits,
    stack: Vec<Element>,
    root: Option<Element>,
    elements: usize,
}

impl Tree<'_> {
    /// An element that starts here, within the element count and depth limits.
    fn open(&mut self, start: &BytesStart<'_>) -> Result<Element, XmlError> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(XmlError::TooManyElements {
                limit: self.limits.max_elements,
            });
        }
        if self.stack.len() + 1 > self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        element(start, self.limits)
    }

    /// A finished element: a child of the open one, or the root.
    fn close(&mut self, done: Element) {
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(done),
            None => self.root = Some(done),
        }
    }
}

/// Only the predefined entities and character references are allowed.
fn check_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<(), XmlError> {
    let name = String::from_utf8_lossy(r).into_owned();
    let predefined = matches!(name.as_str(), "lt" | "gt" | "amp" | "apos" | "quot");
    let char_ref = r.is_char_ref()
        && r.resolve_char_ref()
            .is_ok_and(|c: Option<char>| c.is_some());
    if !predefined && !char_ref {
        return Err(XmlError::Entity(truncate(&name, 64)));
    }
    Ok(())
}

/// A declared encoding must be UTF-8.
fn check_encoding(decl: &quick_xml::events::BytesDecl<'_>) -> Result<(), XmlError> {
    if let Some(Ok(enc)) = decl.encoding() {
        let enc = String::from_utf8_lossy(&enc).into_owned();
        if !enc.eq_ignore_ascii_case("utf-8") {
            return Err(XmlError::Encoding(truncate(&enc, 64)));
        }
    }
    Ok(())
}

fn element(start: &BytesStart<'_>, limits: &Limits) -> Result<Element, XmlError> {
    let raw = if limits.local_names {
        start.local_name().into_inner()
    } else {
        start.name().into_inner()
    };
    let name = name(raw, limits)?;
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Syntax {
            offset: 0,
            message: format!("in <{name}>: {e}"),
        })?;
        if attrs.len() >= limits.max_attributes {
            return Err(XmlError::TooManyAttributes {
                element: name,
                limit: limits.max_attributes,
            });
        }
        let key = if limits.local_names {
            attr.key.local_name().into_inner()
        } else {
            attr.key.into_inner()
        };
        let key = self::name(key, limits)?;
        // Checked before unescaping too, so a huge value is refused without being copied.
        if attr.value.len() > limits.max_value_len * 2 {
            return Err(XmlError::ValueTooLong {
                element: name,
                attribute: key,
                len: attr.value.len(),
                limit: limits.max_value_len,
            });
        }
        let value = attr.unescape_value().map_err(|e| match e {
            quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
                _,
                entity,
            )) => XmlError::Entity(truncate(&entity, 64)),
            other => XmlError::Syntax {
                offset: 0,
                message: format!("attribute {key} of <{name}>: {other}"),
            },
        })?;
        if value.len() > limits.max_value_len {
            return Err(XmlError::ValueTooLong {
                element: name,
                attribute: key,
                len: value.len(),
                limit: limits.max_value_len,
            });
        }
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

fn name(raw: &[u8], limits: &Limits) -> Result<String, XmlError> {
    if raw.len() > limits.max_name_len {
        return Err(XmlError::NameTooLong {
            len: raw.len(),
            limit: limits.max_name_len,
        });
    }
    Ok(String::from_utf8_lossy(raw).into_owned())
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasource_documents_are_read_by_local_names() {
        let doc = parse(
            br#"<?xml version="1.0"?><oe:Environment xmlns:oe="x"><PropertySection><Property oe:key="a" oe:value="b &amp; c"/></PropertySection></oe:Environment>"#,
            &DATASOURCE_LIMITS,
        )
        .unwrap();
        assert_eq!(doc.name, "Environment");
        let p = doc
            .child("PropertySection")
            .and_then(|s| s.child("Property"))
            .unwrap();
        assert_eq!(p.attr("key"), Some("a"));
        assert_eq!(p.attr("value"), Some("b & c"));
        assert!(parse(b"<a><b></a>", &DATASOURCE_LIMITS).is_err());
        assert!(parse(b"", &DATASOURCE_LIMITS).is_err());
        // The same hardening as Omaha's documents.
        assert_eq!(
            parse(b"<!DOCTYPE x [<!ENTITY a \"b\">]><x/>", &DATASOURCE_LIMITS),
            Err(XmlError::Doctype)
        );
    }

    fn parse_req(text: &str) -> Result<Element, XmlError> {
        parse(text.as_bytes(), &REQUEST_LIMITS)
    }

    #[test]
    fn reads_attributes_and_children() {
        let root = parse_req(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a x=\"1 &amp; &#50;\"><b/><c y='z'></c></a>\n",
        )
        .unwrap();
        assert_eq!(root.name, "a");
        assert_eq!(root.attr("x"), Some("1 & 2"));
        assert_eq!(root.children.len(), 2);
        assert_eq!(root.child("c").unwrap().attr("y"), Some("z"));
    }

    #[test]
    fn refuses_doctype_and_entities() {
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>";
        assert_eq!(parse_req(laughs), Err(XmlError::Doctype));
        assert_eq!(
            parse_req("<a>&xxe;</a>"),
            Err(XmlError::Entity("xxe".into()))
        );
        assert_eq!(
            parse_req("<a b=\"&xxe;\"/>"),
            Err(XmlError::Entity("xxe".into()))
        );
        assert!(parse_req("<a>&lt;&#x41;</a>").is_ok());
    }

    #[test]
    fn refuses_what_exceeds_the_limits() {
        let deep = "<a>".repeat(9) + &"</a>".repeat(9);
        assert_eq!(parse_req(&deep), Err(XmlError::TooDeep { limit: 8 }));
        let big = format!("<a b=\"{}\"/>", "x".repeat(5000));
        assert!(matches!(
            parse_req(&big),
            Err(XmlError::ValueTooLong { len: 5000, .. })
        ));
        let many = format!("<a>{}</a>", "<b/>".repeat(600));
        assert_eq!(
            parse_req(&many),
            Err(XmlError::TooManyElements { limit: 512 })
        );
        let huge = format!("<a>{}</a>", " ".repeat(70 * 1024));
        assert!(matches!(parse_req(&huge), Err(XmlError::TooLarge { .. })));
        let attrs: String = (0..70).map(|i| format!(" a{i}=\"\"")).collect();
        assert!(matches!(
            parse_req(&format!("<a{attrs}/>")),
            Err(XmlError::TooManyAttributes { .. })
        ));
        let long_name = format!("<{}/>", "n".repeat(200));
        assert!(matches!(
            parse_req(&long_name),
            Err(XmlError::NameTooLong { len: 200, .. })
        ));
    }

    #[test]
    fn refuses_garbage() {
        assert_eq!(parse(b"", &REQUEST_LIMITS), Err(XmlError::Empty));
        assert_eq!(
            parse(b"\xff\xfe<a/>", &REQUEST_LIMITS),
            Err(XmlError::NotUtf8 { offset: 0 })
        );
        assert!(matches!(
            parse_req("<a><b></a>"),
            Err(XmlError::Syntax { .. })
        ));
        assert!(matches!(parse_req("<a>"), Err(XmlError::Syntax { .. })));
        assert_eq!(parse_req("just text"), Err(XmlError::NoRoot));
        assert_eq!(parse_req("<a/><b/>"), Err(XmlError::TrailingContent));
        assert_eq!(
            parse_req("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>"),
            Err(XmlError::Encoding("ISO-8859-1".into()))
        );
        assert!(matches!(
            parse_req("<a b=\"1\" b=\"2\"/>"),
            Err(XmlError::Syntax { .. })
        ));
    }
}
