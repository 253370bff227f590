//! PayPal webhooks verified offline: the signature PayPal puts in `PAYPAL-TRANSMISSION-SIG` is
//! RSA-SHA256 (PKCS#1 v1.5) over `transmission_id|transmission_time|webhook_id|crc32(body)`, with
//! the CRC-32 of the raw body as an unsigned decimal and the webhook id this central was given
//! when the webhook was registered at PayPal (the simulator's events use the literal
//! `WEBHOOK_ID`).
//!
//! The public key comes from a certificate: the PEM file the central is configured with (then
//! `PAYPAL-CERT-URL` is not used), or the certificate at `PAYPAL-CERT-URL`, fetched only after the
//! URL is checked to be `https` on one of PayPal's API hosts (no user, no other port) and cached by
//! URL. The transmission time must lie within a tolerance of the central's clock, so a captured
//! delivery cannot be replayed later (the event-id deduplication catches replays within it).
//!
//! Deliberately absent: the online check (`POST /v1/notifications/verify-webhook-signature`,
//! which needs PayPal credentials at the central and cannot verify simulator events); checking
//! the fetched certificate's chain and validity dates (the certificate is trusted because it came
//! over TLS from a PayPal host, which the TLS client verified; a configured file is trusted
//! because an administrator put it there); parsing events and their effect on orders
//! (`http_paypal` and the store); reading the clock (`now` is passed).

pub mod event;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// How far `PAYPAL-TRANSMISSION-TIME` may be from the central's clock, in seconds (as Stripe's).
pub const TRANSMISSION_TOLERANCE_S_DEFAULT: i64 = 300;
/// The hosts a `PAYPAL-CERT-URL` may name: PayPal's live and sandbox REST API hosts, old and
/// new (`api-m`) names. Further hosts can be configured (`--paypal-cert-host`).
pub const PAYPAL_CERT_HOSTS: [&str; 4] = [
    "api.paypal.com",
    "api-m.paypal.com",
    "api.sandbox.paypal.com",
    "api-m.sandbox.paypal.com",
];
/// The only `PAYPAL-AUTH-ALGO` accepted.
pub const AUTH_ALGO: &str = "SHA256withRSA";
/// Largest certificate document read from a certificate URL (PayPal's chain is ~5 KB).
const CERT_BYTES_MAX: usize = 64 * 1024;
/// Certificates kept in the cache; a full cache is emptied before the next one is added.
const CERT_CACHE_MAX: usize = 16;
/// Longest a certificate fetch may take.
const CERT_FETCH_TIMEOUT_MS: u64 = 10_000;
/// Longest header value accepted for the transmission id and time (PayPal's are ~40 bytes).
const HEADER_LEN_MAX: usize = 200;

/// Why a PayPal webhook was refused. The messages are safe to return to the sender: they name
/// what was wrong, never a key or the configured webhook id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaypalSignatureError {
    #[error("missing or unreadable {0} header")]
    Missing(&'static str),
    #[error("PAYPAL-AUTH-ALGO must be SHA256withRSA")]
    Algorithm,
    #[error("PAYPAL-TRANSMISSION-TIME is not an RFC 3339 time such as 2026-11-30T17:00:00Z")]
    BadTime,
    #[error("the transmission time is more than {0} s from the server's clock: send it again")]
    Expired(i64),
    #[error("PAYPAL-TRANSMISSION-SIG is not base64")]
    BadSignatureEncoding,
    #[error("PAYPAL-CERT-URL is refused: {0}")]
    CertUrl(String),
    #[error("the certificate at PAYPAL-CERT-URL could not be fetched; PayPal will retry")]
    CertFetch,
    #[error("the certificate is not a usable X.509 certificate: {0}")]
    BadCert(String),
    #[error("the signature does not match the event (body, webhook id or certificate differ)")]
    Mismatch,
}

/// The signature headers of one delivery, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaypalHeaders {
    pub transmission_id: String,
    pub transmission_time: String,
    pub signature_b64: String,
    pub cert_url: Option<String>,
    pub auth_algo: String,
}

impl PaypalHeaders {
    /// Reads the headers through `get` (header name → value); a missing one is named.
    pub fn read<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<PaypalHeaders, PaypalSignatureError> {
        let need = |name: &'static str, max: usize| {
            get(name)
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= max)
                .map(str::to_string)
                .ok_or(PaypalSignatureError::Missing(name))
        };
        Ok(PaypalHeaders {
            transmission_id: need("paypal-transmission-id", HEADER_LEN_MAX)?,
            transmission_time: need("paypal-transmission-time", HEADER_LEN_MAX)?,
            signature_b64: need("paypal-transmission-sig", 4096)?,
            auth_algo: need("paypal-auth-algo", HEADER_LEN_MAX)?,
            cert_url: get("paypal-cert-url")
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
        })
    }
}

/// CRC-32 (IEEE, as zlib's) of the raw body.
pub fn crc32(body: &[u8]) -> u32 {
    crc32fast::hash(body)
}

/// The text PayPal signs: `transmission_id|transmission_time|webhook_id|crc32` (decimal).
pub fn signed_message(
    transmission_id: &str,
    transmission_time: &str,
    webhook_id: &str,
    body: &[u8],
) -> String {
    format!(
        "{transmission_id}|{transmission_time}|{webhook_id}|{}",
        crc32(body)
    )
}

/// Seconds since the Unix epoch of an RFC 3339 time (`2026-11-30T17:00:00Z`, fractions and
/// `+hh:mm` offsets accepted), or `None`.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset_s)
}

/// Checks a `PAYPAL-CERT-URL` before anything is fetched from it: `https`, no user or password,
/// the default port, and a host in `hosts` (compared without case).
pub fn check_cert_url(url: &str, hosts: &[String]) -> Result<reqwest::Url, PaypalSignatureError> {
    let refused = |why: &str| PaypalSignatureError::CertUrl(why.to_string());
    let parsed = reqwest::Url::parse(url).map_err(|_| refused("not a URL"))?;
    if parsed.scheme() != "https" {
        return Err(refused("it must be https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused("it must not carry a user or password"));
    }
    if parsed.port().is_some() {
        return Err(refused("it must use the default https port"));
    }
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    if !hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return Err(refused("its host is not one of PayPal's API hosts"));
    }
    Ok(parsed)
}

/// The first certificate of a PEM document (the leaf of a chain), checked to parse as X.509.
pub fn leaf_certificate(pem: &[u8]) -> Result<Vec<u8>, PaypalSignatureError> {
    let first = CertificateDer::pem_slice_iter(pem)
        .next()
        .ok_or_else(|| {
            PaypalSignatureError::BadCert("no CERTIFICATE block in the PEM text".into())
        })?
        .map_err(|e| PaypalSignatureError::BadCert(format!("unreadable PEM: {e:?}")))?;
    webpki::EndEntityCert::try_from(&first)
        .map_err(|e| PaypalSignatureError::BadCert(format!("{e:?}")))?;
    Ok(first.as_ref().to_vec())
}

/// Verifies an RSA PKCS#1 v1.5 SHA-256 signature of `message` with the certificate's key.
pub fn verify_with_certificate(
    cert_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), PaypalSignatureError> {
    let der = CertificateDer::from(cert_der);
    let cert = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| PaypalSignatureError::BadCert(format!("{e:?}")))?;
    cert.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, message, signature)
        .map_err(|_| PaypalSignatureError::Mismatch)
}

/// What a central needs to verify PayPal's webhooks.
#[derive(Debug, Clone)]
pub struct PaypalWebhookSettings {
    /// The webhook id PayPal gave when the webhook was registered (`WEBHOOK_ID` for the
    /// simulator).
    pub webhook_id: String,
    /// A PEM certificate to verify with instead of fetching `PAYPAL-CERT-URL`.
    pub cert_pem: Option<Vec<u8>>,
    /// Hosts a certificate URL may name; PayPal's four by default.
    pub cert_hosts: Vec<String>,
    pub tolerance_s: i64,
}

impl PaypalWebhookSettings {
    /// PayPal's hosts, the default tolerance, no certificate file.
    pub fn new(webhook_id: impl Into<String>) -> PaypalWebhookSettings {
        PaypalWebhookSettings {
            webhook_id: webhook_id.into(),
            cert_pem: None,
            cert_hosts: PAYPAL_CERT_HOSTS.iter().map(|h| h.to_string()).collect(),
            tolerance_s: TRANSMISSION_TOLERANCE_S_DEFAULT,
        }
    }
}

/// Verifies deliveries; holds the configured certificate and the cache of fetched ones.
pub struct PaypalVerifier {
    webhook_id: String,
    pinned: Option<Vec<u8>>,
    hosts: Vec<String>,
    tolerance_s: i64,
    cache: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    client: reqwest::Client,
}

impl std::fmt::Debug for PaypalVerifier {
    // The webhook id is configuration, not a secret, but it stays out of logs anyway.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaypalVerifier")
            .field("certificate_file", &self.pinned.is_some())
            .field("hosts", &self.hosts)
            .field("tolerance_s", &self.tolerance_s)
            .finish_non_exhaustive()
    }
}

impl PaypalVerifier {
    /// Checks the settings; errors say what to fix.
    pub fn new(settings: PaypalWebhookSettings) -> Result<PaypalVerifier, String> {
        let webhook_id = settings.webhook_id.trim().to_string();
        if webhook_id.is_empty() || webhook_id.len() > 200 || webhook_id.contains('|') {
            return Err("the PayPal webhook id must be the id PayPal shows for the webhook (1 to 200 characters, no '|')".into());
        }
        if settings.tolerance_s <= 0 {
            return Err("the PayPal transmission-time tolerance must be positive".into());
        }
        let pinned = match &settings.cert_pem {
            Some(pem) => {
                Some(leaf_certificate(pem).map_err(|e| format!("PayPal certificate file: {e}"))?)
            }
            None => None,
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(CERT_FETCH_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTPS client for PayPal certificates: {e}"))?;
        Ok(PaypalVerifier {
            webhook_id,
            pinned,
            hosts: settings.cert_hosts,
            tolerance_s: settings.tolerance_s,
            cache: Mutex::new(HashMap::new()),
            client,
        })
    }

    /// Verifies one delivery: algorithm, time, then the certificate (the configured one, or the
    /// URL's after its check), then the RSA signature. Nothing is fetched for a delivery that
    /// fails the cheap checks or names a URL off PayPal's hosts.
    pub async fn verify(
        &self,
        headers: &PaypalHeaders,
        body: &[u8],
        now_s: i64,
    ) -> Result<(), PaypalSignatureError> {
        self.precheck(headers, now_s)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(headers.signature_b64.as_bytes())
            .map_err(|_| PaypalSignatureError::BadSignatureEncoding)?;
        let cert = match &self.pinned {
            Some(der) => Arc::new(der.clone()),
            None => self.certificate_at(headers.cert_url.as_deref()).await?,
        };
        let message = signed_message(
            &headers.transmission_id,
            &headers.transmission_time,
            &self.webhook_id,
            body,
        );
        verify_with_certificate(&cert, message.as_bytes(), &signature)
    }

    fn precheck(&self, headers: &PaypalHeaders, now_s: i64) -> Result<(), PaypalSignatureError> {
        if headers.auth_algo != AUTH_ALGO {
            return Err(PaypalSignatureError::Algorithm);
        }
        let sent =
            parse_rfc3339(&headers.transmission_time).ok_or(PaypalSignatureError::BadTime)?;
        if now_s.abs_diff(sent) > self.tolerance_s.unsigned_abs() {
            return Err(PaypalSignatureError::Expired(self.tolerance_s));
        }
        if self.pinned.is_none() {
            let url = headers
                .cert_url
                .as_deref()
                .ok_or(PaypalSignatureError::Missing("paypal-cert-url"))?;
            check_cert_url(url, &self.hosts)?;
        }
        Ok(())
    }

    async fn certificate_at(
        &self,
        url: Option<&str>,
    ) -> Result<Arc<Vec<u8>>, PaypalSignatureError> {
        let url = url.ok_or(PaypalSignatureError::Missing("paypal-cert-url"))?;
        let checked = check_cert_url(url, &self.hosts)?;
        if let Some(hit) = self.cache.lock().expect("certificate cache").get(url) {
            return Ok(hit.clone());
        }
        let fetched = self.fetch(checked).await?;
        let der = Arc::new(leaf_certificate(&fetched)?);
        let mut cache = self.cache.lock().expect("certificate cache");
        if cache.len() >= CERT_CACHE_MAX {
            cache.clear();
        }
        cache.insert(url.to_string(), der.clone());
        Ok(der)
    }

    async fn fetch(&self, url: reqwest::Url) -> Result<Vec<u8>, PaypalSignatureError> {
        let mut response = self.client.get(url).send().await.map_err(|e| {
            tracing::warn!(error = %e, "PayPal certificate fetch failed");
            PaypalSignatureError::CertFetch
        })?;
        if !response.status().is_success() {
            tracing::warn!(status = %response.status(), "PayPal certificate fetch refused");
            return Err(PaypalSignatureError::CertFetch);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| PaypalSignatureError::CertFetch)?
        {
            if body.len() + chunk.len() > CERT_BYTES_MAX {
                return Err(PaypalSignatureError::BadCert(
                    "the certificate document is too large".into(),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Certificates cached so far (for tests and health output).
    pub fn cached_certificates(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
