//! Checks a meeting before anything is sent: bad input must end as INVALID_ARGUMENT naming the
//! field, never as a request to Graph.

use super::ids::is_plausible_upn;
use super::meeting::{MeetingParticipantInfo, OnlineMeeting, MODELED_PROPERTIES};
use super::violation::FieldViolation;

/// Graph documents at most 1,000 characters for a meeting subject.
pub const MAX_SUBJECT_CHARS: usize = 1_000;

/// The parameters Graph's createOrGet action takes (besides externalId).
const CREATE_OR_GET_FIELDS: &str = "subject, start_date_time, end_date_time, participants and chat_info";

/// Appends to `violations` what is wrong with `meeting` as the body of a create.
pub fn validate_new_meeting(meeting: &OnlineMeeting, violations: &mut Vec<FieldViolation>) {
    let mut reject = |field: &str, description: &str| {
        violations.push(FieldViolation::new(format!("meeting.{field}"), description));
    };
    let m = meeting;

    const READ_ONLY: &str = "is read-only: Graph sets it";
    for (field, set) in [
        ("id", m.id.is_some()),
        ("creation_date_time", m.creation_date_time.is_some()),
        ("join_web_url", m.join_web_url.is_some()),
        ("join_url", m.join_url.is_some()),
        ("video_teleconference_id", m.video_teleconference_id.is_some()),
        ("audio_conferencing", m.audio_conferencing.is_some()),
        ("join_information", m.join_information.is_some()),
        ("auto_admitted_users", m.auto_admitted_users.is_some()),
        ("attendee_report", m.attendee_report.is_some()),
        ("recording", m.recording.is_some()),
        ("alternative_recording", m.alternative_recording.is_some()),
        ("broadcast_recording", m.broadcast_recording.is_some()),
    ] {
        if set {
            reject(field, READ_ONLY);
        }
    }
    if let Some(settings) = &m.join_meeting_id_settings {
        if settings.join_meeting_id.is_some() {
            reject("join_meeting_id_settings.join_meeting_id", READ_ONLY);
        }
        if settings.passcode.is_some() {
            reject(
                "join_meeting_id_settings.passcode",
                "is read-only: Graph generates the passcode (custom passcodes are not supported)",
            );
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
        let groups = [
            ("organizer", participants.organizer.as_slice()),
            ("attendees", participants.attendees.as_slice()),
            ("producers", participants.producers.as_slice()),
            ("contributors", participants.contributors.as_slice()),
        ];
        for (group, infos) in groups {
            for (i, info) in infos.iter().enumerate() {
                check_participant(info, &participant_path(group, i, infos.len()), &mut reject);
            }
        }
    }

    for key in m.additional_data.keys() {
        if MODELED_PROPERTIES.iter().any(|p| p.eq_ignore_ascii_case(key)) {
            reject(&format!("additional_data.{key}"), "names a property this API models: set the field instead");
        }
    }

    if let Some(external_id) = &m.external_id {
        if external_id.trim().is_empty() {
            reject("external_id", "must not be empty when set");
        }
        for field in fields_outside_create_or_get(m) {
            reject(
                field,
                &format!("is not accepted with external_id: Graph's createOrGet takes only {CREATE_OR_GET_FIELDS}"),
            );
        }
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

/// Which set properties Graph's createOrGet would refuse.
fn fields_outside_create_or_get(m: &OnlineMeeting) -> Vec<&'static str> {
    let set = [
        ("expiry_date_time", m.expiry_date_time.is_some()),
        ("meeting_template_id", m.meeting_template_id.is_some()),
        ("meeting_options_web_url", m.meeting_options_web_url.is_some()),
        ("meeting_spoken_language_tag", m.meeting_spoken_language_tag.is_some()),
        ("meeting_type", m.meeting_type.is_some()),
        ("chat_restrictions", m.chat_restrictions.is_some()),
        ("join_meeting_id_settings", m.join_meeting_id_settings.is_some()),
        ("lobby_bypass_settings", m.lobby_bypass_settings.is_some()),
        ("broadcast_settings", m.broadcast_settings.is_some()),
        ("is_broadcast", m.is_broadcast.is_some()),
        ("watermark_protection", m.watermark_protection.is_some()),
        ("sensitivity_label_assignment", m.sensitivity_label_assignment.is_some()),
        ("cloud_video_interop_info", m.cloud_video_interop_info.is_some()),
        ("allowed_presenters", m.allowed_presenters.is_some()),
        ("allowed_lobby_admitters", m.allowed_lobby_admitters.is_some()),
        ("allow_meeting_chat", m.allow_meeting_chat.is_some()),
        ("allow_live_share", m.allow_live_share.is_some()),
        ("share_meeting_chat_history_default", m.share_meeting_chat_history_default.is_some()),
        ("allow_attendee_to_enable_camera", m.allow_attendee_to_enable_camera.is_some()),
        ("allow_attendee_to_enable_mic", m.allow_attendee_to_enable_mic.is_some()),
        ("allow_breakout_rooms", m.allow_breakout_rooms.is_some()),
        ("allow_copying_and_sharing_meeting_content", m.allow_copying_and_sharing_meeting_content.is_some()),
        ("allow_participants_to_change_name", m.allow_participants_to_change_name.is_some()),
        ("allow_power_point_sharing", m.allow_power_point_sharing.is_some()),
        ("allow_recording", m.allow_recording.is_some()),
        ("allow_teamwork_reactions", m.allow_teamwork_reactions.is_some()),
        ("allow_transcription", m.allow_transcription.is_some()),
        ("allow_whiteboard", m.allow_whiteboard.is_some()),
        ("is_end_to_end_encryption_enabled", m.is_end_to_end_encryption_enabled.is_some()),
        ("is_entry_exit_announced", m.is_entry_exit_announced.is_some()),
        ("record_automatically", m.record_automatically.is_some()),
        ("anonymize_identity_for_roles", !m.anonymize_identity_for_roles.is_empty()),
        ("capabilities", !m.capabilities.is_empty()),
        ("additional_data", !m.additional_data.is_empty()),
    ];
    set.into_iter().filter(|(_, is_set)| *is_set).map(|(field, _)| field).collect()
}

/// Properties Graph's US Government clouds (GCC High, DoD) do not have, per Microsoft's
/// metadata for those clouds. Sending them there would fail or be ignored; callers are told
/// instead.
pub fn unsupported_in_us_government(m: &OnlineMeeting) -> Vec<FieldViolation> {
    let set = [
        ("meeting_template_id", m.meeting_template_id.is_some()),
        ("allow_breakout_rooms", m.allow_breakout_rooms.is_some()),
        ("allow_copying_and_sharing_meeting_content", m.allow_copying_and_sharing_meeting_content.is_some()),
        ("allow_live_share", m.allow_live_share.is_some()),
        ("allow_power_point_sharing", m.allow_power_point_sharing.is_some()),
        ("allow_recording", m.allow_recording.is_some()),
        ("allow_transcription", m.allow_transcription.is_some()),
        ("allow_whiteboard", m.allow_whiteboard.is_some()),
        ("allowed_lobby_admitters", m.allowed_lobby_admitters.is_some()),
        ("chat_restrictions", m.chat_restrictions.is_some()),
        ("cloud_video_interop_info", m.cloud_video_interop_info.is_some()),
        ("expiry_date_time", m.expiry_date_time.is_some()),
        ("is_end_to_end_encryption_enabled", m.is_end_to_end_encryption_enabled.is_some()),
        ("meeting_options_web_url", m.meeting_options_web_url.is_some()),
        ("meeting_spoken_language_tag", m.meeting_spoken_language_tag.is_some()),
        ("sensitivity_label_assignment", m.sensitivity_label_assignment.is_some()),
    ];
    set.into_iter()
        .filter(|(_, is_set)| *is_set)
        .map(|(field, _)| {
            FieldViolation::new(
                format!("meeting.{field}"),
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
                "createOrGet takes a subset",
                OnlineMeeting {
                    external_id: Some("order-42".into()),
                    lobby_bypass_settings: Some(LobbyBypassSettings::default()),
                    allow_recording: Some(false),
                    ..base()
                },
                vec!["meeting.lobby_bypass_settings", "meeting.allow_recording"],
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
}
