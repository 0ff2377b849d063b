//! Seeds for the property tests: the sample bodies Microsoft documents (and SDKs' test mocks
//! record) for Graph errors and the identity platform's token endpoint, kept in
//! `tests/fixtures/corpus/` as collected from the references.

/// Every `"body"` in a sample file, serialized as it would arrive, with its `"status"` (400 where
/// the source gives none).
pub fn bodies(samples: &str) -> Vec<(u16, Vec<u8>)> {
    fn walk(value: &serde_json::Value, out: &mut Vec<(u16, Vec<u8>)>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(body) = map.get("body") {
                    let status = map.get("status").and_then(serde_json::Value::as_u64).map_or(400, |s| s as u16);
                    let bytes = match body {
                        serde_json::Value::String(text) => text.clone().into_bytes(),
                        other => serde_json::to_vec(other).expect("serializable"),
                    };
                    out.push((status, bytes));
                }
                map.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::from_str(samples).expect("sample file is JSON"), &mut out);
    out
}

pub const GRAPH_ERRORS: &str = include_str!("../tests/fixtures/corpus/graph-error-samples.json");
pub const TOKEN_RESPONSES: &str = include_str!("../tests/fixtures/corpus/entra-token-samples.json");

/// `seed` with the byte at `position` replaced, or the body cut there.
pub fn mutate(seed: &[u8], position: proptest::sample::Index, byte: u8, cut: bool) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    if bytes.is_empty() {
        return bytes;
    }
    let at = position.index(bytes.len());
    if cut {
        bytes.truncate(at)
    } else {
        bytes[at] = byte
    }
    bytes
}

/// A meeting with every modeled property set (nested ones too) to a distinct value, for the
/// tests that pin what each conversion makes of a whole meeting. `writable` leaves out what a
/// create must not carry (read-only properties, and `external_id`, which narrows a create to
/// createOrGet's parameters).
pub fn full_meeting(writable: bool) -> crate::domain::OnlineMeeting {
    use serde_json::json;
    use time::macros::datetime;

    use crate::domain::*;

    let text = |s: &str| Some(s.to_owned());
    let identity = |id: &str| Some(Box::new(Identity { id: text(id), ..Default::default() }));
    let full_identity = Identity {
        id: text("550fae72-d251-43ec-868c-373732c2704f"),
        display_name: text("Adele Vance"),
        tenant_id: text("72f988bf-86f1-41af-91ab-2d7cd011db47"),
        identity_provider: text("AAD"),
        email: text("adele@contoso.com"),
        application_type: text("bot"),
        hidden: Some(false),
        azure_communication_services_resource_id: text("acs-1"),
        additional_data: [("@odata.type".to_owned(), json!("#microsoft.graph.communicationsUserIdentity"))]
            .into_iter()
            .collect(),
    };
    // Every kind of identity once (on the organizer), one identity on the other participants.
    let everyone = IdentitySet {
        application: identity("app"),
        device: identity("device"),
        user: Some(Box::new(full_identity)),
        application_instance: identity("instance"),
        asserted_identity: identity("asserted"),
        azure_communication_services_user: identity("acs"),
        encrypted: identity("encrypted"),
        guest: identity("guest"),
        on_premises: identity("onprem"),
        phone: identity("phone"),
        endpoint_type: Some(EndpointType::SkypeForBusinessVoipPhone),
    };
    let participant = |name: &str, role: OnlineMeetingRole, set: Option<IdentitySet>| MeetingParticipantInfo {
        identity: set.or_else(|| Some(IdentitySet { user: identity(name), ..Default::default() })),
        role: Some(role),
        upn: text(&format!("{name}@contoso.com")),
    };
    let read_only = |value: Option<String>| if writable { None } else { value };
    OnlineMeeting {
        id: read_only(text("MSpkYzE3")),
        subject: text("Quarterly planning"),
        start_date_time: Some(datetime!(2030-01-15 15:00:01.2444915 UTC)),
        end_date_time: Some(datetime!(2030-01-15 16:00 UTC)),
        creation_date_time: (!writable).then_some(datetime!(2029-12-01 08:00:00.5 UTC)),
        expiry_date_time: Some(datetime!(2030-03-16 16:00 UTC)),
        external_id: read_only(text("order-42")),
        join_web_url: read_only(text("https://teams.microsoft.com/l/meetup-join/19%3ameeting")),
        join_url: read_only(text("https://teams.microsoft.com/join")),
        video_teleconference_id: read_only(text("123456789")),
        meeting_template_id: text("05b9ed5f-2ac3-4470-aae9-f4a0c30b1a4b"),
        meeting_options_web_url: text("https://teams.microsoft.com/meetingOptions"),
        meeting_spoken_language_tag: text("en-US"),
        meeting_type: Some(OnlineMeetingType::Scheduled),
        participants: Some(MeetingParticipants {
            organizer: Some(participant("organizer", OnlineMeetingRole::Presenter, Some(everyone))),
            attendees: vec![
                participant("attendee1", OnlineMeetingRole::Attendee, None),
                participant("attendee2", OnlineMeetingRole::Coorganizer, None),
            ],
            producers: vec![participant("producer", OnlineMeetingRole::Producer, None)],
            contributors: vec![participant("contributor", OnlineMeetingRole::Attendee, None)],
        }),
        audio_conferencing: (!writable).then(|| AudioConferencing {
            conference_id: text("24299"),
            dialin_url: text("https://dialin.teams.microsoft.com"),
            toll_free_number: text("+18005550100"),
            toll_free_numbers: vec!["+18005550100".into(), "+18005550101".into()],
            toll_number: text("+12065550100"),
            toll_numbers: vec!["+12065550100".into()],
        }),
        chat_info: Some(ChatInfo {
            thread_id: text("19:meeting_M2Iz@thread.v2"),
            message_id: text("0"),
            reply_chain_message_id: text("1"),
        }),
        chat_restrictions: Some(ChatRestrictions { allow_text_only: Some(true) }),
        join_information: (!writable)
            .then(|| ItemBody { content: text("data:text/html,%3Cp%3E"), content_type: Some(BodyType::Html) }),
        join_meeting_id_settings: Some(JoinMeetingIdSettings {
            is_passcode_required: Some(true),
            join_meeting_id: read_only(text("1234567890")),
            passcode: read_only(text("abc123")),
        }),
        lobby_bypass_settings: Some(LobbyBypassSettings {
            scope: Some(LobbyBypassScope::OrganizationExcludingGuests),
            is_dial_in_bypass_enabled: Some(false),
        }),
        broadcast_settings: Some(BroadcastMeetingSettings {
            allowed_audience: Some(BroadcastMeetingAudience::RoleIsAttendee),
            captions: Some(BroadcastMeetingCaptionSettings {
                is_caption_enabled: Some(true),
                spoken_language: text("en-us"),
                translation_languages: vec!["fr-fr".into(), "de-de".into()],
            }),
            is_attendee_report_enabled: Some(true),
            is_question_and_answer_enabled: Some(false),
            is_recording_enabled: Some(true),
            is_video_on_demand_enabled: Some(false),
        }),
        is_broadcast: Some(true),
        watermark_protection: Some(WatermarkProtectionValues {
            is_enabled_for_content_sharing: Some(true),
            is_enabled_for_video: Some(false),
        }),
        sensitivity_label_assignment: Some(OnlineMeetingSensitivityLabelAssignment {
            sensitivity_label_id: text("label-1"),
        }),
        cloud_video_interop_info: Some(CloudVideoInteropInfo {
            more_info_web_url: text("https://cvi.example"),
            tenant_key: text("tenant-key"),
            video_teleconference_id: text("987654"),
        }),
        allowed_presenters: Some(OnlineMeetingPresenters::RoleIsPresenter),
        allowed_lobby_admitters: Some(AllowedLobbyAdmitterRoles::OrganizerAndCoOrganizers),
        allow_meeting_chat: Some(MeetingChatMode::Limited),
        allow_live_share: Some(MeetingLiveShareOptions::Disabled),
        share_meeting_chat_history_default: Some(MeetingChatHistoryDefaultMode::All),
        allow_attendee_to_enable_camera: Some(true),
        allow_attendee_to_enable_mic: Some(false),
        allow_breakout_rooms: Some(true),
        allow_copying_and_sharing_meeting_content: Some(false),
        allow_participants_to_change_name: Some(true),
        allow_power_point_sharing: Some(false),
        allow_recording: Some(true),
        allow_teamwork_reactions: Some(false),
        allow_transcription: Some(true),
        allow_whiteboard: Some(false),
        is_end_to_end_encryption_enabled: Some(true),
        is_entry_exit_announced: Some(false),
        record_automatically: Some(true),
        anonymize_identity_for_roles: vec![OnlineMeetingRole::Attendee, OnlineMeetingRole::Presenter],
        capabilities: vec![MeetingCapabilities::QuestionAndAnswer],
        auto_admitted_users: read_only(text("EveryoneInCompany")),
        attendee_report: read_only(text("https://stream.example/report")),
        recording: read_only(text("https://stream.example/recording")),
        alternative_recording: read_only(text("https://stream.example/alternative")),
        broadcast_recording: read_only(text("https://stream.example/broadcast")),
        additional_data: [
            ("allowFutureThing".to_owned(), json!(true)),
            ("futureSettings".to_owned(), json!({"level": 3, "ratio": 0.5, "names": ["a", null]})),
        ]
        .into_iter()
        .collect(),
    }
}

/// The Graph JSON the service wrote for `full_meeting(false)` before the property table existed,
/// byte for byte (key order, time format, enum names, what is left out).
pub const FULL_MEETING_GRAPH_JSON: &str = concat!(
    r##"{"id":"MSpkYzE3","subject":"Quarterly planning","startDateTime":"2030-01-15T15:00:01.2444915Z","##,
    r##""endDateTime":"2030-01-15T16:00:00Z","creationDateTime":"2029-12-01T08:00:00.5Z","expiryDateTime":"2030-"##,
    r##"03-16T16:00:00Z","externalId":"order-42","joinWebUrl":"https://teams.microsoft.com/l/meetup-join/19%3ame"##,
    r##"eting","joinUrl":"https://teams.microsoft.com/join","videoTeleconferenceId":"123456789","##,
    r##""meetingTemplateId":"05b9ed5f-2ac3-4470-aae9-f4a0c30b1a4b","meetingOptionsWebUrl":"https://teams.microso"##,
    r##"ft.com/meetingOptions","meetingSpokenLanguageTag":"en-US","meetingType":"scheduled","##,
    r##""participants":{"organizer":{"identity":{"application":{"id":"app"},"device":{"id":"device"},"##,
    r##""user":{"id":"550fae72-d251-43ec-868c-373732c2704f","displayName":"Adele Vance","tenantId":"72f988bf-86f"##,
    r##"1-41af-91ab-2d7cd011db47","identityProvider":"AAD","email":"adele@contoso.com","applicationType":"bot","##,
    r##""hidden":false,"azureCommunicationServicesResourceId":"acs-1","@odata.type":"#microsoft.graph.communicat"##,
    r##"ionsUserIdentity"},"applicationInstance":{"id":"instance"},"assertedIdentity":{"id":"asserted"},"##,
    r##""azureCommunicationServicesUser":{"id":"acs"},"encrypted":{"id":"encrypted"},"guest":{"id":"guest"},"##,
    r##""onPremises":{"id":"onprem"},"phone":{"id":"phone"},"endpointType":"skypeForBusinessVoipPhone"},"##,
    r##""role":"presenter","upn":"organizer@contoso.com"},"attendees":[{"identity":{"user":{"id":"attendee1"}},"##,
    r##""role":"attendee","upn":"attendee1@contoso.com"},{"identity":{"user":{"id":"attendee2"}},"##,
    r##""role":"coorganizer","upn":"attendee2@contoso.com"}],"producers":[{"identity":{"user":{"id":"producer"}}"##,
    r##","role":"producer","upn":"producer@contoso.com"}],"contributors":[{"identity":{"user":{"id":"contributor"##,
    r##""}},"role":"attendee","upn":"contributor@contoso.com"}]},"audioConferencing":{"conferenceId":"24299","##,
    r##""dialinUrl":"https://dialin.teams.microsoft.com","tollFreeNumber":"+18005550100","tollFreeNumbers":["+18"##,
    r##"005550100","+18005550101"],"tollNumber":"+12065550100","tollNumbers":["+12065550100"]},"##,
    r##""chatInfo":{"threadId":"19:meeting_M2Iz@thread.v2","messageId":"0","replyChainMessageId":"1"},"##,
    r##""chatRestrictions":{"allowTextOnly":true},"joinInformation":{"content":"data:text/html,"##,
    r##"%3Cp%3E","contentType":"html"},"joinMeetingIdSettings":{"isPasscodeRequired":true,"joinMeetingId":"12345"##,
    r##"67890","passcode":"abc123"},"lobbyBypassSettings":{"scope":"organizationExcludingGuests","##,
    r##""isDialInBypassEnabled":false},"broadcastSettings":{"allowedAudience":"roleIsAttendee","##,
    r##""captions":{"isCaptionEnabled":true,"spokenLanguage":"en-us","translationLanguages":["fr-fr","##,
    r##""de-de"]},"isAttendeeReportEnabled":true,"isQuestionAndAnswerEnabled":false,"isRecordingEnabled":true,"##,
    r##""isVideoOnDemandEnabled":false},"isBroadcast":true,"watermarkProtection":{"isEnabledForContentSharing":t"##,
    r##"rue,"isEnabledForVideo":false},"sensitivityLabelAssignment":{"sensitivityLabelId":"label-1"},"##,
    r##""cloudVideoInteropInfo":{"moreInfoWebUrl":"https://cvi.example","tenantKey":"tenant-key","##,
    r##""videoTeleconferenceId":"987654"},"allowedPresenters":"roleIsPresenter","allowedLobbyAdmitters":"organiz"##,
    r##"erAndCoOrganizers","allowMeetingChat":"limited","allowLiveShare":"disabled","shareMeetingChatHistoryDefa"##,
    r##"ult":"all","allowAttendeeToEnableCamera":true,"allowAttendeeToEnableMic":false,"allowBreakoutRooms":true"##,
    r##","allowCopyingAndSharingMeetingContent":false,"allowParticipantsToChangeName":true,"allowPowerPointShari"##,
    r##"ng":false,"allowRecording":true,"allowTeamworkReactions":false,"allowTranscription":true,"##,
    r##""allowWhiteboard":false,"isEndToEndEncryptionEnabled":true,"isEntryExitAnnounced":false,"##,
    r##""recordAutomatically":true,"anonymizeIdentityForRoles":["attendee","presenter"],"capabilities":["questio"##,
    r##"nAndAnswer"],"autoAdmittedUsers":"EveryoneInCompany","attendeeReport":"https://stream.example/report","##,
    r##""recording":"https://stream.example/recording","alternativeRecording":"https://stream.example/alternativ"##,
    r##"e","broadcastRecording":"https://stream.example/broadcast","allowFutureThing":true,"futureSettings":{"le"##,
    r##"vel":3,"names":["a",null],"ratio":0.5}}"##,
);

/// The gRPC reply the service made of `full_meeting(false)` before the property table existed, as
/// prost's `Debug` prints it.
pub const FULL_MEETING_REPLY_DEBUG: &str = concat!(
    r##"CreateResponse { meeting: Some(OnlineMeeting { id: Some("MSpkYzE3"), subject: Some("Quarterly planning")"##,
    r##", start_date_time: Some(Timestamp { seconds: 1894719601, nanos: 244491500 }), end_date_time: Some(Timest"##,
    r##"amp { seconds: 1894723200, nanos: 0 }), creation_date_time: Some(Timestamp { seconds: 1890806400,"##,
    r##" nanos: 500000000 }), expiry_date_time: Some(Timestamp { seconds: 1899907200, nanos: 0 }),"##,
    r##" external_id: Some("order-42"), join_web_url: Some("https://teams.microsoft.com/l/meetup-join/19%3ameeti"##,
    r##"ng"), join_url: Some("https://teams.microsoft.com/join"), video_teleconference_id: Some("123456789"),"##,
    r##" meeting_template_id: Some("05b9ed5f-2ac3-4470-aae9-f4a0c30b1a4b"), meeting_options_web_url: Some("https"##,
    r##"://teams.microsoft.com/meetingOptions"), meeting_spoken_language_tag: Some("en-US"),"##,
    r##" meeting_type: Scheduled, participants: Some(MeetingParticipants { organizer: Some(MeetingParticipantInf"##,
    r##"o { identity: Some(IdentitySet { application: Some(Identity { id: Some("app"), display_name: None,"##,
    r##" tenant_id: None, identity_provider: None, email: None, application_type: None, hidden: None,"##,
    r##" azure_communication_services_resource_id: None, additional_data: None }), device: Some(Identity { id: S"##,
    r##"ome("device"), display_name: None, tenant_id: None, identity_provider: None, email: None,"##,
    r##" application_type: None, hidden: None, azure_communication_services_resource_id: None,"##,
    r##" additional_data: None }), user: Some(Identity { id: Some("550fae72-d251-43ec-868c-373732c2704f"),"##,
    r##" display_name: Some("Adele Vance"), tenant_id: Some("72f988bf-86f1-41af-91ab-2d7cd011db47"),"##,
    r##" identity_provider: Some("AAD"), email: Some("adele@contoso.com"), application_type: Some("bot"),"##,
    r##" hidden: Some(false), azure_communication_services_resource_id: Some("acs-1"), additional_data: Some(Str"##,
    r##"uct { fields: {"@odata.type": Value { kind: Some(StringValue("#microsoft.graph.communicationsUserIdentit"##,
    r##"y")) }} }) }), application_instance: Some(Identity { id: Some("instance"), display_name: None,"##,
    r##" tenant_id: None, identity_provider: None, email: None, application_type: None, hidden: None,"##,
    r##" azure_communication_services_resource_id: None, additional_data: None }), asserted_identity: Some(Ident"##,
    r##"ity { id: Some("asserted"), display_name: None, tenant_id: None, identity_provider: None,"##,
    r##" email: None, application_type: None, hidden: None, azure_communication_services_resource_id: None,"##,
    r##" additional_data: None }), azure_communication_services_user: Some(Identity { id: Some("acs"),"##,
    r##" display_name: None, tenant_id: None, identity_provider: None, email: None, application_type: None,"##,
    r##" hidden: None, azure_communication_services_resource_id: None, additional_data: None }),"##,
    r##" encrypted: Some(Identity { id: Some("encrypted"), display_name: None, tenant_id: None,"##,
    r##" identity_provider: None, email: None, application_type: None, hidden: None, azure_communication_service"##,
    r##"s_resource_id: None, additional_data: None }), guest: Some(Identity { id: Some("guest"),"##,
    r##" display_name: None, tenant_id: None, identity_provider: None, email: None, application_type: None,"##,
    r##" hidden: None, azure_communication_services_resource_id: None, additional_data: None }),"##,
    r##" on_premises: Some(Identity { id: Some("onprem"), display_name: None, tenant_id: None,"##,
    r##" identity_provider: None, email: None, application_type: None, hidden: None, azure_communication_service"##,
    r##"s_resource_id: None, additional_data: None }), phone: Some(Identity { id: Some("phone"),"##,
    r##" display_name: None, tenant_id: None, identity_provider: None, email: None, application_type: None,"##,
    r##" hidden: None, azure_communication_services_resource_id: None, additional_data: None }),"##,
    r##" endpoint_type: SkypeForBusinessVoipPhone }), role: Presenter, upn: Some("organizer@contoso.com") }),"##,
    r##" attendees: [MeetingParticipantInfo { identity: Some(IdentitySet { application: None,"##,
    r##" device: None, user: Some(Identity { id: Some("attendee1"), display_name: None, tenant_id: None,"##,
    r##" identity_provider: None, email: None, application_type: None, hidden: None, azure_communication_service"##,
    r##"s_resource_id: None, additional_data: None }), application_instance: None, asserted_identity: None,"##,
    r##" azure_communication_services_user: None, encrypted: None, guest: None, on_premises: None,"##,
    r##" phone: None, endpoint_type: Unspecified }), role: Attendee, upn: Some("attendee1@contoso.com") },"##,
    r##" MeetingParticipantInfo { identity: Some(IdentitySet { application: None, device: None,"##,
    r##" user: Some(Identity { id: Some("attendee2"), display_name: None, tenant_id: None, identity_provider: No"##,
    r##"ne, email: None, application_type: None, hidden: None, azure_communication_services_resource_id: None,"##,
    r##" additional_data: None }), application_instance: None, asserted_identity: None, azure_communication_serv"##,
    r##"ices_user: None, encrypted: None, guest: None, on_premises: None, phone: None, endpoint_type: Unspecifie"##,
    r##"d }), role: Coorganizer, upn: Some("attendee2@contoso.com") }], producers: [MeetingParticipantInfo { ide"##,
    r##"ntity: Some(IdentitySet { application: None, device: None, user: Some(Identity { id: Some("producer"),"##,
    r##" display_name: None, tenant_id: None, identity_provider: None, email: None, application_type: None,"##,
    r##" hidden: None, azure_communication_services_resource_id: None, additional_data: None }),"##,
    r##" application_instance: None, asserted_identity: None, azure_communication_services_user: None,"##,
    r##" encrypted: None, guest: None, on_premises: None, phone: None, endpoint_type: Unspecified }),"##,
    r##" role: Producer, upn: Some("producer@contoso.com") }], contributors: [MeetingParticipantInfo { identity:"##,
    r##" Some(IdentitySet { application: None, device: None, user: Some(Identity { id: Some("contributor"),"##,
    r##" display_name: None, tenant_id: None, identity_provider: None, email: None, application_type: None,"##,
    r##" hidden: None, azure_communication_services_resource_id: None, additional_data: None }),"##,
    r##" application_instance: None, asserted_identity: None, azure_communication_services_user: None,"##,
    r##" encrypted: None, guest: None, on_premises: None, phone: None, endpoint_type: Unspecified }),"##,
    r##" role: Attendee, upn: Some("contributor@contoso.com") }] }), audio_conferencing: Some(AudioConferencing "##,
    r##"{ conference_id: Some("24299"), dialin_url: Some("https://dialin.teams.microsoft.com"),"##,
    r##" toll_free_number: Some("+18005550100"), toll_free_numbers: ["+18005550100", "+18005550101"],"##,
    r##" toll_number: Some("+12065550100"), toll_numbers: ["+12065550100"] }), chat_info: Some(ChatInfo { thread"##,
    r##"_id: Some("19:meeting_M2Iz@thread.v2"), message_id: Some("0"), reply_chain_message_id: Some("1") }),"##,
    r##" chat_restrictions: Some(ChatRestrictions { allow_text_only: Some(true) }), join_information: Some(ItemB"##,
    r##"ody { content: Some("data:text/html,%3Cp%3E"), content_type: Html }), join_meeting_id_settings: Some(Joi"##,
    r##"nMeetingIdSettings { is_passcode_required: Some(true), join_meeting_id: Some("1234567890"),"##,
    r##" passcode: Some("abc123") }), lobby_bypass_settings: Some(LobbyBypassSettings { scope: OrganizationExclu"##,
    r##"dingGuests, is_dial_in_bypass_enabled: Some(false) }), broadcast_settings: Some(BroadcastMeetingSettings"##,
    r##" { allowed_audience: RoleIsAttendee, captions: Some(BroadcastMeetingCaptionSettings { is_caption_enabled"##,
    r##": Some(true), spoken_language: Some("en-us"), translation_languages: ["fr-fr", "de-de"] }),"##,
    r##" is_attendee_report_enabled: Some(true), is_question_and_answer_enabled: Some(false),"##,
    r##" is_recording_enabled: Some(true), is_video_on_demand_enabled: Some(false) }), is_broadcast: Some(true),"##,
    r##" watermark_protection: Some(WatermarkProtectionValues { is_enabled_for_content_sharing: Some(true),"##,
    r##" is_enabled_for_video: Some(false) }), sensitivity_label_assignment: Some(OnlineMeetingSensitivityLabelA"##,
    r##"ssignment { sensitivity_label_id: Some("label-1") }), cloud_video_interop_info: Some(CloudVideoInteropIn"##,
    r##"fo { more_info_web_url: Some("https://cvi.example"), tenant_key: Some("tenant-key"),"##,
    r##" video_teleconference_id: Some("987654") }), allowed_presenters: RoleIsPresenter, allowed_lobby_admitter"##,
    r##"s: OrganizerAndCoOrganizers, allow_meeting_chat: Limited, allow_live_share: Disabled,"##,
    r##" share_meeting_chat_history_default: All, allow_attendee_to_enable_camera: Some(true),"##,
    r##" allow_attendee_to_enable_mic: Some(false), allow_breakout_rooms: Some(true), allow_copying_and_sharing_"##,
    r##"meeting_content: Some(false), allow_participants_to_change_name: Some(true), allow_power_point_sharing: "##,
    r##"Some(false), allow_recording: Some(true), allow_teamwork_reactions: Some(false), allow_transcription: So"##,
    r##"me(true), allow_whiteboard: Some(false), is_end_to_end_encryption_enabled: Some(true),"##,
    r##" is_entry_exit_announced: Some(false), record_automatically: Some(true), anonymize_identity_for_roles: ["##,
    r##"Attendee, Presenter], capabilities: [QuestionAndAnswer], auto_admitted_users: Some("EveryoneInCompany"),"##,
    r##" attendee_report: Some("https://stream.example/report"), recording: Some("https://stream.example/recordi"##,
    r##"ng"), alternative_recording: Some("https://stream.example/alternative"), broadcast_recording: Some("http"##,
    r##"s://stream.example/broadcast"), additional_data: Some(Struct { fields: {"allowFutureThing": Value { kind"##,
    r##": Some(BoolValue(true)) }, "futureSettings": Value { kind: Some(StructValue(Struct { fields: {"level": V"##,
    r##"alue { kind: Some(NumberValue(3.0)) }, "names": Value { kind: Some(ListValue(ListValue { values: [Value "##,
    r##"{ kind: Some(StringValue("a")) }, Value { kind: Some(NullValue(NullValue)) }] })) },"##,
    r##" "ratio": Value { kind: Some(NumberValue(0.5)) }} })) }} }) }), created: true, graph_request_id: "9e1b2c"##,
    r##"3d" }"##,
);
