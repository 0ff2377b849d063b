//! Checks a meeting before anything is sent: bad input must end as INVALID_ARGUMENT naming the
//! field, never as a request to Graph. Which properties a create, createOrGet or a US Government
//! cloud refuses is read from the property table's flags.

use super::ids::is_plausible_upn;
use super::meeting::{MeetingParticipantInfo, MeetingParticipants, OnlineMeeting};
use super::property::Property;
use super::violation::FieldViolation;

/// Graph documents at most 1,000 characters for a meeting subject.
pub const MAX_SUBJECT_CHARS: usize = 1_000;

const READ_ONLY: &str = "is read-only: Graph sets it";

/// Appends to `violations` what is wrong with `meeting` as the body of a create.
pub fn validate_new_meeting(meeting: &OnlineMeeting, violations: &mut Vec<FieldViolation>) {
    let mut reject = |field: &str, description: &str| {
        violations.push(FieldViolation::new(format!("meeting.{field}"), description));
    };
    let m = meeting;

    for property in m.set_properties(|p| p.read_only) {
        reject(property.field, READ_ONLY);
    }
    if let Some(settings) = &m.join_meeting_id_settings {
        for property in settings.set_properties(|p| p.read_only) {
            let why = match property.field {
                "passcode" => "is read-only: Graph generates the passcode (custom passcodes are not supported)",
                _ => READ_ONLY,
            };
            reject(&format!("join_meeting_id_settings.{}", property.field), why);
        }
    }

    if let Some(subject) = &m.subject {
        if subject.chars().count() > MAX_SUBJECT_CHARS {
            reject("subject", "must be at most 1000 characters");
        }
    }
    match (m.start_date_time, m.end_date_time) {
        (Some(start), Some(end)) if end < start => reject("end_date_time", "must not be before start_date_time"),
        (None, Some(_)) => reject("end_date_time", "requires start_date_time"),
        _ => {}
    }

    if let Some(participants) = &m.participants {
        check_participants(participants, true, &mut reject);
    }

    for key in m.additional_data.keys() {
        if OnlineMeeting::is_modeled(key) {
            reject(&format!("additional_data.{key}"), "names a property this API models: set the field instead");
        }
    }

    if let Some(external_id) = &m.external_id {
        if external_id.trim().is_empty() {
            reject("external_id", "must not be empty when set");
        }
        // Read-only properties are refused above already. What createOrGet does not take is
        // PATCHed onto the meeting it returns; what neither can set is refused.
        let refused =
            m.set_properties(|p| !p.create_or_get && !p.patchable && !p.read_only).into_iter().map(|p| p.field);
        let pass_through = (!m.additional_data.is_empty()).then_some("additional_data");
        for field in refused.chain(pass_through) {
            reject(
                field,
                &format!(
                    "is not accepted with external_id: neither Graph's createOrGet (which takes {}) nor an update can set it",
                    create_or_get_fields()
                ),
            );
        }
    }
}

/// Appends to `violations` what is wrong with the values an update sends (`properties`, the
/// masked ones): the rules a create applies to them, and Graph's update page's own (the
/// organizer can't change; start and end are sent together, so their order is checked).
pub fn validate_update(
    meeting: &OnlineMeeting,
    properties: &[&'static Property],
    violations: &mut Vec<FieldViolation>,
) {
    let masked = |field: &str| properties.iter().any(|p| p.field == field);
    let mut reject = |field: &str, description: &str| {
        violations.push(FieldViolation::new(format!("meeting.{field}"), description));
    };
    if masked("subject") {
        if let Some(subject) = &meeting.subject {
            if subject.chars().count() > MAX_SUBJECT_CHARS {
                reject("subject", "must be at most 1000 characters");
            }
        }
    }
    if masked("start_date_time") {
        match (meeting.start_date_time, meeting.end_date_time) {
            (Some(start), Some(end)) if end < start => reject("end_date_time", "must not be before start_date_time"),
            (Some(_), Some(_)) => {}
            _ => reject("start_date_time", "and end_date_time must both be set to reschedule the meeting"),
        }
    }
    if let Some(participants) = meeting.participants.as_ref().filter(|_| masked("participants")) {
        if participants.organizer.is_some() {
            reject("participants.organizer", "cannot be changed: Graph keeps the meeting's organizer");
        }
        check_participants(participants, false, &mut reject);
    }
}

/// Checks each participant of the groups (the organizer too, when `with_organizer`).
fn check_participants(participants: &MeetingParticipants, with_organizer: bool, reject: &mut impl FnMut(&str, &str)) {
    let organizer = if with_organizer { participants.organizer.as_slice() } else { &[] };
    let groups = [
        ("organizer", organizer),
        ("attendees", participants.attendees.as_slice()),
        ("producers", participants.producers.as_slice()),
        ("contributors", participants.contributors.as_slice()),
    ];
    for (group, infos) in groups {
        for (i, info) in infos.iter().enumerate() {
            check_participant(info, &participant_path(group, i, infos.len()), reject);
        }
    }
}

/// createOrGet's parameters besides externalId, for messages: "subject, ... and chat_info".
fn create_or_get_fields() -> String {
    let fields: Vec<_> = OnlineMeeting::PROPERTIES
        .iter()
        .filter(|p| p.create_or_get && p.field != "external_id")
        .map(|p| p.field)
        .collect();
    match fields.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn participant_path(group: &str, index: usize, len: usize) -> String {
    if group == "organizer" && len == 1 {
        "participants.organizer".to_owned()
    } else {
        format!("participants.{group}[{index}]")
    }
}

fn check_participant(info: &MeetingParticipantInfo, path: &str, reject: &mut impl FnMut(&str, &str)) {
    if let Some(upn) = &info.upn {
        if !is_plausible_upn(upn) {
            reject(&format!("{path}.upn"), "must be a user principal name such as adele@contoso.com");
        }
    }
}

/// Properties Graph's US Government clouds (GCC High, DoD) do not have, per Microsoft's
/// metadata for those clouds (the table's `not_in_usgov`, top-level properties). Sending them
/// there would fail or be ignored; callers are told instead.
pub fn unsupported_in_us_government(m: &OnlineMeeting) -> Vec<FieldViolation> {
    m.set_properties(|p| p.not_in_usgov)
        .into_iter()
        .map(|p| {
            FieldViolation::new(
                format!("meeting.{}", p.field),
                "is not available in Microsoft Graph for the US Government clouds (this tenant's cloud)",
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::domain::meeting::*;

    fn violations_of(meeting: OnlineMeeting) -> Vec<String> {
        let mut out = Vec::new();
        validate_new_meeting(&meeting, &mut out);
        out.into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn table() {
        let base = || OnlineMeeting {
            subject: Some("Sync".into()),
            start_date_time: Some(datetime!(2026-12-01 10:00 UTC)),
            end_date_time: Some(datetime!(2026-12-01 11:00 UTC)),
            ..Default::default()
        };
        let cases: Vec<(&str, OnlineMeeting, Vec<&str>)> = vec![
            ("valid", base(), vec![]),
            ("empty meeting is valid (Graph defaults)", OnlineMeeting::default(), vec![]),
            ("start equals end", OnlineMeeting { end_date_time: base().start_date_time, ..base() }, vec![]),
            (
                "end before start",
                OnlineMeeting { end_date_time: Some(datetime!(2026-12-01 09:00 UTC)), ..base() },
                vec!["meeting.end_date_time"],
            ),
            ("end without start", OnlineMeeting { start_date_time: None, ..base() }, vec!["meeting.end_date_time"]),
            ("subject at limit", OnlineMeeting { subject: Some("é".repeat(1000)), ..base() }, vec![]),
            (
                "subject over limit",
                OnlineMeeting { subject: Some("x".repeat(1001)), ..base() },
                vec!["meeting.subject"],
            ),
            ("read-only id", OnlineMeeting { id: Some("x".into()), ..base() }, vec!["meeting.id"]),
            (
                "read-only join url and audio",
                OnlineMeeting {
                    join_web_url: Some("https://x".into()),
                    audio_conferencing: Some(AudioConferencing::default()),
                    ..base()
                },
                vec!["meeting.join_web_url", "meeting.audio_conferencing"],
            ),
            (
                "custom passcode",
                OnlineMeeting {
                    join_meeting_id_settings: Some(JoinMeetingIdSettings {
                        is_passcode_required: Some(true),
                        passcode: Some("123".into()),
                        ..Default::default()
                    }),
                    ..base()
                },
                vec!["meeting.join_meeting_id_settings.passcode"],
            ),
            (
                "bad attendee upn",
                OnlineMeeting {
                    participants: Some(MeetingParticipants {
                        attendees: vec![
                            MeetingParticipantInfo { upn: Some("ok@contoso.com".into()), ..Default::default() },
                            MeetingParticipantInfo { upn: Some("not a upn".into()), ..Default::default() },
                        ],
                        ..Default::default()
                    }),
                    ..base()
                },
                vec!["meeting.participants.attendees[1].upn"],
            ),
            (
                "empty external id",
                OnlineMeeting { external_id: Some(" ".into()), ..base() },
                vec!["meeting.external_id"],
            ),
            (
                "with external_id, what createOrGet does not take is patched, not refused",
                OnlineMeeting {
                    external_id: Some("order-42".into()),
                    lobby_bypass_settings: Some(LobbyBypassSettings::default()),
                    allow_recording: Some(false),
                    ..base()
                },
                vec![],
            ),
            (
                "with external_id, what neither createOrGet nor PATCH can set is refused",
                OnlineMeeting {
                    external_id: Some("order-42".into()),
                    meeting_template_id: Some("t".into()),
                    allow_participants_to_change_name: Some(true),
                    ..base()
                },
                vec!["meeting.meeting_template_id", "meeting.allow_participants_to_change_name"],
            ),
            (
                "createOrGet with its own parameters",
                OnlineMeeting {
                    external_id: Some("order-42".into()),
                    participants: Some(MeetingParticipants::default()),
                    chat_info: Some(ChatInfo::default()),
                    ..base()
                },
                vec![],
            ),
            (
                "additional data shadowing a property",
                OnlineMeeting {
                    additional_data: [("Subject".to_owned(), serde_json::json!("x"))].into_iter().collect(),
                    ..base()
                },
                vec!["meeting.additional_data.Subject"],
            ),
            (
                "additional data for a newer property",
                OnlineMeeting {
                    additional_data: [("allowFutureThing".to_owned(), serde_json::json!(true))].into_iter().collect(),
                    ..base()
                },
                vec![],
            ),
        ];
        for (name, meeting, expected) in cases {
            assert_eq!(violations_of(meeting), expected, "case: {name}");
        }
    }

    #[test]
    fn us_government_clouds_lack_some_properties() {
        let meeting = OnlineMeeting {
            subject: Some("x".into()),
            allow_recording: Some(false),
            meeting_template_id: Some("t".into()),
            ..Default::default()
        };
        let fields: Vec<_> = unsupported_in_us_government(&meeting).into_iter().map(|v| v.field).collect();
        assert_eq!(fields, ["meeting.meeting_template_id", "meeting.allow_recording"]);
        assert!(
            unsupported_in_us_government(&OnlineMeeting { subject: Some("x".into()), ..Default::default() }).is_empty()
        );
    }

    #[test]
    fn descriptions_say_why() {
        let meeting = OnlineMeeting {
            external_id: Some("order-42".into()),
            id: Some("x".into()),
            allow_recording: Some(true),
            join_meeting_id_settings: Some(JoinMeetingIdSettings {
                join_meeting_id: Some("1".into()),
                passcode: Some("2".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut violations = Vec::new();
        validate_new_meeting(&meeting, &mut violations);
        let described: Vec<_> = violations.iter().map(|v| format!("{} {}", v.field, v.description)).collect();
        assert_eq!(
            described,
            [
                "meeting.id is read-only: Graph sets it",
                "meeting.join_meeting_id_settings.join_meeting_id is read-only: Graph sets it",
                "meeting.join_meeting_id_settings.passcode is read-only: Graph generates the passcode (custom \
                 passcodes are not supported)",
                "meeting.join_meeting_id_settings is not accepted with external_id: neither Graph's createOrGet \
                 (which takes subject, start_date_time, end_date_time, participants and chat_info) nor an update can \
                 set it",
            ]
        );
    }
}
