//! What a rejected request is told: each invalid field, named by its path in the gRPC request.
//! Its own module because both the identifiers (`ids`) and the meeting checks (`validate`)
//! report through it.

use std::fmt;

/// One invalid field, named by its path in the gRPC request (e.g. `meeting.subject`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation { field: field.into(), description: description.into() }
    }
}

/// Every violation found in a request (all of them, so a caller fixes them in one go).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    pub violations: Vec<FieldViolation>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid request: ")?;
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} {}", v.field, v.description)?;
        }
        Ok(())
    }
}

impl From<Vec<FieldViolation>> for ValidationError {
    fn from(violations: Vec<FieldViolation>) -> Self {
        ValidationError { violations }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_every_violation() {
        let err = ValidationError::from(vec![
            FieldViolation::new("tenant_id", "is required"),
            FieldViolation::new("meeting.subject", "must be at most 1000 characters"),
        ]);
        assert_eq!(
            err.to_string(),
            "invalid request: tenant_id is required; meeting.subject must be at most 1000 characters"
        );
    }
}
