//! The OAuth token request parser on any request.
//!
//! Input: three lines, then the body: the Content-Type, the Authorization header (an empty
//! line is no header) and the query string. Beyond never panicking:
//! - a refusal is one of RFC 6749's errors, with the status it implies;
//! - an accepted request took each parameter from one place only: no parameter appears
//!   twice across the query string and the body, and credentials never come from both
//!   HTTP Basic and the parameters;
//! - any client id and secret it returns, form-encoded into HTTP Basic as a client sends
//!   them (RFC 6749 §2.3.1), read back as the same id and secret.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use runledger::http::oauth::{MAX_BODY, parse_token_request};

const PARAMETERS: [&str; 4] = ["grant_type", "client_id", "client_secret", "scope"];

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let (Some(content_type), Some(authorization), Some(query)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let body = parts.next().unwrap_or_default();
    let (Ok(content_type), Ok(authorization), Ok(query)) = (
        std::str::from_utf8(content_type),
        std::str::from_utf8(authorization),
        std::str::from_utf8(query),
    ) else {
        return;
    };
    let content_type = (!content_type.is_empty()).then_some(content_type);
    let authorization = (!authorization.is_empty()).then_some(authorization);

    let request = match parse_token_request(content_type, authorization, query, body) {
        Ok(request) => request,
        Err(e) => {
            assert!(
                matches!(e.error, "invalid_request" | "invalid_client"),
                "{e:?}"
            );
            assert_eq!(
                e.status(),
                if e.error == "invalid_client" {
                    401
                } else {
                    400
                }
            );
            return;
        }
    };
    assert!(body.len() <= MAX_BODY);
    let has_body = body.iter().any(|b| !b.is_ascii_whitespace());
    let body = if has_body { body } else { b"" };
    let given = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .chain(form_urlencoded::parse(body))
            .filter(|(k, _)| k == name)
            .count()
    };
    for name in PARAMETERS {
        assert!(given(name) <= 1, "{name} given twice, yet accepted");
    }
    let value = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .chain(form_urlencoded::parse(body))
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(request.grant_type, value("grant_type"));
    assert_eq!(request.scope, value("scope"));
    if let Some(header) = authorization {
        assert!(
            header.trim().to_ascii_lowercase().starts_with("basic"),
            "{header:?}"
        );
        assert_eq!(given("client_id") + given("client_secret"), 0);
        // Each half of `id:secret` is form-decoded whole, never cut short.
        let credentials = header.trim()[5..].trim();
        let decoded = STANDARD
            .decode(credentials)
            .expect("accepted Basic is base64");
        let decoded = String::from_utf8(decoded).expect("accepted Basic is UTF-8");
        let (id, secret) = decoded.split_once(':').expect("accepted Basic has a colon");
        assert_eq!(request.client_id.as_deref(), Some(form_decode(id).as_str()));
        assert_eq!(
            request.client_secret.as_deref(),
            Some(form_decode(secret).as_str())
        );
    } else {
        assert_eq!(request.client_id, value("client_id"));
        assert_eq!(request.client_secret, value("client_secret"));
    }

    // The same credentials, as a client puts them into HTTP Basic.
    if let (Some(id), Some(secret)) = (&request.client_id, &request.client_secret) {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
        );
        let again = parse_token_request(None, Some(&basic), "", b"")
            .unwrap_or_else(|e| panic!("{basic} refused: {e:?}"));
        assert_eq!(
            (&again.client_id, &again.client_secret),
            (&request.client_id, &request.client_secret)
        );
    }
});

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 2;
            }
            (b, _, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
