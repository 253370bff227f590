//! Unit tests of PayPal's offline webhook verification: a fixed vector made outside this code
//! (OpenSSL signed it), the CRC-32 check value, and a key and certificate of the test's own
//! (rcgen) signed with ring to prove what is accepted and what is refused.

use super::*;
use rustls_pki_types::PrivatePkcs8KeyDer;

/// A vector made with OpenSSL (`openssl req -x509`, `openssl dgst -sha256 -sign`), not by this
/// code: the certificate, the body as delivered, its headers and the signature.
const VECTOR_CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIDTTCCAjWgAwIBAgIUUterGEu8so4wLQz+gPrgQ/zn7cIwDQYJKoZIhvcNAQEL\nBQAwNjE0MDIGA1UEAwwrbWVzc2FnZXZlcmlmaWNhdGlvbmNlcnRzLnNhbmRib3gu\ncGF5cGFsLmNvbTAeFw0yNjExMzAxNjU5NTRaFw0zNjExMjcxNjU5NTRaMDYxNDAy\nBgNVBAMMK21lc3NhZ2V2ZXJpZmljYXRpb25jZXJ0cy5zYW5kYm94LnBheXBhbC5j\nb20wggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCpy8HqkGVr5GaXcuEs\nnH4B5emt46itAEGFUuzHEnoTqX82CH46DtjrLrdhu0NNCB6rStmXz2BxKokdLNMj\nCCEX37IpatnzcDn/NqBl23GWqldcOe9dgaEkjM7hRDYcM9JJCntGzUOyxrUwLwow\nV9cn+hHET3pJu51dXYopNgyhrWBrQvctBzA2A+e/bH/nXc4IproQdWNKeWhIO85x\nCSulGmYPr0udydOJAuE2QOQtdQ249P8gRb0qhv7l/73aNS372CnrRRLPMJN2kEzl\n29MneIMdEZFHIWeShIURhh31eoWF89sSHJ9u0j2eOR91TNtWW5oK54kQUjDKBa1j\ne621AgMBAAGjUzBRMB0GA1UdDgQWBBRj2fctOyPeleceaEqmiF3cEkhY7TAfBgNV\nHSMEGDAWgBRj2fctOyPeleceaEqmiF3cEkhY7TAPBgNVHRMBAf8EBTADAQH/MA0G\nCSqGSIb3DQEBCwUAA4IBAQCbQoaFivi6a/dChMBAt3Eg4VKrISrgjmuypGeqknM2\n8FyQnEvJBP9CXFMThtVkY+gWEs22bNcd/xaPhOVdQjaL7XRoq5oa7axgUTUpCZil\noUNFsOnEPaAg9VkdnTHu19TvQjL6cH81x2Ljc7bChOJMg7tQf7V+elZSaCP2ZjGd\n/3saBWjQD4jALHswk6BfdPzgYeBCq/572ET7/kMagFD/DDW3XWvvrAA0S/nYYRYc\n3QMci54cLjuDx5yyBZN6/p656FGeow0q+0A42KEulQSmxoxuIGdJ/LAhHeqN+O1t\nPr7LNjJWJ/CAvKsShg0YGwHj2voSSNZMc7fJC9tO6x31\n-----END CERTIFICATE-----";
const VECTOR_BODY: &str = r#"{"id":"WH-2WR32451HC0233532-67976317FL4543714","event_version":"1.0","create_time":"2026-11-30T17:00:00.000Z","resource_type":"capture","event_type":"PAYMENT.CAPTURE.COMPLETED","summary":"Payment completed for EUR 12.5 EUR","resource":{"id":"42311647XV020574X","status":"COMPLETED","amount":{"currency_code":"EUR","value":"12.50"},"invoice_id":"o-1","custom_id":"a1|1|t1","supplementary_data":{"related_ids":{"order_id":"5O190127TN364715T"}}}}"#;
const VECTOR_ID: &str = "b9a5f7a0-af3a-11f1-9a2c-2f3e1c6e8b01";
const VECTOR_TIME: &str = "2026-11-30T17:00:02Z";
const VECTOR_TIME_S: i64 = 1_796_058_002;
const VECTOR_CRC: u32 = 976_659_331;
const VECTOR_SIG: &str = "SxfbXyRgpX3eR5bm4RPL4cMUB31orLoZk6tCEm3/GeTHr88E8BRkXLgl0227S4uMUo8Oy2+bRU11/Tm7fED4ObFfof2zI8yH4gFlbt31FCQOAX1BeVwO8LZSVrd1ibzCNwyVNQ79wOXfWjc7+maBu7q/cju398mbJTwxhnuje0IbqOvr7OZhSxhhTsJGHVld8eTeij2ccKDmxEQgbKdxFa86SLcqlGsdABylTmAVuswy8gZVgAlYg3FUdQTXNZuN+oltWImibELKb5HZteDvvZXPtcq1FDOkPlW3XSct6HH+cDkprUfncWZbV18BJse/gfy+2vvAmJBtpBt7azShGA==";

/// A 2048-bit RSA key for the tests' own certificates (test-only, made with OpenSSL).
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDTctCDP01lxVvF\nlhRjBwTZhxt3AndMOJF1TA64rhAZrIn8Eyg11KkR3vKI4CYIrxNPutTY1R+Qkuag\n2QtfwTCngN9gSNN550pKdTDvOia2C8gyGhnXzWOP7Q0vOgQVGkR5TbFD/ct3/ZAB\nWOeOUsjgC+e8dENDM24BVHOr9PkPbW4Ed4eJ3kUaazUnW0UYgwY9kn/MYB+/+570\nMK1U4GFUnmi1MVqa55o/l807ywA4rWixrnaFb1rNMsed4sDK/JbAWNlqnHzwZ4Cd\n94Hq8UowwWpw+f8Gp22k94LqykVHPqOSRDTuImmz1nVkw4Vkh2IapEsQldhpsN+n\ncdkoQ51JAgMBAAECggEAEeZqWHIHb1IhzrxBxZBWjMOvQ4fl6YHwbmmd5Wx22HWO\nyNQmV0hFd8nT5lpzXdDUZa9/TUvdfDOzanJ1UAnewI9cWZ5QqMU3uM3q8pWNqWOd\n8v/aqDYu84Qx1YmnxtGOcmZtV0Ao9WN1yWdpUtcXQkA/wehluU6lRV+M20XFv9Rw\nUmrF6XK4vSHqciG+Iysw2zVt33RnZ8ht4Yov9a4DxCbSbGvAMeYIxhDd8fskil++\nBclfLIZ2alKMLBJwgmg3DG2MtSCzsc2bjuUzBAIY5j5cVkqdn74IPj7XghAa/ljz\nqH6UWjSY8wDgHw7BP77EZur2Hj/ULrdA/JxzCvWHsQKBgQDsDmNLu3Q39GPKkx7r\nSdwP0NNESWe4+ToLRZERA0oFQGhg2dkudzWtSYZuCLiU7DmrXs7cPlWd2fuZza5U\nkJKe9RrUpw92eKGh6tlgLIbQuojEk7maZ7BzN/ERfeA+YNFV+otEBGfS9ku8tm1t\nngveSE0Kuk+UkRVMjYlkasz2ewKBgQDlUDEC8r7aZfPfCol9M+ufMlEtoMQJMLUi\nQ8Dy433t+YNug2NnIEUXCe0CyFb2lGv4IZ71XkfuAn2R6hvZFgUgAC/BFlu09Noc\nI3yLQ0F1M3DSr1d35GEbc4cCFl5CCMJ7e+77NndxqPhloIuatJQOW1JnmELUnfCs\n8ocz+6MyCwKBgQCH5/C7VX2gCZC6vOF8TdXpNS2tjyWslbEZdEAFL4Oaam6t9D7a\nRcAduMsw5sx+0VKSm881dp4Md8gn0QehoGsKIcwEyvpYFzPX6UKl4HzuB7delj6x\n6yjn7TlZ/MLypwNfIRS1YGP2Td9lExMFnYzvuWjB2Gqg+rbskECeE+9VqQKBgAjA\nP66SHvBstZrMZyTNB2/i1rA8E18aab8uAL4EKnkbbYWZJAD6fUh8y3uws4jjbx9g\nARXyDCKsG6im23s0WOu4thnTRZqpQW2TeRxDa8sSNHsFz/u2TnJivUM6IUy50tot\nh5g0ouhGf3w5XTqBK6lEmOd1Kw+8G0QuWTSFpNuzAoGAT6iYbqnYzjMhgGODS34z\nq0sy5m7e7w5oLwHV/mTd0EFE6bSdUEUkV8BatAgzOlH5onQcybJkR7qZ8kv/k+Cx\nURYD5cRnkEc3CX17kRjnW76b3OHgakKN6VPPVHlcpGA1zoIBR1u6/VFJTbGJ5IuG\n0+nBvNI9ECMSMKSWtSr6guw=\n-----END PRIVATE KEY-----";

fn headers(id: &str, time: &str, sig: &str, cert_url: Option<&str>) -> PaypalHeaders {
    PaypalHeaders {
        transmission_id: id.into(),
        transmission_time: time.into(),
        signature_b64: sig.into(),
        cert_url: cert_url.map(str::to_string),
        auth_algo: AUTH_ALGO.into(),
    }
}

fn pinned(webhook_id: &str, pem: &[u8]) -> PaypalVerifier {
    PaypalVerifier::new(PaypalWebhookSettings {
        cert_pem: Some(pem.to_vec()),
        ..PaypalWebhookSettings::new(webhook_id)
    })
    .unwrap()
}

/// The test's own certificate (PEM) and a signer with its key.
fn own_cert() -> (String, ring::signature::RsaKeyPair) {
    let key = rcgen::KeyPair::from_pem(TEST_KEY).unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["messageverificationcerts.sandbox.paypal.com".into()])
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    let der = PrivatePkcs8KeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap();
    let signer = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    (cert.pem(), signer)
}

fn sign(signer: &ring::signature::RsaKeyPair, message: &str) -> String {
    let mut sig = vec![0; signer.public().modulus_len()];
    signer
        .sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut sig,
        )
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(sig)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn crc32_is_zlibs_and_printed_unsigned() {
    // The standard CRC-32 check value, above i32::MAX: it must not print negative.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(
        signed_message("t", "2026-01-01T00:00:00Z", "WEBHOOK_ID", b"123456789"),
        "t|2026-01-01T00:00:00Z|WEBHOOK_ID|3421780262"
    );
    assert_eq!(crc32(VECTOR_BODY.as_bytes()), VECTOR_CRC);
}

#[test]
fn the_openssl_vector_verifies_and_nothing_else_does() {
    let v = pinned("WEBHOOK_ID", VECTOR_CERT.as_bytes());
    let h = headers(VECTOR_ID, VECTOR_TIME, VECTOR_SIG, None);
    assert_eq!(
        block_on(v.verify(&h, VECTOR_BODY.as_bytes(), VECTOR_TIME_S + 10)),
        Ok(())
    );
    // One byte of the body changed.
    let tampered = VECTOR_BODY.replace("12.50", "12.51");
    assert_eq!(
        block_on(v.verify(&h, tampered.as_bytes(), VECTOR_TIME_S)),
        Err(PaypalSignatureError::Mismatch)
    );
    // Another webhook id (a delivery meant for another listener).
    let other = pinned("8PT597110X687430LKGECATA", VECTOR_CERT.as_bytes());
    assert_eq!(
        block_on(other.verify(&h, VECTOR_BODY.as_bytes(), VECTOR_TIME_S)),
        Err(PaypalSignatureError::Mismatch)
    );
    // Another transmission id than the one signed.
    let h2 = headers("b9a5f7a0-0000", VECTOR_TIME, VECTOR_SIG, None);
    assert_eq!(
        block_on(v.verify(&h2, VECTOR_BODY.as_bytes(), VECTOR_TIME_S)),
        Err(PaypalSignatureError::Mismatch)
    );
}

#[test]
fn the_tests_own_certificate_accepts_its_signatures_and_refuses_the_rest() {
    let (pem, signer) = own_cert();
    let v = pinned("WH-ID-1", pem.as_bytes());
    let body = br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}"#;
    let time = "2026-11-30T17:00:00.123Z";
    let now = parse_rfc3339(time).unwrap();
    let sig = sign(&signer, &signed_message("tx-1", time, "WH-ID-1", body));
    let h = headers("tx-1", time, &sig, Some("https://evil.example/cert.pem"));
    // With a configured certificate the URL is not used at all.
    assert_eq!(block_on(v.verify(&h, body, now)), Ok(()));
    assert_eq!(v.cached_certificates(), 0);
    assert_eq!(
        block_on(v.verify(
            &h,
            br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.DENIED"}"#,
            now
        )),
        Err(PaypalSignatureError::Mismatch)
    );
    // Signed for another webhook id.
    let sig_other = sign(&signer, &signed_message("tx-1", time, "WH-ID-2", body));
    let h_other = headers("tx-1", time, &sig_other, None);
    assert_eq!(
        block_on(v.verify(&h_other, body, now)),
        Err(PaypalSignatureError::Mismatch)
    );
    // A certificate of another key (the OpenSSL vector's) refuses this signature.
    let v_other = pinned("WH-ID-1", VECTOR_CERT.as_bytes());
    assert_eq!(
        block_on(v_other.verify(&h, body, now)),
        Err(PaypalSignatureError::Mismatch)
    );
    // Too old and too far ahead; the edge of the tolerance still passes.
    let tol = TRANSMISSION_TOLERANCE_S_DEFAULT;
    for late in [now + tol + 1, now - tol - 1] {
        assert_eq!(
            block_on(v.verify(&h, body, late)),
            Err(PaypalSignatureError::Expired(tol))
        );
    }
    assert_eq!(block_on(v.verify(&h, body, now + tol)), Ok(()));
    // Another algorithm, a bad time, a signature that is not base64.
    let mut h_algo = h.clone();
    h_algo.auth_algo = "SHA1withRSA".into();
    assert_eq!(
        block_on(v.verify(&h_algo, body, now)),
        Err(PaypalSignatureError::Algorithm)
    );
    let h_time = headers("tx-1", "yesterday", &sig, None);
    assert_eq!(
        block_on(v.verify(&h_time, body, now)),
        Err(PaypalSignatureError::BadTime)
    );
    let h_b64 = headers("tx-1", time, "not base64!", None);
    assert_eq!(
        block_on(v.verify(&h_b64, body, now)),
        Err(PaypalSignatureError::BadSignatureEncoding)
    );
}

#[test]
fn certificate_urls_off_paypals_hosts_are_refused_before_any_fetch() {
    let v = PaypalVerifier::new(PaypalWebhookSettings::new("WH-ID-1")).unwrap();
    let time = "2026-11-30T17:00:00Z";
    let now = parse_rfc3339(time).unwrap();
    let body = b"{}";
    for (url, why) in [
        ("https://evil.example/v1/notifications/certs/CERT-1", "host"),
        ("https://api.paypal.com.evil.example/certs/CERT-1", "host"),
        (
            "http://api.paypal.com/v1/notifications/certs/CERT-1",
            "https",
        ),
        (
            "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
            "port",
        ),
        (
            "https://me@api.paypal.com/v1/notifications/certs/CERT-1",
            "user",
        ),
        ("api.paypal.com/cert", "URL"),
    ] {
        let h = headers("tx-1", time, "AAAA", Some(url));
        match block_on(v.verify(&h, body, now)) {
            Err(PaypalSignatureError::CertUrl(m)) => assert!(m.contains(why), "{url}: {m}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    // Without a configured certificate the URL is required.
    let h = headers("tx-1", time, "AAAA", None);
    assert_eq!(
        block_on(v.verify(&h, body, now)),
        Err(PaypalSignatureError::Missing("paypal-cert-url"))
    );
    assert_eq!(v.cached_certificates(), 0);
    // PayPal's four hosts pass the check, in any case.
    let hosts: Vec<String> = PAYPAL_CERT_HOSTS.iter().map(|h| h.to_string()).collect();
    for host in PAYPAL_CERT_HOSTS {
        let url = format!(
            "https://{}/v1/notifications/certs/CERT-360caa42",
            host.to_uppercase()
        );
        assert!(check_cert_url(&url, &hosts).is_ok(), "{url}");
    }
}

#[test]
fn headers_are_read_and_missing_ones_named() {
    let all = [
        ("paypal-transmission-id", "tx"),
        ("paypal-transmission-time", "2026-11-30T17:00:00Z"),
        ("paypal-transmission-sig", "AAAA"),
        ("paypal-auth-algo", "SHA256withRSA"),
        ("paypal-cert-url", "https://api.paypal.com/c"),
    ];
    let get = |skip: &str| {
        let skip = skip.to_string();
        move |name: &str| {
            all.iter()
                .find(|(n, _)| *n == name && *n != skip)
                .map(|(_, v)| *v)
        }
    };
    let h = PaypalHeaders::read(get("")).unwrap();
    assert_eq!(h.cert_url.as_deref(), Some("https://api.paypal.com/c"));
    assert!(PaypalHeaders::read(get("paypal-cert-url"))
        .unwrap()
        .cert_url
        .is_none());
    for name in [
        "paypal-transmission-id",
        "paypal-transmission-time",
        "paypal-transmission-sig",
        "paypal-auth-algo",
    ] {
        assert_eq!(
            PaypalHeaders::read(get(name)),
            Err(PaypalSignatureError::Missing(name))
        );
    }
}

#[test]
fn rfc3339_times_parse() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339(VECTOR_TIME), Some(VECTOR_TIME_S));
    assert_eq!(
        parse_rfc3339("2026-11-30T17:00:02.999Z"),
        Some(VECTOR_TIME_S)
    );
    assert_eq!(
        parse_rfc3339("2026-11-30T18:00:02+01:00"),
        Some(VECTOR_TIME_S)
    );
    assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
    for bad in [
        "",
        "2026-11-30",
        "2026-13-01T00:00:00Z",
        "2026-11-30T17:00:00",
        "2026-11-30T17:00:00.Z",
        "+026-11-30T17:00:00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn bad_settings_are_refused_in_words() {
    assert!(PaypalVerifier::new(PaypalWebhookSettings::new(" ")).is_err());
    let not_pem = PaypalVerifier::new(PaypalWebhookSettings {
        cert_pem: Some(b"hello".to_vec()),
        ..PaypalWebhookSettings::new("WH")
    })
    .unwrap_err();
    assert!(not_pem.contains("no CERTIFICATE block"), "{not_pem}");
}
