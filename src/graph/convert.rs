//! Domain <-> Graph JSON, by hand. Reading is tolerant the way Graph's own SDKs are: enum
//! members match case-insensitively (Graph's examples say `"Html"`), a member this service does
//! not know yet reads as `UnknownFutureValue`, and a date-time that doesn't parse is kept
//! verbatim in `additional_data` rather than failing a meeting that was created.

use time::{format_description::well_known::Rfc3339, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::model::*;
use crate::domain::*;

/// Maps each domain enum to Graph's member names, both ways.
macro_rules! graph_names {
    ($($enum:ident { $($variant:ident => $name:literal),+ $(,)? })+) => {$(
        impl GraphName for $enum {
            fn graph_name(self) -> &'static str {
                match self { $($enum::$variant => $name),+ }
            }
            fn from_graph_name(name: &str) -> Option<Self> {
                $(if name.eq_ignore_ascii_case($name) { return Some($enum::$variant); })+
                None
            }
        }
    )+};
}

pub(crate) trait GraphName: Sized + Copy {
    fn graph_name(self) -> &'static str;
    fn from_graph_name(name: &str) -> Option<Self>;
}

graph_names! {
    OnlineMeetingPresenters {
        Everyone => "everyone", Organization => "organization", RoleIsPresenter => "roleIsPresenter",
        Organizer => "organizer", UnknownFutureValue => "unknownFutureValue",
    }
    OnlineMeetingRole {
        Attendee => "attendee", Presenter => "presenter", UnknownFutureValue => "unknownFutureValue",
        Producer => "producer", Coorganizer => "coorganizer",
    }
    LobbyBypassScope {
        Organizer => "organizer", Organization => "organization",
        OrganizationAndFederated => "organizationAndFederated", Everyone => "everyone",
        UnknownFutureValue => "unknownFutureValue", Invited => "invited",
        OrganizationExcludingGuests => "organizationExcludingGuests",
    }
    MeetingChatMode {
        Enabled => "enabled", Disabled => "disabled", Limited => "limited", UnknownFutureValue => "unknownFutureValue",
    }
    MeetingChatHistoryDefaultMode { None => "none", All => "all", UnknownFutureValue => "unknownFutureValue" }
    MeetingLiveShareOptions { Enabled => "enabled", Disabled => "disabled", UnknownFutureValue => "unknownFutureValue" }
    AllowedLobbyAdmitterRoles {
        OrganizerAndCoOrganizersAndPresenters => "organizerAndCoOrganizersAndPresenters",
        OrganizerAndCoOrganizers => "organizerAndCoOrganizers", UnknownFutureValue => "unknownFutureValue",
    }
    OnlineMeetingType {
        Adhoc => "adhoc", Scheduled => "scheduled", Recurring => "recurring", Broadcast => "broadcast",
        Meetnow => "meetnow", UnknownFutureValue => "unknownFutureValue",
    }
    BroadcastMeetingAudience {
        RoleIsAttendee => "roleIsAttendee", Organization => "organization", Everyone => "everyone",
        UnknownFutureValue => "unknownFutureValue",
    }
    MeetingCapabilities { QuestionAndAnswer => "questionAndAnswer", UnknownFutureValue => "unknownFutureValue" }
    BodyType { Text => "text", Html => "html" }
    EndpointType {
        Default => "default", Voicemail => "voicemail", SkypeForBusiness => "skypeForBusiness",
        SkypeForBusinessVoipPhone => "skypeForBusinessVoipPhone", UnknownFutureValue => "unknownFutureValue",
    }
}

fn name<E: GraphName>(value: Option<E>) -> Option<String> {
    value.map(|v| v.graph_name().to_owned())
}

/// An unknown member is a newer one: that is exactly what `unknownFutureValue` stands for.
fn member<E: GraphName>(name: Option<String>, unknown: E) -> Option<E> {
    name.map(|n| E::from_graph_name(&n).unwrap_or(unknown))
}

fn members<E: GraphName>(names: Vec<String>, unknown: E) -> Vec<E> {
    names.into_iter().map(|n| E::from_graph_name(&n).unwrap_or(unknown)).collect()
}

fn graph_time(value: Option<OffsetDateTime>) -> Option<String> {
    value.and_then(|t| t.to_offset(UtcOffset::UTC).format(&Rfc3339).ok())
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

// ---- domain -> Graph (request bodies) ----

pub(crate) fn meeting_to_dto(m: &OnlineMeeting) -> OnlineMeetingDto {
    OnlineMeetingDto {
        id: m.id.clone(),
        subject: m.subject.clone(),
        start_date_time: graph_time(m.start_date_time),
        end_date_time: graph_time(m.end_date_time),
        creation_date_time: graph_time(m.creation_date_time),
        expiry_date_time: graph_time(m.expiry_date_time),
        external_id: m.external_id.clone(),
        join_web_url: m.join_web_url.clone(),
        join_url: m.join_url.clone(),
        video_teleconference_id: m.video_teleconference_id.clone(),
        meeting_template_id: m.meeting_template_id.clone(),
        meeting_options_web_url: m.meeting_options_web_url.clone(),
        meeting_spoken_language_tag: m.meeting_spoken_language_tag.clone(),
        meeting_type: name(m.meeting_type),
        participants: m.participants.as_ref().map(|p| MeetingParticipantsDto {
            organizer: p.organizer.as_ref().map(participant_to_dto),
            attendees: p.attendees.iter().map(participant_to_dto).collect(),
            producers: p.producers.iter().map(participant_to_dto).collect(),
            contributors: p.contributors.iter().map(participant_to_dto).collect(),
        }),
        audio_conferencing: m.audio_conferencing.as_ref().map(|a| AudioConferencingDto {
            conference_id: a.conference_id.clone(),
            dialin_url: a.dialin_url.clone(),
            toll_free_number: a.toll_free_number.clone(),
            toll_free_numbers: a.toll_free_numbers.clone(),
            toll_number: a.toll_number.clone(),
            toll_numbers: a.toll_numbers.clone(),
        }),
        chat_info: m.chat_info.as_ref().map(|c| ChatInfoDto {
            thread_id: c.thread_id.clone(),
            message_id: c.message_id.clone(),
            reply_chain_message_id: c.reply_chain_message_id.clone(),
        }),
        chat_restrictions: m
            .chat_restrictions
            .as_ref()
            .map(|c| ChatRestrictionsDto { allow_text_only: c.allow_text_only }),
        join_information: m
            .join_information
            .as_ref()
            .map(|b| ItemBodyDto { content: b.content.clone(), content_type: name(b.content_type) }),
        join_meeting_id_settings: m.join_meeting_id_settings.as_ref().map(|s| JoinMeetingIdSettingsDto {
            is_passcode_required: s.is_passcode_required,
            join_meeting_id: s.join_meeting_id.clone(),
            passcode: s.passcode.clone(),
        }),
        lobby_bypass_settings: m.lobby_bypass_settings.as_ref().map(|l| LobbyBypassSettingsDto {
            scope: name(l.scope),
            is_dial_in_bypass_enabled: l.is_dial_in_bypass_enabled,
        }),
        broadcast_settings: m.broadcast_settings.as_ref().map(|b| BroadcastMeetingSettingsDto {
            allowed_audience: name(b.allowed_audience),
            captions: b.captions.as_ref().map(|c| BroadcastMeetingCaptionSettingsDto {
                is_caption_enabled: c.is_caption_enabled,
                spoken_language: c.spoken_language.clone(),
                translation_languages: c.translation_languages.clone(),
            }),
            is_attendee_report_enabled: b.is_attendee_report_enabled,
            is_question_and_answer_enabled: b.is_question_and_answer_enabled,
            is_recording_enabled: b.is_recording_enabled,
            is_video_on_demand_enabled: b.is_video_on_demand_enabled,
        }),
        is_broadcast: m.is_broadcast,
        watermark_protection: m.watermark_protection.as_ref().map(|w| WatermarkProtectionValuesDto {
            is_enabled_for_content_sharing: w.is_enabled_for_content_sharing,
            is_enabled_for_video: w.is_enabled_for_video,
        }),
        sensitivity_label_assignment: m
            .sensitivity_label_assignment
            .as_ref()
            .map(|s| SensitivityLabelAssignmentDto { sensitivity_label_id: s.sensitivity_label_id.clone() }),
        cloud_video_interop_info: m.cloud_video_interop_info.as_ref().map(|c| CloudVideoInteropInfoDto {
            more_info_web_url: c.more_info_web_url.clone(),
            tenant_key: c.tenant_key.clone(),
            video_teleconference_id: c.video_teleconference_id.clone(),
        }),
        allowed_presenters: name(m.allowed_presenters),
        allowed_lobby_admitters: name(m.allowed_lobby_admitters),
        allow_meeting_chat: name(m.allow_meeting_chat),
        allow_live_share: name(m.allow_live_share),
        share_meeting_chat_history_default: name(m.share_meeting_chat_history_default),
        allow_attendee_to_enable_camera: m.allow_attendee_to_enable_camera,
        allow_attendee_to_enable_mic: m.allow_attendee_to_enable_mic,
        allow_breakout_rooms: m.allow_breakout_rooms,
        allow_copying_and_sharing_meeting_content: m.allow_copying_and_sharing_meeting_content,
        allow_participants_to_change_name: m.allow_participants_to_change_name,
        allow_power_point_sharing: m.allow_power_point_sharing,
        allow_recording: m.allow_recording,
        allow_teamwork_reactions: m.allow_teamwork_reactions,
        allow_transcription: m.allow_transcription,
        allow_whiteboard: m.allow_whiteboard,
        is_end_to_end_encryption_enabled: m.is_end_to_end_encryption_enabled,
        is_entry_exit_announced: m.is_entry_exit_announced,
        record_automatically: m.record_automatically,
        anonymize_identity_for_roles: m
            .anonymize_identity_for_roles
            .iter()
            .map(|r| r.graph_name().to_owned())
            .collect(),
        capabilities: m.capabilities.iter().map(|c| c.graph_name().to_owned()).collect(),
        auto_admitted_users: m.auto_admitted_users.clone(),
        attendee_report: m.attendee_report.clone(),
        recording: m.recording.clone(),
        alternative_recording: m.alternative_recording.clone(),
        broadcast_recording: m.broadcast_recording.clone(),
        additional_data: m.additional_data.clone(),
    }
}

fn participant_to_dto(p: &MeetingParticipantInfo) -> MeetingParticipantInfoDto {
    MeetingParticipantInfoDto {
        identity: p.identity.as_ref().map(|s| IdentitySetDto {
            application: s.application.as_deref().map(identity_to_dto),
            device: s.device.as_deref().map(identity_to_dto),
            user: s.user.as_deref().map(identity_to_dto),
            application_instance: s.application_instance.as_deref().map(identity_to_dto),
            asserted_identity: s.asserted_identity.as_deref().map(identity_to_dto),
            azure_communication_services_user: s.azure_communication_services_user.as_deref().map(identity_to_dto),
            encrypted: s.encrypted.as_deref().map(identity_to_dto),
            guest: s.guest.as_deref().map(identity_to_dto),
            on_premises: s.on_premises.as_deref().map(identity_to_dto),
            phone: s.phone.as_deref().map(identity_to_dto),
            endpoint_type: name(s.endpoint_type),
        }),
        role: name(p.role),
        upn: p.upn.clone(),
    }
}

fn identity_to_dto(i: &Identity) -> Box<IdentityDto> {
    Box::new(IdentityDto {
        id: i.id.clone(),
        display_name: i.display_name.clone(),
        tenant_id: i.tenant_id.clone(),
        identity_provider: i.identity_provider.clone(),
        email: i.email.clone(),
        application_type: i.application_type.clone(),
        hidden: i.hidden,
        azure_communication_services_resource_id: i.azure_communication_services_resource_id.clone(),
        additional_data: i.additional_data.clone(),
    })
}

// ---- Graph -> domain (responses) ----

pub(crate) fn meeting_from_dto(d: OnlineMeetingDto) -> OnlineMeeting {
    let mut additional_data = d.additional_data;
    let mut time = |property: &str, value: Option<String>| -> Option<OffsetDateTime> {
        let text = value?;
        parse_graph_time(&text).or_else(|| {
            additional_data.insert(property.to_owned(), serde_json::Value::String(text));
            None
        })
    };
    let start_date_time = time("startDateTime", d.start_date_time);
    let end_date_time = time("endDateTime", d.end_date_time);
    let creation_date_time = time("creationDateTime", d.creation_date_time);
    let expiry_date_time = time("expiryDateTime", d.expiry_date_time);
    OnlineMeeting {
        id: d.id,
        subject: d.subject,
        start_date_time,
        end_date_time,
        creation_date_time,
        expiry_date_time,
        external_id: d.external_id,
        join_web_url: d.join_web_url,
        join_url: d.join_url,
        video_teleconference_id: d.video_teleconference_id,
        meeting_template_id: d.meeting_template_id,
        meeting_options_web_url: d.meeting_options_web_url,
        meeting_spoken_language_tag: d.meeting_spoken_language_tag,
        meeting_type: member(d.meeting_type, OnlineMeetingType::UnknownFutureValue),
        participants: d.participants.map(|p| MeetingParticipants {
            organizer: p.organizer.map(participant_from_dto),
            attendees: p.attendees.into_iter().map(participant_from_dto).collect(),
            producers: p.producers.into_iter().map(participant_from_dto).collect(),
            contributors: p.contributors.into_iter().map(participant_from_dto).collect(),
        }),
        audio_conferencing: d.audio_conferencing.map(|a| AudioConferencing {
            conference_id: a.conference_id,
            dialin_url: a.dialin_url,
            toll_free_number: a.toll_free_number,
            toll_free_numbers: a.toll_free_numbers,
            toll_number: a.toll_number,
            toll_numbers: a.toll_numbers,
        }),
        chat_info: d.chat_info.map(|c| ChatInfo {
            thread_id: c.thread_id,
            message_id: c.message_id,
            reply_chain_message_id: c.reply_chain_message_id,
        }),
        chat_restrictions: d.chat_restrictions.map(|c| ChatRestrictions { allow_text_only: c.allow_text_only }),
        join_information: d.join_information.map(|b| ItemBody {
            content: b.content,
            // bodyType has no sentinel; an unknown member reads as unset rather than as a guess.
            content_type: b.content_type.and_then(|n| BodyType::from_graph_name(&n)),
        }),
        join_meeting_id_settings: d.join_meeting_id_settings.map(|s| JoinMeetingIdSettings {
            is_passcode_required: s.is_passcode_required,
            join_meeting_id: s.join_meeting_id,
            passcode: s.passcode,
        }),
        lobby_bypass_settings: d.lobby_bypass_settings.map(|l| LobbyBypassSettings {
            scope: member(l.scope, LobbyBypassScope::UnknownFutureValue),
            is_dial_in_bypass_enabled: l.is_dial_in_bypass_enabled,
        }),
        broadcast_settings: d.broadcast_settings.map(|b| BroadcastMeetingSettings {
            allowed_audience: member(b.allowed_audience, BroadcastMeetingAudience::UnknownFutureValue),
            captions: b.captions.map(|c| BroadcastMeetingCaptionSettings {
                is_caption_enabled: c.is_caption_enabled,
                spoken_language: c.spoken_language,
                translation_languages: c.translation_languages,
            }),
            is_attendee_report_enabled: b.is_attendee_report_enabled,
            is_question_and_answer_enabled: b.is_question_and_answer_enabled,
            is_recording_enabled: b.is_recording_enabled,
            is_video_on_demand_enabled: b.is_video_on_demand_enabled,
        }),
        is_broadcast: d.is_broadcast,
        watermark_protection: d.watermark_protection.map(|w| WatermarkProtectionValues {
            is_enabled_for_content_sharing: w.is_enabled_for_content_sharing,
            is_enabled_for_video: w.is_enabled_for_video,
        }),
        sensitivity_label_assignment: d
            .sensitivity_label_assignment
            .map(|s| SensitivityLabelAssignment { sensitivity_label_id: s.sensitivity_label_id }),
        cloud_video_interop_info: d.cloud_video_interop_info.map(|c| CloudVideoInteropInfo {
            more_info_web_url: c.more_info_web_url,
            tenant_key: c.tenant_key,
            video_teleconference_id: c.video_teleconference_id,
        }),
        allowed_presenters: member(d.allowed_presenters, OnlineMeetingPresenters::UnknownFutureValue),
        allowed_lobby_admitters: member(d.allowed_lobby_admitters, AllowedLobbyAdmitterRoles::UnknownFutureValue),
        allow_meeting_chat: member(d.allow_meeting_chat, MeetingChatMode::UnknownFutureValue),
        allow_live_share: member(d.allow_live_share, MeetingLiveShareOptions::UnknownFutureValue),
        share_meeting_chat_history_default: member(
            d.share_meeting_chat_history_default,
            MeetingChatHistoryDefaultMode::UnknownFutureValue,
        ),
        allow_attendee_to_enable_camera: d.allow_attendee_to_enable_camera,
        allow_attendee_to_enable_mic: d.allow_attendee_to_enable_mic,
        allow_breakout_rooms: d.allow_breakout_rooms,
        allow_copying_and_sharing_meeting_content: d.allow_copying_and_sharing_meeting_content,
        allow_participants_to_change_name: d.allow_participants_to_change_name,
        allow_power_point_sharing: d.allow_power_point_sharing,
        allow_recording: d.allow_recording,
        allow_teamwork_reactions: d.allow_teamwork_reactions,
        allow_transcription: d.allow_transcription,
        allow_whiteboard: d.allow_whiteboard,
        is_end_to_end_encryption_enabled: d.is_end_to_end_encryption_enabled,
        is_entry_exit_announced: d.is_entry_exit_announced,
        record_automatically: d.record_automatically,
        anonymize_identity_for_roles: members(d.anonymize_identity_for_roles, OnlineMeetingRole::UnknownFutureValue),
        capabilities: members(d.capabilities, MeetingCapabilities::UnknownFutureValue),
        auto_admitted_users: d.auto_admitted_users,
        attendee_report: d.attendee_report,
        recording: d.recording,
        alternative_recording: d.alternative_recording,
        broadcast_recording: d.broadcast_recording,
        additional_data,
    }
}

fn participant_from_dto(p: MeetingParticipantInfoDto) -> MeetingParticipantInfo {
    MeetingParticipantInfo {
        identity: p.identity.map(|s| IdentitySet {
            application: s.application.map(|i| identity_from_dto(*i)),
            device: s.device.map(|i| identity_from_dto(*i)),
            user: s.user.map(|i| identity_from_dto(*i)),
            application_instance: s.application_instance.map(|i| identity_from_dto(*i)),
            asserted_identity: s.asserted_identity.map(|i| identity_from_dto(*i)),
            azure_communication_services_user: s.azure_communication_services_user.map(|i| identity_from_dto(*i)),
            encrypted: s.encrypted.map(|i| identity_from_dto(*i)),
            guest: s.guest.map(|i| identity_from_dto(*i)),
            on_premises: s.on_premises.map(|i| identity_from_dto(*i)),
            phone: s.phone.map(|i| identity_from_dto(*i)),
            endpoint_type: member(s.endpoint_type, EndpointType::UnknownFutureValue),
        }),
        role: member(p.role, OnlineMeetingRole::UnknownFutureValue),
        upn: p.upn,
    }
}

fn identity_from_dto(i: IdentityDto) -> Box<Identity> {
    Box::new(Identity {
        id: i.id,
        display_name: i.display_name,
        tenant_id: i.tenant_id,
        identity_provider: i.identity_provider,
        email: i.email,
        application_type: i.application_type,
        hidden: i.hidden,
        azure_communication_services_resource_id: i.azure_communication_services_resource_id,
        additional_data: i.additional_data,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
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
        fn check<E: GraphName + std::fmt::Debug + PartialEq>(all: &[E]) {
            for &v in all {
                assert_eq!(E::from_graph_name(v.graph_name()), Some(v));
                assert_eq!(E::from_graph_name(&v.graph_name().to_uppercase()), Some(v));
            }
        }
        use LobbyBypassScope as L;
        check(&[
            L::Organizer,
            L::Organization,
            L::OrganizationAndFederated,
            L::Everyone,
            L::UnknownFutureValue,
            L::Invited,
            L::OrganizationExcludingGuests,
        ]);
        use OnlineMeetingRole as R;
        check(&[R::Attendee, R::Presenter, R::UnknownFutureValue, R::Producer, R::Coorganizer]);
        check(&[BodyType::Text, BodyType::Html]);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

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
