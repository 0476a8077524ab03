//! The etcd connection's TLS files, checked before the first connection and explained after
//! a failed handshake, so that a wrong CA, an expired or a missing client certificate reads
//! as one sentence naming the file and the reason instead of a transport error's debug
//! dump. [`check`] reads and parses every file that is set (PEM certificates in the CA and
//! certificate files, a private key in the key file) and, when a CA file is set, verifies
//! the client certificate against it at the current time (rustls's own verifier): an
//! expired or not-yet-valid certificate is refused before anything is sent. [`explain`]
//! turns the text of a failed connection into that sentence when it is a TLS failure
//! (`None` otherwise). Neither contacts anything; both are read-only.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use super::api::LockError;
use super::config::TlsFiles;

fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, LockError> {
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| LockError::Config(format!("the {what} {}: {e}", path.display())))?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LockError::Config(format!("the {what} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(LockError::Config(format!(
            "the {what} {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// How the client certificate fares against the CA file at `now`: `None` when valid or
/// when there is nothing to check it with.
fn verify_client(tls: &TlsFiles) -> Result<Option<rustls::Error>, LockError> {
    let (Some(ca), Some(cert)) = (&tls.ca, &tls.cert) else {
        return Ok(None);
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in certificates(ca, "etcd CA file")? {
        // A CA file may carry certificates webpki cannot use as anchors; the rest still count.
        let _ = roots.add(c);
    }
    let chain = certificates(cert, "client certificate")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(verifier) =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
    else {
        return Ok(None);
    };
    Ok(verifier
        .verify_client_cert(&chain[0], &chain[1..], UnixTime::now())
        .err())
}

fn date(t: UnixTime) -> String {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(
            || format!("{} s after 1970", t.as_secs()),
            |t| t.to_string(),
        )
}

/// Read and check every TLS file that is set (see the module docs).
///
/// # Errors
/// [`LockError::Config`] naming the file and what is wrong with it.
pub(super) fn check(tls: &TlsFiles) -> Result<(), LockError> {
    if let Some(ca) = &tls.ca {
        certificates(ca, "etcd CA file")?;
    }
    if let Some(cert) = &tls.cert {
        certificates(cert, "client certificate")?;
    }
    if let Some(key) = &tls.key {
        PrivateKeyDer::from_pem_file(key).map_err(|e| {
            LockError::Config(format!(
                "the client key {} holds no PEM private key ({e})",
                key.display()
            ))
        })?;
    }
    let cert = tls.cert.as_deref().map(Path::display);
    match verify_client(tls)? {
        Some(rustls::Error::InvalidCertificate(e)) => match e {
            rustls::CertificateError::ExpiredContext { not_after, .. } => {
                Err(LockError::Config(format!(
                    "the client certificate {} expired on {}: etcd will refuse it; renew it",
                    cert.unwrap_or_else(|| Path::new("").display()),
                    date(not_after)
                )))
            }
            rustls::CertificateError::Expired => Err(LockError::Config(format!(
                "the client certificate {} has expired: etcd will refuse it; renew it",
                cert.unwrap_or_else(|| Path::new("").display()),
            ))),
            rustls::CertificateError::NotValidYetContext { not_before, .. } => {
                Err(LockError::Config(format!(
                    "the client certificate {} is not valid before {}: etcd will refuse it until then",
                    cert.unwrap_or_else(|| Path::new("").display()),
                    date(not_before)
                )))
            }
            // Signed by another CA than the file's: etcd may trust that one (its client CA
            // need not be the server's); `explain` says so if etcd refuses it.
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// The sentence for a failed connection to `endpoint` whose error text (with its causes)
/// is `text`, when it is a TLS failure; `None` otherwise.
#[must_use]
pub(super) fn explain(tls: &TlsFiles, endpoint: &str, text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let ca = tls.ca.as_deref().map_or_else(
        || "the system's CAs (no --etcd-cafile / LOCKSMITHD_ETCD_CAFILE given)".to_string(),
        |p| format!("the CA file {}", p.display()),
    );
    if lower.contains("invalid peer certificate") || lower.contains("unknownissuer") {
        let why = if lower.contains("expired") {
            "it has expired"
        } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
            "it is not valid for that address"
        } else {
            "it is not signed by a CA in it"
        };
        return Some(format!(
            "etcd at {endpoint} presented a server certificate that {ca} does not vouch for: {why}"
        ));
    }
    let refused = [
        "badcertificate",
        "bad certificate",
        "certificaterequired",
        "certificate required",
        "unknownca",
        "certificateexpired",
        "certificate expired",
        "handshakefailure",
    ];
    if !refused.iter().any(|r| lower.contains(r)) {
        return None;
    }
    Some(match &tls.cert {
        None => format!(
            "etcd at {endpoint} requires a client certificate and none was given: set --etcd-certfile and --etcd-keyfile (update.conf: LOCKSMITHD_ETCD_CERTFILE, LOCKSMITHD_ETCD_KEYFILE)"
        ),
        Some(cert) => {
            let reason = match verify_client(tls) {
                Ok(Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer,
                ))) => format!("it is not issued by {ca}, nor, it seems, by a CA etcd trusts"),
                Ok(Some(e)) => e.to_string(),
                _ => "etcd does not trust the CA that issued it".to_string(),
            };
            format!(
                "etcd at {endpoint} refused the client certificate {}: {reason}",
                cert.display()
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_handshake_failures_and_nothing_else() {
        let none = TlsFiles::default();
        let text = explain(
            &none,
            "https://e:2379",
            "transport error: received fatal alert: BadCertificate",
        )
        .unwrap();
        assert!(
            text.contains("requires a client certificate and none was given"),
            "{text}"
        );
        let text = explain(
            &TlsFiles {
                ca: Some("/etc/ca.pem".into()),
                ..TlsFiles::default()
            },
            "https://e:2379",
            "invalid peer certificate: UnknownIssuer",
        )
        .unwrap();
        assert!(
            text.contains("the CA file /etc/ca.pem does not vouch for"),
            "{text}"
        );
        assert_eq!(
            explain(&none, "e", "tcp connect error: Connection refused"),
            None
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let tls = TlsFiles {
            ca: Some("/nonexistent/ca.pem".into()),
            ..TlsFiles::default()
        };
        let e = check(&tls).unwrap_err().to_string();
        assert!(
            e.starts_with("the etcd CA file /nonexistent/ca.pem: "),
            "{e}"
        );
    }
}
