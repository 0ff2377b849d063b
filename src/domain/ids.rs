//! Identifiers a request names (tenant, organizer) and the language it asks for, each parsed
//! once into a type that can only hold a valid value.

use std::fmt;

use uuid::Uuid;

use super::violation::FieldViolation;

/// A Microsoft Entra tenant id: a GUID, kept in its canonical lower-case hyphenated form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Uuid);

impl TenantId {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        if value.is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        parse_guid(value)
            .map(TenantId)
            .ok_or_else(|| FieldViolation::new(field, "must be a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47"))
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Accepts only the hyphenated 8-4-4-4-12 form that Entra shows, not the brace or URN forms
/// `Uuid::parse_str` would also take.
fn parse_guid(value: &str) -> Option<Uuid> {
    if value.len() != 36 {
        return None;
    }
    Uuid::try_parse(value).ok()
}

/// The organizer of a meeting: an Entra object id or a user principal name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UserId {
    ObjectId(Uuid),
    UserPrincipalName(String),
}

impl UserId {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        if value.is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        if let Some(guid) = parse_guid(value) {
            return Ok(UserId::ObjectId(guid));
        }
        if is_plausible_upn(value) {
            return Ok(UserId::UserPrincipalName(value.to_owned()));
        }
        Err(FieldViolation::new(
            field,
            "must be an Entra user object id (GUID) or a user principal name such as adele@contoso.com",
        ))
    }

    /// The value as it goes into Graph's path (before percent-encoding).
    pub fn as_path_value(&self) -> String {
        match self {
            UserId::ObjectId(id) => id.hyphenated().to_string(),
            UserId::UserPrincipalName(upn) => upn.clone(),
        }
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserId::ObjectId(id) => id.hyphenated().fmt(f),
            UserId::UserPrincipalName(upn) => f.write_str(upn),
        }
    }
}

/// The id of a resource Graph assigned (a meeting, an event), as a request names it: it goes
/// into Graph's path as one percent-encoded segment, so only its size and control characters
/// are checked (Graph's ids are opaque and their format changes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceId(String);

/// Graph's ids are a few hundred bytes; a longer one is not an id.
const MAX_RESOURCE_ID_BYTES: usize = 4096;

impl ResourceId {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        if value.is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        if value.len() > MAX_RESOURCE_ID_BYTES {
            return Err(FieldViolation::new(field, format!("must be at most {MAX_RESOURCE_ID_BYTES} bytes")));
        }
        if value.chars().any(char::is_control) {
            return Err(FieldViolation::new(field, "must not contain control characters"));
        }
        Ok(ResourceId(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Entra's documented UPN rules: at most 113 characters, at most 64 before the `@` and 48 after
/// it; the local part uses `A-Z a-z 0-9 ' . - _ ! # ^ ~` and neither starts nor ends with a
/// period (guest UPNs such as `ann_fabrikam.com#EXT#@contoso.onmicrosoft.com` fit); the domain is
/// dot-separated DNS labels.
pub(crate) fn is_plausible_upn(value: &str) -> bool {
    if value.len() > 113 {
        return false;
    }
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c));
    let domain_ok = (1..=48).contains(&domain.len())
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

/// The value of Graph's `Accept-Language` header: one BCP 47 tag, or (from gRPC metadata) a
/// list such as `ja-JP, ja;q=0.9, en;q=0.5`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptLanguage(String);

impl AcceptLanguage {
    /// One language tag, as the `language` request field takes it.
    pub fn parse_tag(field: &str, value: &str) -> Result<Self, FieldViolation> {
        if is_language_tag(value) {
            Ok(AcceptLanguage(value.to_owned()))
        } else {
            Err(FieldViolation::new(field, "must be a BCP 47 language tag such as \"ja\" or \"de-DE\""))
        }
    }

    /// A whole Accept-Language header value, as gRPC metadata may carry it.
    pub fn parse_header(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let valid = value.len() <= 256
            && !value.chars().any(char::is_control)
            && value.split(',').all(|item| {
                let mut parts = item.trim().split(';');
                let tag = parts.next().unwrap_or_default().trim();
                (tag == "*" || is_language_tag(tag))
                    && parts.all(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| (0.0..=1.0).contains(&q)))
                    })
            });
        if valid {
            Ok(AcceptLanguage(value.trim().to_owned()))
        } else {
            Err(FieldViolation::new(field, "must be an Accept-Language value such as \"ja-JP, en;q=0.5\""))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_language_tag(value: &str) -> bool {
    let mut subtags = value.split('-');
    let primary = subtags.next().unwrap_or_default();
    (2..=8).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && subtags.all(|s| (1..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod resource_id_tests {
    use super::*;

    #[test]
    fn resource_ids_are_bounded_and_printable() {
        let id = "MSpkYzE3Njc0Yy04MWQ5LTRhZGItYmZiMi04ZjZhNDQyZTRiNDEqMCoqMTk6bWVldGluZ19OV";
        assert_eq!(ResourceId::parse("meeting_id", id).unwrap().as_str(), id);
        assert!(ResourceId::parse("meeting_id", "a/../b?c#d").is_ok(), "encoded as one segment later");
        for bad in ["", "a\nb", "a\u{0}b"] {
            assert_eq!(ResourceId::parse("meeting_id", bad).unwrap_err().field, "meeting_id", "{bad:?}");
        }
        assert!(ResourceId::parse("meeting_id", &"x".repeat(4096)).is_ok());
        assert!(ResourceId::parse("meeting_id", &"x".repeat(4097)).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        let check = |input: &str, ok: bool| {
            assert_eq!(TenantId::parse("tenant_id", input).is_ok(), ok, "{input:?}");
        };
        check("72f988bf-86f1-41af-91ab-2d7cd011db47", true);
        check("72F988BF-86F1-41AF-91AB-2D7CD011DB47", true);
        check("", false);
        check("72f988bf86f141af91ab2d7cd011db47", false);
        check("{72f988bf-86f1-41af-91ab-2d7cd011db47}", false);
        check("contoso.onmicrosoft.com", false);
        check("72f988bf-86f1-41af-91ab-2d7cd011db4g", false);
        let canonical = TenantId::parse("t", "72F988BF-86F1-41AF-91AB-2D7CD011DB47").unwrap();
        assert_eq!(canonical.to_string(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    }

    #[test]
    fn user_ids() {
        let check = |input: &str, ok: bool| {
            assert_eq!(UserId::parse("user_id", input).is_ok(), ok, "{input:?}");
        };
        check("550fae72-d251-43ec-868c-373732c2704f", true);
        check("adele.vance@contoso.com", true);
        check("ann_fabrikam.com#EXT#@contoso.onmicrosoft.com", true);
        check("o'brien@contoso.com", true);
        check("", false);
        check("adele", false);
        check("adele@contoso", false);
        check("a/b@contoso.com", false);
        check("a b@contoso.com", false);
        check("../admin@contoso.com", false);
        check(".adele@contoso.com", false);
        check("adele@@contoso.com", false);
        check("adele@contoso..com", false);
        check("adele@contoso.com?x=1", false);
        check(&format!("{}@contoso.com", "a".repeat(65)), false);
        check(&format!("a@{}.com", "b".repeat(45)), false);
        assert!(matches!(UserId::parse("u", "550fae72-d251-43ec-868c-373732c2704f"), Ok(UserId::ObjectId(_))));
    }

    #[test]
    fn languages() {
        let tag = |input: &str, ok: bool| {
            assert_eq!(AcceptLanguage::parse_tag("language", input).is_ok(), ok, "{input:?}");
        };
        tag("ja", true);
        tag("de-DE", true);
        tag("zh-Hans-CN", true);
        tag("", false);
        tag("ja-JP, en", false);
        tag("j", false);
        tag("ja\r\nX-Evil: 1", false);
        let header = |input: &str, ok: bool| {
            assert_eq!(AcceptLanguage::parse_header("accept-language", input).is_ok(), ok, "{input:?}");
        };
        header("ja-JP, ja;q=0.9, en;q=0.5", true);
        header("*", true);
        header("en;q=2", false);
        header("en;x=1", false);
        header("en\n", false);
    }
}
