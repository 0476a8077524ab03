//! The Omaha v3 protocol as update_engine speaks it: requests (update check, events, ping)
//! written and read, responses written and read, with the parsing rules of update_engine and
//! hard bounds against hostile XML. Pure: no I/O except the small HTTP client in `client`.
