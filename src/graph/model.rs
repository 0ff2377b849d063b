//! Graph's JSON shapes (DTOs) for onlineMeeting, named as Graph names them. Enumerations and
//! date-times stay strings here; `convert` maps them, tolerating Graph's spelling variants.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `null` and a missing array both read as empty.
fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineMeetingDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_web_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_teleconference_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_options_web_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_spoken_language_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<MeetingParticipantsDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_conferencing: Option<AudioConferencingDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_info: Option<ChatInfoDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_restrictions: Option<ChatRestrictionsDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_information: Option<ItemBodyDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_meeting_id_settings: Option<JoinMeetingIdSettingsDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lobby_bypass_settings: Option<LobbyBypassSettingsDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast_settings: Option<BroadcastMeetingSettingsDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_broadcast: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark_protection: Option<WatermarkProtectionValuesDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity_label_assignment: Option<SensitivityLabelAssignmentDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_video_interop_info: Option<CloudVideoInteropInfoDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_presenters: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_lobby_admitters: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_meeting_chat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_live_share: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_meeting_chat_history_default: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_attendee_to_enable_camera: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_attendee_to_enable_mic: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_breakout_rooms: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_copying_and_sharing_meeting_content: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_participants_to_change_name: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_power_point_sharing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_recording: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_teamwork_reactions: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_transcription: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_whiteboard: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_end_to_end_encryption_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_entry_exit_announced: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_automatically: Option<bool>,
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing_if = "Vec::is_empty")]
    pub anonymize_identity_for_roles: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_admitted_users: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attendee_report: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternative_recording: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast_recording: Option<String>,
    /// Everything else Graph sent (annotations, newer properties), kept verbatim.
    #[serde(flatten)]
    pub additional_data: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingParticipantsDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizer: Option<MeetingParticipantInfoDto>,
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<MeetingParticipantInfoDto>,
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing_if = "Vec::is_empty")]
    pub producers: Vec<MeetingParticipantInfoDto>,
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<MeetingParticipantInfoDto>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeetingParticipantInfoDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentitySetDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentitySetDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<Box<IdentityDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<Box<IdentityDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Box<IdentityDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_instance: Option<Box<IdentityDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asserted_identity: Option<Box<IdentityDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_communication_services_user: Option<Box<IdentityDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<Box<IdentityDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest: Option<Box<IdentityDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_premises: Option<Box<IdentityDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<Box<IdentityDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_type: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_communication_services_resource_id: Option<String>,
    #[serde(flatten)]
    pub additional_data: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioConferencingDto {
    /// Graph's create examples spell it `ConferenceId`; createOrGet's spell it `conferenceId`.
    #[serde(alias = "ConferenceId", skip_serializing_if = "Option::is_none")]
    pub conference_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialin_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toll_free_number: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing_if = "Vec::is_empty")]
    pub toll_free_numbers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toll_number: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing_if = "Vec::is_empty")]
    pub toll_numbers: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatInfoDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_chain_message_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatRestrictionsDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_text_only: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemBodyDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinMeetingIdSettingsDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_passcode_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_meeting_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passcode: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LobbyBypassSettingsDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_dial_in_bypass_enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadcastMeetingSettingsDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captions: Option<BroadcastMeetingCaptionSettingsDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_attendee_report_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_question_and_answer_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_recording_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_video_on_demand_enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadcastMeetingCaptionSettingsDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_caption_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spoken_language: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing_if = "Vec::is_empty")]
    pub translation_languages: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatermarkProtectionValuesDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enabled_for_content_sharing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enabled_for_video: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudVideoInteropInfoDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more_info_web_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_teleconference_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SensitivityLabelAssignmentDto {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitivity_label_id: Option<String>,
}

/// Graph's error body: `{"error":{"code","message","innerError":{...}}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBodyDto {
    pub error: ErrorDto,
}

#[derive(Debug, Deserialize)]
pub struct ErrorDto {
    pub code: Option<String>,
    pub message: Option<String>,
    #[serde(rename = "innerError", alias = "innererror")]
    pub inner_error: Option<InnerErrorDto>,
}

#[derive(Debug, Deserialize)]
pub struct InnerErrorDto {
    #[serde(rename = "request-id")]
    pub request_id: Option<String>,
}
