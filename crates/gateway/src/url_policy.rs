//! Where a secret may be sent: the transport rules every Paydesk client applies to a URL before it
//! puts a token or a key on a request (security review M1).
//!
//! - Plain `http://` only to this machine (127.0.0.0/8, `::1`, `localhost`): anything else would
//!   carry bearer tokens, PINs and keys across the network in clear.
//! - A live gateway key (`sk_live_…`, `rk_live_…`) only over `https://`, and only to Stripe's API
//!   host unless the operator allowed another one explicitly ([`ALLOW_CUSTOM_GATEWAY_ENV`]).
//!
//! The central's URL, the CLI's and the desktop's URLs and the gateway's base URL all go through
//! [`check_transport_url`]; the gateway connector adds [`check_gateway_url`]. Deliberately absent:
//! resolving names (a name that resolves to loopback is still a name another resolver may answer
//! differently, so only the literal forms count as loopback).

use std::net::IpAddr;

use reqwest::Url;

/// Set to `1` to let a live gateway key go to an HTTPS host other than Stripe's API (a proxy in
/// front of Stripe, a Stripe-compatible gateway). It never allows plain HTTP for a live key.
pub const ALLOW_CUSTOM_GATEWAY_ENV: &str = "PAYDESK_ALLOW_CUSTOM_GATEWAY";

/// The only host a live key goes to without [`ALLOW_CUSTOM_GATEWAY_ENV`].
pub const STRIPE_API_HOST: &str = "api.stripe.com";

/// True when [`ALLOW_CUSTOM_GATEWAY_ENV`] is `1` in this process's environment.
pub fn custom_gateway_allowed_by_env() -> bool {
    std::env::var(ALLOW_CUSTOM_GATEWAY_ENV).is_ok_and(|v| v.trim() == "1")
}

/// True for the literal loopback forms: `localhost`, 127.0.0.0/8 and `::1` (also as an
/// IPv4-mapped address).
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// True for an IP address that stays on this machine (for listeners: see the central's serve).
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Parses `url` and refuses what must not carry a secret: a scheme other than `http`/`https`, a
/// URL without a host, and plain `http://` to a host that is not this machine. The message says
/// what to write instead and never contains anything but the URL (which holds no secret).
pub fn check_transport_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| {
        format!(
            "{url:?} is not a URL ({e}): write it as https://host[:port] or http://127.0.0.1:port"
        )
    })?;
    if parsed.host().is_none() {
        return Err(format!(
            "{url:?} has no host: write it as https://host[:port]"
        ));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback_url(&parsed) => Ok(parsed),
        "http" => Err(format!(
            "{url:?} is plain HTTP to another machine: tokens and keys would cross the network \
             unencrypted; use https:// (plain http:// is allowed only to 127.0.0.1, ::1 or \
             localhost)"
        )),
        other => Err(format!(
            "{url:?} uses the scheme {other:?}: only https:// (or http:// to this machine) is \
             accepted"
        )),
    }
}

/// The gateway's rules on top of [`check_transport_url`]: a live key (`test_mode == false`) only
/// over HTTPS, and only to [`STRIPE_API_HOST`] unless `allow_custom_host`.
pub fn check_gateway_url(
    url: &str,
    test_mode: bool,
    allow_custom_host: bool,
) -> Result<Url, String> {
    let parsed = check_transport_url(url)?;
    if test_mode {
        return Ok(parsed);
    }
    if parsed.scheme() != "https" {
        return Err(format!(
            "a live gateway key is never sent over plain HTTP ({url:?}): use https://{STRIPE_API_HOST}, \
             or a test key (sk_test_/rk_test_) against the sandbox"
        ));
    }
    let host = parsed.host_str().unwrap_or_default();
    if !allow_custom_host && !host.eq_ignore_ascii_case(STRIPE_API_HOST) {
        return Err(format!(
            "a live gateway key goes only to {STRIPE_API_HOST}, not to {host:?}: if this gateway is \
             meant (a proxy in front of Stripe), set {ALLOW_CUSTOM_GATEWAY_ENV}=1"
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_only_for_this_machine() {
        for ok in [
            "http://127.0.0.1:8787",
            "http://127.8.9.10",
            "http://localhost:1",
            "http://LOCALHOST:1/",
            "http://[::1]:8787",
            "http://[::ffff:127.0.0.1]:1",
            "https://central.example",
            "https://10.0.0.5:8787",
        ] {
            assert!(check_transport_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.5:8787",
            "http://central.lan",
            "http://localhost.evil.example",
            "http://[::2]:1",
            "http://0.0.0.0:8787",
        ] {
            let err = check_transport_url(bad).unwrap_err();
            assert!(err.contains("plain HTTP"), "{bad}: {err}");
            assert!(err.contains("https://"), "{bad}: {err}");
        }
        assert!(check_transport_url("ftp://127.0.0.1")
            .unwrap_err()
            .contains("scheme"));
        assert!(check_transport_url("central.example")
            .unwrap_err()
            .contains("not a URL"));
    }

    #[test]
    fn a_live_key_goes_only_to_stripe_over_https() {
        assert!(check_gateway_url("https://api.stripe.com", false, false).is_ok());
        assert!(check_gateway_url("http://127.0.0.1:1", true, false).is_ok());
        let over_http = check_gateway_url("http://127.0.0.1:1", false, true).unwrap_err();
        assert!(
            over_http.contains("never sent over plain HTTP"),
            "{over_http}"
        );
        let elsewhere = check_gateway_url("https://stripe.example", false, false).unwrap_err();
        assert!(elsewhere.contains(ALLOW_CUSTOM_GATEWAY_ENV), "{elsewhere}");
        assert!(check_gateway_url("https://stripe.example", false, true).is_ok());
        // A test key is still held to the transport rule.
        assert!(check_gateway_url("http://10.0.0.5", true, true).is_err());
    }
}
