//! How a terminal reaches the central and where its URLs may point (security review M1): plain
//! `http://` only to this machine, and the central's HTTPS client, which also trusts the extra
//! root certificate in [`CENTRAL_CA_ENV`] (a central with its own, self-signed certificate).
//!
//! The rules themselves are the gateway crate's `url_policy`, shared with the connector, so the
//! central's URL, the gateway's and the command line's are judged alike. Deliberately absent:
//! client certificates and pinning (the CA file is the trust decision).

use std::path::Path;
use std::time::Duration;

use paydesk_gateway::url_policy;

/// A PEM file with the root certificate (or the self-signed certificate itself) that signed the
/// central's certificate; trusted in addition to the public roots, for the central only.
pub const CENTRAL_CA_ENV: &str = "PAYDESK_CENTRAL_CA";

/// `url` if a terminal may send its token there, without a trailing slash; else what to write.
pub fn checked_base_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    url_policy::check_transport_url(trimmed)?;
    Ok(trimmed.to_string())
}

/// The central's URLs: one URL, or several separated by commas (centrals on one PostgreSQL
/// database, tried in the order given), each checked as [`checked_base_url`] checks one. Empty
/// entries are refused, and so is a URL given twice (a typo, not a second central).
pub fn checked_base_urls(urls: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for url in urls.split(',') {
        if url.trim().is_empty() {
            return Err(format!(
                "{urls:?} has an empty entry: give one URL, or several separated by commas"
            ));
        }
        let url = checked_base_url(url)?;
        if out.contains(&url) {
            return Err(format!("{url} is listed twice"));
        }
        out.push(url);
    }
    Ok(out)
}

/// The central's HTTP client: the given timeouts, no redirects (an API answer is never one to
/// follow with a token), and the extra root of [`CENTRAL_CA_ENV`] when it is set.
pub(crate) fn central_http_client(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, String> {
    let ca = std::env::var_os(CENTRAL_CA_ENV).filter(|v| !v.is_empty());
    central_http_client_with_ca(timeout, connect_timeout, ca.as_deref().map(Path::new))
}

/// [`central_http_client`] with the extra root given directly (tests, and callers that read it
/// from somewhere else).
pub fn central_http_client_with_ca(
    timeout: Duration,
    connect_timeout: Duration,
    ca: Option<&Path>,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = ca {
        let pem = std::fs::read(path).map_err(|e| {
            format!(
                "{CENTRAL_CA_ENV}={}: {e} (a PEM file with the central's root certificate)",
                path.display()
            )
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            format!(
                "{CENTRAL_CA_ENV}={}: not a PEM certificate: {e}",
                path.display()
            )
        })?;
        if certs.is_empty() {
            return Err(format!(
                "{CENTRAL_CA_ENV}={}: no certificate in it (expected -----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| format!("HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HttpCentral, TerminalToken};

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_remote_central_over_plain_http_is_refused() {
        let token = || TerminalToken::new("pdt_test");
        let err = HttpCentral::new("http://10.0.0.5:8787", token()).unwrap_err();
        assert!(err.to_string().contains("plain HTTP"), "{err}");
        assert!(!err.to_string().contains("pdt_test"));
        assert!(HttpCentral::new("http://central.lan", token()).is_err());
        assert!(HttpCentral::new("http://127.0.0.1:8787", token()).is_ok());
        assert!(HttpCentral::new("http://localhost:8787/", token()).is_ok());
        assert!(HttpCentral::new("https://central.lan:8787", token()).is_ok());
        assert_eq!(
            checked_base_url("https://central.lan/").unwrap(),
            "https://central.lan"
        );
    }

    #[test]
    fn several_centrals_are_checked_one_by_one() {
        assert_eq!(
            checked_base_urls("http://127.0.0.1:1, https://b.lan/").unwrap(),
            vec![
                "http://127.0.0.1:1".to_string(),
                "https://b.lan".to_string()
            ]
        );
        assert!(checked_base_urls("https://a.lan,http://10.0.0.5:8787")
            .unwrap_err()
            .contains("plain HTTP"));
        assert!(checked_base_urls("https://a.lan,,https://b.lan")
            .unwrap_err()
            .contains("empty entry"));
        assert!(checked_base_urls("https://a.lan,https://a.lan/")
            .unwrap_err()
            .contains("twice"));
        let token = || TerminalToken::new("pdt_test");
        assert!(HttpCentral::new("http://127.0.0.1:1,http://127.0.0.1:2", token()).is_ok());
        assert!(HttpCentral::new("http://127.0.0.1:1,http://10.0.0.5:8787", token()).is_err());
    }

    #[test]
    fn a_central_ca_that_is_not_a_certificate_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = central_http_client_with_ca(SECOND, SECOND, Some(&missing)).unwrap_err();
        assert!(
            err.starts_with(CENTRAL_CA_ENV) && err.contains("missing.pem"),
            "{err}"
        );
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello").unwrap();
        let err = central_http_client_with_ca(SECOND, SECOND, Some(&garbage)).unwrap_err();
        assert!(err.starts_with(CENTRAL_CA_ENV), "{err}");
        assert!(central_http_client_with_ca(SECOND, SECOND, None).is_ok());
    }
}
