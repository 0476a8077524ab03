//! Omaha requests: written exactly as update_engine writes them (`omaha_request_action.cc`
//! `GetRequestXml`: same elements, attribute order, indentation and the space before the
//! `<app>` tag's `>`), and read on the server side from update_engine, go-omaha's client
//! (which sends `userid`/`sessionid`, `<os platform arch>`, no `installsource`) or anyone
//! else speaking protocol 3.0.

use thiserror::Error;

use super::event::{self, Event};
use super::writer::Doc;
use crate::xml::{self, Element, XmlError};

/// CoreOS's (and Flatcar's) application id, update_engine's default.
pub const COREOS_APP_ID: &str = "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}";

/// Who is asking: update_engine's `OmahaRequestParams`, the values of every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    /// `appid` (update.conf / release `*_RELEASE_APPID`).
    pub app_id: String,
    /// `version`: the running OS version (`*_RELEASE_VERSION`).
    pub version: String,
    /// `track`: the channel (`GROUP`).
    pub track: String,
    /// `machineid`: `/etc/machine-id`, trimmed.
    pub machine_id: String,
    /// `bootid`: update_engine sends `/proc/sys/kernel/random/boot_id` in braces
    /// (`{…}`); see [`AppInfo::braced_boot_id`].
    pub boot_id: String,
    /// `board` (`*_RELEASE_BOARD`, e.g. `amd64-usr`).
    pub board: String,
    /// `oem` (`ID` of oem-release).
    pub oem: String,
    /// `oemversion` (`VERSION_ID` of oem-release).
    pub oem_version: String,
    /// `alephversion`: the first version installed on this machine.
    pub aleph_version: String,
    /// `machinealias` (`MACHINE_ALIAS`).
    pub machine_alias: String,
    /// update_engine's `previous-version` preference, which decides the event sent with an
    /// update check: `None` (never set) sends 3/2 with `previousversion="0.0.0.0"`;
    /// `Some(v)` sends 3/2 with `previousversion=v` (update_engine then sets it to `""`);
    /// `Some(v)` equal to [`AppInfo::version`] means the node booted the version it was
    /// updating from again: a rollback, sent as 3/0 with error code 44.
    pub previous_version: Option<String>,
    /// `installsource`: `ondemandupdate` when true (a person asked), `scheduler` otherwise.
    pub interactive: bool,
    /// The request's `version`/`updaterversion` (update_engine sends
    /// `update_engine-0.4.10`; kindling sends `kindling-<its version>`).
    pub updater: String,
    /// `uname -m`, for `<os sp="VERSION_MACHINE">`.
    pub machine_type: String,
}

impl AppInfo {
    /// The values update_engine would send for this machine, with update_engine's defaults
    /// for the rest (board from the CPU architecture, empty OEM and alias, aleph = version).
    #[must_use]
    pub fn new(
        app_id: impl Into<String>,
        version: impl Into<String>,
        track: impl Into<String>,
        machine_id: impl Into<String>,
        boot_id: impl Into<String>,
    ) -> AppInfo {
        let version = version.into();
        let board = match std::env::consts::ARCH {
            "aarch64" => "arm64-usr",
            _ => "amd64-usr",
        };
        AppInfo {
            app_id: app_id.into(),
            aleph_version: version.clone(),
            version,
            track: track.into(),
            machine_id: machine_id.into(),
            boot_id: boot_id.into(),
            board: board.to_string(),
            oem: String::new(),
            oem_version: String::new(),
            machine_alias: String::new(),
            previous_version: None,
            interactive: false,
            updater: format!("kindling-{}", env!("CARGO_PKG_VERSION")),
            machine_type: std::env::consts::ARCH.to_string(),
        }
    }

    /// A kernel boot id (`/proc/sys/kernel/random/boot_id`) the way update_engine sends it.
    #[must_use]
    pub fn braced_boot_id(raw: &str) -> String {
        format!("{{{}}}", raw.trim())
    }

    /// The event update_engine attaches to an update check (see
    /// [`AppInfo::previous_version`]).
    #[must_use]
    pub fn check_event(&self) -> Event {
        match &self.previous_version {
            Some(prev) if !prev.is_empty() && *prev == self.version => Event::rollback(),
            Some(prev) => Event::rebooted(Some(prev.clone())),
            None => Event::rebooted(Some("0.0.0.0".to_string())),
        }
    }
}

/// What a request asks, besides the app's identity.
enum Body<'a> {
    Check,
    Ping,
    Event(&'a Event),
}

/// The update check update_engine sends: ping, updatecheck and the boot event.
#[must_use]
pub fn update_check(app: &AppInfo) -> Vec<u8> {
    write(app, &Body::Check)
}

/// The ping-only request update_engine sends while an update waits for a reboot.
#[must_use]
pub fn ping(app: &AppInfo) -> Vec<u8> {
    write(app, &Body::Ping)
}

/// An event request (download started/finished, installed, error).
#[must_use]
pub fn event(app: &AppInfo, event: &Event) -> Vec<u8> {
    write(app, &Body::Event(event))
}

fn write(app: &AppInfo, body: &Body<'_>) -> Vec<u8> {
    let mut doc = Doc::new();
    let source = if app.interactive {
        "ondemandupdate"
    } else {
        "scheduler"
    };
    doc.open(
        "request",
        &[
            ("protocol", "3.0"),
            ("version", &app.updater),
            ("updaterversion", &app.updater),
            ("installsource", source),
            ("ismachine", "1"),
        ],
        false,
    );
    doc.raw("\n    ");
    let sp = format!("{}_{}", app.version, app.machine_type);
    doc.leaf(
        "os",
        &[("version", "Chateau"), ("platform", "CoreOS"), ("sp", &sp)],
    );
    doc.raw("\n    ");
    doc.open(
        "app",
        &[
            ("appid", &app.app_id),
            ("version", &app.version),
            ("track", &app.track),
            ("bootid", &app.boot_id),
            ("oem", &app.oem),
            ("oemversion", &app.oem_version),
            ("alephversion", &app.aleph_version),
            ("machineid", &app.machine_id),
            ("machinealias", &app.machine_alias),
            ("lang", "en-US"),
            ("board", &app.board),
            ("hardware_class", ""),
            ("delta_okay", "false"),
        ],
        true,
    );
    doc.raw("\n");
    match body {
        Body::Check => {
            doc.raw("        ");
            doc.leaf("ping", &[("active", "1")]);
            doc.raw("\n        ");
            doc.leaf("updatecheck", &[]);
            doc.raw("\n        ");
            write_event(&mut doc, &app.check_event());
            doc.raw("\n");
        }
        Body::Ping => {
            doc.raw("        ");
            doc.leaf("ping", &[("active", "1")]);
            doc.raw("\n");
        }
        Body::Event(e) => {
            doc.raw("        ");
            write_event(&mut doc, e);
            doc.raw("\n");
        }
    }
    doc.raw("    ");
    doc.close("app");
    doc.raw("\n");
    doc.close("request");
    doc.raw("\n");
    doc.finish()
}

fn write_event(doc: &mut Doc, e: &Event) {
    let event_type = e.event_type.to_string();
    let result = e.result.to_string();
    let mut attrs = vec![("eventtype", event_type.as_str()), ("eventresult", &result)];
    // update_engine: the error code whenever the result is not success; the previous
    // version only on the boot event (which never carries an error code).
    let code = e
        .error_code
        .filter(|_| e.result != event::RESULT_SUCCESS)
        .map(|c| c.to_string());
    if let Some(prev) = &e.previous_version {
        attrs.push(("previousversion", prev));
    } else if let Some(code) = &code {
        attrs.push(("errorcode", code));
    } else if e.result != event::RESULT_SUCCESS {
        attrs.push(("errorcode", "0"));
    }
    doc.leaf("event", &attrs);
}

/// A request as a server reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// `protocol` (always 3.0 once parsed).
    pub protocol: String,
    /// The request's `version` (the updater: `update_engine-0.4.10`, `go-omaha`, …).
    pub updater: Option<String>,
    /// `installsource` (update_engine only).
    pub install_source: Option<String>,
    /// `userid` (go-omaha: the machine id).
    pub user_id: Option<String>,
    /// `sessionid` (go-omaha).
    pub session_id: Option<String>,
    /// `<os platform>`.
    pub os_platform: Option<String>,
    /// `<os arch>` (go-omaha) — Nebraska falls back to it when there is no board.
    pub os_arch: Option<String>,
    /// The applications asked about.
    pub apps: Vec<AppRequest>,
}

/// One `<app>` of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppRequest {
    /// `appid`.
    pub app_id: String,
    /// `version` (empty when absent).
    pub version: String,
    /// `track` (the channel).
    pub track: Option<String>,
    /// `machineid`, else the request's `userid`.
    pub machine_id: Option<String>,
    /// `bootid`.
    pub boot_id: Option<String>,
    /// `machinealias`.
    pub machine_alias: Option<String>,
    /// `board`.
    pub board: Option<String>,
    /// `oem`.
    pub oem: Option<String>,
    /// `<ping>` present.
    pub ping: bool,
    /// `<updatecheck>` present.
    pub update_check: bool,
    /// Every `<event>`, in order.
    pub events: Vec<Event>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// Not well-formed, or over a limit.
    #[error("{0}")]
    Xml(#[from] XmlError),
    /// The root element is not `<request>`.
    #[error("the root element is <{0}>, not <request>")]
    NotARequest(String),
    /// `protocol` is not 3.0.
    #[error("protocol {0:?} is not supported; only Omaha 3.0")]
    Protocol(String),
    /// No `<app>`.
    #[error("the request has no <app>")]
    NoApp,
    /// An `<app>` without `appid`.
    #[error("an <app> has no appid")]
    MissingAppId,
    /// An event attribute that is not a number.
    #[error("<event {attribute}={value:?}> is not a number")]
    BadEvent {
        /// The attribute.
        attribute: &'static str,
        /// Its value.
        value: String,
    },
}

/// Read a request body.
///
/// # Errors
/// [`RequestError`]: hostile or malformed XML, not Omaha 3.0, no app.
pub fn parse(body: &[u8]) -> Result<Request, RequestError> {
    let root = xml::parse(body, &xml::REQUEST_LIMITS)?;
    if root.name != "request" {
        return Err(RequestError::NotARequest(root.name));
    }
    let protocol = root.attr("protocol").unwrap_or_default();
    if protocol != "3.0" {
        return Err(RequestError::Protocol(protocol.to_string()));
    }
    let user_id = root.attr("userid").map(str::to_string);
    let os = root.child("os");
    let mut apps = Vec::new();
    for app in root.children_named("app") {
        apps.push(app_request(app, user_id.as_deref())?);
    }
    if apps.is_empty() {
        return Err(RequestError::NoApp);
    }
    Ok(Request {
        protocol: protocol.to_string(),
        updater: root.attr("version").map(str::to_string),
        install_source: root.attr("installsource").map(str::to_string),
        user_id,
        session_id: root.attr("sessionid").map(str::to_string),
        os_platform: os.and_then(|o| o.attr("platform")).map(str::to_string),
        os_arch: os.and_then(|o| o.attr("arch")).map(str::to_string),
        apps,
    })
}

fn app_request(app: &Element, user_id: Option<&str>) -> Result<AppRequest, RequestError> {
    let app_id = app
        .attr("appid")
        .filter(|id| !id.is_empty())
        .ok_or(RequestError::MissingAppId)?;
    let text = |name: &str| app.attr(name).map(str::to_string);
    let mut events = Vec::new();
    for e in app.children_named("event") {
        events.push(parse_event(e)?);
    }
    Ok(AppRequest {
        app_id: app_id.to_string(),
        version: app.attr("version").unwrap_or_default().to_string(),
        track: text("track"),
        machine_id: app
            .attr("machineid")
            .filter(|m| !m.is_empty())
            .or(user_id)
            .map(str::to_string),
        boot_id: text("bootid"),
        machine_alias: text("machinealias"),
        board: text("board"),
        oem: text("oem"),
        ping: app.child("ping").is_some(),
        update_check: app.child("updatecheck").is_some(),
        events,
    })
}

fn parse_event(e: &Element) -> Result<Event, RequestError> {
    fn number<T: std::str::FromStr>(
        e: &Element,
        attribute: &'static str,
    ) -> Result<Option<T>, RequestError> {
        match e.attr(attribute) {
            None | Some("") => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| RequestError::BadEvent {
                    attribute,
                    value: v.chars().take(32).collect(),
                }),
        }
    }
    Ok(Event {
        event_type: number(e, "eventtype")?.unwrap_or(0),
        result: number(e, "eventresult")?.unwrap_or(0),
        error_code: number(e, "errorcode")?,
        previous_version: e.attr("previousversion").map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppInfo {
        let mut app = AppInfo::new(
            COREOS_APP_ID,
            "3033.2.0",
            "stable",
            "8bde4c4d90834d61b41c3253212c0c37",
            AppInfo::braced_boot_id("7d52a1cc-7066-40f0-91c7-7cb6a871bfde\n"),
        );
        app.updater = "update_engine-0.4.10".into();
        app.machine_type = "x86_64".into();
        app.board = "amd64-usr".into();
        app
    }

    #[test]
    fn update_check_is_update_engines_document() {
        let text = String::from_utf8(update_check(&app())).unwrap();
        assert_eq!(
            text,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<request protocol="3.0" version="update_engine-0.4.10" updaterversion="update_engine-0.4.10" installsource="scheduler" ismachine="1">
    <os version="Chateau" platform="CoreOS" sp="3033.2.0_x86_64"></os>
    <app appid="{e96281a6-d1af-4bde-9a0a-97b76e56dc57}" version="3033.2.0" track="stable" bootid="{7d52a1cc-7066-40f0-91c7-7cb6a871bfde}" oem="" oemversion="" alephversion="3033.2.0" machineid="8bde4c4d90834d61b41c3253212c0c37" machinealias="" lang="en-US" board="amd64-usr" hardware_class="" delta_okay="false" >
        <ping active="1"></ping>
        <updatecheck></updatecheck>
        <event eventtype="3" eventresult="2" previousversion="0.0.0.0"></event>
    </app>
</request>
"#
        );
    }

    #[test]
    fn boot_event_follows_the_previous_version_preference() {
        let mut a = app();
        a.previous_version = Some("3000.0.0".into());
        let text = String::from_utf8(update_check(&a)).unwrap();
        assert!(text.contains(
            r#"<event eventtype="3" eventresult="2" previousversion="3000.0.0"></event>"#
        ));
        a.previous_version = Some(String::new());
        let text = String::from_utf8(update_check(&a)).unwrap();
        assert!(text.contains(r#"previousversion=""></event>"#));
        a.previous_version = Some("3033.2.0".into());
        let text = String::from_utf8(update_check(&a)).unwrap();
        assert!(text.contains(r#"<event eventtype="3" eventresult="0" errorcode="44"></event>"#));
    }

    #[test]
    fn events_and_pings_are_update_engines() {
        let text = String::from_utf8(event(&app(), &Event::download_started())).unwrap();
        assert!(text.contains(
            "delta_okay=\"false\" >\n        <event eventtype=\"13\" eventresult=\"1\"></event>\n    </app>"
        ));
        let text = String::from_utf8(event(&app(), &Event::error(10))).unwrap();
        assert!(text.contains(r#"<event eventtype="3" eventresult="0" errorcode="10"></event>"#));
        let text = String::from_utf8(ping(&app())).unwrap();
        assert!(
            text.contains("delta_okay=\"false\" >\n        <ping active=\"1\"></ping>\n    </app>")
        );
        assert!(!text.contains("updatecheck"));
    }

    #[test]
    fn attribute_values_are_escaped() {
        let mut a = app();
        a.machine_alias = "a<b & \"c\"".into();
        let req = parse(&update_check(&a)).unwrap();
        assert_eq!(req.apps[0].machine_alias.as_deref(), Some("a<b & \"c\""));
    }

    #[test]
    fn reads_its_own_and_go_omahas_requests() {
        let req = parse(&update_check(&app())).unwrap();
        let a = &req.apps[0];
        assert_eq!(a.app_id, COREOS_APP_ID);
        assert_eq!(a.track.as_deref(), Some("stable"));
        assert!(a.ping && a.update_check);
        assert_eq!(a.events, vec![Event::rebooted(Some("0.0.0.0".into()))]);
        let go = r#"<?xml version="1.0" encoding="UTF-8"?>
<request protocol="3.0" sessionid="1bb9" userid="abc" version="go-omaha"><os platform="linux" arch="x64"></os><app appid="{e96281a6-d1af-4bde-9a0a-97b76e56dc57}" version="1.0.0" track="stable" bootid="1bb9" machineid="abc"><ping active="1"></ping><updatecheck></updatecheck><event eventtype="3" eventresult="2"></event></app></request>"#;
        let req = parse(go.as_bytes()).unwrap();
        assert_eq!(req.os_arch.as_deref(), Some("x64"));
        assert_eq!(req.apps[0].machine_id.as_deref(), Some("abc"));
        assert_eq!(req.apps[0].events[0].previous_version, None);
    }

    #[test]
    fn refuses_what_is_not_an_omaha_3_request() {
        assert_eq!(
            parse(b"<response protocol=\"3.0\"/>"),
            Err(RequestError::NotARequest("response".into()))
        );
        assert_eq!(
            parse(b"<request protocol=\"2.0\"><app appid=\"x\"/></request>"),
            Err(RequestError::Protocol("2.0".into()))
        );
        assert_eq!(
            parse(b"<request protocol=\"3.0\"></request>"),
            Err(RequestError::NoApp)
        );
        assert_eq!(
            parse(b"<request protocol=\"3.0\"><app/></request>"),
            Err(RequestError::MissingAppId)
        );
        assert!(matches!(
            parse(b"<request protocol=\"3.0\"><app appid=\"x\"><event eventtype=\"x\"/></app></request>"),
            Err(RequestError::BadEvent { attribute: "eventtype", .. })
        ));
    }
}
