//! Omaha responses: read with update_engine's rules (`OmahaRequestAction::ParseResponse`),
//! stricter where update_engine is loose, and written so that both update_engine and
//! go-omaha's client accept them.
//!
//! update_engine's rules, in its order: `/response/app/updatecheck` must exist; its
//! `PollInterval` is read first (also for `noupdate`); `status` must be present and be
//! `noupdate` or `ok` (anything else, e.g. `error-internal`, is an invalid response); then a
//! `manifest` (its `version`), at least one `urls/url` with a non-empty `codebase`, the first
//! `packages/package` with a non-empty `name` (appended to each codebase, with a `/` added
//! when the codebase lacks one) and a `size` above 0, and an `actions/action` with
//! `event="postinstall"` whose `sha256` is not empty; `MaxFailureCountPerUrl` (default 10),
//! `IsDeltaPayload` and `DisablePayloadBackoff` (each `"true"` or not) are optional.
//!
//! Stricter than update_engine (each is a distinct [`ResponseError`]): the sizes and counts
//! must be whole decimal numbers (update_engine's `sscanf` takes `12abc` as 12); the
//! `sha256` must be base64 of 32 bytes (update_engine fails later, at the hash check); a
//! package's `hash_sha256`, when present, must agree with it; a package name may not
//! contain `/`, `?`, `#` or whitespace (it is pasted into a URL); an `<app status>` other
//! than `ok` is reported as such (update_engine only notices the missing updatecheck).

use base64::Engine as _;
use thiserror::Error;

use super::writer::Doc;
use crate::xml::{self, Element, XmlError};

/// update_engine's default `MaxFailureCountPerUrl`.
pub const DEFAULT_MAX_FAILURE_COUNT_PER_URL: u32 = 10;

/// A response, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `<response server>`.
    pub server: Option<String>,
    /// `<daystart elapsed_seconds>` (update_engine ignores it; Omaha's "seconds since
    /// midnight at the server"), when present and a number.
    pub daystart_elapsed_seconds: Option<i64>,
    /// `PollInterval` of the updatecheck, in seconds, when present and a number.
    pub poll_interval: Option<u32>,
    /// What the server said.
    pub update: UpdateCheck,
}

/// The updatecheck's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateCheck {
    /// `status="noupdate"`.
    NoUpdate,
    /// `status="ok"` with a usable manifest.
    Update(Update),
}

/// An update on offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// `manifest version`: the version on offer (update_engine uses it only for display).
    pub version: String,
    /// Each codebase joined with the package name, in the server's order.
    pub payload_urls: Vec<String>,
    /// The package `name`.
    pub package_name: String,
    /// The package `size` in bytes (above 0).
    pub size: u64,
    /// SHA-256 of the payload, from the postinstall action's `sha256`.
    pub sha256: [u8; 32],
    /// The package's `hash` (base64 SHA-1; go-omaha and Nebraska send it, update_engine
    /// ignores it), as sent.
    pub sha1_base64: Option<String>,
    /// The action's `IsDeltaPayload="true"`.
    pub is_delta: bool,
    /// The action's `DisablePayloadBackoff="true"`.
    pub disable_payload_backoff: bool,
    /// The action's `MaxFailureCountPerUrl` (default 10).
    pub max_failure_count_per_url: u32,
}

impl Update {
    /// The SHA-256 as lower-case hex.
    #[must_use]
    pub fn sha256_hex(&self) -> String {
        use std::fmt::Write as _;
        self.sha256.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

/// Why a response was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResponseError {
    /// Not well-formed, or over a limit.
    #[error("{0}")]
    Xml(#[from] XmlError),
    /// The root element is not `<response>`.
    #[error("the root element is <{0}>, not <response>")]
    NotAResponse(String),
    /// No `<app>` for our app id (the first app is used when the id differs in case).
    #[error("the response has no <app> for {0}")]
    NoApp(String),
    /// `<app status>` is not ok (e.g. `error-unknownApplication`).
    #[error("the server refused the application: status {0:?}")]
    AppStatus(String),
    /// No `<updatecheck>`.
    #[error("the response has no <updatecheck>")]
    MissingUpdateCheck,
    /// `<updatecheck>` without `status`.
    #[error("the <updatecheck> has no status")]
    MissingStatus,
    /// `status` other than ok/noupdate (`error-internal`, `error-updatesDisabled`, …).
    #[error("the server answered the update check with status {0:?}")]
    Status(String),
    /// No `<manifest>`.
    #[error("the update has no <manifest>")]
    MissingManifest,
    /// No `<urls><url>`.
    #[error("the update has no <urls><url>")]
    MissingUrls,
    /// A `<url>` with an empty or missing codebase.
    #[error("a <url> has an empty codebase")]
    EmptyCodebase,
    /// No `<packages><package>`.
    #[error("the update has no <packages><package>")]
    MissingPackage,
    /// The package's name is empty or unusable in a URL.
    #[error("the package name {0:?} is empty or not usable in a URL")]
    BadPackageName(String),
    /// The package's size is missing, not a number, or 0.
    #[error("the package size {0:?} is not a number above 0")]
    BadSize(String),
    /// No action with `event="postinstall"`.
    #[error("the update has no <action event=\"postinstall\">")]
    MissingPostinstall,
    /// The postinstall action has no (or an empty) `sha256`.
    #[error("the postinstall action has no sha256")]
    MissingSha256,
    /// A SHA-256 that is not base64 of 32 bytes.
    #[error("{attribute} {value:?} is not base64 of a SHA-256 (32 bytes)")]
    BadSha256 {
        /// Which attribute.
        attribute: &'static str,
        /// Its value (shortened).
        value: String,
    },
    /// The package's `hash_sha256` differs from the action's `sha256`.
    #[error("the package's hash_sha256 and the postinstall action's sha256 differ")]
    Sha256Conflict,
}

impl ResponseError {
    /// The update_engine error code a node reports for this (31 for XML, 34 otherwise,
    /// 30 for an empty body).
    #[must_use]
    pub fn error_code(&self) -> i32 {
        use super::event::code;
        match self {
            ResponseError::Xml(XmlError::Empty) => code::OMAHA_REQUEST_EMPTY_RESPONSE,
            ResponseError::Xml(_) => code::OMAHA_REQUEST_XML_PARSE_ERROR,
            _ => code::OMAHA_RESPONSE_INVALID,
        }
    }
}

/// Read a response body for application `app_id`.
///
/// # Errors
/// [`ResponseError`], one variant per rule.
pub fn parse(body: &[u8], app_id: &str) -> Result<Response, ResponseError> {
    let root = xml::parse(body, &xml::RESPONSE_LIMITS)?;
    if root.name != "response" {
        return Err(ResponseError::NotAResponse(root.name));
    }
    // update_engine reads /response/app/updatecheck whatever the app id; go-omaha picks
    // the app by id. Ours: the app with our id (ids compared without regard to case, as
    // GUIDs are), else the only app there is.
    let apps: Vec<&Element> = root.children_named("app").collect();
    let app = apps
        .iter()
        .find(|a| {
            a.attr("appid")
                .is_some_and(|id| id.eq_ignore_ascii_case(app_id))
        })
        .or(if apps.len() == 1 { apps.first() } else { None })
        .ok_or_else(|| ResponseError::NoApp(app_id.to_string()))?;
    if let Some(status) = app.attr("status").filter(|s| *s != "ok") {
        return Err(ResponseError::AppStatus(status.to_string()));
    }
    let check = app
        .child("updatecheck")
        .ok_or(ResponseError::MissingUpdateCheck)?;
    let poll_interval = check
        .attr("PollInterval")
        .and_then(|p| p.trim().parse().ok());
    let daystart_elapsed_seconds = root
        .child("daystart")
        .and_then(|d| d.attr("elapsed_seconds"))
        .and_then(|s| s.trim().parse().ok());
    let server = root.attr("server").map(str::to_string);
    let status = check.attr("status").ok_or(ResponseError::MissingStatus)?;
    let update = match status {
        "noupdate" => UpdateCheck::NoUpdate,
        "ok" => UpdateCheck::Update(update(check)?),
        other => return Err(ResponseError::Status(other.to_string())),
    };
    Ok(Response {
        server,
        daystart_elapsed_seconds,
        poll_interval,
        update,
    })
}

fn update(check: &Element) -> Result<Update, ResponseError> {
    let manifest = check
        .child("manifest")
        .ok_or(ResponseError::MissingManifest)?;
    let version = manifest.attr("version").unwrap_or_default().to_string();
    let urls: Vec<&Element> = check
        .children_named("urls")
        .flat_map(|u| u.children_named("url"))
        .collect();
    if urls.is_empty() {
        return Err(ResponseError::MissingUrls);
    }
    let mut codebases = Vec::new();
    for url in urls {
        match url.attr("codebase") {
            Some(c) if !c.is_empty() => codebases.push(c),
            _ => return Err(ResponseError::EmptyCodebase),
        }
    }
    let package = manifest
        .children_named("packages")
        .flat_map(|p| p.children_named("package"))
        .next()
        .ok_or(ResponseError::MissingPackage)?;
    let name = package.attr("name").unwrap_or_default();
    if name.is_empty()
        || name
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c.is_control())
    {
        return Err(ResponseError::BadPackageName(name.to_string()));
    }
    let payload_urls = codebases
        .iter()
        .map(|c| {
            if c.ends_with('/') {
                format!("{c}{name}")
            } else {
                format!("{c}/{name}")
            }
        })
        .collect();
    let size_text = package.attr("size").unwrap_or_default();
    let size = match size_text.parse::<u64>() {
        Ok(n) if n > 0 && size_text.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => return Err(ResponseError::BadSize(size_text.to_string())),
    };
    let action = manifest
        .children_named("actions")
        .flat_map(|a| a.children_named("action"))
        .find(|a| a.attr("event") == Some("postinstall"))
        .ok_or(ResponseError::MissingPostinstall)?;
    let sha_text = action
        .attr("sha256")
        .filter(|s| !s.is_empty())
        .ok_or(ResponseError::MissingSha256)?;
    let sha256 = decode_sha256("sha256", sha_text)?;
    if let Some(package_sha) = package.attr("hash_sha256").filter(|s| !s.is_empty()) {
        // go-omaha writes it as base64, like the action's; accept hex too (CoreUpdate).
        let other = if package_sha.len() == 64 && package_sha.bytes().all(|b| b.is_ascii_hexdigit())
        {
            hex32(package_sha)
        } else {
            Some(decode_sha256("hash_sha256", package_sha)?)
        };
        if other != Some(sha256) {
            return Err(ResponseError::Sha256Conflict);
        }
    }
    Ok(Update {
        version,
        payload_urls,
        package_name: name.to_string(),
        size,
        sha256,
        sha1_base64: package
            .attr("hash")
            .filter(|h| !h.is_empty())
            .map(str::to_string),
        is_delta: action.attr("IsDeltaPayload") == Some("true"),
        disable_payload_backoff: action.attr("DisablePayloadBackoff") == Some("true"),
        max_failure_count_per_url: action
            .attr("MaxFailureCountPerUrl")
            .and_then(|m| m.parse().ok())
            .unwrap_or(DEFAULT_MAX_FAILURE_COUNT_PER_URL),
    })
}

fn decode_sha256(attribute: &'static str, value: &str) -> Result<[u8; 32], ResponseError> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| ResponseError::BadSha256 {
            attribute,
            value: value.chars().take(64).collect(),
        })
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// One `<app>` of a response a server writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAnswer {
    /// `appid`, echoed.
    pub app_id: String,
    /// `status`: `ok` or an `error-…` (then nothing else is written for the app).
    pub status: String,
    /// Answer a `<ping>`.
    pub ping: bool,
    /// The update check's answer, if one was asked.
    pub update_check: Option<CheckAnswer>,
    /// How many events to acknowledge.
    pub events: usize,
}

/// The updatecheck of a response a server writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckAnswer {
    /// `status="noupdate"`.
    NoUpdate,
    /// `status="error-…"` (e.g. `error-internal`).
    Error(String),
    /// `status="ok"` with this offer.
    Update(Offer),
}

/// An update offer as a server writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// `manifest version`.
    pub version: String,
    /// Codebases (each ends with `/`).
    pub codebases: Vec<String>,
    /// Package name.
    pub package_name: String,
    /// Package size.
    pub size: u64,
    /// Base64 SHA-1 (package `hash`).
    pub sha1_base64: String,
    /// Base64 SHA-256 (package `hash_sha256`, action `sha256`).
    pub sha256_base64: String,
}

/// Write a response: go-omaha's layout (tabs, `<x></x>`), update_engine's required parts.
#[must_use]
pub fn write(server: &str, daystart_elapsed_seconds: u64, apps: &[AppAnswer]) -> Vec<u8> {
    let mut doc = Doc::new();
    doc.open(
        "response",
        &[("protocol", "3.0"), ("server", server)],
        false,
    );
    doc.raw("\n\t");
    let elapsed = daystart_elapsed_seconds.to_string();
    doc.leaf("daystart", &[("elapsed_seconds", &elapsed)]);
    for app in apps {
        doc.raw("\n\t");
        doc.open(
            "app",
            &[("appid", &app.app_id), ("status", &app.status)],
            false,
        );
        if app.status == "ok" {
            if app.ping {
                doc.raw("\n\t\t");
                doc.leaf("ping", &[("status", "ok")]);
            }
            if let Some(check) = &app.update_check {
                doc.raw("\n\t\t");
                write_check(&mut doc, check);
            }
            for _ in 0..app.events {
                doc.raw("\n\t\t");
                doc.leaf("event", &[("status", "ok")]);
            }
            doc.raw("\n\t");
        }
        doc.close("app");
    }
    doc.raw("\n");
    doc.close("response");
    doc.raw("\n");
    doc.finish()
}

fn write_check(doc: &mut Doc, check: &CheckAnswer) {
    match check {
        CheckAnswer::NoUpdate => doc.leaf("updatecheck", &[("status", "noupdate")]),
        CheckAnswer::Error(status) => doc.leaf("updatecheck", &[("status", status)]),
        CheckAnswer::Update(offer) => {
            doc.open("updatecheck", &[("status", "ok")], false);
            doc.raw("\n\t\t\t");
            doc.open("urls", &[], false);
            for codebase in &offer.codebases {
                doc.raw("\n\t\t\t\t");
                doc.leaf("url", &[("codebase", codebase)]);
            }
            doc.raw("\n\t\t\t");
            doc.close("urls");
            doc.raw("\n\t\t\t");
            doc.open("manifest", &[("version", &offer.version)], false);
            doc.raw("\n\t\t\t\t");
            doc.open("packages", &[], false);
            doc.raw("\n\t\t\t\t\t");
            let size = offer.size.to_string();
            doc.leaf(
                "package",
                &[
                    ("name", &offer.package_name),
                    ("hash", &offer.sha1_base64),
                    ("hash_sha256", &offer.sha256_base64),
                    ("size", &size),
                    ("required", "false"),
                ],
            );
            doc.raw("\n\t\t\t\t");
            doc.close("packages");
            doc.raw("\n\t\t\t\t");
            doc.open("actions", &[], false);
            doc.raw("\n\t\t\t\t\t");
            doc.leaf(
                "action",
                &[
                    ("event", "postinstall"),
                    ("sha256", &offer.sha256_base64),
                    ("DisablePayloadBackoff", "true"),
                ],
            );
            doc.raw("\n\t\t\t\t");
            doc.close("actions");
            doc.raw("\n\t\t\t");
            doc.close("manifest");
            doc.raw("\n\t\t");
            doc.close("updatecheck");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}";
    const SHA: &str = "T1PUZQUhwiHKKNVMecqWoy0DvpWIHdg35/FMInPnrg8=";

    /// go-omaha's TrivialServer response, as captured from `omaha-trivial-server`.
    fn go_omaha(package: &str, action: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response protocol=\"3.0\" server=\"go-omaha\">\n\t<daystart elapsed_seconds=\"0\"></daystart>\n\t<app appid=\"{APP}\" status=\"ok\">\n\t\t<ping status=\"ok\"></ping>\n\t\t<updatecheck status=\"ok\">\n\t\t\t<urls>\n\t\t\t\t<url codebase=\"http://127.0.0.1:39411/packages/\"></url>\n\t\t\t</urls>\n\t\t\t<manifest version=\"1.2.3\">\n\t\t\t\t<packages>\n\t\t\t\t\t{package}\n\t\t\t\t</packages>\n\t\t\t\t<actions>\n\t\t\t\t\t{action}\n\t\t\t\t</actions>\n\t\t\t</manifest>\n\t\t</updatecheck>\n\t\t<event status=\"ok\"></event>\n\t</app>\n</response>"
        )
    }

    fn ok_package() -> String {
        format!(
            "<package name=\"update.gz\" hash=\"r9HJf4e3YNZBJwV15dr2/RI8t8I=\" hash_sha256=\"{SHA}\" size=\"1000\" required=\"false\"></package>"
        )
    }

    fn ok_action() -> String {
        format!(
            "<action event=\"postinstall\" sha256=\"{SHA}\" DisablePayloadBackoff=\"true\"></action>"
        )
    }

    #[test]
    fn reads_go_omahas_update() {
        let r = parse(go_omaha(&ok_package(), &ok_action()).as_bytes(), APP).unwrap();
        assert_eq!(r.server.as_deref(), Some("go-omaha"));
        assert_eq!(r.daystart_elapsed_seconds, Some(0));
        let UpdateCheck::Update(u) = r.update else {
            panic!("no update")
        };
        assert_eq!(u.version, "1.2.3");
        assert_eq!(
            u.payload_urls,
            ["http://127.0.0.1:39411/packages/update.gz"]
        );
        assert_eq!(u.size, 1000);
        assert_eq!(
            u.sha256_hex(),
            "4f53d4650521c221ca28d54c79ca96a32d03be95881dd837e7f14c2273e7ae0f"
        );
        assert!(u.disable_payload_backoff && !u.is_delta);
        assert_eq!(u.max_failure_count_per_url, 10);
    }

    #[test]
    fn reads_update_engines_sample_response() {
        // The shape of update_engine's sample_omaha_v3_response.xml (self-closed elements,
        // several actions, codebase with trailing slash, PollInterval).
        let body = format!(
            r#"<response protocol="3.0" server="prod"><daystart elapsed_seconds="56652"/><app appid="{APP}" status="ok"><updatecheck status="ok" PollInterval="1800"><urls><url codebase="https://a.example/3095.0.0"/><url codebase="https://b.example/x/"/></urls><manifest version="3095.0.0"><packages><package hash="HVOmp67vBjPdvpWmOC2Uw4UDwsc=" name="payload.bin" required="true" size="400752559"/></packages><actions><action event="update" run="x"/><action ChromeOSVersion="3095.0.0" IsDeltaPayload="false" MaxFailureCountPerUrl="3" MetadataSize="58315" event="postinstall" sha256="{SHA}"/></actions></manifest></updatecheck></app></response>"#
        );
        let r = parse(body.as_bytes(), APP).unwrap();
        assert_eq!(r.poll_interval, Some(1800));
        assert_eq!(r.daystart_elapsed_seconds, Some(56652));
        let UpdateCheck::Update(u) = r.update else {
            panic!("no update")
        };
        assert_eq!(
            u.payload_urls,
            [
                "https://a.example/3095.0.0/payload.bin",
                "https://b.example/x/payload.bin"
            ]
        );
        assert_eq!(u.size, 400_752_559);
        assert_eq!(u.max_failure_count_per_url, 3);
        assert!(!u.disable_payload_backoff);
    }

    #[test]
    fn noupdate_and_errors() {
        let noupdate = format!(
            r#"<response protocol="3.0"><app appid="{APP}" status="ok"><updatecheck status="noupdate" PollInterval="60"><urls></urls></updatecheck></app></response>"#
        );
        let r = parse(noupdate.as_bytes(), APP).unwrap();
        assert_eq!(r.update, UpdateCheck::NoUpdate);
        assert_eq!(r.poll_interval, Some(60));
        let internal = format!(
            r#"<response protocol="3.0"><app appid="{APP}" status="ok"><updatecheck status="error-internal"/></app></response>"#
        );
        assert_eq!(
            parse(internal.as_bytes(), APP),
            Err(ResponseError::Status("error-internal".into()))
        );
        let unknown = format!(
            r#"<response protocol="3.0"><app appid="{APP}" status="error-unknownApplication"></app></response>"#
        );
        assert_eq!(
            parse(unknown.as_bytes(), APP),
            Err(ResponseError::AppStatus("error-unknownApplication".into()))
        );
        let missing = format!(r#"<response><app appid="{APP}" status="ok"/></response>"#);
        assert_eq!(
            parse(missing.as_bytes(), APP),
            Err(ResponseError::MissingUpdateCheck)
        );
        let no_status = format!(r#"<response><app appid="{APP}"><updatecheck/></app></response>"#);
        assert_eq!(
            parse(no_status.as_bytes(), APP),
            Err(ResponseError::MissingStatus)
        );
    }

    #[test]
    fn each_rule_has_its_error() {
        let sizes = [
            ("size=\"0\"", ResponseError::BadSize("0".into())),
            ("size=\"12abc\"", ResponseError::BadSize("12abc".into())),
            ("size=\"-5\"", ResponseError::BadSize("-5".into())),
            ("", ResponseError::BadSize(String::new())),
        ];
        for (size, want) in sizes {
            let package = format!("<package name=\"u\" {size}></package>");
            assert_eq!(
                parse(go_omaha(&package, &ok_action()).as_bytes(), APP),
                Err(want)
            );
        }
        let package = "<package name=\"\" size=\"1\"></package>";
        assert_eq!(
            parse(go_omaha(package, &ok_action()).as_bytes(), APP),
            Err(ResponseError::BadPackageName(String::new()))
        );
        let package = "<package name=\"../a b\" size=\"1\"></package>";
        assert!(matches!(
            parse(go_omaha(package, &ok_action()).as_bytes(), APP),
            Err(ResponseError::BadPackageName(_))
        ));
        let action = "<action event=\"update\" sha256=\"x\"></action>";
        assert_eq!(
            parse(go_omaha(&ok_package(), action).as_bytes(), APP),
            Err(ResponseError::MissingPostinstall)
        );
        let action = "<action event=\"postinstall\"></action>";
        assert_eq!(
            parse(go_omaha(&ok_package(), action).as_bytes(), APP),
            Err(ResponseError::MissingSha256)
        );
        let action = "<action event=\"postinstall\" sha256=\"AAAA\"></action>";
        assert!(matches!(
            parse(go_omaha(&ok_package(), action).as_bytes(), APP),
            Err(ResponseError::BadSha256 {
                attribute: "sha256",
                ..
            })
        ));
        let package = format!(
            "<package name=\"u\" size=\"1\" hash_sha256=\"{}\"></package>",
            "00".repeat(32)
        );
        assert_eq!(
            parse(go_omaha(&package, &ok_action()).as_bytes(), APP),
            Err(ResponseError::Sha256Conflict)
        );
        let no_urls = go_omaha(&ok_package(), &ok_action()).replace(
            "<url codebase=\"http://127.0.0.1:39411/packages/\"></url>",
            "<url codebase=\"\"></url>",
        );
        assert_eq!(
            parse(no_urls.as_bytes(), APP),
            Err(ResponseError::EmptyCodebase)
        );
        assert_eq!(
            parse(b"<request/>", APP),
            Err(ResponseError::NotAResponse("request".into()))
        );
    }

    #[test]
    fn what_it_writes_it_reads() {
        let offer = Offer {
            version: "1.2.3".into(),
            codebases: vec!["http://h/packages/stable/1.2.3/".into()],
            package_name: "update.gz".into(),
            size: 1000,
            sha1_base64: "r9HJf4e3YNZBJwV15dr2/RI8t8I=".into(),
            sha256_base64: SHA.into(),
        };
        let body = write(
            "kindling",
            5,
            &[AppAnswer {
                app_id: APP.into(),
                status: "ok".into(),
                ping: true,
                update_check: Some(CheckAnswer::Update(offer)),
                events: 1,
            }],
        );
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response protocol=\"3.0\" server=\"kindling\">\n\t<daystart elapsed_seconds=\"5\"></daystart>"));
        let r = parse(&body, APP).unwrap();
        let UpdateCheck::Update(u) = r.update else {
            panic!("no update")
        };
        assert_eq!(u.payload_urls, ["http://h/packages/stable/1.2.3/update.gz"]);
        let refused = write(
            "kindling",
            0,
            &[AppAnswer {
                app_id: "x".into(),
                status: "error-unknownApplication".into(),
                ping: true,
                update_check: Some(CheckAnswer::NoUpdate),
                events: 0,
            }],
        );
        assert_eq!(
            parse(&refused, "x"),
            Err(ResponseError::AppStatus("error-unknownApplication".into()))
        );
    }
}
