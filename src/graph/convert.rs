//! Domain <-> Graph JSON, generated from the domain's property and enumeration tables. Reading
//! is tolerant the way Graph's own SDKs are: enum members match case-insensitively (Graph's
//! examples say `"Html"`), a member this service does not know yet reads as
//! `UnknownFutureValue` (or as unset where the enumeration has no sentinel), and a date-time
//! that doesn't parse is kept verbatim in `additional_data` rather than failing a meeting that
//! was created.

use time::{format_description::well_known::Rfc3339, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::model;
use crate::domain::{self, meeting_enums, online_meeting_properties, AdditionalData, Enumeration};

/// Graph's member names of a domain enumeration, both ways.
pub(crate) trait GraphName: Enumeration {
    fn graph_name(self) -> &'static str;
    fn from_graph_name(name: &str) -> Option<Self>;
}

/// The enumeration table's callback.
macro_rules! graph_names {
    ($( $(#[$doc:meta])* $name:ident { $($member:ident = $json:literal),+ $(,)? } )*) => {$(
        impl GraphName for domain::$name {
            fn graph_name(self) -> &'static str {
                match self { $(Self::$member => $json),+ }
            }
            fn from_graph_name(name: &str) -> Option<Self> {
                $(if name.eq_ignore_ascii_case($json) { return Some(Self::$member); })+
                None
            }
        }
    )*};
}

meeting_enums!(graph_names);

/// A domain value's Graph JSON shape.
trait ToGraph {
    type Dto;
    fn to_graph(&self) -> Self::Dto;
}

/// A Graph JSON shape's domain value.
trait IntoDomain {
    type Domain;
    fn into_domain(self) -> Self::Domain;
}

/// Domain -> Graph, by a row's kind.
macro_rules! to_graph {
    (text, $v:expr) => {
        $v.clone()
    };
    (flag, $v:expr) => {
        $v
    };
    (texts, $v:expr) => {
        list(&$v, Clone::clone)
    };
    (time, $v:expr) => {
        graph_time($v)
    };
    (choice, $v:expr) => {
        $v.map(|member| member.graph_name().to_owned())
    };
    (choices, $v:expr) => {
        list(&$v, |member| member.graph_name().to_owned())
    };
    (object, $v:expr) => {
        $v.as_ref().map(ToGraph::to_graph)
    };
    (boxed, $v:expr) => {
        $v.as_deref().map(|object| Box::new(object.to_graph()))
    };
    (objects, $v:expr) => {
        list(&$v, ToGraph::to_graph)
    };
}

/// Graph -> domain, by a row's kind. A date-time that doesn't parse goes to `$kept` under its
/// JSON name.
macro_rules! into_domain {
    (text, $v:expr, $json:tt, $kept:ident) => {
        $v
    };
    (flag, $v:expr, $json:tt, $kept:ident) => {
        $v
    };
    (texts, $v:expr, $json:tt, $kept:ident) => {
        $v.unwrap_or_default()
    };
    (time, $v:expr, $json:tt, $kept:ident) => {
        read_time($v, $json, &mut $kept)
    };
    (choice, $v:expr, $json:tt, $kept:ident) => {
        $v.and_then(|name| member(&name))
    };
    (choices, $v:expr, $json:tt, $kept:ident) => {
        $v.unwrap_or_default().iter().filter_map(|name| member(name)).collect()
    };
    (object, $v:expr, $json:tt, $kept:ident) => {
        $v.map(IntoDomain::into_domain)
    };
    (boxed, $v:expr, $json:tt, $kept:ident) => {
        $v.map(|object| Box::new(object.into_domain()))
    };
    (objects, $v:expr, $json:tt, $kept:ident) => {
        $v.unwrap_or_default().into_iter().map(IntoDomain::into_domain).collect()
    };
}

/// What an open type keeps of what Graph sent besides its rows (a closed type keeps nothing).
macro_rules! kept {
    ($dto:ident) => {
        AdditionalData::new()
    };
    ($dto:ident $extra:ident) => {
        $dto.$extra
    };
}

/// The property table's callback: both conversions of every type.
macro_rules! graph_conversions {
    ($( [$($type_attr:tt)*] $name:ident [$($extra:ident)?] {
        $( [$($attr:tt)*] $field:ident $kind:ident [$($of:ident)?] $json:tt [$($alias:tt)*] [$($flag:ident)*] )*
    } )*) => {$(
        impl ToGraph for domain::$name {
            type Dto = model::$name;
            fn to_graph(&self) -> model::$name {
                model::$name {
                    $( $field: to_graph!($kind, self.$field), )*
                    $( $extra: self.$extra.clone(), )?
                }
            }
        }

        impl IntoDomain for model::$name {
            type Domain = domain::$name;
            fn into_domain(self) -> domain::$name {
                let dto = self;
                // Used by open types and by date-times only.
                #[allow(unused_mut, unused_variables)]
                let mut kept = kept!(dto $($extra)?);
                domain::$name {
                    $( $field: into_domain!($kind, dto.$field, $json, kept), )*
                    $( $extra: kept, )?
                }
            }
        }
    )*};
}

online_meeting_properties!(graph_conversions);

/// A member's name, or Graph's sentinel for a name this service does not know yet: that is
/// exactly what `unknownFutureValue` stands for. Without a sentinel, an unknown name reads as
/// unset rather than as a guess.
fn member<E: GraphName>(name: &str) -> Option<E> {
    E::from_graph_name(name).or(E::UNKNOWN)
}

/// A list as Graph's JSON carries it: an empty one is not written.
fn list<T, U>(items: &[T], each: impl FnMut(&T) -> U) -> Option<Vec<U>> {
    (!items.is_empty()).then(|| items.iter().map(each).collect())
}

fn graph_time(value: Option<OffsetDateTime>) -> Option<String> {
    value.and_then(|t| t.to_offset(UtcOffset::UTC).format(&Rfc3339).ok())
}

fn read_time(value: Option<String>, property: &str, kept: &mut AdditionalData) -> Option<OffsetDateTime> {
    let text = value?;
    parse_graph_time(&text).or_else(|| {
        kept.insert(property.to_owned(), serde_json::Value::String(text));
        None
    })
}

/// RFC 3339 with any number of fractional digits (Graph sends 7); a value without an offset is
/// UTC, as Graph's innerError dates are.
pub(crate) fn parse_graph_time(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let format = time::macros::format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    PrimitiveDateTime::parse(text, &format).ok().map(PrimitiveDateTime::assume_utc)
}

/// The body of a create or createOrGet request.
pub(crate) fn meeting_to_dto(m: &domain::OnlineMeeting) -> model::OnlineMeetingDto {
    m.to_graph()
}

/// The meeting of a create or createOrGet response.
pub(crate) fn meeting_from_dto(d: model::OnlineMeetingDto) -> domain::OnlineMeeting {
    d.into_domain()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::domain::*;
    use crate::test_corpus::{full_meeting, FULL_MEETING_GRAPH_JSON};

    fn read(value: serde_json::Value) -> OnlineMeeting {
        meeting_from_dto(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn reads_graph_spellings() {
        let m = read(json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#users('x')/onlineMeetings/$entity",
            "audioConferencing": {"ConferenceId": "24299", "tollNumber": "+1", "tollNumbers": null},
            "joinInformation": {"content": "data%3A", "contentType": "Html"},
            "startDateTime": "2019-07-11T02:17:17.6491364Z",
            "endDateTime": "2025-02-01T15:00:34.2464912-07:00",
            "creationDateTime": "not a date",
            "allowedPresenters": "organization",
            "lobbyBypassSettings": {"scope": "someNewScope", "isDialInBypassEnabled": true},
            "participants": {
                "organizer": {"role": "producer", "upn": "u", "identity": {"user": {"id": "1", "tenantId": "t", "identityProvider": "AAD", "displayName": null, "@odata.type": "#microsoft.graph.communicationsUserIdentity"}}},
                "attendees": [{"role": null, "upn": "a@b.com"}],
                "producers": [], "contributors": null
            },
            "autoAdmittedUsers": "EveryoneInCompany",
            "isBroadcast": true,
            "brandNewProperty": {"x": 1}
        }));
        assert_eq!(m.audio_conferencing.as_ref().unwrap().conference_id.as_deref(), Some("24299"));
        assert!(m.audio_conferencing.as_ref().unwrap().toll_numbers.is_empty());
        assert_eq!(m.join_information.as_ref().unwrap().content_type, Some(BodyType::Html));
        assert_eq!(m.start_date_time, Some(datetime!(2019-07-11 02:17:17.6491364 UTC)));
        assert_eq!(m.end_date_time, Some(datetime!(2025-02-01 22:00:34.2464912 UTC)));
        assert_eq!(m.creation_date_time, None);
        assert_eq!(m.additional_data["creationDateTime"], json!("not a date"));
        assert_eq!(m.allowed_presenters, Some(OnlineMeetingPresenters::Organization));
        assert_eq!(m.lobby_bypass_settings.as_ref().unwrap().scope, Some(LobbyBypassScope::UnknownFutureValue));
        let participants = m.participants.as_ref().unwrap();
        let organizer = participants.organizer.as_ref().unwrap();
        assert_eq!(organizer.role, Some(OnlineMeetingRole::Producer));
        let user = organizer.identity.as_ref().unwrap().user.as_ref().unwrap();
        assert_eq!(user.identity_provider.as_deref(), Some("AAD"));
        assert_eq!(user.display_name, None);
        assert_eq!(user.additional_data["@odata.type"], json!("#microsoft.graph.communicationsUserIdentity"));
        assert_eq!(participants.attendees[0].role, None);
        assert_eq!(m.auto_admitted_users.as_deref(), Some("EveryoneInCompany"));
        assert_eq!(m.additional_data["brandNewProperty"], json!({"x": 1}));
        assert!(m.additional_data.contains_key("@odata.context"));
    }

    #[test]
    fn writes_only_what_is_set() {
        let m = OnlineMeeting {
            subject: Some(String::new()),
            start_date_time: Some(datetime!(2019-07-12 14:30:34.2444915 -7)),
            allow_recording: Some(false),
            join_meeting_id_settings: Some(JoinMeetingIdSettings {
                is_passcode_required: Some(false),
                ..Default::default()
            }),
            lobby_bypass_settings: Some(LobbyBypassSettings {
                scope: Some(LobbyBypassScope::Invited),
                is_dial_in_bypass_enabled: None,
            }),
            anonymize_identity_for_roles: vec![OnlineMeetingRole::Attendee],
            additional_data: [("allowFutureThing".to_owned(), json!(true))].into_iter().collect(),
            ..Default::default()
        };
        let body = serde_json::to_value(meeting_to_dto(&m)).unwrap();
        assert_eq!(
            body,
            json!({
                "subject": "",
                "startDateTime": "2019-07-12T21:30:34.2444915Z",
                "allowRecording": false,
                "joinMeetingIdSettings": {"isPasscodeRequired": false},
                "lobbyBypassSettings": {"scope": "invited"},
                "anonymizeIdentityForRoles": ["attendee"],
                "allowFutureThing": true
            })
        );
        assert_eq!(serde_json::to_value(meeting_to_dto(&OnlineMeeting::default())).unwrap(), json!({}));
    }

    #[test]
    fn a_full_meeting_is_written_byte_for_byte() {
        let written = serde_json::to_string(&meeting_to_dto(&full_meeting(false))).unwrap();
        assert_eq!(written, FULL_MEETING_GRAPH_JSON);
    }

    #[test]
    fn a_full_meeting_reads_back_whole() {
        assert_eq!(meeting_from_dto(serde_json::from_str(FULL_MEETING_GRAPH_JSON).unwrap()), full_meeting(false));
    }

    #[test]
    fn every_enum_member_round_trips() {
        fn check<E: GraphName + std::fmt::Debug>() {
            for &member in E::MEMBERS {
                assert_eq!(E::from_graph_name(member.graph_name()), Some(member));
                assert_eq!(E::from_graph_name(&member.graph_name().to_uppercase()), Some(member));
            }
            assert_eq!(E::from_graph_name("noSuchMember"), None);
        }
        macro_rules! check_all {
            ($( $(#[$doc:meta])* $name:ident { $($members:tt)* } )*) => { $( check::<$name>(); )* };
        }
        meeting_enums!(check_all);
        assert_eq!(LobbyBypassScope::OrganizationExcludingGuests.graph_name(), "organizationExcludingGuests");
        assert_eq!(member::<BodyType>("markdown"), None, "bodyType has no sentinel");
        assert_eq!(member::<OnlineMeetingRole>("Guest"), Some(OnlineMeetingRole::UnknownFutureValue));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::graph::model::{ErrorBodyDto, OnlineMeetingDto};

        /// The seed examples' responses, as Graph spells them (the corpus the mutations start from).
        const SEEDS: &[&str] = &[
            r##"{"@odata.type":"#microsoft.graph.onlineMeeting","audioConferencing":{"tollNumber":"+125254478","ConferenceId":"24299"},"chatInfo":{"threadId":"19:meeting_M2Iz@thread.skype","messageId":"0","replyChainMessageId":"0"},"creationDateTime":"2019-07-11T02:17:17.6491364Z","startDateTime":"2019-07-11T02:17:17.6491364Z","endDateTime":"2019-07-11T02:47:17.651138Z","id":"MSpkYzE3","joinWebUrl":"https://teams.microsoft.com/l/meetup-join/19%3ameeting","participants":{"organizer":{"identity":{"user":{"id":"550fae72","tenantId":"72f988bf","displayName":"Mario Rogers"}},"role":"presenter","upn":"upn-value"}},"subject":"User Token Meeting","joinMeetingIdSettings":{"isPasscodeRequired":false,"joinMeetingId":"1234567890","passcode":null}}"##,
            r##"{"id":"dc17674c_19:meeting_MGQ4@thread.v2","autoAdmittedUsers":"EveryoneInCompany","isEntryExitAnnounced":true,"allowedPresenters":"organization","participants":{"organizer":{"upn":"x","role":"producer","identity":{"user":{"id":"d","displayName":null,"tenantId":"9","identityProvider":"AAD"}}},"attendees":[{"upn":"x","role":"producer"}],"producers":[],"contributors":[]},"lobbyBypassSettings":{"scope":"organization","isDialInBypassEnabled":false},"isBroadcast":true,"broadcastSettings":{"allowedAudience":"organization","isRecordingEnabled":true,"isAttendeeReportEnabled":true}}"##,
            r##"{"id":"(redacted)","externalId":"7eb8263f","participants":{"attendees":[{"upn":"test1@contoso.com","role":null,"identity":{"user":{"id":"1f35f2e6"}}}]},"audioConferencing":{"conferenceId":"(redacted)","tollFreeNumber":null},"joinInformation":{"content":"data%3Atext%2Fhtml","contentType":"Html"}}"##,
        ];

        proptest! {
            #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

            /// Any bytes Graph might send: parsing either fails cleanly or yields a meeting.
            #[test]
            fn arbitrary_response_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
                if let Ok(dto) = serde_json::from_slice::<OnlineMeetingDto>(&bytes) {
                    let _ = meeting_from_dto(dto);
                }
                let _ = serde_json::from_slice::<ErrorBodyDto>(&bytes);
            }

            /// The seed responses with bytes flipped, cut or inserted.
            #[test]
            fn mutated_seed_responses_never_panic(
                seed in 0..SEEDS.len(),
                position in any::<prop::sample::Index>(),
                byte in any::<u8>(),
                cut in any::<bool>(),
            ) {
                let mut bytes = SEEDS[seed].as_bytes().to_vec();
                let at = position.index(bytes.len());
                if cut { bytes.truncate(at) } else { bytes[at] = byte }
                if let Ok(dto) = serde_json::from_slice::<OnlineMeetingDto>(&bytes) {
                    let _ = meeting_from_dto(dto);
                }
            }

            /// What the service reads back and writes again is stable: Graph JSON -> domain ->
            /// Graph JSON -> domain is a fixed point.
            #[test]
            fn reading_and_writing_round_trips(seed in 0..SEEDS.len()) {
                let first = meeting_from_dto(serde_json::from_str(SEEDS[seed]).unwrap());
                let written = serde_json::to_vec(&meeting_to_dto(&first)).unwrap();
                let second = meeting_from_dto(serde_json::from_slice(&written).unwrap());
                prop_assert_eq!(first, second);
            }
        }
    }
}
