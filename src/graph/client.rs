//! One HTTP exchange with Graph's onlineMeetings API: an [`Operation`] (create, createOrGet,
//! get, find, update, delete) becomes a request, and the answer a meeting, a list of meetings, a
//! confirmation or a `GraphError`. Retries, tokens and deadlines are the pipeline's business.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use super::{
    convert::{meeting_from_dto, meeting_to_dto},
    error::{GraphError, GraphFailure},
    model::{ErrorBodyDto, MeetingListDto, OnlineMeetingDto},
    operation::{Expect, Operation},
    transport::{GraphTransport, Route},
    ApiVersion,
};
use crate::domain::{AcceptLanguage, CalendarEvent, OnlineMeeting, Property, UserId};

/// Everything but RFC 3986 unreserved characters is escaped, so a UPN (`@`, and `#` in guest
/// UPNs) stays one path segment and can't walk the path.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Successful meeting bodies are a few KiB; anything far larger is not a meeting.
const MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;

const USER_AGENT: &str = concat!("meeting-service/", env!("CARGO_PKG_VERSION"));

#[derive(Clone, Debug)]
pub struct GraphClient {
    route: Route,
    /// `{endpoint}/{api_version}/users/`
    users_base: String,
    host: String,
}

/// One attempt of an operation, as sent on the wire.
pub struct GraphRequest<'a> {
    pub organizer: &'a UserId,
    /// What to do; its body (see [`GraphClient::encode`]) is reused as-is across retries.
    pub operation: &'a Operation,
    pub accept_language: Option<&'a AcceptLanguage>,
    pub client_request_id: &'a str,
    pub bearer: &'a str,
    pub timeout: Duration,
}

/// What Graph answered to an operation that succeeded.
#[derive(Debug)]
pub enum GraphAnswer {
    /// Create, createOrGet, get, update: the meeting. `created` is false when createOrGet
    /// answered 200 (the meeting already existed) and for every other operation.
    Meeting { meeting: Box<OnlineMeeting>, created: bool },
    /// Find: the meetings that matched (usually one, possibly none).
    Meetings(Vec<OnlineMeeting>),
    /// Delete, cancel: done.
    Done,
    /// A calendar event.
    Event(Box<CalendarEvent>),
}

/// A successful answer, its HTTP status and Graph's `request-id`.
#[derive(Debug)]
pub struct GraphOutcome {
    pub answer: GraphAnswer,
    pub status: u16,
    pub request_id: Option<String>,
}

impl GraphClient {
    pub fn new(transport: &GraphTransport, endpoint: &Url, api_version: ApiVersion) -> Self {
        let users_base = format!("{}/{}/users/", endpoint.as_str().trim_end_matches('/'), api_version.as_str());
        GraphClient {
            route: transport.route(endpoint),
            users_base,
            host: endpoint.host_str().unwrap_or_default().to_owned(),
        }
    }

    /// The Graph host, for spans (`server.address`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Graph's JSON for a meeting to create: only the properties that are set.
    pub fn encode(meeting: &OnlineMeeting) -> Bytes {
        // Serializing plain structs and JSON values into a Vec cannot fail.
        Bytes::from(serde_json::to_vec(&meeting_to_dto(meeting)).unwrap_or_default())
    }

    /// Graph's JSON for an update: exactly the named top-level properties, those the meeting
    /// leaves unset as `null` (which clears them).
    pub fn encode_properties(meeting: &OnlineMeeting, properties: &[&'static Property]) -> Bytes {
        let mut all = match serde_json::to_value(meeting_to_dto(meeting)) {
            Ok(serde_json::Value::Object(all)) => all,
            _ => serde_json::Map::new(),
        };
        let chosen: serde_json::Map<String, serde_json::Value> =
            properties.iter().map(|p| (p.json.to_owned(), all.remove(p.json).unwrap_or_default())).collect();
        Bytes::from(serde_json::to_vec(&chosen).unwrap_or_default())
    }

    /// The operation's full URL for this organizer.
    pub fn url(&self, organizer: &UserId, operation: &Operation) -> String {
        let segment = utf8_percent_encode(&organizer.as_path_value(), PATH_SEGMENT).to_string();
        format!("{}{segment}{}", self.users_base, operation.path_after_user(PATH_SEGMENT))
    }

    pub async fn send(&self, request: &GraphRequest<'_>) -> Result<GraphOutcome, GraphError> {
        let uri: http::Uri = self
            .url(request.organizer, request.operation)
            .parse()
            .map_err(|e| GraphError::Connect(format!("the request URL: {e}").into()))?;
        let build = || http_request(&uri, request);
        let exchange = tokio::time::timeout(request.timeout, self.route.exchange(&build, MAX_RESPONSE_BYTES))
            .await
            .map_err(|_| GraphError::Timeout)??;

        let headers = &exchange.headers;
        let retry_after =
            header_text(headers, header::RETRY_AFTER.as_str()).as_deref().and_then(super::parse_retry_after);
        let is_json = header_text(headers, header::CONTENT_TYPE.as_str())
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"));
        let answer = Answer {
            status: exchange.status,
            request_id: header_text(headers, "request-id"),
            retry_after,
            is_json,
            body: &exchange.body,
            truncated: exchange.truncated,
        };
        interpret(answer, request.operation.expect())
    }
}

/// The HTTP request of one attempt; built again for a retry, so a call waiting on Graph keeps
/// no copy of it.
fn http_request(uri: &http::Uri, request: &GraphRequest<'_>) -> Result<Request<Bytes>, GraphError> {
    let invalid = |what: &str| GraphError::Connect(format!("{what} is not a valid header value").into());
    let mut authorization =
        HeaderValue::try_from(format!("Bearer {}", request.bearer)).map_err(|_| invalid("the access token"))?;
    // Never indexed by HPACK, never shown by Debug.
    authorization.set_sensitive(true);
    let operation = request.operation;
    let mut builder = Request::builder()
        .method(operation.method())
        .uri(uri.clone())
        .header(header::USER_AGENT, USER_AGENT)
        .header(header::AUTHORIZATION, authorization)
        .header(header::ACCEPT, "application/json")
        // Without it Graph reports newer enum members (invited, coorganizer) as unknownFutureValue.
        .header("prefer", "include-unknown-enum-members")
        .header(
            "client-request-id",
            HeaderValue::try_from(request.client_request_id).map_err(|_| invalid("client-request-id"))?,
        );
    if let Some(language) = request.accept_language {
        builder = builder.header(
            header::ACCEPT_LANGUAGE,
            HeaderValue::try_from(language.as_str()).map_err(|_| invalid("Accept-Language"))?,
        );
    }
    let body = match operation.body() {
        Some(body) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            body.clone()
        }
        None => Bytes::new(),
    };
    builder.body(body).map_err(|e| GraphError::Connect(Box::new(e)))
}

/// What one attempt brought back, read but not yet judged.
#[doc(hidden)]
pub struct Answer<'a> {
    pub status: u16,
    /// The `request-id` header.
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
    /// The Content-Type is `application/json` (with any parameters).
    pub is_json: bool,
    pub body: &'a [u8],
    /// The body was cut at the size limit.
    pub truncated: bool,
}

/// Judges an answer to an operation that `expect`s a kind of body: a meeting, a list, nothing,
/// or the failure with what Graph said about it. Pure (no I/O), so it can be fuzzed and
/// measured alone.
#[doc(hidden)]
pub fn interpret(answer: Answer<'_>, expect: Expect) -> Result<GraphOutcome, GraphError> {
    let Answer { status, request_id, retry_after, is_json, body, truncated } = answer;
    if !(200..300).contains(&status) {
        let error = (!truncated).then(|| serde_json::from_slice::<ErrorBodyDto>(body).ok()).flatten().map(|b| b.error);
        let body_request_id = error.as_ref().and_then(|e| e.inner_error.as_ref()).and_then(|i| i.request_id.clone());
        return Err(GraphError::Status(Box::new(GraphFailure {
            status,
            code: error.as_ref().and_then(|e| e.code.clone()),
            message: error.and_then(|e| e.message),
            request_id: request_id.or(body_request_id),
            retry_after,
        })));
    }

    let invalid = |detail: String| GraphError::InvalidResponse { detail, request_id: request_id.clone() };
    if expect == Expect::Nothing {
        // A delete's 204 has no body; whatever a 200 might carry is not needed.
        return Ok(GraphOutcome { answer: GraphAnswer::Done, status, request_id });
    }
    if truncated {
        return Err(invalid(format!("body larger than {MAX_RESPONSE_BYTES} bytes")));
    }
    if !is_json {
        return Err(invalid("Content-Type is not application/json".into()));
    }
    let answer = match expect {
        Expect::Meetings => {
            let list: MeetingListDto = serde_json::from_slice(body)
                .map_err(|e| invalid(format!("not a collection of onlineMeetings: {e}")))?;
            GraphAnswer::Meetings(list.value.into_iter().map(meeting_from_dto).collect())
        }
        Expect::Created | Expect::CreatedOrExisting | Expect::Meeting => {
            let dto: OnlineMeetingDto =
                serde_json::from_slice(body).map_err(|e| invalid(format!("not an onlineMeeting: {e}")))?;
            if dto.id.is_none() {
                return Err(invalid("the onlineMeeting has no id".into()));
            }
            let created = match expect {
                Expect::Created => true,
                // createOrGet: 201 made it, 200 found it.
                Expect::CreatedOrExisting => status != 200,
                _ => false,
            };
            GraphAnswer::Meeting { meeting: Box::new(meeting_from_dto(dto)), created }
        }
        Expect::Event => {
            let event = super::event::read_event(body).map_err(|e| invalid(format!("not an event: {e}")))?;
            if event.id.is_none() {
                return Err(invalid("the event has no id".into()));
            }
            GraphAnswer::Event(Box::new(event))
        }
        Expect::Nothing => GraphAnswer::Done,
    };
    Ok(GraphOutcome { answer, status, request_id })
}

fn header_text(headers: &header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organizer_is_one_encoded_segment() {
        let transport = GraphTransport::trusting_nothing(false);
        let client = GraphClient::new(&transport, &"https://graph.microsoft.com".parse().unwrap(), ApiVersion::V1);
        let upn = UserId::parse("u", "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com").unwrap();
        let create = Operation::Create { body: Bytes::new() };
        assert_eq!(
            client.url(&upn, &create),
            "https://graph.microsoft.com/v1.0/users/ann_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com/onlineMeetings"
        );
        let oid = UserId::parse("u", "550FAE72-D251-43EC-868C-373732C2704F").unwrap();
        let beta = GraphClient::new(&transport, &"http://127.0.0.1:8081/".parse().unwrap(), ApiVersion::Beta);
        assert_eq!(
            beta.url(&oid, &Operation::CreateOrGet { body: Bytes::new() }),
            "http://127.0.0.1:8081/beta/users/550fae72-d251-43ec-868c-373732c2704f/onlineMeetings/createOrGet"
        );
    }

    #[test]
    fn the_bearer_token_is_sensitive_and_every_attempt_is_built_alike() {
        let organizer = UserId::parse("u", "550FAE72-D251-43EC-868C-373732C2704F").unwrap();
        let language = AcceptLanguage::parse_tag("language", "de-DE").unwrap();
        let operation = Operation::Create { body: Bytes::from_static(b"{}") };
        let request = GraphRequest {
            organizer: &organizer,
            operation: &operation,
            accept_language: Some(&language),
            client_request_id: "7c5f2b0e-8a51-4c43-9a55-1d2b3c4d5e6f",
            bearer: "eyJ0eXAi.secret-token.sig",
            timeout: Duration::from_secs(1),
        };
        let uri: http::Uri = "https://graph.microsoft.com/v1.0/users/x/onlineMeetings".parse().unwrap();
        let built = http_request(&uri, &request).unwrap();
        let authorization = &built.headers()[header::AUTHORIZATION];
        // HPACK never indexes a sensitive value (hyper and h2 honour the flag), Debug hides it.
        assert!(authorization.is_sensitive());
        assert_eq!(authorization, "Bearer eyJ0eXAi.secret-token.sig");
        assert!(!format!("{built:?}").contains("secret-token"));
        assert_eq!(built.headers()["prefer"], "include-unknown-enum-members");
        assert_eq!(built.headers()[header::ACCEPT_LANGUAGE], "de-DE");
        assert_eq!(built.headers()["client-request-id"], "7c5f2b0e-8a51-4c43-9a55-1d2b3c4d5e6f");
        let again = http_request(&uri, &request).unwrap();
        assert_eq!((again.headers(), again.body()), (built.headers(), built.body()), "a retry sends the same request");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::test_corpus::{bodies, mutate, GRAPH_ERRORS};

        fn answer(status: u16, body: &[u8], is_json: bool) -> Answer<'_> {
            Answer { status, request_id: None, retry_after: None, is_json, body, truncated: false }
        }

        #[test]
        fn the_documented_error_bodies_are_read() {
            let seeds = bodies(GRAPH_ERRORS);
            assert!(seeds.len() >= 10, "{} samples", seeds.len());
            let with_code = seeds
                .iter()
                .filter(|(status, body)| match interpret(answer(*status, body, true), Expect::Created) {
                    Err(GraphError::Status(failure)) => failure.code.is_some(),
                    other => panic!("HTTP {status} read as {other:?}"),
                })
                .count();
            assert!(with_code * 10 >= seeds.len() * 8, "codes read from only {with_code} of {}", seeds.len());
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

            /// Graph's documented error bodies, mutated, under any status: a failure or a
            /// meeting, never a panic, and a non-2xx is never a meeting.
            #[test]
            fn mutated_error_bodies_are_judged_without_panicking(
                seed in 0..bodies(GRAPH_ERRORS).len(),
                status in prop_oneof![Just(200u16), Just(201), 400u16..600],
                position in any::<prop::sample::Index>(),
                byte in any::<u8>(),
                cut in any::<bool>(),
                is_json in any::<bool>(),
            ) {
                let (_, seed) = &bodies(GRAPH_ERRORS)[seed];
                let body = mutate(seed, position, byte, cut);
                let judged = interpret(answer(status, &body, is_json), Expect::Created);
                if status >= 300 {
                    prop_assert!(matches!(judged, Err(GraphError::Status(ref f)) if f.status == status));
                }
            }

            /// Any Retry-After text: a bounded duration or nothing.
            #[test]
            fn any_retry_after_is_bounded(text in "\\PC{0,40}") {
                if let Some(wait) = crate::graph::parse_retry_after(&text) {
                    prop_assert!(wait <= Duration::from_secs(86_400));
                }
            }
        }
    }
}
