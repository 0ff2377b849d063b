//! proto <-> domain, by hand. Requests become validated domain commands (every violation is
//! collected and named by its field path); domain results become response messages.

use std::collections::BTreeMap;

use prost_types::{value::Kind, ListValue, Struct, Timestamp, Value};
use time::OffsetDateTime;

use super::pb;
use crate::domain::{self, AcceptLanguage, CreateMeeting, FieldViolation, TenantId, UserId, ValidationError};

/// Builds the domain command from a request, or lists everything wrong with it.
/// `metadata_language` is the call's `accept-language` metadata, used when `language` is empty.
pub fn create_command(
    request: pb::CreateRequest,
    metadata_language: Option<&str>,
) -> Result<CreateMeeting, ValidationError> {
    let mut violations = Vec::new();
    let tenant = keep(&mut violations, TenantId::parse("tenant_id", &request.tenant_id));
    let organizer = keep(&mut violations, UserId::parse("user_id", &request.user_id));
    let language = if !request.language.is_empty() {
        keep(&mut violations, AcceptLanguage::parse_tag("language", &request.language))
    } else {
        metadata_language
            .and_then(|value| keep(&mut violations, AcceptLanguage::parse_header("accept-language", value)))
    };
    let meeting = match request.meeting {
        Some(meeting) => {
            let mut reader = Reader { violations: &mut violations };
            let meeting = Box::new(reader.meeting(*meeting));
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

pub fn create_response(created: domain::MeetingCreated) -> pb::CreateResponse {
    pb::CreateResponse {
        meeting: Some(Box::new(meeting_to_proto(*created.meeting))),
        created: created.created,
        graph_request_id: created.graph_request_id.unwrap_or_default(),
    }
}

/// Maps each proto enum to its domain twin. prost strips the enum-name prefix, so the variant
/// names are the same on both sides.
trait EnumMap: Sized + Copy + TryFrom<i32> {
    type Domain: Copy;
    fn to_domain(self) -> Option<Self::Domain>;
    fn from_domain(value: Self::Domain) -> Self;
    fn is_sentinel(self) -> bool;
}

macro_rules! enum_map {
    ($($name:ident { $($variant:ident),+ $(,)? })+) => {$(
        impl EnumMap for pb::$name {
            type Domain = domain::$name;
            fn to_domain(self) -> Option<domain::$name> {
                match self {
                    pb::$name::Unspecified => None,
                    $(pb::$name::$variant => Some(domain::$name::$variant),)+
                }
            }
            fn from_domain(value: domain::$name) -> Self {
                match value { $(domain::$name::$variant => pb::$name::$variant,)+ }
            }
            fn is_sentinel(self) -> bool {
                self.as_str_name().ends_with("_UNKNOWN_FUTURE_VALUE")
            }
        }
    )+};
}

enum_map! {
    OnlineMeetingPresenters { Everyone, Organization, RoleIsPresenter, Organizer, UnknownFutureValue }
    OnlineMeetingRole { Attendee, Presenter, UnknownFutureValue, Producer, Coorganizer }
    LobbyBypassScope {
        Organizer, Organization, OrganizationAndFederated, Everyone, UnknownFutureValue, Invited,
        OrganizationExcludingGuests,
    }
    MeetingChatMode { Enabled, Disabled, Limited, UnknownFutureValue }
    MeetingChatHistoryDefaultMode { None, All, UnknownFutureValue }
    MeetingLiveShareOptions { Enabled, Disabled, UnknownFutureValue }
    AllowedLobbyAdmitterRoles { OrganizerAndCoOrganizersAndPresenters, OrganizerAndCoOrganizers, UnknownFutureValue }
    OnlineMeetingType { Adhoc, Scheduled, Recurring, Broadcast, Meetnow, UnknownFutureValue }
    BroadcastMeetingAudience { RoleIsAttendee, Organization, Everyone, UnknownFutureValue }
    MeetingCapabilities { QuestionAndAnswer, UnknownFutureValue }
    BodyType { Text, Html }
    EndpointType { Default, Voicemail, SkypeForBusiness, SkypeForBusinessVoipPhone, UnknownFutureValue }
}

/// Reads a request's meeting, recording violations of what only the wire can get wrong
/// (unknown enum numbers, out-of-range timestamps, non-JSON numbers).
struct Reader<'a> {
    violations: &'a mut Vec<FieldViolation>,
}

impl Reader<'_> {
    fn reject(&mut self, field: String, description: impl Into<String>) {
        self.violations.push(FieldViolation::new(field, description));
    }

    fn enumeration<P: EnumMap>(&mut self, field: &str, number: i32) -> Option<P::Domain> {
        match P::try_from(number) {
            Ok(value) if value.is_sentinel() => {
                self.reject(
                    field.to_owned(),
                    "UNKNOWN_FUTURE_VALUE is Graph's placeholder for newer values; set a real value",
                );
                None
            }
            Ok(value) => value.to_domain(),
            Err(_) => {
                self.reject(field.to_owned(), format!("has no enum value {number}"));
                None
            }
        }
    }

    fn enumerations<P: EnumMap>(&mut self, field: &str, numbers: Vec<i32>) -> Vec<P::Domain> {
        numbers
            .into_iter()
            .enumerate()
            .filter_map(|(i, n)| self.enumeration::<P>(&format!("{field}[{i}]"), n))
            .collect()
    }

    fn time(&mut self, field: &str, value: Option<Timestamp>) -> Option<OffsetDateTime> {
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
            self.reject(field.to_owned(), "is not a valid timestamp (years 0001 to 9999)");
        }
        parsed
    }

    fn additional_data(&mut self, field: &str, value: Option<Struct>) -> domain::AdditionalData {
        let mut out = BTreeMap::new();
        for (key, value) in value.map(|s| s.fields).unwrap_or_default() {
            match json_from_proto(value) {
                Some(json) => {
                    out.insert(key, json);
                }
                None => self.reject(format!("{field}.{key}"), "holds a number JSON cannot carry (NaN or infinity)"),
            }
        }
        out
    }

    fn meeting(&mut self, m: pb::OnlineMeeting) -> domain::OnlineMeeting {
        domain::OnlineMeeting {
            start_date_time: self.time("meeting.start_date_time", m.start_date_time),
            end_date_time: self.time("meeting.end_date_time", m.end_date_time),
            creation_date_time: self.time("meeting.creation_date_time", m.creation_date_time),
            expiry_date_time: self.time("meeting.expiry_date_time", m.expiry_date_time),
            meeting_type: self.enumeration::<pb::OnlineMeetingType>("meeting.meeting_type", m.meeting_type),
            participants: m.participants.map(|p| domain::MeetingParticipants {
                organizer: p.organizer.map(|o| self.participant("meeting.participants.organizer", o)),
                attendees: self.participants("meeting.participants.attendees", p.attendees),
                producers: self.participants("meeting.participants.producers", p.producers),
                contributors: self.participants("meeting.participants.contributors", p.contributors),
            }),
            audio_conferencing: m.audio_conferencing.map(|a| domain::AudioConferencing {
                conference_id: a.conference_id,
                dialin_url: a.dialin_url,
                toll_free_number: a.toll_free_number,
                toll_free_numbers: a.toll_free_numbers,
                toll_number: a.toll_number,
                toll_numbers: a.toll_numbers,
            }),
            chat_info: m.chat_info.map(|c| domain::ChatInfo {
                thread_id: c.thread_id,
                message_id: c.message_id,
                reply_chain_message_id: c.reply_chain_message_id,
            }),
            chat_restrictions: m
                .chat_restrictions
                .map(|c| domain::ChatRestrictions { allow_text_only: c.allow_text_only }),
            join_information: m.join_information.map(|b| domain::ItemBody {
                content: b.content,
                content_type: self.enumeration::<pb::BodyType>("meeting.join_information.content_type", b.content_type),
            }),
            join_meeting_id_settings: m.join_meeting_id_settings.map(|s| domain::JoinMeetingIdSettings {
                is_passcode_required: s.is_passcode_required,
                join_meeting_id: s.join_meeting_id,
                passcode: s.passcode,
            }),
            lobby_bypass_settings: m.lobby_bypass_settings.map(|l| domain::LobbyBypassSettings {
                scope: self.enumeration::<pb::LobbyBypassScope>("meeting.lobby_bypass_settings.scope", l.scope),
                is_dial_in_bypass_enabled: l.is_dial_in_bypass_enabled,
            }),
            broadcast_settings: m.broadcast_settings.map(|b| domain::BroadcastMeetingSettings {
                allowed_audience: self.enumeration::<pb::BroadcastMeetingAudience>(
                    "meeting.broadcast_settings.allowed_audience",
                    b.allowed_audience,
                ),
                captions: b.captions.map(|c| domain::BroadcastMeetingCaptionSettings {
                    is_caption_enabled: c.is_caption_enabled,
                    spoken_language: c.spoken_language,
                    translation_languages: c.translation_languages,
                }),
                is_attendee_report_enabled: b.is_attendee_report_enabled,
                is_question_and_answer_enabled: b.is_question_and_answer_enabled,
                is_recording_enabled: b.is_recording_enabled,
                is_video_on_demand_enabled: b.is_video_on_demand_enabled,
            }),
            watermark_protection: m.watermark_protection.map(|w| domain::WatermarkProtectionValues {
                is_enabled_for_content_sharing: w.is_enabled_for_content_sharing,
                is_enabled_for_video: w.is_enabled_for_video,
            }),
            sensitivity_label_assignment: m
                .sensitivity_label_assignment
                .map(|s| domain::SensitivityLabelAssignment { sensitivity_label_id: s.sensitivity_label_id }),
            cloud_video_interop_info: m.cloud_video_interop_info.map(|c| domain::CloudVideoInteropInfo {
                more_info_web_url: c.more_info_web_url,
                tenant_key: c.tenant_key,
                video_teleconference_id: c.video_teleconference_id,
            }),
            allowed_presenters: self
                .enumeration::<pb::OnlineMeetingPresenters>("meeting.allowed_presenters", m.allowed_presenters),
            allowed_lobby_admitters: self.enumeration::<pb::AllowedLobbyAdmitterRoles>(
                "meeting.allowed_lobby_admitters",
                m.allowed_lobby_admitters,
            ),
            allow_meeting_chat: self
                .enumeration::<pb::MeetingChatMode>("meeting.allow_meeting_chat", m.allow_meeting_chat),
            allow_live_share: self
                .enumeration::<pb::MeetingLiveShareOptions>("meeting.allow_live_share", m.allow_live_share),
            share_meeting_chat_history_default: self.enumeration::<pb::MeetingChatHistoryDefaultMode>(
                "meeting.share_meeting_chat_history_default",
                m.share_meeting_chat_history_default,
            ),
            anonymize_identity_for_roles: self.enumerations::<pb::OnlineMeetingRole>(
                "meeting.anonymize_identity_for_roles",
                m.anonymize_identity_for_roles,
            ),
            capabilities: self.enumerations::<pb::MeetingCapabilities>("meeting.capabilities", m.capabilities),
            additional_data: self.additional_data("meeting.additional_data", m.additional_data),
            id: m.id,
            subject: m.subject,
            external_id: m.external_id,
            join_web_url: m.join_web_url,
            join_url: m.join_url,
            video_teleconference_id: m.video_teleconference_id,
            meeting_template_id: m.meeting_template_id,
            meeting_options_web_url: m.meeting_options_web_url,
            meeting_spoken_language_tag: m.meeting_spoken_language_tag,
            is_broadcast: m.is_broadcast,
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
            auto_admitted_users: m.auto_admitted_users,
            attendee_report: m.attendee_report,
            recording: m.recording,
            alternative_recording: m.alternative_recording,
            broadcast_recording: m.broadcast_recording,
        }
    }

    fn participants(
        &mut self,
        field: &str,
        list: Vec<pb::MeetingParticipantInfo>,
    ) -> Vec<domain::MeetingParticipantInfo> {
        list.into_iter().enumerate().map(|(i, p)| self.participant(&format!("{field}[{i}]"), p)).collect()
    }

    fn participant(&mut self, field: &str, p: pb::MeetingParticipantInfo) -> domain::MeetingParticipantInfo {
        domain::MeetingParticipantInfo {
            identity: p.identity.map(|s| domain::IdentitySet {
                endpoint_type: self
                    .enumeration::<pb::EndpointType>(&format!("{field}.identity.endpoint_type"), s.endpoint_type),
                application: s.application.map(|i| self.identity(field, "application", i)),
                device: s.device.map(|i| self.identity(field, "device", i)),
                user: s.user.map(|i| self.identity(field, "user", i)),
                application_instance: s.application_instance.map(|i| self.identity(field, "application_instance", i)),
                asserted_identity: s.asserted_identity.map(|i| self.identity(field, "asserted_identity", i)),
                azure_communication_services_user: s
                    .azure_communication_services_user
                    .map(|i| self.identity(field, "azure_communication_services_user", i)),
                encrypted: s.encrypted.map(|i| self.identity(field, "encrypted", i)),
                guest: s.guest.map(|i| self.identity(field, "guest", i)),
                on_premises: s.on_premises.map(|i| self.identity(field, "on_premises", i)),
                phone: s.phone.map(|i| self.identity(field, "phone", i)),
            }),
            role: self.enumeration::<pb::OnlineMeetingRole>(&format!("{field}.role"), p.role),
            upn: p.upn,
        }
    }

    fn identity(&mut self, participant: &str, kind: &str, i: Box<pb::Identity>) -> Box<domain::Identity> {
        Box::new(domain::Identity {
            additional_data: self
                .additional_data(&format!("{participant}.identity.{kind}.additional_data"), i.additional_data),
            id: i.id,
            display_name: i.display_name,
            tenant_id: i.tenant_id,
            identity_provider: i.identity_provider,
            email: i.email,
            application_type: i.application_type,
            hidden: i.hidden,
            azure_communication_services_resource_id: i.azure_communication_services_resource_id,
        })
    }
}

fn timestamp(t: Option<OffsetDateTime>) -> Option<Timestamp> {
    t.map(|t| Timestamp { seconds: t.unix_timestamp(), nanos: t.nanosecond() as i32 })
}

fn enum_out<P: EnumMap + Into<i32>>(value: Option<P::Domain>) -> i32 {
    value.map(|v| P::from_domain(v).into()).unwrap_or(0)
}

fn enums_out<P: EnumMap + Into<i32>>(values: Vec<P::Domain>) -> Vec<i32> {
    values.into_iter().map(|v| P::from_domain(v).into()).collect()
}

fn struct_out(data: domain::AdditionalData) -> Option<Struct> {
    (!data.is_empty()).then(|| Struct { fields: data.into_iter().map(|(k, v)| (k, json_to_proto(v))).collect() })
}

pub fn meeting_to_proto(m: domain::OnlineMeeting) -> pb::OnlineMeeting {
    pb::OnlineMeeting {
        id: m.id,
        subject: m.subject,
        start_date_time: timestamp(m.start_date_time),
        end_date_time: timestamp(m.end_date_time),
        creation_date_time: timestamp(m.creation_date_time),
        expiry_date_time: timestamp(m.expiry_date_time),
        external_id: m.external_id,
        join_web_url: m.join_web_url,
        join_url: m.join_url,
        video_teleconference_id: m.video_teleconference_id,
        meeting_template_id: m.meeting_template_id,
        meeting_options_web_url: m.meeting_options_web_url,
        meeting_spoken_language_tag: m.meeting_spoken_language_tag,
        meeting_type: enum_out::<pb::OnlineMeetingType>(m.meeting_type),
        participants: m.participants.map(|p| pb::MeetingParticipants {
            organizer: p.organizer.map(participant_to_proto),
            attendees: p.attendees.into_iter().map(participant_to_proto).collect(),
            producers: p.producers.into_iter().map(participant_to_proto).collect(),
            contributors: p.contributors.into_iter().map(participant_to_proto).collect(),
        }),
        audio_conferencing: m.audio_conferencing.map(|a| pb::AudioConferencing {
            conference_id: a.conference_id,
            dialin_url: a.dialin_url,
            toll_free_number: a.toll_free_number,
            toll_free_numbers: a.toll_free_numbers,
            toll_number: a.toll_number,
            toll_numbers: a.toll_numbers,
        }),
        chat_info: m.chat_info.map(|c| pb::ChatInfo {
            thread_id: c.thread_id,
            message_id: c.message_id,
            reply_chain_message_id: c.reply_chain_message_id,
        }),
        chat_restrictions: m.chat_restrictions.map(|c| pb::ChatRestrictions { allow_text_only: c.allow_text_only }),
        join_information: m
            .join_information
            .map(|b| pb::ItemBody { content: b.content, content_type: enum_out::<pb::BodyType>(b.content_type) }),
        join_meeting_id_settings: m.join_meeting_id_settings.map(|s| pb::JoinMeetingIdSettings {
            is_passcode_required: s.is_passcode_required,
            join_meeting_id: s.join_meeting_id,
            passcode: s.passcode,
        }),
        lobby_bypass_settings: m.lobby_bypass_settings.map(|l| pb::LobbyBypassSettings {
            scope: enum_out::<pb::LobbyBypassScope>(l.scope),
            is_dial_in_bypass_enabled: l.is_dial_in_bypass_enabled,
        }),
        broadcast_settings: m.broadcast_settings.map(|b| pb::BroadcastMeetingSettings {
            allowed_audience: enum_out::<pb::BroadcastMeetingAudience>(b.allowed_audience),
            captions: b.captions.map(|c| pb::BroadcastMeetingCaptionSettings {
                is_caption_enabled: c.is_caption_enabled,
                spoken_language: c.spoken_language,
                translation_languages: c.translation_languages,
            }),
            is_attendee_report_enabled: b.is_attendee_report_enabled,
            is_question_and_answer_enabled: b.is_question_and_answer_enabled,
            is_recording_enabled: b.is_recording_enabled,
            is_video_on_demand_enabled: b.is_video_on_demand_enabled,
        }),
        is_broadcast: m.is_broadcast,
        watermark_protection: m.watermark_protection.map(|w| pb::WatermarkProtectionValues {
            is_enabled_for_content_sharing: w.is_enabled_for_content_sharing,
            is_enabled_for_video: w.is_enabled_for_video,
        }),
        sensitivity_label_assignment: m
            .sensitivity_label_assignment
            .map(|s| pb::OnlineMeetingSensitivityLabelAssignment { sensitivity_label_id: s.sensitivity_label_id }),
        cloud_video_interop_info: m.cloud_video_interop_info.map(|c| pb::CloudVideoInteropInfo {
            more_info_web_url: c.more_info_web_url,
            tenant_key: c.tenant_key,
            video_teleconference_id: c.video_teleconference_id,
        }),
        allowed_presenters: enum_out::<pb::OnlineMeetingPresenters>(m.allowed_presenters),
        allowed_lobby_admitters: enum_out::<pb::AllowedLobbyAdmitterRoles>(m.allowed_lobby_admitters),
        allow_meeting_chat: enum_out::<pb::MeetingChatMode>(m.allow_meeting_chat),
        allow_live_share: enum_out::<pb::MeetingLiveShareOptions>(m.allow_live_share),
        share_meeting_chat_history_default: enum_out::<pb::MeetingChatHistoryDefaultMode>(
            m.share_meeting_chat_history_default,
        ),
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
        anonymize_identity_for_roles: enums_out::<pb::OnlineMeetingRole>(m.anonymize_identity_for_roles),
        capabilities: enums_out::<pb::MeetingCapabilities>(m.capabilities),
        auto_admitted_users: m.auto_admitted_users,
        attendee_report: m.attendee_report,
        recording: m.recording,
        alternative_recording: m.alternative_recording,
        broadcast_recording: m.broadcast_recording,
        additional_data: struct_out(m.additional_data),
    }
}

fn participant_to_proto(p: domain::MeetingParticipantInfo) -> pb::MeetingParticipantInfo {
    pb::MeetingParticipantInfo {
        identity: p.identity.map(|s| pb::IdentitySet {
            application: s.application.map(|i| identity_to_proto(*i)),
            device: s.device.map(|i| identity_to_proto(*i)),
            user: s.user.map(|i| identity_to_proto(*i)),
            application_instance: s.application_instance.map(|i| identity_to_proto(*i)),
            asserted_identity: s.asserted_identity.map(|i| identity_to_proto(*i)),
            azure_communication_services_user: s.azure_communication_services_user.map(|i| identity_to_proto(*i)),
            encrypted: s.encrypted.map(|i| identity_to_proto(*i)),
            guest: s.guest.map(|i| identity_to_proto(*i)),
            on_premises: s.on_premises.map(|i| identity_to_proto(*i)),
            phone: s.phone.map(|i| identity_to_proto(*i)),
            endpoint_type: enum_out::<pb::EndpointType>(s.endpoint_type),
        }),
        role: enum_out::<pb::OnlineMeetingRole>(p.role),
        upn: p.upn,
    }
}

fn identity_to_proto(i: domain::Identity) -> Box<pb::Identity> {
    Box::new(pb::Identity {
        id: i.id,
        display_name: i.display_name,
        tenant_id: i.tenant_id,
        identity_provider: i.identity_provider,
        email: i.email,
        application_type: i.application_type,
        hidden: i.hidden,
        azure_communication_services_resource_id: i.azure_communication_services_resource_id,
        additional_data: struct_out(i.additional_data),
    })
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
            language: String::new(),
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
                let request = pb::CreateRequest { tenant_id: TENANT.into(), user_id: user, meeting: Some(Box::new(meeting)), language: String::new() };
                if let Err(e) = create_command(request, None) {
                    prop_assert!(!e.violations.is_empty());
                    prop_assert!(e.violations.iter().all(|v| !v.field.is_empty() && !v.description.is_empty()));
                }
            }
        }
    }
}
