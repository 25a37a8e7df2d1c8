//! The HTTP client of `runledger exec`: JSON calls to the Coupa API of a running server, with
//! OAuth client credentials or an API key, and failures sorted into "try again later" and
//! "refused for good". No message it makes carries a credential or the server's userinfo.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::config::Secret;

/// How long a connection may take to open: a server that is down must not hold up the
/// command for long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// The header by which exec asks for Runledger's extensions (its `Runledger::Job` type).
pub const EXTENSIONS_HEADER: &str = "X-Runledger-Extensions";

/// Who exec is to the server.
pub enum Credentials {
    /// OAuth 2.0 client credentials, exchanged at `/oauth2/token` for a bearer token.
    Client { id: String, secret: Secret },
    /// A legacy `X-COUPA-API-KEY`.
    ApiKey(Secret),
    /// None given: nothing is sent, and the run waits in the spool.
    None,
}

impl Credentials {
    /// The secrets, so that exec can keep them out of what it sends and stores.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Credentials::Client { secret, .. } | Credentials::ApiKey(secret) => {
                vec![secret.expose()]
            }
            Credentials::None => Vec::new(),
        }
    }
}

/// Why a call did not go through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Sending it again later may work: the server cannot be reached, fails (5xx), is busy
    /// (408, 429), or refuses the credentials (401, 403), which someone may fix.
    Later(String),
    /// The server refused the request itself (any other 4xx): sending it again will not help.
    Refused(String),
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Failure::Later(reason) | Failure::Refused(reason) => reason,
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    /// The server's root, ending in `/`.
    base: Url,
    credentials: Credentials,
    /// The bearer token, once fetched.
    token: Mutex<Option<String>>,
}

impl Client {
    /// A client of the server at `server` (its root URL).
    pub fn new(server: &str, credentials: Credentials) -> Result<Client, String> {
        let mut base = Url::parse(server.trim())
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| "--server must be an http:// or https:// URL".to_owned())?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A redirect could carry the credentials elsewhere; the API never redirects.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot set up HTTP: {}", e.without_url()))?;
        Ok(Client {
            http,
            base,
            credentials,
            token: Mutex::new(None),
        })
    }

    /// The server's root URL as messages show it: without userinfo.
    pub fn server(&self) -> String {
        let mut shown = self.base.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        shown.to_string()
    }

    /// A call to the API: `path` is relative to the root (`api/integration_runs`); `body`
    /// goes as JSON; `extensions` adds `X-Runledger-Extensions: 1`. The answer's JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        extensions: bool,
    ) -> Result<Value, Failure> {
        if matches!(self.credentials, Credentials::None) {
            return Err(Failure::Later(
                "no credentials: set RUNLEDGER_CLIENT_ID and RUNLEDGER_CLIENT_SECRET, \
                 or RUNLEDGER_API_KEY"
                    .into(),
            ));
        }
        let mut renewed = false;
        loop {
            let url = self
                .base
                .join(path)
                .map_err(|e| Failure::Refused(format!("bad path {path}: {e}")))?;
            let mut request = self
                .http
                .request(method.clone(), url)
                .header(ACCEPT, "application/json");
            request = match &self.credentials {
                Credentials::Client { .. } => {
                    request.header(AUTHORIZATION, format!("Bearer {}", self.token().await?))
                }
                Credentials::ApiKey(key) => request.header("X-COUPA-API-KEY", key.expose()),
                Credentials::None => request,
            };
            if extensions {
                request = request.header(EXTENSIONS_HEADER, HeaderValue::from_static("1"));
            }
            if let Some(body) = body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            let response = request.send().await.map_err(|e| self.unreachable(e))?;
            let status = response.status();
            // A token can expire during a long command: fetch a new one, once.
            if status == StatusCode::UNAUTHORIZED
                && matches!(self.credentials, Credentials::Client { .. })
                && !renewed
            {
                renewed = true;
                self.forget_token();
                continue;
            }
            let bytes = response.bytes().await.map_err(|e| self.unreachable(e))?;
            let value = if bytes.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            };
            return match classify(status, &value) {
                None => Ok(value),
                Some(failure) => Err(failure),
            };
        }
    }

    /// A bearer token for the client credentials, fetched once and kept.
    async fn token(&self) -> Result<String, Failure> {
        if let Some(token) = self.token.lock().ok().and_then(|t| t.clone()) {
            return Ok(token);
        }
        let Credentials::Client { id, secret } = &self.credentials else {
            return Err(Failure::Later("no client credentials".into()));
        };
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", id)
            .append_pair("client_secret", secret.expose())
            .finish();
        let url = self
            .base
            .join("oauth2/token")
            .map_err(|e| Failure::Refused(format!("bad token URL: {e}")))?;
        let response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let body: Value = response
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        match body["access_token"].as_str() {
            Some(token) if status.is_success() => {
                if let Ok(mut slot) = self.token.lock() {
                    *slot = Some(token.to_owned());
                }
                Ok(token.to_owned())
            }
            // RFC 6749's error code names the problem (`invalid_client`) without echoing
            // what was sent.
            _ if status.is_server_error() => Err(Failure::Later(format!(
                "the server answered {status} to the token request"
            ))),
            _ => Err(Failure::Later(format!(
                "the server refused the client credentials ({})",
                body["error"].as_str().unwrap_or(status.as_str())
            ))),
        }
    }

    fn forget_token(&self) {
        if let Ok(mut slot) = self.token.lock() {
            *slot = None;
        }
    }

    /// A transport failure, described without the URL (which may hold userinfo).
    fn unreachable(&self, error: reqwest::Error) -> Failure {
        let what = if error.is_timeout() {
            "timed out".to_owned()
        } else {
            // The innermost cause says it best ("Connection refused (os error 111)").
            let mut cause: &dyn std::error::Error = &error;
            while let Some(next) = cause.source() {
                cause = next;
            }
            cause.to_string()
        };
        Failure::Later(format!("cannot reach {}: {what}", self.server()))
    }
}

/// The failure an answer is, if any.
fn classify(status: StatusCode, body: &Value) -> Option<Failure> {
    if status.is_success() {
        return None;
    }
    let messages = messages(body);
    let said = if messages.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {messages}")
    };
    Some(match status.as_u16() {
        401 | 403 => Failure::Later(format!("the server refused the credentials ({said})")),
        408 | 429 => Failure::Later(format!("the server is busy ({said})")),
        400..=499 => Failure::Refused(format!("the server refused it ({said})")),
        _ => Failure::Later(format!("the server failed ({said})")),
    })
}

/// The messages of Coupa's error body, `{"errors": {"<resource>": ["…", …]}}`, in one line.
pub fn messages(body: &Value) -> String {
    let mut all = Vec::new();
    if let Some(errors) = body.get("errors").and_then(Value::as_object) {
        for list in errors.values() {
            match list {
                Value::Array(items) => all.extend(items.iter().filter_map(Value::as_str)),
                Value::String(one) => all.push(one),
                _ => {}
            }
        }
    }
    all.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_sorted_into_later_and_refused() {
        assert_eq!(classify(StatusCode::CREATED, &Value::Null), None);
        let body = json!({"errors": {"integration-run": ["Integration can't be blank"]}});
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, &body),
            Some(Failure::Refused(
                "the server refused it (400 Bad Request: Integration can't be blank)".into()
            ))
        );
        for status in [401, 403, 408, 429, 500, 502, 503] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(
                matches!(classify(status, &Value::Null), Some(Failure::Later(_))),
                "{status}"
            );
        }
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, &Value::Null),
            Some(Failure::Refused(_))
        ));
    }

    #[test]
    fn the_server_is_shown_without_userinfo_and_paths_join_below_it() {
        let client = Client::new(
            "https://robot:hunter2@example.test/runledger?x=1",
            Credentials::None,
        )
        .unwrap();
        assert_eq!(client.server(), "https://example.test/runledger/");
        assert_eq!(
            client.base.join("api/integration_runs").unwrap().path(),
            "/runledger/api/integration_runs"
        );
        assert!(Client::new("127.0.0.1:8080", Credentials::None).is_err());
        assert!(Client::new("ftp://example.test", Credentials::None).is_err());
    }
}
