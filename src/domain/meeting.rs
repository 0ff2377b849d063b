//! Microsoft Graph's onlineMeeting resource as plain Rust data. Every property is optional:
//! `None` means "not set" (a create then leaves it to the tenant's meeting policy), which is how
//! presence survives from the gRPC request to Graph's JSON and back.

use std::collections::BTreeMap;

use time::OffsetDateTime;

/// Properties Graph returned (or a caller passes through) that the model does not name, by
/// Graph's JSON property name.
pub type AdditionalData = BTreeMap<String, serde_json::Value>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct OnlineMeeting {
    pub id: Option<String>,
    pub subject: Option<String>,
    pub start_date_time: Option<OffsetDateTime>,
    pub end_date_time: Option<OffsetDateTime>,
    pub creation_date_time: Option<OffsetDateTime>,
    pub expiry_date_time: Option<OffsetDateTime>,
    pub external_id: Option<String>,
    pub join_web_url: Option<String>,
    pub join_url: Option<String>,
    pub video_teleconference_id: Option<String>,
    pub meeting_template_id: Option<String>,
    pub meeting_options_web_url: Option<String>,
    pub meeting_spoken_language_tag: Option<String>,
    pub meeting_type: Option<OnlineMeetingType>,
    pub participants: Option<MeetingParticipants>,
    pub audio_conferencing: Option<AudioConferencing>,
    pub chat_info: Option<ChatInfo>,
    pub chat_restrictions: Option<ChatRestrictions>,
    pub join_information: Option<ItemBody>,
    pub join_meeting_id_settings: Option<JoinMeetingIdSettings>,
    pub lobby_bypass_settings: Option<LobbyBypassSettings>,
    pub broadcast_settings: Option<BroadcastMeetingSettings>,
    pub is_broadcast: Option<bool>,
    pub watermark_protection: Option<WatermarkProtectionValues>,
    pub sensitivity_label_assignment: Option<SensitivityLabelAssignment>,
    pub cloud_video_interop_info: Option<CloudVideoInteropInfo>,
    pub allowed_presenters: Option<OnlineMeetingPresenters>,
    pub allowed_lobby_admitters: Option<AllowedLobbyAdmitterRoles>,
    pub allow_meeting_chat: Option<MeetingChatMode>,
    pub allow_live_share: Option<MeetingLiveShareOptions>,
    pub share_meeting_chat_history_default: Option<MeetingChatHistoryDefaultMode>,
    pub allow_attendee_to_enable_camera: Option<bool>,
    pub allow_attendee_to_enable_mic: Option<bool>,
    pub allow_breakout_rooms: Option<bool>,
    pub allow_copying_and_sharing_meeting_content: Option<bool>,
    pub allow_participants_to_change_name: Option<bool>,
    pub allow_power_point_sharing: Option<bool>,
    pub allow_recording: Option<bool>,
    pub allow_teamwork_reactions: Option<bool>,
    pub allow_transcription: Option<bool>,
    pub allow_whiteboard: Option<bool>,
    pub is_end_to_end_encryption_enabled: Option<bool>,
    pub is_entry_exit_announced: Option<bool>,
    pub record_automatically: Option<bool>,
    pub anonymize_identity_for_roles: Vec<OnlineMeetingRole>,
    pub capabilities: Vec<MeetingCapabilities>,
    pub auto_admitted_users: Option<String>,
    pub attendee_report: Option<String>,
    pub recording: Option<String>,
    pub alternative_recording: Option<String>,
    pub broadcast_recording: Option<String>,
    pub additional_data: AdditionalData,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeetingParticipants {
    pub organizer: Option<MeetingParticipantInfo>,
    pub attendees: Vec<MeetingParticipantInfo>,
    pub producers: Vec<MeetingParticipantInfo>,
    pub contributors: Vec<MeetingParticipantInfo>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeetingParticipantInfo {
    pub identity: Option<IdentitySet>,
    pub role: Option<OnlineMeetingRole>,
    pub upn: Option<String>,
}

/// Each identity is boxed: usually one of the ten is present, and unboxed the set is 2 KB, moved
/// with every participant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IdentitySet {
    pub application: Option<Box<Identity>>,
    pub device: Option<Box<Identity>>,
    pub user: Option<Box<Identity>>,
    pub application_instance: Option<Box<Identity>>,
    pub asserted_identity: Option<Box<Identity>>,
    pub azure_communication_services_user: Option<Box<Identity>>,
    pub encrypted: Option<Box<Identity>>,
    pub guest: Option<Box<Identity>>,
    pub on_premises: Option<Box<Identity>>,
    pub phone: Option<Box<Identity>>,
    pub endpoint_type: Option<EndpointType>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identity {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub tenant_id: Option<String>,
    pub identity_provider: Option<String>,
    pub email: Option<String>,
    pub application_type: Option<String>,
    pub hidden: Option<bool>,
    pub azure_communication_services_resource_id: Option<String>,
    pub additional_data: AdditionalData,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AudioConferencing {
    pub conference_id: Option<String>,
    pub dialin_url: Option<String>,
    pub toll_free_number: Option<String>,
    pub toll_free_numbers: Vec<String>,
    pub toll_number: Option<String>,
    pub toll_numbers: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatInfo {
    pub thread_id: Option<String>,
    pub message_id: Option<String>,
    pub reply_chain_message_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatRestrictions {
    pub allow_text_only: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemBody {
    pub content: Option<String>,
    pub content_type: Option<BodyType>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct JoinMeetingIdSettings {
    pub is_passcode_required: Option<bool>,
    pub join_meeting_id: Option<String>,
    pub passcode: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LobbyBypassSettings {
    pub scope: Option<LobbyBypassScope>,
    pub is_dial_in_bypass_enabled: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct BroadcastMeetingSettings {
    pub allowed_audience: Option<BroadcastMeetingAudience>,
    pub captions: Option<BroadcastMeetingCaptionSettings>,
    pub is_attendee_report_enabled: Option<bool>,
    pub is_question_and_answer_enabled: Option<bool>,
    pub is_recording_enabled: Option<bool>,
    pub is_video_on_demand_enabled: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct BroadcastMeetingCaptionSettings {
    pub is_caption_enabled: Option<bool>,
    pub spoken_language: Option<String>,
    pub translation_languages: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct WatermarkProtectionValues {
    pub is_enabled_for_content_sharing: Option<bool>,
    pub is_enabled_for_video: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CloudVideoInteropInfo {
    pub more_info_web_url: Option<String>,
    pub tenant_key: Option<String>,
    pub video_teleconference_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SensitivityLabelAssignment {
    pub sensitivity_label_id: Option<String>,
}

/// Graph's enumerations. Each has `UnknownFutureValue`, Graph's sentinel for members newer than
/// the caller; values after it exist only when the request asks for them by name.
macro_rules! graph_enums {
    ($($(#[$doc:meta])* $name:ident { $($variant:ident),+ $(,)? })+) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }
    )+};
}

graph_enums! {
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
    /// Graph's bodyType, which has no sentinel.
    BodyType { Text, Html }
    EndpointType { Default, Voicemail, SkypeForBusiness, SkypeForBusinessVoipPhone, UnknownFutureValue }
}

/// The top-level property names of the model, as Graph spells them in JSON. Pass-through
/// `additional_data` must not shadow them.
pub const MODELED_PROPERTIES: &[&str] = &[
    "id",
    "subject",
    "startDateTime",
    "endDateTime",
    "creationDateTime",
    "expiryDateTime",
    "externalId",
    "joinWebUrl",
    "joinUrl",
    "videoTeleconferenceId",
    "meetingTemplateId",
    "meetingOptionsWebUrl",
    "meetingSpokenLanguageTag",
    "meetingType",
    "participants",
    "audioConferencing",
    "chatInfo",
    "chatRestrictions",
    "joinInformation",
    "joinMeetingIdSettings",
    "lobbyBypassSettings",
    "broadcastSettings",
    "isBroadcast",
    "watermarkProtection",
    "sensitivityLabelAssignment",
    "cloudVideoInteropInfo",
    "allowedPresenters",
    "allowedLobbyAdmitters",
    "allowMeetingChat",
    "allowLiveShare",
    "shareMeetingChatHistoryDefault",
    "allowAttendeeToEnableCamera",
    "allowAttendeeToEnableMic",
    "allowBreakoutRooms",
    "allowCopyingAndSharingMeetingContent",
    "allowParticipantsToChangeName",
    "allowPowerPointSharing",
    "allowRecording",
    "allowTeamworkReactions",
    "allowTranscription",
    "allowWhiteboard",
    "isEndToEndEncryptionEnabled",
    "isEntryExitAnnounced",
    "recordAutomatically",
    "anonymizeIdentityForRoles",
    "capabilities",
    "autoAdmittedUsers",
    "attendeeReport",
    "recording",
    "alternativeRecording",
    "broadcastRecording",
];
