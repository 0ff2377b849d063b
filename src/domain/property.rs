//! The vocabulary of the property tables (`meeting.rs`): what one row says about a Graph
//! property ([`Property`]), when a property counts as set ([`Presence`]), and what every table
//! enumeration offers ([`Enumeration`]). Also the macros that turn a table into domain types.

/// One property of a Graph resource or complex type, as its table row describes it. The flags
/// come from Microsoft's documentation and metadata; each table says which page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Property {
    /// The name in the domain and in the proto (snake_case), e.g. `start_date_time`.
    pub field: &'static str,
    /// Graph's JSON name, e.g. `startDateTime`.
    pub json: &'static str,
    /// Graph sets it (read-only, or server-generated content): a request must leave it unset.
    pub read_only: bool,
    /// Graph's update (PATCH) page lists it as updatable.
    pub patchable: bool,
    /// A parameter of Graph's createOrGet action.
    pub create_or_get: bool,
    /// Only Graph's beta endpoint has it.
    pub beta_only: bool,
    /// Graph's US Government clouds (GCC High, DoD) lack it.
    pub not_in_usgov: bool,
}

impl Property {
    /// A row with no flag set: each table row sets its flags over it.
    pub const PLAIN: Property = Property {
        field: "",
        json: "",
        read_only: false,
        patchable: false,
        create_or_get: false,
        beta_only: false,
        not_in_usgov: false,
    };
}

/// Whether a property holds a value: `Some`, or a non-empty list. An unset property is not
/// sent to Graph (Graph then applies the tenant's meeting policy).
pub trait Presence {
    fn is_set(&self) -> bool;
}

impl<T> Presence for Option<T> {
    fn is_set(&self) -> bool {
        self.is_some()
    }
}

impl<T> Presence for Vec<T> {
    fn is_set(&self) -> bool {
        !self.is_empty()
    }
}

/// What every enumeration of a table offers the boundaries.
pub trait Enumeration: Copy + PartialEq + 'static {
    /// Every member, in Graph's order.
    const MEMBERS: &'static [Self];
    /// Graph's `unknownFutureValue` sentinel (members newer than the caller read as it), if the
    /// enumeration has one.
    const UNKNOWN: Option<Self>;
}

/// A table row as [`Property`] data: its flags set over [`Property::PLAIN`].
macro_rules! row {
    ($field:ident, $json:tt, $($flag:ident),*) => {
        $crate::domain::Property {
            field: stringify!($field),
            json: $json,
            $($flag: true,)*
            ..$crate::domain::Property::PLAIN
        }
    };
}

/// Parses a property table (the grammar `online_meeting_properties!` documents) once, and hands
/// it to `$callback` with each part in brackets, so that every callback matches one short form:
///
/// ```text
/// [type attributes] Name [extra] { [row attributes] field kind [Of] "json" [aliases] [flags] ... }
/// ```
macro_rules! each_type {
    ($callback:ident; $(
        $(#[$type_attr:meta])*
        $name:ident $(+ $extra:ident)? {
            $( $(#[$attr:meta])* $field:ident : $kind:ident $(($of:ident))? = $json:tt $(| $alias:tt)*
               [$($flag:ident),*] ),* $(,)?
        }
    )*) => {
        $callback! { $(
            [$(#[$type_attr])*] $name [$($extra)?] {
                $( [$(#[$attr])*] $field $kind [$($of)?] $json [$($alias)*] [$($flag)*] )*
            }
        )* }
    };
}

/// The domain type of a table row's kind (see `online_meeting_properties!`).
macro_rules! domain_type {
    (text) => { Option<String> };
    (flag) => { Option<bool> };
    (time) => { Option<::time::OffsetDateTime> };
    (texts) => { Vec<String> };
    (choice $of:ident) => { Option<$of> };
    (choices $of:ident) => { Vec<$of> };
    (object $of:ident) => { Option<$of> };
    (boxed $of:ident) => { Option<Box<$of>> };
    (objects $of:ident) => { Vec<$of> };
}

/// A property table's callback: one plain struct per type, and its rows as [`Property`] data.
macro_rules! domain_types {
    ($( [$($type_attr:tt)*] $name:ident [$($extra:ident)?] {
        $( [$($attr:tt)*] $field:ident $kind:ident [$($of:ident)?] $json:tt [$($alias:tt)*] [$($flag:ident)*] )*
    } )*) => {$(
        $($type_attr)*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name {
            $( $($attr)* pub $field: $crate::domain::property::domain_type!($kind $($of)?), )*
            $(
                /// What Graph sent (or a caller passes through) that the model does not name,
                /// by Graph's JSON name.
                pub $extra: $crate::domain::AdditionalData,
            )?
        }

        impl $name {
            /// This type's table: one row per property, in the table's order.
            pub const PROPERTIES: &'static [$crate::domain::Property] =
                &[$( $crate::domain::property::row!($field, $json, $($flag),*) ),*];

            /// The row of `field` (snake_case).
            pub fn property(field: &str) -> Option<&'static $crate::domain::Property> {
                Self::PROPERTIES.iter().find(|p| p.field == field)
            }

            /// The rows `keep` accepts of the properties this value sets, in the table's order.
            /// `keep` sees each row before its value is looked at, as a constant: a flag test is
            /// decided when this is compiled, so only the flagged properties are looked at.
            pub fn set_properties(
                &self,
                keep: impl Fn(&$crate::domain::Property) -> bool,
            ) -> Vec<&'static $crate::domain::Property> {
                let mut set = Vec::new();
                $({
                    const ROW: &$crate::domain::Property =
                        &$crate::domain::property::row!($field, $json, $($flag),*);
                    if keep(ROW) && $crate::domain::Presence::is_set(&self.$field) {
                        set.push(ROW);
                    }
                })*
                set
            }
        }
    )*};
}

/// Whether an enumeration member is Graph's sentinel for newer members.
macro_rules! is_sentinel {
    (UnknownFutureValue) => {
        true
    };
    ($other:ident) => {
        false
    };
}

/// An enumeration table's callback: the domain enums, with their members and sentinel.
macro_rules! domain_enums {
    ($( $(#[$doc:meta])* $name:ident { $($member:ident = $json:literal),+ $(,)? } )*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($member),+ }

        impl $crate::domain::Enumeration for $name {
            const MEMBERS: &'static [Self] = &[$(Self::$member),+];
            const UNKNOWN: Option<Self> = {
                let mut sentinel = None;
                $( if $crate::domain::property::is_sentinel!($member) { sentinel = Some(Self::$member); } )+
                sentinel
            };
        }
    )*};
}

pub(crate) use {domain_enums, domain_type, domain_types, each_type, is_sentinel, row};
