//! Microsoft Graph's onlineMeeting resource: THE description of its properties and enumerations
//! (one table row each), and the plain Rust data this module makes of them. The same tables make
//! Graph's JSON shapes and conversions in `graph/` and the proto conversions in `grpc/`, so
//! adding a property is the proto field plus one row here; nothing here knows serde or protobuf
//! (Graph's JSON names are string data).
//!
//! Every property is optional: `None` (or an empty list) means "not set" (a create then leaves it
//! to the tenant's meeting policy), which is how presence survives from the gRPC request to
//! Graph's JSON and back.

use std::collections::BTreeMap;

use super::property::{domain_enums, domain_types};

/// Properties Graph returned (or a caller passes through) that the model does not name, by
/// Graph's JSON property name.
pub type AdditionalData = BTreeMap<String, serde_json::Value>;

/// The onlineMeeting resource and the complex types it holds, one row per property:
///
/// ```text
/// field: kind = "graphName" [flags],
/// ```
///
/// - `field`: the snake_case name, the same in the domain and in the proto.
/// - `kind`: `text`, `flag` (bool), `time` (date-time), `texts` (list of text),
///   `choice(Enum)`, `choices(Enum)` (a list), `object(Type)`, `objects(Type)` (a list), or
///   `boxed(Type)` (an object kept behind a `Box`).
/// - `"graphName"`: Graph's JSON name; `| "Other"` adds a spelling Graph is seen to send too.
/// - flags, from Microsoft's documentation and metadata (v1.0 `cleanMetadata.xml`, beta
///   type mappings and `v1.0-Fairfax.csdl` of msgraph-metadata; the onlineMeeting resource,
///   update and createOrGet pages of microsoft-graph-docs):
///   - `read_only`: "Read-only" on the resource page, or content Graph generates (recordings,
///     reports): a create must leave it unset;
///   - `patchable`: listed on the v1.0 update (PATCH) page;
///   - `create_or_get`: a parameter of the createOrGet action;
///   - `beta_only`: documented for beta, absent from the v1.0 metadata;
///   - `not_in_usgov`: absent from the US Government (Fairfax) v1.0 metadata, or declared only
///     by a type that metadata lacks.
///
/// A type written `Name + additional_data` is open: what Graph sends that no row names is kept
/// there. `patchable` and `create_or_get` describe top-level properties (a PATCH body and
/// createOrGet's parameters are made of those).
///
/// Callers pass a macro that takes the rows, in the bracketed form `each_type!` hands over:
/// `online_meeting_properties!(their_macro)`.
macro_rules! online_meeting_properties {
    ($callback:ident) => {
        $crate::domain::each_type! { $callback;
            /// A Teams online meeting (Graph's onlineMeeting).
            OnlineMeeting + additional_data {
                id: text = "id" [read_only],
                subject: text = "subject" [patchable, create_or_get],
                start_date_time: time = "startDateTime" [patchable, create_or_get],
                end_date_time: time = "endDateTime" [patchable, create_or_get],
                creation_date_time: time = "creationDateTime" [read_only],
                expiry_date_time: time = "expiryDateTime" [not_in_usgov],
                // createOrGet's key; a plain create is reported to refuse it.
                external_id: text = "externalId" [create_or_get],
                join_web_url: text = "joinWebUrl" [read_only],
                join_url: text = "joinUrl" [read_only, beta_only],
                video_teleconference_id: text = "videoTeleconferenceId" [read_only],
                // Create-only: later updates can't overwrite it.
                meeting_template_id: text = "meetingTemplateId" [not_in_usgov],
                meeting_options_web_url: text = "meetingOptionsWebUrl" [not_in_usgov],
                meeting_spoken_language_tag: text = "meetingSpokenLanguageTag" [not_in_usgov],
                meeting_type: choice(OnlineMeetingType) = "meetingType" [],
                participants: object(MeetingParticipants) = "participants" [patchable, create_or_get],
                audio_conferencing: object(AudioConferencing) = "audioConferencing" [read_only],
                chat_info: object(ChatInfo) = "chatInfo" [create_or_get],
                chat_restrictions: object(ChatRestrictions) = "chatRestrictions" [not_in_usgov],
                join_information: object(ItemBody) = "joinInformation" [read_only],
                // Can't be modified after creation; its id and passcode are read-only.
                join_meeting_id_settings: object(JoinMeetingIdSettings) = "joinMeetingIdSettings" [],
                lobby_bypass_settings: object(LobbyBypassSettings) = "lobbyBypassSettings" [patchable],
                broadcast_settings: object(BroadcastMeetingSettings) = "broadcastSettings" [patchable],
                is_broadcast: flag = "isBroadcast" [],
                watermark_protection: object(WatermarkProtectionValues) = "watermarkProtection" [patchable],
                sensitivity_label_assignment: object(OnlineMeetingSensitivityLabelAssignment)
                    = "sensitivityLabelAssignment" [not_in_usgov],
                cloud_video_interop_info: object(CloudVideoInteropInfo) = "cloudVideoInteropInfo" [not_in_usgov],
                allowed_presenters: choice(OnlineMeetingPresenters) = "allowedPresenters" [patchable],
                allowed_lobby_admitters: choice(AllowedLobbyAdmitterRoles) = "allowedLobbyAdmitters"
                    [patchable, not_in_usgov],
                allow_meeting_chat: choice(MeetingChatMode) = "allowMeetingChat" [patchable],
                allow_live_share: choice(MeetingLiveShareOptions) = "allowLiveShare" [patchable, not_in_usgov],
                share_meeting_chat_history_default: choice(MeetingChatHistoryDefaultMode)
                    = "shareMeetingChatHistoryDefault" [],
                allow_attendee_to_enable_camera: flag = "allowAttendeeToEnableCamera" [patchable],
                allow_attendee_to_enable_mic: flag = "allowAttendeeToEnableMic" [patchable],
                allow_breakout_rooms: flag = "allowBreakoutRooms" [patchable, not_in_usgov],
                allow_copying_and_sharing_meeting_content: flag = "allowCopyingAndSharingMeetingContent"
                    [patchable, not_in_usgov],
                allow_participants_to_change_name: flag = "allowParticipantsToChangeName" [],
                allow_power_point_sharing: flag = "allowPowerPointSharing" [patchable, not_in_usgov],
                allow_recording: flag = "allowRecording" [patchable, not_in_usgov],
                allow_teamwork_reactions: flag = "allowTeamworkReactions" [patchable],
                allow_transcription: flag = "allowTranscription" [patchable, not_in_usgov],
                allow_whiteboard: flag = "allowWhiteboard" [patchable, not_in_usgov],
                is_end_to_end_encryption_enabled: flag = "isEndToEndEncryptionEnabled" [not_in_usgov],
                is_entry_exit_announced: flag = "isEntryExitAnnounced" [patchable],
                record_automatically: flag = "recordAutomatically" [patchable],
                // In the v1.0 update page's table, yet only in the beta metadata.
                anonymize_identity_for_roles: choices(OnlineMeetingRole) = "anonymizeIdentityForRoles"
                    [patchable, beta_only],
                capabilities: choices(MeetingCapabilities) = "capabilities" [beta_only],
                // Deprecated; on beta's page only (in neither metadata), still in v1.0 examples.
                auto_admitted_users: text = "autoAdmittedUsers" [read_only, beta_only],
                attendee_report: text = "attendeeReport" [read_only],
                recording: text = "recording" [read_only, beta_only],
                alternative_recording: text = "alternativeRecording" [read_only, beta_only],
                broadcast_recording: text = "broadcastRecording" [read_only, beta_only],
            }

            /// The organizer and the other participants (Graph's meetingParticipants).
            MeetingParticipants {
                organizer: object(MeetingParticipantInfo) = "organizer" [],
                attendees: objects(MeetingParticipantInfo) = "attendees" [],
                producers: objects(MeetingParticipantInfo) = "producers" [beta_only],
                contributors: objects(MeetingParticipantInfo) = "contributors" [beta_only],
            }

            /// One participant (Graph's meetingParticipantInfo).
            MeetingParticipantInfo {
                identity: object(IdentitySet) = "identity" [],
                role: choice(OnlineMeetingRole) = "role" [],
                upn: text = "upn" [],
            }

            /// Graph's identitySet with the properties of its communicationsIdentitySet subtype.
            /// Each identity is boxed: usually one of the ten is present, and unboxed the set is
            /// 2 KB, moved with every participant.
            IdentitySet {
                application: boxed(Identity) = "application" [],
                device: boxed(Identity) = "device" [],
                user: boxed(Identity) = "user" [],
                application_instance: boxed(Identity) = "applicationInstance" [],
                asserted_identity: boxed(Identity) = "assertedIdentity" [],
                azure_communication_services_user: boxed(Identity) = "azureCommunicationServicesUser" [],
                encrypted: boxed(Identity) = "encrypted" [],
                guest: boxed(Identity) = "guest" [],
                on_premises: boxed(Identity) = "onPremises" [],
                phone: boxed(Identity) = "phone" [],
                endpoint_type: choice(EndpointType) = "endpointType" [],
            }

            /// Graph's identity with the properties of its communications subtypes (user,
            /// application, application instance, guest, Azure Communication Services user),
            /// which the US Government metadata lacks.
            Identity + additional_data {
                id: text = "id" [],
                display_name: text = "displayName" [],
                tenant_id: text = "tenantId" [not_in_usgov],
                // In Graph's examples only ("AAD"), in neither metadata.
                identity_provider: text = "identityProvider" [],
                email: text = "email" [not_in_usgov],
                application_type: text = "applicationType" [not_in_usgov],
                hidden: flag = "hidden" [not_in_usgov],
                azure_communication_services_resource_id: text = "azureCommunicationServicesResourceId"
                    [not_in_usgov],
            }

            /// The dial-in information of a meeting (Graph's audioConferencing).
            AudioConferencing {
                // Graph's create examples spell it `ConferenceId`, createOrGet's `conferenceId`.
                conference_id: text = "conferenceId" | "ConferenceId" [],
                dialin_url: text = "dialinUrl" [],
                toll_free_number: text = "tollFreeNumber" [],
                toll_free_numbers: texts = "tollFreeNumbers" [],
                toll_number: text = "tollNumber" [],
                toll_numbers: texts = "tollNumbers" [],
            }

            /// The chat of a meeting (Graph's chatInfo).
            ChatInfo {
                thread_id: text = "threadId" [],
                message_id: text = "messageId" [],
                reply_chain_message_id: text = "replyChainMessageId" [],
            }

            /// Restrictions on the meeting chat (Graph's chatRestrictions).
            ChatRestrictions {
                allow_text_only: flag = "allowTextOnly" [not_in_usgov],
            }

            /// A body of text or HTML (Graph's itemBody).
            ItemBody {
                content: text = "content" [],
                content_type: choice(BodyType) = "contentType" [],
            }

            /// The settings of joining by meeting id (Graph's joinMeetingIdSettings).
            JoinMeetingIdSettings {
                is_passcode_required: flag = "isPasscodeRequired" [],
                join_meeting_id: text = "joinMeetingId" [read_only],
                // Graph generates it: custom passcodes are not supported.
                passcode: text = "passcode" [read_only],
            }

            /// Who bypasses the lobby (Graph's lobbyBypassSettings).
            LobbyBypassSettings {
                scope: choice(LobbyBypassScope) = "scope" [],
                is_dial_in_bypass_enabled: flag = "isDialInBypassEnabled" [],
            }

            /// The settings of a Teams live event (Graph's broadcastMeetingSettings, deprecated).
            BroadcastMeetingSettings {
                allowed_audience: choice(BroadcastMeetingAudience) = "allowedAudience" [],
                captions: object(BroadcastMeetingCaptionSettings) = "captions" [],
                is_attendee_report_enabled: flag = "isAttendeeReportEnabled" [],
                is_question_and_answer_enabled: flag = "isQuestionAndAnswerEnabled" [],
                is_recording_enabled: flag = "isRecordingEnabled" [],
                is_video_on_demand_enabled: flag = "isVideoOnDemandEnabled" [],
            }

            /// The caption settings of a live event (Graph's broadcastMeetingCaptionSettings).
            BroadcastMeetingCaptionSettings {
                is_caption_enabled: flag = "isCaptionEnabled" [],
                spoken_language: text = "spokenLanguage" [],
                translation_languages: texts = "translationLanguages" [],
            }

            /// What is watermarked (Graph's watermarkProtectionValues).
            WatermarkProtectionValues {
                is_enabled_for_content_sharing: flag = "isEnabledForContentSharing" [],
                is_enabled_for_video: flag = "isEnabledForVideo" [],
            }

            /// The Cloud Video Interop information of a meeting (Graph's cloudVideoInteropInfo).
            CloudVideoInteropInfo {
                more_info_web_url: text = "moreInfoWebUrl" [not_in_usgov],
                tenant_key: text = "tenantKey" [not_in_usgov],
                video_teleconference_id: text = "videoTeleconferenceId" [not_in_usgov],
            }

            /// The sensitivity label of a meeting (Graph's onlineMeetingSensitivityLabelAssignment).
            OnlineMeetingSensitivityLabelAssignment {
                sensitivity_label_id: text = "sensitivityLabelId" [not_in_usgov],
            }
        }
    };
}

/// Graph's enumerations used by the onlineMeeting tables, one row per member, in Graph's order:
/// `Member = "graphName"`. Each may grow: `UnknownFutureValue` is Graph's sentinel for members
/// newer than the caller, and the members after it come back by name only when a request asks
/// for them (`Prefer: include-unknown-enum-members`). Callers pass a macro that takes the rows.
macro_rules! meeting_enums {
    ($callback:ident) => {
        $callback! {
            /// Who can present (Graph's onlineMeetingPresenters).
            OnlineMeetingPresenters {
                Everyone = "everyone",
                Organization = "organization",
                RoleIsPresenter = "roleIsPresenter",
                Organizer = "organizer",
                UnknownFutureValue = "unknownFutureValue",
            }
            /// A participant's role (Graph's onlineMeetingRole).
            OnlineMeetingRole {
                Attendee = "attendee",
                Presenter = "presenter",
                UnknownFutureValue = "unknownFutureValue",
                Producer = "producer",
                Coorganizer = "coorganizer",
            }
            /// Who bypasses the lobby (Graph's lobbyBypassScope).
            LobbyBypassScope {
                Organizer = "organizer",
                Organization = "organization",
                OrganizationAndFederated = "organizationAndFederated",
                Everyone = "everyone",
                UnknownFutureValue = "unknownFutureValue",
                Invited = "invited",
                OrganizationExcludingGuests = "organizationExcludingGuests",
            }
            /// The mode of the meeting chat (Graph's meetingChatMode).
            MeetingChatMode {
                Enabled = "enabled",
                Disabled = "disabled",
                Limited = "limited",
                UnknownFutureValue = "unknownFutureValue",
            }
            /// The chat history new participants see (Graph's meetingChatHistoryDefaultMode).
            MeetingChatHistoryDefaultMode { None = "none", All = "all", UnknownFutureValue = "unknownFutureValue" }
            /// Whether Live Share is enabled (Graph's meetingLiveShareOptions).
            MeetingLiveShareOptions {
                Enabled = "enabled",
                Disabled = "disabled",
                UnknownFutureValue = "unknownFutureValue",
            }
            /// Who can admit people from the lobby (Graph's allowedLobbyAdmitterRoles).
            AllowedLobbyAdmitterRoles {
                OrganizerAndCoOrganizersAndPresenters = "organizerAndCoOrganizersAndPresenters",
                OrganizerAndCoOrganizers = "organizerAndCoOrganizers",
                UnknownFutureValue = "unknownFutureValue",
            }
            /// The type of a meeting (Graph's onlineMeetingType).
            OnlineMeetingType {
                Adhoc = "adhoc",
                Scheduled = "scheduled",
                Recurring = "recurring",
                Broadcast = "broadcast",
                Meetnow = "meetnow",
                UnknownFutureValue = "unknownFutureValue",
            }
            /// Who can attend a live event (Graph's broadcastMeetingAudience).
            BroadcastMeetingAudience {
                RoleIsAttendee = "roleIsAttendee",
                Organization = "organization",
                Everyone = "everyone",
                UnknownFutureValue = "unknownFutureValue",
            }
            /// A capability of a live event (Graph's beta meetingCapabilities).
            MeetingCapabilities { QuestionAndAnswer = "questionAndAnswer", UnknownFutureValue = "unknownFutureValue" }
            /// The type of an itemBody's content (Graph's bodyType), which has no sentinel.
            BodyType { Text = "text", Html = "html" }
            /// The type of a participant's endpoint (Graph's endpointType).
            EndpointType {
                Default = "default",
                Voicemail = "voicemail",
                SkypeForBusiness = "skypeForBusiness",
                SkypeForBusinessVoipPhone = "skypeForBusinessVoipPhone",
                UnknownFutureValue = "unknownFutureValue",
            }
        }
    };
}

pub(crate) use {meeting_enums, online_meeting_properties};

online_meeting_properties!(domain_types);
meeting_enums!(domain_enums);

impl OnlineMeeting {
    /// Whether `json` names a top-level property of the table (case-insensitively, as Graph
    /// matches property names): pass-through `additional_data` must not shadow one.
    pub fn is_modeled(json: &str) -> bool {
        Self::PROPERTIES.iter().any(|p| p.json.eq_ignore_ascii_case(json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Enumeration, Property};

    fn fields(table: &[Property], keep: impl Fn(&Property) -> bool) -> Vec<&'static str> {
        table.iter().filter(|p| keep(p)).map(|p| p.field).collect()
    }

    #[test]
    fn patchable_as_the_update_page_lists() {
        assert_eq!(
            fields(OnlineMeeting::PROPERTIES, |p| p.patchable),
            [
                "subject",
                "start_date_time",
                "end_date_time",
                "participants",
                "lobby_bypass_settings",
                "broadcast_settings",
                "watermark_protection",
                "allowed_presenters",
                "allowed_lobby_admitters",
                "allow_meeting_chat",
                "allow_live_share",
                "allow_attendee_to_enable_camera",
                "allow_attendee_to_enable_mic",
                "allow_breakout_rooms",
                "allow_copying_and_sharing_meeting_content",
                "allow_power_point_sharing",
                "allow_recording",
                "allow_teamwork_reactions",
                "allow_transcription",
                "allow_whiteboard",
                "is_entry_exit_announced",
                "record_automatically",
                "anonymize_identity_for_roles",
            ]
        );
        let patchable = |field| OnlineMeeting::property(field).map(|p| p.patchable);
        for field in ["subject", "start_date_time", "end_date_time", "participants", "lobby_bypass_settings"] {
            assert_eq!(patchable(field), Some(true), "{field}");
        }
        // "can't be modified" after creation / "can't overwrite the meetingTemplateId".
        for field in ["join_meeting_id_settings", "meeting_template_id", "id", "join_web_url"] {
            assert_eq!(patchable(field), Some(false), "{field}");
        }
        assert_eq!(patchable("no_such_property"), None);
    }

    #[test]
    fn read_only_as_the_resource_page_marks() {
        assert_eq!(
            fields(OnlineMeeting::PROPERTIES, |p| p.read_only),
            [
                "id",
                "creation_date_time",
                "join_web_url",
                "join_url",
                "video_teleconference_id",
                "audio_conferencing",
                "join_information",
                "auto_admitted_users",
                "attendee_report",
                "recording",
                "alternative_recording",
                "broadcast_recording",
            ]
        );
        assert_eq!(fields(JoinMeetingIdSettings::PROPERTIES, |p| p.read_only), ["join_meeting_id", "passcode"]);
        assert!(OnlineMeeting::PROPERTIES.iter().all(|p| !(p.read_only && (p.patchable || p.create_or_get))));
    }

    #[test]
    fn create_or_get_takes_its_action_parameters() {
        assert_eq!(
            fields(OnlineMeeting::PROPERTIES, |p| p.create_or_get),
            ["subject", "start_date_time", "end_date_time", "external_id", "participants", "chat_info"]
        );
    }

    #[test]
    fn beta_only_as_the_metadata_differs() {
        assert_eq!(
            fields(OnlineMeeting::PROPERTIES, |p| p.beta_only),
            [
                "join_url",
                "anonymize_identity_for_roles",
                "capabilities",
                "auto_admitted_users",
                "recording",
                "alternative_recording",
                "broadcast_recording",
            ]
        );
        assert_eq!(fields(MeetingParticipants::PROPERTIES, |p| p.beta_only), ["producers", "contributors"]);
        assert_eq!(OnlineMeeting::property("capabilities").map(|p| p.beta_only), Some(true));
        assert_eq!(OnlineMeeting::property("meeting_type").map(|p| p.beta_only), Some(false));
    }

    #[test]
    fn not_in_us_government_as_the_fairfax_metadata_lacks() {
        assert_eq!(
            fields(OnlineMeeting::PROPERTIES, |p| p.not_in_usgov),
            [
                "expiry_date_time",
                "meeting_template_id",
                "meeting_options_web_url",
                "meeting_spoken_language_tag",
                "chat_restrictions",
                "sensitivity_label_assignment",
                "cloud_video_interop_info",
                "allowed_lobby_admitters",
                "allow_live_share",
                "allow_breakout_rooms",
                "allow_copying_and_sharing_meeting_content",
                "allow_power_point_sharing",
                "allow_recording",
                "allow_transcription",
                "allow_whiteboard",
                "is_end_to_end_encryption_enabled",
            ]
        );
        assert_eq!(
            fields(Identity::PROPERTIES, |p| p.not_in_usgov),
            ["tenant_id", "email", "application_type", "hidden", "azure_communication_services_resource_id"]
        );
    }

    /// Each table as (type name, rows), through the table's own callback.
    macro_rules! tables {
        ($( [$($attr:tt)*] $name:ident [$($extra:tt)*] { $($rows:tt)* } )*) => {
            [$( (stringify!($name), $name::PROPERTIES) ),*]
        };
    }

    #[test]
    fn every_json_name_is_its_fields_camel_case() {
        let camel = |snake: &str| {
            let mut out = String::new();
            for (i, word) in snake.split('_').enumerate() {
                let mut chars = word.chars();
                if let (true, Some(first)) = (i > 0, chars.next()) {
                    out.push(first.to_ascii_uppercase());
                    out.extend(chars);
                } else {
                    out.push_str(word);
                }
            }
            out
        };
        let tables = online_meeting_properties!(tables);
        assert_eq!(tables.len(), 16);
        for (name, rows) in tables {
            for p in rows {
                assert_eq!(camel(p.field), p.json, "{name}.{}", p.field);
            }
        }
    }

    #[test]
    fn modeled_names_are_the_top_level_json_names() {
        assert_eq!(OnlineMeeting::PROPERTIES.len(), 51);
        assert!(OnlineMeeting::is_modeled("startDateTime"));
        assert!(OnlineMeeting::is_modeled("Subject"));
        assert!(!OnlineMeeting::is_modeled("additional_data"));
        assert!(!OnlineMeeting::is_modeled("allowFutureThing"));
        assert!(!OnlineMeeting::is_modeled("threadId"), "nested names are not top-level");
    }

    #[test]
    fn set_properties_follow_presence() {
        let meeting = OnlineMeeting {
            subject: Some(String::new()),
            meeting_template_id: Some("t".into()),
            allow_recording: Some(false),
            capabilities: vec![],
            anonymize_identity_for_roles: vec![OnlineMeetingRole::Attendee],
            additional_data: [("x".to_owned(), serde_json::json!(1))].into_iter().collect(),
            ..Default::default()
        };
        let set: Vec<_> = meeting.set_properties(|_| true).into_iter().map(|p| p.field).collect();
        assert_eq!(set, ["subject", "meeting_template_id", "allow_recording", "anonymize_identity_for_roles"]);
        assert!(OnlineMeeting::default().set_properties(|_| true).is_empty());
        let flags: Vec<_> = meeting.set_properties(|p| p.patchable).into_iter().map(|p| p.field).collect();
        assert_eq!(flags, ["subject", "allow_recording", "anonymize_identity_for_roles"]);
        assert!(meeting.set_properties(|p| p.read_only).is_empty());
    }

    #[test]
    fn enumerations_know_their_members_and_sentinel() {
        assert_eq!(OnlineMeetingRole::UNKNOWN, Some(OnlineMeetingRole::UnknownFutureValue));
        assert_eq!(LobbyBypassScope::MEMBERS.len(), 7);
        assert_eq!(LobbyBypassScope::MEMBERS[5], LobbyBypassScope::Invited);
        assert_eq!(BodyType::UNKNOWN, None);
        assert_eq!(MeetingChatHistoryDefaultMode::UNKNOWN, Some(MeetingChatHistoryDefaultMode::UnknownFutureValue));
    }
}
