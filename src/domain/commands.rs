//! What a caller may ask of a meeting, each request validated into a command: create, get, find,
//! update, delete. The property table's flags decide what an update may change and what an
//! idempotent create sends where.

use super::{
    ids::{AcceptLanguage, ResourceId, TenantId, UserId},
    meeting::OnlineMeeting,
    property::Property,
    violation::FieldViolation,
};

/// A request to create one meeting, already validated.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateMeeting {
    pub tenant: TenantId,
    pub organizer: UserId,
    /// Boxed: it is 3 KB and every layer's future holds the command across awaits.
    pub meeting: Box<OnlineMeeting>,
    pub language: Option<AcceptLanguage>,
}

impl CreateMeeting {
    /// Idempotent creates (Graph's createOrGet) are keyed by tenant, organizer and external id.
    pub fn is_idempotent(&self) -> bool {
        self.meeting.external_id.is_some()
    }

    /// For an idempotent create: the properties createOrGet does not take, which are PATCHed
    /// onto the meeting it returns (new or existing, so a retry completes a meeting whose first
    /// attempt stopped between the two steps). Empty for a plain create.
    pub fn properties_to_patch(&self) -> Vec<&'static Property> {
        if !self.is_idempotent() {
            return Vec::new();
        }
        self.meeting.set_properties(|p| p.patchable && !p.create_or_get)
    }
}

/// The outcome of a successful create.
#[derive(Clone, Debug, PartialEq)]
pub struct MeetingCreated {
    pub meeting: Box<OnlineMeeting>,
    /// False when createOrGet returned a meeting that already existed.
    pub created: bool,
    pub graph_request_id: Option<String>,
}

/// One meeting of one organizer.
#[derive(Clone, Debug, PartialEq)]
pub struct MeetingRef {
    pub tenant: TenantId,
    pub organizer: UserId,
    pub meeting: ResourceId,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GetMeeting {
    pub target: MeetingRef,
    pub language: Option<AcceptLanguage>,
}

/// What people share of a meeting, to look it up by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindKey {
    /// The join link, compared by Graph as a string.
    JoinWebUrl(String),
    /// The numeric meeting id people type in.
    JoinMeetingId(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct FindMeeting {
    pub tenant: TenantId,
    pub organizer: UserId,
    pub key: FindKey,
    pub language: Option<AcceptLanguage>,
}

/// A change to some properties of a meeting.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateMeeting {
    pub target: MeetingRef,
    /// The new values; a masked property left unset is cleared.
    pub meeting: Box<OnlineMeeting>,
    /// The properties to change (top level, PATCH-able), in the table's order.
    pub properties: Vec<&'static Property>,
    pub language: Option<AcceptLanguage>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeleteMeeting {
    pub target: MeetingRef,
    /// A meeting that does not exist is not an error (a retried delete succeeds).
    pub allow_missing: bool,
}

/// A meeting Graph returned for a read or an update.
#[derive(Clone, Debug, PartialEq)]
pub struct MeetingFound {
    pub meeting: Box<OnlineMeeting>,
    pub graph_request_id: Option<String>,
}

/// A deletion Graph confirmed (or, with `allow_missing`, found already done).
#[derive(Clone, Debug, PartialEq)]
pub struct MeetingDeleted {
    pub graph_request_id: Option<String>,
}

/// The properties an update mask names, checked against Graph's update page: each path a
/// top-level property (`field` = the mask's field name for violations) that PATCH may change,
/// start and end only together. Duplicates count once.
pub fn update_properties(field: &str, paths: &[String]) -> Result<Vec<&'static Property>, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    let mut properties: Vec<&'static Property> = Vec::new();
    if paths.is_empty() {
        violations.push(FieldViolation::new(field, "is required: name the fields to change, e.g. \"subject\""));
    }
    for (i, path) in paths.iter().enumerate() {
        let at = || format!("{field}.paths[{i}]");
        match OnlineMeeting::property(path) {
            Some(property) if property.patchable => {
                if !properties.contains(&property) {
                    properties.push(property);
                }
            }
            Some(property) if property.read_only => {
                violations.push(FieldViolation::new(at(), format!("`{path}` is read-only: Graph sets it")))
            }
            Some(_) => violations.push(FieldViolation::new(
                at(),
                format!("`{path}` cannot be changed after the meeting is created (Graph's update page does not list it)"),
            )),
            None if path.contains('.') => violations.push(FieldViolation::new(
                at(),
                format!("`{path}` is nested: name the top-level field (e.g. `lobby_bypass_settings`); its whole value is sent"),
            )),
            None => violations.push(FieldViolation::new(at(), format!("`{path}` is not a field of OnlineMeeting"))),
        }
    }
    let named = |field: &str| properties.iter().any(|p| p.field == field);
    if named("start_date_time") != named("end_date_time") {
        violations.push(FieldViolation::new(
            field,
            "start_date_time and end_date_time can only be changed together: name both",
        ));
    }
    properties.sort_by_key(|p| OnlineMeeting::PROPERTIES.iter().position(|q| q == *p));
    if violations.is_empty() {
        Ok(properties)
    } else {
        Err(violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(paths: &[&str]) -> Result<Vec<&'static str>, Vec<String>> {
        let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
        update_properties("update_mask", &paths)
            .map(|ps| ps.iter().map(|p| p.field).collect())
            .map_err(|vs| vs.into_iter().map(|v| v.field).collect())
    }

    #[test]
    fn update_masks_follow_graphs_update_page() {
        assert_eq!(fields(&["subject"]), Ok(vec!["subject"]));
        assert_eq!(
            fields(&["lobby_bypass_settings", "subject", "subject"]),
            Ok(vec!["subject", "lobby_bypass_settings"]),
            "table order, duplicates once"
        );
        assert_eq!(fields(&["end_date_time", "start_date_time"]), Ok(vec!["start_date_time", "end_date_time"]));
        assert_eq!(fields(&["participants", "allow_recording"]), Ok(vec!["participants", "allow_recording"]));
        assert_eq!(fields(&[]), Err(vec!["update_mask".into()]));
        assert_eq!(fields(&["join_meeting_id_settings"]), Err(vec!["update_mask.paths[0]".into()]));
        assert_eq!(fields(&["subject", "meeting_template_id"]), Err(vec!["update_mask.paths[1]".into()]));
        assert_eq!(fields(&["join_web_url"]), Err(vec!["update_mask.paths[0]".into()]));
        assert_eq!(fields(&["lobby_bypass_settings.scope"]), Err(vec!["update_mask.paths[0]".into()]));
        assert_eq!(fields(&["nonsense"]), Err(vec!["update_mask.paths[0]".into()]));
        assert_eq!(fields(&["start_date_time"]), Err(vec!["update_mask".into()]));
    }

    #[test]
    fn an_idempotent_create_patches_what_create_or_get_does_not_take() {
        let tenant = TenantId::parse("t", "72f988bf-86f1-41af-91ab-2d7cd011db47").unwrap();
        let organizer = UserId::parse("u", "adele@contoso.com").unwrap();
        let meeting = OnlineMeeting {
            subject: Some("s".into()),
            external_id: Some("x".into()),
            allow_recording: Some(false),
            lobby_bypass_settings: Some(Default::default()),
            ..Default::default()
        };
        let command = CreateMeeting { tenant, organizer, meeting: Box::new(meeting), language: None };
        let patched: Vec<_> = command.properties_to_patch().iter().map(|p| p.field).collect();
        assert_eq!(patched, ["lobby_bypass_settings", "allow_recording"]);
        let plain = CreateMeeting {
            meeting: Box::new(OnlineMeeting { external_id: None, ..(*command.meeting).clone() }),
            ..command
        };
        assert!(plain.properties_to_patch().is_empty());
    }
}
