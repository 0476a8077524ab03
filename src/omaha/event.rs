//! Omaha events: the type/result/error-code triples update_engine reports, with the codes
//! it uses (`omaha_request_action.h`, `action_processor.h`) as named constants.

use std::fmt;

/// `eventtype`: the update as a whole completed (with result 1, 2 or 0).
pub const TYPE_UPDATE_COMPLETE: u32 = 3;
/// `eventtype`: the payload download started.
pub const TYPE_DOWNLOAD_STARTED: u32 = 13;
/// `eventtype`: the payload download finished.
pub const TYPE_DOWNLOAD_FINISHED: u32 = 14;
/// `eventtype` Nebraska maps to "Installed" (CoreUpdate's; update_engine does not send it).
pub const TYPE_INSTALLED_NEBRASKA: u32 = 800;

/// `eventresult`: failure; an `errorcode` says which.
pub const RESULT_ERROR: u32 = 0;
/// `eventresult`: success.
pub const RESULT_SUCCESS: u32 = 1;
/// `eventresult`: success after the reboot into the new version.
pub const RESULT_SUCCESS_REBOOT: u32 = 2;
/// `eventresult`: the update was deferred by policy.
pub const RESULT_UPDATE_DEFERRED: u32 = 9;

/// update_engine's action exit codes (`ActionExitCode`), the ones a node reports.
pub mod code {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// A generic error.
    pub const ERROR: i32 = 1;
    /// The Omaha request failed.
    pub const OMAHA_REQUEST_ERROR: i32 = 2;
    /// The Omaha response could not be acted on.
    pub const OMAHA_RESPONSE_HANDLER_ERROR: i32 = 3;
    /// Installing into the passive partition failed.
    pub const FILESYSTEM_COPIER_ERROR: i32 = 4;
    /// The postinstall step failed.
    pub const POSTINSTALL_RUNNER_ERROR: i32 = 5;
    /// The payload download failed.
    pub const DOWNLOAD_TRANSFER_ERROR: i32 = 9;
    /// The payload's hash is not the one the response announced.
    pub const PAYLOAD_HASH_MISMATCH: i32 = 10;
    /// The payload's size is not the one the response announced.
    pub const PAYLOAD_SIZE_MISMATCH: i32 = 11;
    /// The payload's signature did not verify.
    pub const DOWNLOAD_PAYLOAD_VERIFICATION_ERROR: i32 = 12;
    /// Writing the payload failed.
    pub const DOWNLOAD_WRITE_ERROR: i32 = 14;
    /// The new root did not verify after writing.
    pub const NEW_ROOTFS_VERIFICATION_ERROR: i32 = 15;
    /// The response body was empty.
    pub const OMAHA_REQUEST_EMPTY_RESPONSE: i32 = 30;
    /// The response was not XML.
    pub const OMAHA_REQUEST_XML_PARSE_ERROR: i32 = 31;
    /// The response was XML but not a usable Omaha response.
    pub const OMAHA_RESPONSE_INVALID: i32 = 34;
    /// The node booted the old version again after an update (rollback).
    pub const ROLLBACK: i32 = 44;
    /// The HTTP status is added to this (e.g. 2404 for a 404).
    pub const HTTP_RESPONSE_BASE: i32 = 2000;
}

/// One `<event>` of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `eventtype`.
    pub event_type: u32,
    /// `eventresult`.
    pub result: u32,
    /// `errorcode`; update_engine writes it whenever the result is not success (1).
    pub error_code: Option<i32>,
    /// `previousversion`, sent only with 3/2 after a reboot.
    pub previous_version: Option<String>,
}

impl Event {
    /// 13/1: the download started.
    #[must_use]
    pub fn download_started() -> Event {
        Event::success(TYPE_DOWNLOAD_STARTED)
    }

    /// 14/1: the download finished.
    #[must_use]
    pub fn download_finished() -> Event {
        Event::success(TYPE_DOWNLOAD_FINISHED)
    }

    /// 3/1: the update is installed in the passive slot (after postinstall); reboot needed.
    #[must_use]
    pub fn installed() -> Event {
        Event::success(TYPE_UPDATE_COMPLETE)
    }

    /// 3/2: up after the reboot. update_engine sends this inside an update check (see
    /// [`crate::omaha::AppInfo::previous_version`]); as a lone event it carries no version.
    #[must_use]
    pub fn rebooted(previous_version: Option<String>) -> Event {
        Event {
            event_type: TYPE_UPDATE_COMPLETE,
            result: RESULT_SUCCESS_REBOOT,
            error_code: None,
            previous_version,
        }
    }

    /// 3/0 with error code 44: the node came back on the old version (rollback).
    #[must_use]
    pub fn rollback() -> Event {
        Event::error(code::ROLLBACK)
    }

    /// 3/0 with `error_code`: the update failed (update_engine's error event).
    #[must_use]
    pub fn error(error_code: i32) -> Event {
        Event {
            event_type: TYPE_UPDATE_COMPLETE,
            result: RESULT_ERROR,
            error_code: Some(error_code),
            previous_version: None,
        }
    }

    fn success(event_type: u32) -> Event {
        Event {
            event_type,
            result: RESULT_SUCCESS,
            error_code: None,
            previous_version: None,
        }
    }

    /// Whether this reports a failure.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.result == RESULT_ERROR
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match (self.event_type, self.result) {
            (TYPE_DOWNLOAD_STARTED, RESULT_SUCCESS) => "download started",
            (TYPE_DOWNLOAD_FINISHED, RESULT_SUCCESS) => "download finished",
            (TYPE_UPDATE_COMPLETE, RESULT_SUCCESS) => "installed",
            (TYPE_UPDATE_COMPLETE, RESULT_SUCCESS_REBOOT) => "up after reboot",
            (TYPE_INSTALLED_NEBRASKA, RESULT_SUCCESS) => "installed",
            (_, RESULT_ERROR) if self.error_code == Some(code::ROLLBACK) => "rollback",
            (_, RESULT_ERROR) => "error",
            (_, RESULT_UPDATE_DEFERRED) => "deferred",
            _ => "event",
        };
        write!(f, "{}/{} ({name}", self.event_type, self.result)?;
        if let Some(c) = self.error_code.filter(|_| self.result != RESULT_SUCCESS) {
            write!(f, ", error {c}")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_events_update_engine_sends() {
        assert_eq!(
            Event::download_started().to_string(),
            "13/1 (download started)"
        );
        assert_eq!(Event::installed().to_string(), "3/1 (installed)");
        assert_eq!(Event::rebooted(None).to_string(), "3/2 (up after reboot)");
        assert_eq!(Event::rollback().to_string(), "3/0 (rollback, error 44)");
        assert_eq!(Event::error(10).to_string(), "3/0 (error, error 10)");
    }
}
