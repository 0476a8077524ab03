//! A thin layer over quick-xml's writer for Omaha documents: elements written as
//! `<x ...></x>` (never `<x/>`, like update_engine and go-omaha), attributes escaped by
//! quick-xml, whitespace exactly where the caller puts it.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// A document being written into memory.
pub(crate) struct Doc {
    w: Writer<Vec<u8>>,
}

impl Doc {
    /// A document that starts with `<?xml version="1.0" encoding="UTF-8"?>` and a newline.
    pub(crate) fn new() -> Doc {
        let mut doc = Doc {
            w: Writer::new(Vec::with_capacity(1024)),
        };
        doc.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        doc.raw("\n");
        doc
    }

    /// Whitespace (or other text without markup) as is.
    pub(crate) fn raw(&mut self, text: &str) {
        self.event(Event::Text(BytesText::from_escaped(text)));
    }

    /// An opening tag. `trailing_space` reproduces update_engine's `delta_okay="false" >`.
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, &str)], trailing_space: bool) {
        let mut start = BytesStart::new(name);
        for &(key, value) in attrs {
            start.push_attribute((key, value));
        }
        if trailing_space {
            let content = format!("{} ", String::from_utf8_lossy(&start));
            start = BytesStart::from_content(content, name.len());
        }
        self.event(Event::Start(start));
    }

    /// A closing tag.
    pub(crate) fn close(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    /// `<name attrs...></name>`.
    pub(crate) fn leaf(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.open(name, attrs, false);
        self.close(name);
    }

    /// The finished document.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.w.into_inner()
    }

    fn event(&mut self, event: Event<'_>) {
        // Writing into a Vec<u8> cannot fail: the only errors quick-xml's writer reports
        // are those of the underlying io::Write, and Vec's write never returns one.
        let _ = self.w.write_event(event);
    }
}
