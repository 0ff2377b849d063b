//! Graph's JSON shapes (DTOs) for onlineMeeting, made from the domain's property table: each
//! domain type has a DTO of the same name here, each field named as Graph names it. Enumerations
//! and date-times stay strings here; `convert` maps them, tolerating Graph's spelling variants.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::online_meeting_properties;

/// The JSON type of a table row's kind. Every one is an `Option`, so that serde reads `null` and
/// a missing property alike (as `None`) and writes neither; an empty list is not written either
/// (`convert` makes it `None`).
macro_rules! dto_type {
    (text) => { Option<String> };
    (flag) => { Option<bool> };
    (time) => { Option<String> };
    (texts) => { Option<Vec<String>> };
    (choice $of:ident) => { Option<String> };
    (choices $of:ident) => { Option<Vec<String>> };
    (object $of:ident) => { Option<$of> };
    (boxed $of:ident) => { Option<Box<$of>> };
    (objects $of:ident) => { Option<Vec<$of>> };
}

/// The property table's callback: one serde struct per type, fields in the table's order (the
/// order they are written in).
macro_rules! dto_types {
    ($( [$($type_attr:tt)*] $name:ident [$($extra:ident)?] {
        $( [$($attr:tt)*] $field:ident $kind:ident [$($of:ident)?] $json:tt [$($alias:tt)*] [$($flag:ident)*] )*
    } )*) => {$(
        #[doc = concat!("Graph's JSON of [`crate::domain::", stringify!($name), "`].")]
        #[derive(Debug, Default, Deserialize, Serialize)]
        pub struct $name {
            $(
                #[serde(rename = $json, $(alias = $alias,)* default, skip_serializing_if = "Option::is_none")]
                pub $field: dto_type!($kind $($of)?),
            )*
            $(
                /// Everything else Graph sent (annotations, newer properties), kept verbatim.
                #[serde(flatten)]
                pub $extra: BTreeMap<String, Value>,
            )?
        }
    )*};
}

online_meeting_properties!(dto_types);

/// The request and response body of create and createOrGet.
pub type OnlineMeetingDto = OnlineMeeting;

/// A collection of onlineMeetings (`GET …/onlineMeetings?$filter=…`): `{"value": [...]}`.
#[derive(Debug, Deserialize)]
pub struct MeetingListDto {
    #[serde(default)]
    pub value: Vec<OnlineMeetingDto>,
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
