//! proto <-> domain, generated from the domain's property and enumeration tables. Requests
//! become validated domain commands (every violation is collected and named by its field path);
//! domain results become response messages. Hand-written: the checks only the wire can fail
//! (enum numbers, timestamps, non-JSON numbers) and `google.protobuf.Struct` <-> JSON for
//! `additional_data`.

use std::{collections::BTreeMap, fmt};

use prost_types::{value::Kind, ListValue, Struct, Timestamp, Value};
use time::OffsetDateTime;

use super::pb;
use crate::domain::{
    self, meeting_enums, online_meeting_properties, AcceptLanguage, CreateMeeting, DeleteMeeting, Enumeration,
    FieldViolation, FindKey, FindMeeting, GetMeeting, MeetingRef, ResourceId, TenantId, UpdateMeeting, UserId,
    ValidationError,
};

/// Builds the domain command from a request, or lists everything wrong with it.
/// `metadata_language` is the call's `accept-language` metadata, used when `language` is empty.
pub fn create_command(
    request: pb::CreateRequest,
    metadata_language: Option<&str>,
) -> Result<CreateMeeting, ValidationError> {
    let mut violations = Vec::new();
    let tenant = keep(&mut violations, TenantId::parse("tenant_id", &request.tenant_id));
    let organizer = keep(&mut violations, UserId::parse("user_id", &request.user_id));
    let language = language(&mut violations, &request.language, metadata_language);
    let meeting = match request.meeting {
        Some(meeting) => {
            let mut reader = Reader { violations: &mut violations };
            let meeting = Box::new((*meeting).read(&mut reader, &Path::Root("meeting")));
            domain::validate_new_meeting(&meeting, &mut violations);
            Some(meeting)
        }
        None => {
            violations.push(FieldViolation::new("meeting", "is required"));
            None
        }
    };
    match (tenant, organizer, meeting) {
        (Some(tenant), Some(organizer), Some(meeting)) if violations.is_empty() => {
            Ok(CreateMeeting { tenant, organizer, meeting, language })
        }
        _ => Err(ValidationError::from(violations)),
    }
}

fn keep<T>(violations: &mut Vec<FieldViolation>, result: Result<T, FieldViolation>) -> Option<T> {
    result.map_err(|v| violations.push(v)).ok()
}

/// The request's `language`, else the call's `accept-language` metadata.
fn language(violations: &mut Vec<FieldViolation>, field: &str, metadata: Option<&str>) -> Option<AcceptLanguage> {
    if !field.is_empty() {
        keep(violations, AcceptLanguage::parse_tag("language", field))
    } else {
        metadata.and_then(|value| keep(violations, AcceptLanguage::parse_header("accept-language", value)))
    }
}

/// The meeting a request names: tenant, organizer and meeting id.
fn meeting_ref(
    violations: &mut Vec<FieldViolation>,
    tenant_id: &str,
    user_id: &str,
    meeting_id: &str,
) -> Option<MeetingRef> {
    let tenant = keep(violations, TenantId::parse("tenant_id", tenant_id));
    let organizer = keep(violations, UserId::parse("user_id", user_id));
    let meeting = keep(violations, ResourceId::parse("meeting_id", meeting_id));
    Some(MeetingRef { tenant: tenant?, organizer: organizer?, meeting: meeting? })
}

/// `Ok(value)` when nothing was found wrong, else every violation.
fn validated<T>(value: Option<T>, violations: Vec<FieldViolation>) -> Result<T, ValidationError> {
    match value {
        Some(value) if violations.is_empty() => Ok(value),
        _ => Err(ValidationError::from(violations)),
    }
}

pub fn get_command(request: pb::GetRequest, metadata_language: Option<&str>) -> Result<GetMeeting, ValidationError> {
    let mut violations = Vec::new();
    let target = meeting_ref(&mut violations, &request.tenant_id, &request.user_id, &request.meeting_id);
    let language = language(&mut violations, &request.language, metadata_language);
    validated(target.map(|target| GetMeeting { target, language }), violations)
}

pub fn find_command(request: pb::FindRequest, metadata_language: Option<&str>) -> Result<FindMeeting, ValidationError> {
    let mut violations = Vec::new();
    let tenant = keep(&mut violations, TenantId::parse("tenant_id", &request.tenant_id));
    let organizer = keep(&mut violations, UserId::parse("user_id", &request.user_id));
    let key = match request.key {
        Some(pb::find_request::Key::JoinWebUrl(url)) => {
            keep(&mut violations, lookup_value("join_web_url", &url).map(|_| FindKey::JoinWebUrl(url)))
        }
        Some(pb::find_request::Key::JoinMeetingId(id)) => {
            keep(&mut violations, lookup_value("join_meeting_id", &id).map(|_| FindKey::JoinMeetingId(id)))
        }
        None => {
            violations.push(FieldViolation::new("key", "is required: set join_web_url or join_meeting_id"));
            None
        }
    };
    let language = language(&mut violations, &request.language, metadata_language);
    let command = (|| Some(FindMeeting { tenant: tenant?, organizer: organizer?, key: key?, language }))();
    validated(command, violations)
}

/// A join link or meeting id to look up: present, at most 4,096 bytes, no control characters.
fn lookup_value(field: &str, value: &str) -> Result<(), FieldViolation> {
    ResourceId::parse(field, value).map(|_| ())
}

pub fn update_command(
    request: pb::UpdateRequest,
    metadata_language: Option<&str>,
) -> Result<UpdateMeeting, ValidationError> {
    let mut violations = Vec::new();
    let target = meeting_ref(&mut violations, &request.tenant_id, &request.user_id, &request.meeting_id);
    let language = language(&mut violations, &request.language, metadata_language);
    let paths = request.update_mask.map(|mask| mask.paths).unwrap_or_default();
    let properties = domain::update_properties("update_mask", &paths).map_err(|v| violations.extend(v)).ok();
    let meeting = request.meeting.map(|meeting| {
        let mut reader = Reader { violations: &mut violations };
        Box::new((*meeting).read(&mut reader, &Path::Root("meeting")))
    });
    let meeting = meeting.unwrap_or_default();
    if let Some(properties) = &properties {
        domain::validate_update(&meeting, properties, &mut violations);
    }
    let command = (|| Some(UpdateMeeting { target: target?, meeting, properties: properties?, language }))();
    validated(command, violations)
}

pub fn delete_command(request: pb::DeleteRequest) -> Result<DeleteMeeting, ValidationError> {
    let mut violations = Vec::new();
    let target = meeting_ref(&mut violations, &request.tenant_id, &request.user_id, &request.meeting_id);
    validated(target.map(|target| DeleteMeeting { target, allow_missing: request.allow_missing }), violations)
}

pub fn schedule_command(
    request: pb::ScheduleRequest,
    metadata_language: Option<&str>,
) -> Result<domain::ScheduleMeeting, ValidationError> {
    let mut violations = Vec::new();
    let tenant = keep(&mut violations, TenantId::parse("tenant_id", &request.tenant_id));
    let organizer = keep(&mut violations, UserId::parse("user_id", &request.user_id));
    let language = language(&mut violations, &request.language, metadata_language);
    let event = match request.event {
        Some(event) => {
            let event = event_from_proto(event, &mut violations);
            domain::validate_new_event(&event, &mut violations);
            Some(Box::new(event))
        }
        None => {
            violations.push(FieldViolation::new("event", "is required"));
            None
        }
    };
    let meeting_options = request.meeting_options.map(|options| {
        let mut reader = Reader { violations: &mut violations };
        let options = Box::new((*options).read(&mut reader, &Path::Root("meeting_options")));
        let properties = domain::meeting_option_properties(&options, &mut violations);
        (options, properties)
    });
    let transaction_id = match request.transaction_id.as_str() {
        "" => None,
        id if id.chars().count() > domain::MAX_TRANSACTION_ID_CHARS || id.chars().any(char::is_control) => {
            violations.push(FieldViolation::new(
                "transaction_id",
                "must be at most 255 characters without control characters",
            ));
            None
        }
        id => Some(id.to_owned()),
    };
    let command = (|| {
        Some(domain::ScheduleMeeting {
            tenant: tenant?,
            organizer: organizer?,
            event: event?,
            meeting_options,
            transaction_id,
            language,
        })
    })();
    validated(command, violations)
}

fn event_from_proto(event: pb::CalendarEvent, violations: &mut Vec<FieldViolation>) -> domain::CalendarEvent {
    let mut reader = Reader { violations };
    let root = Path::Root("event");
    let body = event.body.map(|body| body.read(&mut reader, &Path::Field(&root, "body")));
    let start = reader.time(&Path::Field(&root, "start"), event.start);
    let end = reader.time(&Path::Field(&root, "end"), event.end);
    let time_zone = event.time_zone.and_then(|name| {
        domain::EventTimeZone::parse("event.time_zone", &name).map_err(|v| reader.violations.push(v)).ok()
    });
    let attendees = event
        .attendees
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let kind = match pb::AttendeeType::try_from(a.r#type) {
                Ok(pb::AttendeeType::Unspecified) => None,
                Ok(pb::AttendeeType::Required) => Some(domain::AttendeeType::Required),
                Ok(pb::AttendeeType::Optional) => Some(domain::AttendeeType::Optional),
                Ok(pb::AttendeeType::Resource) => Some(domain::AttendeeType::Resource),
                Err(_) => {
                    let field = format!("event.attendees[{i}].type");
                    reader.violations.push(FieldViolation::new(field, format!("has no enum value {}", a.r#type)));
                    None
                }
            };
            domain::Attendee { email: a.email, name: Some(a.name).filter(|n| !n.is_empty()), kind }
        })
        .collect();
    domain::CalendarEvent {
        id: event.id,
        subject: event.subject,
        body,
        start,
        end,
        time_zone,
        location: event.location,
        attendees,
        allow_new_time_proposals: event.allow_new_time_proposals,
        is_reminder_on: event.is_reminder_on,
        reminder_minutes_before_start: event.reminder_minutes_before_start,
        ical_uid: event.ical_uid,
        web_link: event.web_link,
        join_url: None,
        is_online_meeting: None,
        online_meeting_provider: None,
    }
}

fn event_to_proto(event: domain::CalendarEvent) -> pb::CalendarEvent {
    pb::CalendarEvent {
        id: event.id,
        subject: event.subject,
        body: event.body.map(IntoProto::into_proto),
        start: timestamp(event.start),
        end: timestamp(event.end),
        time_zone: event.time_zone.map(|z| z.name),
        location: event.location,
        attendees: event
            .attendees
            .into_iter()
            .map(|a| pb::Attendee {
                email: a.email,
                name: a.name.unwrap_or_default(),
                r#type: match a.kind {
                    None => pb::AttendeeType::Unspecified,
                    Some(domain::AttendeeType::Required) => pb::AttendeeType::Required,
                    Some(domain::AttendeeType::Optional) => pb::AttendeeType::Optional,
                    Some(domain::AttendeeType::Resource) => pb::AttendeeType::Resource,
                } as i32,
            })
            .collect(),
        allow_new_time_proposals: event.allow_new_time_proposals,
        is_reminder_on: event.is_reminder_on,
        reminder_minutes_before_start: event.reminder_minutes_before_start,
        ical_uid: event.ical_uid,
        web_link: event.web_link,
    }
}

pub fn cancel_command(request: pb::CancelRequest) -> Result<domain::CancelEvent, ValidationError> {
    let mut violations = Vec::new();
    let tenant = keep(&mut violations, TenantId::parse("tenant_id", &request.tenant_id));
    let organizer = keep(&mut violations, UserId::parse("user_id", &request.user_id));
    let event = keep(&mut violations, ResourceId::parse("event_id", &request.event_id));
    if request.comment.chars().count() > 10_000 {
        violations.push(FieldViolation::new("comment", "must be at most 10000 characters"));
    }
    let comment = Some(request.comment).filter(|c| !c.is_empty());
    let command = (|| Some(domain::CancelEvent { tenant: tenant?, organizer: organizer?, event: event?, comment }))();
    validated(command, violations)
}

pub fn schedule_response(scheduled: domain::MeetingScheduled) -> pb::ScheduleResponse {
    pb::ScheduleResponse {
        event: Some(event_to_proto(*scheduled.event)),
        meeting: Some(Box::new(meeting_to_proto(*scheduled.meeting))),
        graph_request_id: scheduled.graph_request_id.unwrap_or_default(),
    }
}

pub fn cancel_response(cancelled: domain::EventCancelled) -> pb::CancelResponse {
    pb::CancelResponse { graph_request_id: cancelled.graph_request_id.unwrap_or_default() }
}

pub fn get_response(found: domain::MeetingFound) -> pb::GetResponse {
    pb::GetResponse {
        meeting: Some(Box::new(meeting_to_proto(*found.meeting))),
        graph_request_id: found.graph_request_id.unwrap_or_default(),
    }
}

pub fn find_response(found: domain::MeetingFound) -> pb::FindResponse {
    pb::FindResponse {
        meeting: Some(Box::new(meeting_to_proto(*found.meeting))),
        graph_request_id: found.graph_request_id.unwrap_or_default(),
    }
}

pub fn update_response(found: domain::MeetingFound) -> pb::UpdateResponse {
    pb::UpdateResponse {
        meeting: Some(Box::new(meeting_to_proto(*found.meeting))),
        graph_request_id: found.graph_request_id.unwrap_or_default(),
    }
}

pub fn delete_response(deleted: domain::MeetingDeleted) -> pb::DeleteResponse {
    pb::DeleteResponse { graph_request_id: deleted.graph_request_id.unwrap_or_default() }
}

pub fn create_response(created: domain::MeetingCreated) -> pb::CreateResponse {
    pb::CreateResponse {
        meeting: Some(Box::new(meeting_to_proto(*created.meeting))),
        created: created.created,
        graph_request_id: created.graph_request_id.unwrap_or_default(),
    }
}

pub fn meeting_to_proto(m: domain::OnlineMeeting) -> pb::OnlineMeeting {
    m.into_proto()
}

/// Maps each proto enum to its domain twin. prost strips the enum-name prefix, so the member
/// names are the same on both sides.
trait EnumMap: Sized + Copy + TryFrom<i32> + Into<i32> {
    type Domain: Enumeration;
    fn to_domain(self) -> Option<Self::Domain>;
    fn from_domain(value: Self::Domain) -> Self;
}

/// The enumeration table's callback.
macro_rules! enum_map {
    ($( $(#[$doc:meta])* $name:ident { $($member:ident = $json:literal),+ $(,)? } )*) => {$(
        impl EnumMap for pb::$name {
            type Domain = domain::$name;
            fn to_domain(self) -> Option<domain::$name> {
                match self {
                    pb::$name::Unspecified => None,
                    $(pb::$name::$member => Some(domain::$name::$member),)+
                }
            }
            fn from_domain(value: domain::$name) -> Self {
                match value { $(domain::$name::$member => pb::$name::$member,)+ }
            }
        }
    )*};
}

meeting_enums!(enum_map);

/// Where a value sits in the request, written out (`meeting.participants.attendees[1].role`)
/// only when something there is rejected.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(&'static str),
    Field(&'a Path<'a>, &'static str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// Reads a request's meeting, recording violations of what only the wire can get wrong
/// (unknown enum numbers, out-of-range timestamps, non-JSON numbers).
struct Reader<'a> {
    violations: &'a mut Vec<FieldViolation>,
}

impl Reader<'_> {
    fn reject(&mut self, at: &Path, description: impl Into<String>) {
        self.violations.push(FieldViolation::new(at.to_string(), description));
    }

    fn enumeration<P: EnumMap>(&mut self, at: &Path, number: i32) -> Option<P::Domain> {
        match P::try_from(number).map(P::to_domain) {
            Ok(Some(member)) if Some(member) == P::Domain::UNKNOWN => {
                self.reject(at, "UNKNOWN_FUTURE_VALUE is Graph's placeholder for newer values; set a real value");
                None
            }
            Ok(member) => member,
            Err(_) => {
                self.reject(at, format!("has no enum value {number}"));
                None
            }
        }
    }

    fn enumerations<P: EnumMap>(&mut self, at: &Path, numbers: Vec<i32>) -> Vec<P::Domain> {
        numbers.into_iter().enumerate().filter_map(|(i, n)| self.enumeration::<P>(&Path::Index(at, i), n)).collect()
    }

    fn time(&mut self, at: &Path, value: Option<Timestamp>) -> Option<OffsetDateTime> {
        let ts = value?;
        let parsed = (0..1_000_000_000)
            .contains(&ts.nanos)
            .then(|| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos))
                    .ok()
            })
            .flatten()
            .filter(|t| (1..=9999).contains(&t.year()));
        if parsed.is_none() {
            self.reject(at, "is not a valid timestamp (years 0001 to 9999)");
        }
        parsed
    }

    fn additional_data(&mut self, at: &Path, value: Option<Struct>) -> domain::AdditionalData {
        let mut out = BTreeMap::new();
        for (key, value) in value.map(|s| s.fields).unwrap_or_default() {
            match json_from_proto(value) {
                Some(json) => {
                    out.insert(key, json);
                }
                None => self.violations.push(FieldViolation::new(
                    format!("{at}.{key}"),
                    "holds a number JSON cannot carry (NaN or infinity)",
                )),
            }
        }
        out
    }

    fn objects<P: FromProto>(&mut self, at: &Path, items: Vec<P>) -> Vec<P::Domain> {
        items.into_iter().enumerate().map(|(i, item)| item.read(self, &Path::Index(at, i))).collect()
    }
}

/// A request message's domain value, read through a [`Reader`].
trait FromProto {
    type Domain;
    fn read(self, reader: &mut Reader<'_>, at: &Path<'_>) -> Self::Domain;
}

/// A domain value's reply message.
trait IntoProto {
    type Proto;
    fn into_proto(self) -> Self::Proto;
}

/// proto -> domain, by a row's kind.
macro_rules! from_proto {
    ($r:ident, $at:expr, text, $v:expr) => {
        $v
    };
    ($r:ident, $at:expr, flag, $v:expr) => {
        $v
    };
    ($r:ident, $at:expr, texts, $v:expr) => {
        $v
    };
    ($r:ident, $at:expr, time, $v:expr) => {
        $r.time($at, $v)
    };
    ($r:ident, $at:expr, choice $of:ident, $v:expr) => {
        $r.enumeration::<pb::$of>($at, $v)
    };
    ($r:ident, $at:expr, choices $of:ident, $v:expr) => {
        $r.enumerations::<pb::$of>($at, $v)
    };
    ($r:ident, $at:expr, object $of:ident, $v:expr) => {
        $v.map(|object| object.read($r, $at))
    };
    ($r:ident, $at:expr, boxed $of:ident, $v:expr) => {
        $v.map(|object| Box::new((*object).read($r, $at)))
    };
    ($r:ident, $at:expr, objects $of:ident, $v:expr) => {
        $r.objects($at, $v)
    };
}

/// domain -> proto, by a row's kind.
macro_rules! into_proto {
    (text, $v:expr) => {
        $v
    };
    (flag, $v:expr) => {
        $v
    };
    (texts, $v:expr) => {
        $v
    };
    (time, $v:expr) => {
        timestamp($v)
    };
    (choice $of:ident, $v:expr) => {
        $v.map_or(0, |member| pb::$of::from_domain(member).into())
    };
    (choices $of:ident, $v:expr) => {
        $v.into_iter().map(|member| pb::$of::from_domain(member).into()).collect()
    };
    (object $of:ident, $v:expr) => {
        $v.map(IntoProto::into_proto)
    };
    (boxed $of:ident, $v:expr) => {
        $v.map(|object| Box::new((*object).into_proto()))
    };
    (objects $of:ident, $v:expr) => {
        $v.into_iter().map(IntoProto::into_proto).collect()
    };
}

/// The property table's callback: both conversions of every message.
macro_rules! proto_conversions {
    ($( [$($type_attr:tt)*] $name:ident [$($extra:ident)?] {
        $( [$($attr:tt)*] $field:ident $kind:ident [$($of:ident)?] $json:tt [$($alias:tt)*] [$($flag:ident)*] )*
    } )*) => {$(
        impl FromProto for pb::$name {
            type Domain = domain::$name;
            // A message of plain rows (text, flags) has nothing the wire can get wrong.
            #[allow(unused_variables)]
            fn read(self, reader: &mut Reader<'_>, at: &Path<'_>) -> domain::$name {
                domain::$name {
                    $( $field: from_proto!(reader, &Path::Field(at, stringify!($field)), $kind $($of)?, self.$field), )*
                    $( $extra: reader.additional_data(&Path::Field(at, stringify!($extra)), self.$extra), )?
                }
            }
        }

        impl IntoProto for domain::$name {
            type Proto = pb::$name;
            fn into_proto(self) -> pb::$name {
                pb::$name {
                    $( $field: into_proto!($kind $($of)?, self.$field), )*
                    $( $extra: struct_out(self.$extra), )?
                }
            }
        }
    )*};
}

online_meeting_properties!(proto_conversions);

fn timestamp(t: Option<OffsetDateTime>) -> Option<Timestamp> {
    t.map(|t| Timestamp { seconds: t.unix_timestamp(), nanos: t.nanosecond() as i32 })
}

fn struct_out(data: domain::AdditionalData) -> Option<Struct> {
    (!data.is_empty()).then(|| Struct { fields: data.into_iter().map(|(k, v)| (k, json_to_proto(v))).collect() })
}

fn json_to_proto(value: serde_json::Value) -> Value {
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => {
            Kind::ListValue(ListValue { values: items.into_iter().map(json_to_proto).collect() })
        }
        serde_json::Value::Object(map) => {
            Kind::StructValue(Struct { fields: map.into_iter().map(|(k, v)| (k, json_to_proto(v))).collect() })
        }
    };
    Value { kind: Some(kind) }
}

/// `None` for numbers JSON cannot carry.
fn json_from_proto(value: Value) -> Option<serde_json::Value> {
    Some(match value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(b),
        // Struct numbers are doubles; integral ones go back to Graph as integers.
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => {
            serde_json::Value::from(n as i64)
        }
        Some(Kind::NumberValue(n)) => serde_json::Value::Number(serde_json::Number::from_f64(n)?),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s),
        Some(Kind::ListValue(list)) => {
            serde_json::Value::Array(list.values.into_iter().map(json_from_proto).collect::<Option<_>>()?)
        }
        Some(Kind::StructValue(s)) => serde_json::Value::Object(
            s.fields.into_iter().map(|(k, v)| json_from_proto(v).map(|v| (k, v))).collect::<Option<_>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_corpus::{full_meeting, FULL_MEETING_REPLY_DEBUG};

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const USER: &str = "550fae72-d251-43ec-868c-373732c2704f";

    fn request(meeting: pb::OnlineMeeting) -> pb::CreateRequest {
        pb::CreateRequest {
            tenant_id: TENANT.into(),
            user_id: USER.into(),
            meeting: Some(Box::new(meeting)),
            ..Default::default()
        }
    }

    fn fields_of(result: Result<CreateMeeting, ValidationError>) -> Vec<String> {
        match result {
            Ok(_) => Vec::new(),
            Err(e) => e.violations.into_iter().map(|v| v.field).collect(),
        }
    }

    #[test]
    fn request_table() {
        let ts = |seconds| Some(Timestamp { seconds, nanos: 0 });
        let cases: Vec<(&str, pb::CreateRequest, Option<&str>, Vec<&str>)> = vec![
            ("minimal", request(pb::OnlineMeeting::default()), None, vec![]),
            ("all missing", pb::CreateRequest::default(), None, vec!["tenant_id", "user_id", "meeting"]),
            (
                "bad ids",
                pb::CreateRequest { tenant_id: "contoso".into(), user_id: "bob".into(), ..request(Default::default()) },
                None,
                vec!["tenant_id", "user_id"],
            ),
            (
                "unknown enum number",
                request(pb::OnlineMeeting { allowed_presenters: 42, ..Default::default() }),
                None,
                vec!["meeting.allowed_presenters"],
            ),
            (
                "sentinel enum",
                request(pb::OnlineMeeting {
                    lobby_bypass_settings: Some(pb::LobbyBypassSettings {
                        scope: pb::LobbyBypassScope::UnknownFutureValue as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                None,
                vec!["meeting.lobby_bypass_settings.scope"],
            ),
            (
                "bad attendee role",
                request(pb::OnlineMeeting {
                    participants: Some(pb::MeetingParticipants {
                        attendees: vec![pb::MeetingParticipantInfo { role: 99, ..Default::default() }],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                None,
                vec!["meeting.participants.attendees[0].role"],
            ),
            (
                "timestamp out of range",
                request(pb::OnlineMeeting {
                    start_date_time: Some(Timestamp { seconds: 0, nanos: -1 }),
                    ..Default::default()
                }),
                None,
                vec!["meeting.start_date_time"],
            ),
            (
                "end before start",
                request(pb::OnlineMeeting {
                    start_date_time: ts(2_000),
                    end_date_time: ts(1_000),
                    ..Default::default()
                }),
                None,
                vec!["meeting.end_date_time"],
            ),
            (
                "bad language",
                pb::CreateRequest { language: "ja jp".into(), ..request(Default::default()) },
                None,
                vec!["language"],
            ),
            ("bad metadata language", request(Default::default()), Some("\u{7f}"), vec!["accept-language"]),
            (
                "NaN in additional data",
                request(pb::OnlineMeeting {
                    additional_data: Some(Struct {
                        fields: [("x".to_owned(), Value { kind: Some(Kind::NumberValue(f64::NAN)) })]
                            .into_iter()
                            .collect(),
                    }),
                    ..Default::default()
                }),
                None,
                vec!["meeting.additional_data.x"],
            ),
        ];
        for (name, req, metadata, expected) in cases {
            assert_eq!(fields_of(create_command(req, metadata)), expected, "case: {name}");
        }
    }

    #[test]
    fn language_field_wins_over_metadata() {
        let req = pb::CreateRequest { language: "ja".into(), ..request(Default::default()) };
        let command = create_command(req, Some("de-DE")).unwrap();
        assert_eq!(command.language.unwrap().as_str(), "ja");
        let command = create_command(request(Default::default()), Some("de-DE, en;q=0.5")).unwrap();
        assert_eq!(command.language.unwrap().as_str(), "de-DE, en;q=0.5");
    }

    #[test]
    fn presence_survives_both_ways() {
        let req = request(pb::OnlineMeeting {
            subject: Some(String::new()),
            allow_recording: Some(false),
            lobby_bypass_settings: Some(pb::LobbyBypassSettings {
                scope: pb::LobbyBypassScope::Invited as i32,
                is_dial_in_bypass_enabled: None,
            }),
            ..Default::default()
        });
        let command = create_command(req, None).unwrap();
        assert_eq!(command.meeting.subject.as_deref(), Some(""));
        assert_eq!(command.meeting.allow_recording, Some(false));
        assert_eq!(command.meeting.allow_transcription, None);
        assert_eq!(
            command.meeting.lobby_bypass_settings.as_ref().unwrap().scope,
            Some(domain::LobbyBypassScope::Invited)
        );

        let back = meeting_to_proto(*command.meeting);
        assert_eq!(back.allow_recording, Some(false));
        assert_eq!(back.allow_transcription, None);
        assert_eq!(back.lobby_bypass_settings.unwrap().scope, pb::LobbyBypassScope::Invited as i32);
    }

    #[test]
    fn a_full_meeting_reply_is_pinned() {
        let reply = create_response(domain::MeetingCreated {
            meeting: Box::new(full_meeting(false)),
            created: true,
            graph_request_id: Some("9e1b2c3d".into()),
        });
        assert_eq!(format!("{reply:?}"), FULL_MEETING_REPLY_DEBUG);
    }

    #[test]
    fn a_full_request_converts_to_the_same_meeting() {
        let meeting = full_meeting(true);
        let command = create_command(request(meeting_to_proto(meeting.clone())), None).unwrap();
        assert_eq!(*command.meeting, meeting);
    }

    #[test]
    fn every_enum_member_maps_to_the_proto_value_of_its_graph_name() {
        fn screaming(graph_name: &str) -> String {
            let mut out = String::new();
            for c in graph_name.chars() {
                if c.is_ascii_uppercase() {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        }
        macro_rules! check_all {
            ($( $(#[$doc:meta])* $name:ident { $($member:ident = $json:literal),+ $(,)? } )*) => {$(
                assert_eq!(<domain::$name as Enumeration>::MEMBERS.len(), [$($json),+].len());
                $(
                    let value = pb::$name::from_domain(domain::$name::$member);
                    assert_eq!(value.to_domain(), Some(domain::$name::$member));
                    assert!(value.as_str_name().ends_with(&format!("_{}", screaming($json))), "{}", value.as_str_name());
                )+
                assert_eq!(pb::$name::Unspecified.to_domain(), None);
            )*};
        }
        meeting_enums!(check_all);
    }

    #[test]
    fn json_values_round_trip() {
        let json = serde_json::json!({"a": [1, 2.5, "x", null, true, {"b": {}}]});
        assert_eq!(json_from_proto(json_to_proto(json.clone())), Some(json));
    }

    mod properties {
        use proptest::prelude::*;
        use prost::Message;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

            /// Whatever bytes arrive as a request, decoding and conversion never panic, and a
            /// request that converts has passed every check.
            #[test]
            fn arbitrary_request_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                if let Ok(request) = pb::CreateRequest::decode(bytes.as_slice()) {
                    if let Ok(command) = create_command(request, None) {
                        let mut violations = Vec::new();
                        domain::validate_new_meeting(&command.meeting, &mut violations);
                        prop_assert!(violations.is_empty());
                    }
                }
            }

            /// Structured requests with arbitrary enum numbers, strings and timestamps: never a
            /// panic, and every rejection names at least one field.
            #[test]
            fn arbitrary_meetings_are_accepted_or_named(
                subject in proptest::option::of(".{0,1100}"),
                presenters in any::<i32>(),
                scope in any::<i32>(),
                start in proptest::option::of((any::<i64>(), any::<i32>())),
                end in proptest::option::of((any::<i64>(), any::<i32>())),
                user in "[a-zA-Z0-9@._#-]{0,40}",
                external_id in proptest::option::of(".{0,20}"),
            ) {
                let meeting = pb::OnlineMeeting {
                    subject,
                    allowed_presenters: presenters,
                    lobby_bypass_settings: Some(pb::LobbyBypassSettings { scope, is_dial_in_bypass_enabled: None }),
                    start_date_time: start.map(|(seconds, nanos)| Timestamp { seconds, nanos }),
                    end_date_time: end.map(|(seconds, nanos)| Timestamp { seconds, nanos }),
                    external_id,
                    ..Default::default()
                };
                let request = pb::CreateRequest { tenant_id: TENANT.into(), user_id: user, meeting: Some(Box::new(meeting)), ..Default::default() };
                if let Err(e) = create_command(request, None) {
                    prop_assert!(!e.violations.is_empty());
                    prop_assert!(e.violations.iter().all(|v| !v.field.is_empty() && !v.description.is_empty()));
                }
            }
        }
    }
}
