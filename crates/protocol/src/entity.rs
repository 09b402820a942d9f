//! The one description of each synced entity.
//!
//! An entity (hero, story, custom event, profile) is declared once with [`crate::entity!`]:
//! its user-written fields with their validation [`Rule`], how each merges ([`Merge`]) and
//! how it is normalised, its server-written fields, and its record. From that one list the
//! macro derives the input, patch and record types with their serde, TypeScript and JSON
//! Schema shapes, the patch operations (`apply`, `diff`, `fields`, `merge`, `normalized`,
//! `validate`), and the storage binding by column name ([`Fields`]) that the client
//! core's cache and the server's tables both use. What an entity does beyond its fields
//! (a story's "event or custom event" rule) is a hook of [`Entity`].

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::{EntityKind, FieldError, Record};

// ---------------------------------------------------------------------------------------
// Field rules

/// How one user-written field is checked. The same rules (and words) are used by the
/// client before it saves, by the server before it writes, by the OpenAPI document and by
/// the UI's forms (generated into `ui/src/lib/bindings/rules.ts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No rule beyond the field's type (enums, flags, references).
    Any,
    /// Text of at most `max` characters (Unicode scalar values); `required` is the
    /// message for a text that is empty after trimming, `None` when it may be empty.
    /// `too_long` replaces the default "Use at most N characters".
    Text {
        max: usize,
        required: Option<&'static str>,
        too_long: Option<&'static str>,
    },
    /// A whole number from `min` to `max`; `label` starts the message ("Age").
    Int {
        min: i64,
        max: i64,
        label: &'static str,
    },
    /// A list of distinct choices from a fixed set, `min` to `max` of them; `item` names
    /// one ("trait").
    Choices {
        min: usize,
        max: usize,
        item: &'static str,
    },
    /// A list of at most `max_items` non-empty words of at most `item_max` characters;
    /// `item` names one ("keyword").
    Words {
        max_items: usize,
        item_max: usize,
        item: &'static str,
    },
    /// One emoji: a single grapheme of at most `max_bytes` UTF-8 bytes.
    Emoji { max_bytes: usize },
    /// An email address: one `@` with text on both sides, no white space (a client trims
    /// what the user typed), at most `max` characters.
    Email { max: usize },
    /// A password: `min` to `max` characters, white space included.
    Password { min: usize, max: usize },
    /// A probability: a number from 0 to 1.
    Probability,
}

impl Rule {
    /// Text of at most `max` characters that may be empty.
    pub const fn text(max: usize) -> Rule {
        Rule::Text {
            max,
            required: None,
            too_long: None,
        }
    }

    /// Text of 1 to `max` characters; `message` says what is missing.
    pub const fn required_text(max: usize, message: &'static str) -> Rule {
        Rule::Text {
            max,
            required: Some(message),
            too_long: None,
        }
    }

    /// The rule as data with its messages, for the UI's forms and the OpenAPI document.
    pub fn describe(&self) -> Option<serde_json::Value> {
        use serde_json::json;
        Some(match *self {
            Rule::Any => return None,
            Rule::Text { max, required, .. } => json!({
                "kind": "text", "max": max, "required": required,
                "too_long": self.too_long_message(),
            }),
            Rule::Int { min, max, .. } => json!({
                "kind": "int", "min": min, "max": max, "out_of_range": self.range_message(),
            }),
            Rule::Choices { min, max, item } => json!({
                "kind": "choices", "min": min, "max": max,
                "repeated": format!("Each {item} may be chosen once"),
                "count": format!("Choose {min} to {max} {item}s"),
            }),
            Rule::Words {
                max_items,
                item_max,
                item,
            } => json!({
                "kind": "words", "max_items": max_items, "item_max": item_max,
                "too_many": format!("Use at most {max_items} {item}s"),
                "empty": format!("{}s cannot be empty", capitalized(item)),
                "too_long": format!("Each {item} may have at most {item_max} characters"),
            }),
            Rule::Emoji { max_bytes } => json!({
                "kind": "emoji", "max_bytes": max_bytes, "required": EMOJI_REQUIRED,
                "invalid": self.emoji_message(),
            }),
            Rule::Email { max } => json!({"kind": "email", "max": max, "invalid": EMAIL_INVALID}),
            Rule::Password { min, max } => json!({
                "kind": "password", "min": min, "max": max,
                "too_short": format!("Use at least {min} characters"),
                "too_long": format!("Use at most {max} characters"),
            }),
            Rule::Probability => json!({"kind": "probability", "invalid": PROBABILITY_INVALID}),
        })
    }

    /// The rule as JSON Schema keywords (2020-12) for a value of the field, exactly what
    /// the rule accepts (but for [`Rule::Emoji`], which JSON Schema cannot express: its
    /// keywords only bound the length). The OpenAPI document merges them into the
    /// field's schema; they hold for the value as sent, which the server checks before
    /// it normalises anything.
    pub fn schema_keywords(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let value = match *self {
            Rule::Any => json!({}),
            Rule::Text {
                max,
                required: None,
                ..
            } => json!({"maxLength": max}),
            Rule::Text { max, .. } => {
                json!({"minLength": 1, "maxLength": max, "pattern": not_blank_pattern()})
            }
            Rule::Int { min, max, .. } => json!({"minimum": min, "maximum": max}),
            Rule::Choices { min, max, .. } => {
                json!({"minItems": min, "maxItems": max, "uniqueItems": true})
            }
            Rule::Words {
                max_items,
                item_max,
                ..
            } => json!({
                "maxItems": max_items,
                "items": {"minLength": 1, "maxLength": item_max, "pattern": not_blank_pattern()},
            }),
            Rule::Emoji { max_bytes } => json!({"minLength": 1, "maxLength": max_bytes}),
            Rule::Email { max } => {
                json!({"format": "email", "maxLength": max, "pattern": email_pattern()})
            }
            Rule::Password { min, max } => json!({"minLength": min, "maxLength": max}),
            Rule::Probability => json!({"minimum": 0, "maximum": 1}),
        };
        match value {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("every arm is an object"),
        }
    }

    fn too_long_message(&self) -> String {
        match *self {
            Rule::Text {
                too_long: Some(m), ..
            } => m.to_owned(),
            Rule::Text { max, .. } => format!("Use at most {max} characters"),
            _ => String::new(),
        }
    }

    fn range_message(&self) -> String {
        match *self {
            Rule::Int { min, max, label } => format!("{label} must be from {min} to {max}"),
            _ => String::new(),
        }
    }

    fn emoji_message(&self) -> String {
        match *self {
            Rule::Emoji { max_bytes } => {
                format!("Use a single emoji (at most {max_bytes} bytes)")
            }
            _ => String::new(),
        }
    }
}

const EMOJI_REQUIRED: &str = "Pick an emoji";
const EMAIL_INVALID: &str = "Enter an email address like name@example.com";
const PROBABILITY_INVALID: &str = "Use a probability from 0 to 1";

/// The characters Rust's `char::is_whitespace` (Unicode `White_Space`) counts as white
/// space, as inclusive ranges: what `trim` removes and what a "blank" text consists of.
pub const WHITESPACE: &[(char, char)] = &[
    ('\u{9}', '\u{D}'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{A0}', '\u{A0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200A}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202F}', '\u{202F}'),
    ('\u{205F}', '\u{205F}'),
    ('\u{3000}', '\u{3000}'),
];

/// [`WHITESPACE`] as the inside of a regular-expression character class, with `\uXXXX`
/// escapes (understood by ECMA-262 and by most other engines).
fn whitespace_class() -> String {
    WHITESPACE
        .iter()
        .map(|&(a, b)| {
            if a == b {
                format!("\\u{:04X}", a as u32)
            } else {
                format!("\\u{:04X}-\\u{:04X}", a as u32, b as u32)
            }
        })
        .collect()
}

/// A JSON Schema `pattern` (unanchored: "contains") for a text that is not blank.
pub fn not_blank_pattern() -> String {
    format!("[^{}]", whitespace_class())
}

/// A JSON Schema `pattern` for [`Rule::Email`]: one `@` with text on both sides and no
/// white space.
pub fn email_pattern() -> String {
    let ws = whitespace_class();
    format!("^[^@{ws}]+@[^@{ws}]+$")
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A field value that a [`Rule`] can check. `None`: the value passes.
pub trait Check {
    fn check(&self, rule: &Rule) -> Option<String>;
}

impl Check for String {
    fn check(&self, rule: &Rule) -> Option<String> {
        match *rule {
            Rule::Email { max } => {
                let valid = match self.split_once('@') {
                    Some((local, domain)) => {
                        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
                    }
                    None => false,
                };
                (!valid || self.contains(char::is_whitespace) || self.chars().count() > max)
                    .then(|| EMAIL_INVALID.to_owned())
            }
            Rule::Password { min, max } => {
                let n = self.chars().count();
                if n < min {
                    Some(format!("Use at least {min} characters"))
                } else if n > max {
                    Some(format!("Use at most {max} characters"))
                } else {
                    None
                }
            }
            Rule::Text { max, required, .. } => {
                if self.trim().is_empty() {
                    required.map(str::to_owned)
                } else if self.chars().count() > max {
                    Some(rule.too_long_message())
                } else {
                    None
                }
            }
            Rule::Emoji { max_bytes } => {
                if self.is_empty() {
                    Some(EMOJI_REQUIRED.to_owned())
                } else if self.len() > max_bytes || !crate::emoji::is_single_emoji(self) {
                    Some(rule.emoji_message())
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

macro_rules! check_int {
    ($($t:ty),*) => {$(
        impl Check for $t {
            fn check(&self, rule: &Rule) -> Option<String> {
                match *rule {
                    Rule::Int { min, max, .. }
                        if !(i128::from(min)..=i128::from(max)).contains(&i128::from(*self)) =>
                    {
                        Some(rule.range_message())
                    }
                    _ => None,
                }
            }
        }
    )*};
}
check_int!(u8, i64, u64);

impl Check for f64 {
    fn check(&self, rule: &Rule) -> Option<String> {
        match *rule {
            Rule::Probability if !(0.0..=1.0).contains(self) => {
                Some(PROBABILITY_INVALID.to_owned())
            }
            _ => None,
        }
    }
}

impl<T: Ord + Clone + ListItem> Check for Vec<T> {
    fn check(&self, rule: &Rule) -> Option<String> {
        match *rule {
            Rule::Choices { min, max, item } => {
                let mut unique = self.clone();
                unique.sort();
                unique.dedup();
                if unique.len() != self.len() {
                    Some(format!("Each {item} may be chosen once"))
                } else if !(min..=max).contains(&self.len()) {
                    Some(format!("Choose {min} to {max} {item}s"))
                } else {
                    None
                }
            }
            Rule::Words {
                max_items,
                item_max,
                item,
            } => {
                let words = || self.iter().filter_map(ListItem::text);
                if self.len() > max_items {
                    Some(format!("Use at most {max_items} {item}s"))
                } else if words().any(|w| w.trim().is_empty()) {
                    Some(format!("{}s cannot be empty", capitalized(item)))
                } else if words().any(|w| w.chars().count() > item_max) {
                    Some(format!(
                        "Each {item} may have at most {item_max} characters"
                    ))
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// An element of a list field: words are text, choices are not.
pub trait ListItem {
    fn text(&self) -> Option<&str> {
        None
    }
}

impl ListItem for String {
    fn text(&self) -> Option<&str> {
        Some(self)
    }
}

impl<T: Check> Check for Option<T> {
    fn check(&self, rule: &Rule) -> Option<String> {
        self.as_ref().and_then(|v| v.check(rule))
    }
}

/// Values no rule applies to.
macro_rules! unchecked {
    ($($t:ty),*) => {$(
        impl $crate::entity::Check for $t {
            fn check(&self, _rule: &$crate::entity::Rule) -> Option<String> {
                None
            }
        }
    )*};
}
unchecked!(bool, Uuid, DateTime<Utc>);
pub(crate) use unchecked;

/// A rule across two optional fields: exactly one of them is set (not `null`) in a
/// whole value, and a partial one (a patch) never sets both. The errors name the first
/// field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExactlyOne {
    pub fields: [&'static str; 2],
    /// The message when neither is set.
    pub neither: &'static str,
    /// The message when both are set.
    pub both: &'static str,
}

impl ExactlyOne {
    /// Checks a whole value, given which of the two fields are set.
    pub fn check(&self, set: [bool; 2], errors: &mut Vec<FieldError>) {
        match set {
            [true, true] => errors.push(FieldError::new(self.fields[0], self.both)),
            [false, false] => errors.push(FieldError::new(self.fields[0], self.neither)),
            _ => {}
        }
    }

    /// Checks a partial value (a patch), given which of the two fields it sets.
    pub fn check_partial(&self, set: [bool; 2], errors: &mut Vec<FieldError>) {
        if set == [true, true] {
            errors.push(FieldError::new(self.fields[0], self.both));
        }
    }
}

/// Runs `rule` on `value` and records a failure under `field`.
pub fn check_field<T: Check + ?Sized>(
    field: &'static str,
    value: &T,
    rule: &Rule,
    errors: &mut Vec<FieldError>,
) {
    if let Some(message) = value.check(rule) {
        errors.push(FieldError::new(field, message));
    }
}

// ---------------------------------------------------------------------------------------
// Normalisation

/// How a field is cleaned up before it is validated and stored.
pub mod norm {
    /// Leaves the value as it is.
    pub fn keep<T>(v: T) -> T {
        v
    }

    /// Trims white space at both ends.
    pub fn trim(s: String) -> String {
        s.trim().to_owned()
    }

    /// Trims, and turns Windows line ends into `\n`.
    pub fn text_block(s: String) -> String {
        s.replace("\r\n", "\n").trim().to_owned()
    }

    /// Drops repeated entries, keeping the first order.
    pub fn dedup<T: PartialEq>(list: Vec<T>) -> Vec<T> {
        let mut out = Vec::with_capacity(list.len());
        for v in list {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }

    /// Trims words, drops empty ones and those repeated case-insensitively.
    pub fn words(words: Vec<String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(words.len());
        for w in words {
            let w = w.trim().to_owned();
            if w.is_empty() || out.iter().any(|o| o.to_lowercase() == w.to_lowercase()) {
                continue;
            }
            out.push(w);
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// Merge rules

/// How a field merges when the local and the server copy both changed it (SPEC.md
/// section 7). A field changed on one side only always takes that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Free text: the newer edit wins.
    Text,
    /// Free text the user must choose for (a story's title and content).
    Prompt,
    /// Any other single value: the newer edit wins.
    Value,
    /// A list used as a set (hero traits, keywords): additions and removals of both
    /// sides combine.
    Set,
    /// A counter: both sides' increments add up.
    Counter,
}

/// One user-written field of an entity: its name (also its column and its key in JSON),
/// its rule and its merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub rule: Rule,
    pub merge: Merge,
}

// ---------------------------------------------------------------------------------------
// Storage cells

/// One column value as both sides' SQLite (and any SQL) store it. Times are handed over
/// as times: the client stores RFC 3339 text, the server microseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    /// Text made for this cell (an enum list as JSON).
    Owned(String),
    Uuid(Uuid),
    Time(DateTime<Utc>),
}

/// What a column holds, so that each side can declare it in its own SQL dialect (the
/// client stores times as RFC 3339 text, the server as microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlKind {
    Text,
    Integer,
    Real,
    Time,
    Uuid,
    /// A list, as JSON text.
    Json,
}

/// How a column is declared: its kind, whether it may be NULL, and the SQL literal that
/// existing rows get when the column is added (`None`: no sensible value, so the column
/// needs a hand-written migration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnType {
    pub kind: SqlKind,
    pub nullable: bool,
    pub default: Option<&'static str>,
}

impl ColumnType {
    const fn new(kind: SqlKind, default: Option<&'static str>) -> ColumnType {
        ColumnType {
            kind,
            nullable: false,
            default,
        }
    }

    /// The statement that adds column `name` of this type to `table`, with `sql_type`
    /// the side's name for the kind. `None`: existing rows would have no value, so the
    /// column needs a hand-written migration.
    pub fn add_column_sql(&self, table: &str, name: &str, sql_type: &str) -> Option<String> {
        let not_null = if self.nullable { "" } else { " NOT NULL" };
        let default = self.default?;
        Some(format!(
            "ALTER TABLE {table} ADD COLUMN {name} {sql_type}{not_null} DEFAULT {default}"
        ))
    }
}

/// An entity's declared columns: its user-written fields, then its server-written ones.
pub fn declared_columns<E: Entity>() -> impl Iterator<Item = (&'static str, ColumnType)> {
    let input = <E::Input as Fields>::COLUMNS
        .iter()
        .copied()
        .zip(<E::Input as Fields>::COLUMN_TYPES.iter().copied());
    let server = <E::Server as Fields>::COLUMNS
        .iter()
        .copied()
        .zip(<E::Server as Fields>::COLUMN_TYPES.iter().copied());
    input.chain(server)
}

/// A field type stored in one column.
pub trait Column: Sized {
    const TYPE: ColumnType;
    fn to_cell(&self) -> Cell<'_>;
    /// `None`: the stored value is not one of this type.
    fn from_cell(cell: Cell<'_>) -> Option<Self>;
}

impl Column for String {
    const TYPE: ColumnType = ColumnType::new(SqlKind::Text, Some("''"));
    fn to_cell(&self) -> Cell<'_> {
        Cell::Text(self)
    }
    fn from_cell(cell: Cell<'_>) -> Option<Self> {
        match cell {
            Cell::Text(s) => Some(s.to_owned()),
            Cell::Owned(s) => Some(s),
            _ => None,
        }
    }
}

impl Column for i64 {
    const TYPE: ColumnType = ColumnType::new(SqlKind::Integer, Some("0"));
    fn to_cell(&self) -> Cell<'_> {
        Cell::Int(*self)
    }
    fn from_cell(cell: Cell<'_>) -> Option<Self> {
        match cell {
            Cell::Int(v) => Some(v),
            _ => None,
        }
    }
}

impl Column for u8 {
    const TYPE: ColumnType = ColumnType::new(SqlKind::Integer, Some("0"));
    fn to_cell(&self) -> Cell<'_> {
        Cell::Int(i64::from(*self))
    }
    fn from_cell(cell: Cell<'_>) -> Option<Self> {
        i64::from_cell(cell).and_then(|v| u8::try_from(v).ok())
    }
}

impl Column for bool {
    const TYPE: ColumnType = ColumnType::new(SqlKind::Integer, Some("0"));
    fn to_cell(&self) -> Cell<'_> {
        Cell::Int(i64::from(*self))
    }
    fn from_cell(cell: Cell<'_>) -> Option<Self> {
        i64::from_cell(cell).map(|v| v != 0)
    }
}

impl Column for f64 {
    const TYPE: ColumnType = ColumnType::new(SqlKind::Real, Some("0"));
    fn to_cell(&self) -> Cell<'_> {
        Cell::Real(*self)
    }
    fn from_cell(cell: Cell<'_>) -> Option<Self> {
        match cell {
            Cell::Real(v) => Some(v),
            Cell::Int(v) => Some(v as f64),
            _ => None,
        }
    }
}

impl Column for Uuid {
    const TYPE: ColumnType = ColumnType::new(SqlKind::Uuid, None);
    fn to_cell(&self) -> Cell<'_> {
        Cell::Uuid(*self)
    }
    fn from_cell(cell: Cell<'_>) -> Option<Self> {
        match cell {
            Cell::Text(s) => s.parse().ok(),
            Cell::Owned(s) => s.parse().ok(),
            Cell::Uuid(id) => Some(id),
            _ => None,
        }
    }
}

impl Column for DateTime<Utc> {
    const TYPE: ColumnType = ColumnType::new(SqlKind::Time, None);
    fn to_cell(&self) -> Cell<'_> {
        Cell::Time(*self)
    }
    /// RFC 3339 text (the client's columns) or microseconds (the server's).
    fn from_cell(cell: Cell<'_>) -> Option<Self> {
        match cell {
            Cell::Text(s) => s.parse().ok(),
            Cell::Owned(s) => s.parse().ok(),
            Cell::Int(micros) => DateTime::from_timestamp_micros(micros),
            Cell::Time(t) => Some(t),
            _ => None,
        }
    }
}

impl<T: Column> Column for Option<T> {
    const TYPE: ColumnType = ColumnType {
        kind: T::TYPE.kind,
        nullable: true,
        default: Some("NULL"),
    };
    fn to_cell(&self) -> Cell<'_> {
        match self {
            Some(v) => v.to_cell(),
            None => Cell::Null,
        }
    }
    fn from_cell(cell: Cell<'_>) -> Option<Self> {
        match cell {
            Cell::Null => Some(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

/// A list is stored as JSON text.
impl<T: Serialize + DeserializeOwned> Column for Vec<T> {
    const TYPE: ColumnType = ColumnType::new(SqlKind::Json, Some("'[]'"));
    fn to_cell(&self) -> Cell<'_> {
        // Lists of strings and unit enum values always serialize.
        Cell::Owned(serde_json::to_string(self).unwrap_or_else(|_| "[]".to_owned()))
    }
    fn from_cell(cell: Cell<'_>) -> Option<Self> {
        match cell {
            Cell::Text(s) => serde_json::from_str(s).ok(),
            Cell::Owned(s) => serde_json::from_str(&s).ok(),
            _ => None,
        }
    }
}

/// The enums with a wire name (`as_str` / `parse`): stored as that name, checked by no
/// rule, and fine as list items.
macro_rules! wire_enum {
    ($($t:ty),*) => {$(
        impl $crate::entity::Column for $t {
            const TYPE: $crate::entity::ColumnType = $crate::entity::ColumnType {
                kind: $crate::entity::SqlKind::Text,
                nullable: false,
                default: None,
            };
            fn to_cell(&self) -> $crate::entity::Cell<'_> {
                $crate::entity::Cell::Text(self.as_str())
            }
            fn from_cell(cell: $crate::entity::Cell<'_>) -> Option<Self> {
                match cell {
                    $crate::entity::Cell::Text(s) => <$t>::parse(s),
                    $crate::entity::Cell::Owned(s) => <$t>::parse(&s),
                    _ => None,
                }
            }
        }
        $crate::entity::unchecked!($t);
        impl $crate::entity::ListItem for $t {}
    )*};
}
pub(crate) use wire_enum;

// ---------------------------------------------------------------------------------------
// The traits the macro implements

/// The version facts every server record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    pub id: Uuid,
    pub version: i64,
    pub deleted: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A group of fields stored one per column: an entity's input or its server part.
pub trait Fields: Sized + Clone + PartialEq + Debug + Send + Sync + 'static {
    /// The columns, in declaration order (the same names as the JSON keys).
    const COLUMNS: &'static [&'static str];
    /// How each column is declared, in the same order.
    const COLUMN_TYPES: &'static [ColumnType];

    /// Hands each field's cell to `bind`, in [`Fields::COLUMNS`] order.
    fn write_cells<E>(&self, bind: &mut impl FnMut(Cell<'_>) -> Result<(), E>) -> Result<(), E>;

    /// Reads every field by its column name through `get`. `Ok(Err(column))` names a
    /// column whose stored value is not valid.
    fn read_cells<'r, E>(
        get: &mut impl FnMut(&'static str) -> Result<Cell<'r>, E>,
    ) -> Result<Result<Self, &'static str>, E>;
}

/// The user-written fields of an entity: the body of a create, what a form edits.
pub trait Input: Fields + Serialize + DeserializeOwned {
    type Patch: Patch;
    /// Every field with its rule and its merge.
    const FIELDS: &'static [Field];

    /// Trims text and drops repeated list entries.
    fn normalized(self) -> Self;
    /// Every rule of SPEC.md section 2, reporting all invalid fields at once.
    fn validate(&self) -> Result<(), Vec<FieldError>>;
    /// Applies a patch, field by field.
    fn apply(&mut self, patch: &Self::Patch);
    /// The patch that turns `self` into `other` (only the fields that differ).
    fn diff(&self, other: &Self) -> Self::Patch;
}

/// A partial update of an input: only the fields present are changed.
pub trait Patch:
    Default + Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Names of the fields this patch sets, in declaration order.
    fn fields(&self) -> Vec<&'static str>;
    /// `later` wins field by field: the patch equivalent to applying `self` then `later`.
    fn merge(&mut self, later: &Self);
    /// Normalises the fields present, like [`Input::normalized`].
    fn normalized(self) -> Self;
    /// Validates only the fields present.
    fn validate(&self) -> Result<(), Vec<FieldError>>;
    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// One synced entity: its types, its wire and storage names, and the rules that span
/// fields. Implemented by [`crate::entity!`]; the client core's `SyncEntity` and the
/// server's tables build on it.
pub trait Entity: Sized + Debug + Clone + PartialEq + Send + Sync + 'static {
    const KIND: EntityKind;
    /// The SQL table (on both sides).
    const TABLE: &'static str;
    /// A word for messages ("hero", "story").
    const LABEL: &'static str;
    /// The counters of this entity, sent as increments and never conflicting.
    const COUNTERS: &'static [&'static str] = &[];

    type Input: Input<Patch = Self::Patch>;
    type Patch: Patch;
    /// The fields only the server writes (media URLs, counters).
    type Server: Fields + Default;
    /// The row as the server stores it and sends it.
    type Record: Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;

    fn record_meta(rec: &Self::Record) -> RecordMeta;
    fn record_input(rec: &Self::Record) -> Self::Input;
    fn record_server(rec: &Self::Record) -> Self::Server;
    /// The record of these parts.
    fn into_record(meta: RecordMeta, input: Self::Input, server: Self::Server) -> Self::Record;
    fn make_record(meta: RecordMeta, input: &Self::Input, server: &Self::Server) -> Self::Record {
        Self::into_record(meta, input.clone(), server.clone())
    }
    /// This entity's record inside a wire [`Record`], if it is one.
    fn from_wire(rec: &Record) -> Option<&Self::Record>;
    fn into_wire(rec: Self::Record) -> Record;
    /// A short name of the row for lists and messages (a hero's name, a story's title).
    fn title(input: &Self::Input) -> &str;

    /// A rule across two fields of the input, if the entity has one. The hooks below
    /// enforce it; the OpenAPI document publishes it (`oneOf` for inputs, `not` both for
    /// patches).
    const EXACTLY_ONE: Option<ExactlyOne> = None;

    /// Rules across fields of a whole input, after the fields' own.
    fn check_input(_input: &Self::Input, _errors: &mut Vec<FieldError>) {}
    /// Rules across fields of a patch, after the fields' own.
    fn check_patch(_patch: &Self::Patch, _errors: &mut Vec<FieldError>) {}
    /// What applying `patch` changes beyond its own fields.
    fn after_apply(_input: &mut Self::Input, _patch: &Self::Patch) {}
    /// What merging `later` into `patch` changes beyond its own fields.
    fn after_merge(_patch: &mut Self::Patch, _later: &Self::Patch) {}
}

/// `Ok(())` for no errors, else `Err(errors)`.
pub fn result(errors: Vec<FieldError>) -> Result<(), Vec<FieldError>> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Declares an entity once; see the module documentation. Field syntax:
/// `name: Type = [merge, rule, normaliser] $(patch #[attr]…)?;` where the `patch`
/// attributes are added to the field of the patch (for nullable fields, whose `null`
/// means "clear").
#[macro_export]
macro_rules! entity {
    (
        $(#[$emeta:meta])*
        entity $entity:ident {
            kind: $kind:ident,
            table: $table:literal,
            label: $label:literal,
            title: $title:ident,
            $(counter: $counter:literal,)?
        }
        $(#[$imeta:meta])*
        input $input:ident {
            $(
                $(#[$fattr:meta])*
                $fname:ident : $fty:ty = [$merge:expr, $rule:expr, $norm:expr]
                $(patch $(#[$pattr:meta])+)?;
            )*
        }
        $(#[$pmeta:meta])*
        patch $patch:ident;
        $(#[$smeta:meta])*
        server $server:ident {
            $(
                $(#[$sattr:meta])*
                $sname:ident : $sty:ty;
            )*
        }
        $(#[$rmeta:meta])*
        record $record:ident { $(#[$idmeta:meta])* id, version, created_at, updated_at $(, $deleted:ident)? }
        $(hooks { $($hook:item)* })?
    ) => {
        $(#[$emeta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $entity;

        // `Default` is the empty input (not a valid one): what a new form starts from, and
        // the `..Default::default()` that lets code name only the fields it cares about.
        // (A plain comment: the API's documentation need not say it.)
        $(#[$imeta])*
        #[derive(Debug, Clone, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[cfg_attr(feature = "schema", schemars(transform = $crate::schema::entity_input::<$entity>))]
        #[serde(deny_unknown_fields)]
        pub struct $input {
            $( $(#[$fattr])* pub $fname: $fty, )*
        }

        $(#[$pmeta])*
        #[derive(Debug, Clone, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[cfg_attr(feature = "schema", schemars(transform = $crate::schema::entity_patch::<$entity>))]
        #[serde(deny_unknown_fields)]
        pub struct $patch {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                #[cfg_attr(feature = "ts", ts(optional))]
                $($(#[$pattr])+)?
                pub $fname: Option<$fty>,
            )*
        }

        $(#[$smeta])*
        #[derive(Debug, Clone, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        pub struct $server {
            $( $(#[$sattr])* pub $sname: $sty, )*
        }

        $(#[$rmeta])*
        #[derive(Debug, Clone, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        pub struct $record {
            $(#[$idmeta])*
            pub id: ::uuid::Uuid,
            pub version: i64,
            pub created_at: ::chrono::DateTime<::chrono::Utc>,
            pub updated_at: ::chrono::DateTime<::chrono::Utc>,
            $(
                #[serde(default)]
                pub $deleted: bool,
            )?
            $( $(#[$fattr])* pub $fname: $fty, )*
            $( $(#[$sattr])* pub $sname: $sty, )*
        }

        impl $record {
            /// The user-written fields.
            pub fn input(&self) -> $input {
                $input { $( $fname: self.$fname.clone(), )* }
            }
            /// The server-written fields.
            pub fn server(&self) -> $server {
                $server { $( $sname: self.$sname.clone(), )* }
            }
        }

        impl $crate::entity::Fields for $input {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($fname)),*];
            const COLUMN_TYPES: &'static [$crate::entity::ColumnType] =
                &[$(<$fty as $crate::entity::Column>::TYPE),*];

            fn write_cells<E>(
                &self,
                bind: &mut impl FnMut($crate::entity::Cell<'_>) -> Result<(), E>,
            ) -> Result<(), E> {
                $( bind($crate::entity::Column::to_cell(&self.$fname))?; )*
                Ok(())
            }

            fn read_cells<'r, E>(
                get: &mut impl FnMut(&'static str) -> Result<$crate::entity::Cell<'r>, E>,
            ) -> Result<Result<Self, &'static str>, E> {
                $(
                    let Some($fname) = $crate::entity::Column::from_cell(get(stringify!($fname))?)
                    else {
                        return Ok(Err(stringify!($fname)));
                    };
                )*
                Ok(Ok($input { $($fname),* }))
            }
        }

        impl $crate::entity::Fields for $server {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($sname)),*];
            const COLUMN_TYPES: &'static [$crate::entity::ColumnType] =
                &[$(<$sty as $crate::entity::Column>::TYPE),*];

            fn write_cells<E>(
                &self,
                bind: &mut impl FnMut($crate::entity::Cell<'_>) -> Result<(), E>,
            ) -> Result<(), E> {
                $( bind($crate::entity::Column::to_cell(&self.$sname))?; )*
                Ok(())
            }

            #[allow(unused_variables)]
            fn read_cells<'r, E>(
                get: &mut impl FnMut(&'static str) -> Result<$crate::entity::Cell<'r>, E>,
            ) -> Result<Result<Self, &'static str>, E> {
                $(
                    let Some($sname) = $crate::entity::Column::from_cell(get(stringify!($sname))?)
                    else {
                        return Ok(Err(stringify!($sname)));
                    };
                )*
                Ok(Ok($server { $($sname),* }))
            }
        }

        impl $crate::entity::Input for $input {
            type Patch = $patch;
            const FIELDS: &'static [$crate::entity::Field] = &[$(
                $crate::entity::Field { name: stringify!($fname), merge: $merge, rule: $rule },
            )*];

            fn normalized(self) -> Self {
                $input { $( $fname: ($norm)(self.$fname), )* }
            }

            fn validate(&self) -> Result<(), Vec<$crate::FieldError>> {
                let mut errors = Vec::new();
                $( $crate::entity::check_field(stringify!($fname), &self.$fname, &$rule, &mut errors); )*
                <$entity as $crate::entity::Entity>::check_input(self, &mut errors);
                $crate::entity::result(errors)
            }

            fn apply(&mut self, patch: &$patch) {
                $(
                    if let Some(v) = &patch.$fname {
                        self.$fname = v.clone();
                    }
                )*
                <$entity as $crate::entity::Entity>::after_apply(self, patch);
            }

            fn diff(&self, other: &Self) -> $patch {
                $patch { $( $fname: (self.$fname != other.$fname).then(|| other.$fname.clone()), )* }
            }
        }

        impl $crate::entity::Patch for $patch {
            fn fields(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $( if self.$fname.is_some() { out.push(stringify!($fname)); } )*
                out
            }

            fn merge(&mut self, later: &Self) {
                $( if later.$fname.is_some() { self.$fname.clone_from(&later.$fname); } )*
                <$entity as $crate::entity::Entity>::after_merge(self, later);
            }

            fn normalized(self) -> Self {
                $patch { $( $fname: self.$fname.map($norm), )* }
            }

            fn validate(&self) -> Result<(), Vec<$crate::FieldError>> {
                let mut errors = Vec::new();
                $(
                    if let Some(v) = &self.$fname {
                        $crate::entity::check_field(stringify!($fname), v, &$rule, &mut errors);
                    }
                )*
                <$entity as $crate::entity::Entity>::check_patch(self, &mut errors);
                $crate::entity::result(errors)
            }
        }

        impl $crate::entity::Entity for $entity {
            const KIND: $crate::EntityKind = $crate::EntityKind::$kind;
            const TABLE: &'static str = $table;
            const LABEL: &'static str = $label;
            $( const COUNTERS: &'static [&'static str] = &[$counter]; )?

            type Input = $input;
            type Patch = $patch;
            type Server = $server;
            type Record = $record;

            fn record_meta(r: &$record) -> $crate::entity::RecordMeta {
                $crate::entity::RecordMeta {
                    id: r.id,
                    version: r.version,
                    deleted: false $(|| r.$deleted)?,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                }
            }

            fn record_input(r: &$record) -> $input {
                r.input()
            }

            fn record_server(r: &$record) -> $server {
                r.server()
            }

            fn into_record(
                m: $crate::entity::RecordMeta,
                i: $input,
                s: $server,
            ) -> $record {
                $record {
                    id: m.id,
                    version: m.version,
                    created_at: m.created_at,
                    updated_at: m.updated_at,
                    $( $deleted: m.deleted, )?
                    $( $fname: i.$fname, )*
                    $( $sname: s.$sname, )*
                }
            }

            fn from_wire(rec: &$crate::Record) -> Option<&$record> {
                match rec {
                    $crate::Record::$kind(r) => Some(r),
                    _ => None,
                }
            }

            fn into_wire(rec: $record) -> $crate::Record {
                $crate::Record::$kind(rec)
            }

            fn title(input: &$input) -> &str {
                &input.$title
            }

            $($($hook)*)?
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_ranges_are_rusts_white_space() {
        let in_table = |c: char| WHITESPACE.iter().any(|&(a, b)| (a..=b).contains(&c));
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(in_table(c), c.is_whitespace(), "U+{:04X}", c as u32);
        }
        assert_eq!(
            not_blank_pattern(),
            "[^\\u0009-\\u000D\\u0020\\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028-\\u2029\\u202F\\u205F\\u3000]"
        );
    }

    #[test]
    fn email_password_probability_and_wide_ints() {
        let email = Rule::Email { max: 12 };
        for ok in ["a@b", "a.b+c@d.e", "ä@ö.example"] {
            assert_eq!(ok.to_owned().check(&email), None, "{ok}");
        }
        for bad in [
            "",
            "ab",
            "@b",
            "a@",
            "a@b@c",
            " a@b",
            "a@b ",
            "a b@c",
            "a@b\u{3000}",
            "abcdef@ghijkl",
        ] {
            assert!(bad.to_owned().check(&email).is_some(), "{bad:?}");
        }
        let pw = Rule::Password { min: 3, max: 4 };
        assert!("ab".to_owned().check(&pw).is_some());
        assert_eq!(
            "  é ".to_owned().check(&pw),
            None,
            "counts characters, spaces too"
        );
        assert!("abcde".to_owned().check(&pw).is_some());
        for (v, ok) in [
            (0.0, true),
            (1.0, true),
            (0.5, true),
            (-0.1, false),
            (1.01, false),
        ] {
            assert_eq!(v.check(&Rule::Probability).is_none(), ok, "{v}");
        }
        let int = Rule::Int {
            min: 0,
            max: 60_000,
            label: "Latency",
        };
        assert_eq!(60_000u64.check(&int), None);
        assert!(60_001u64.check(&int).is_some());
        assert!(u64::MAX.check(&int).is_some(), "no wrap-around");
    }

    #[test]
    fn schema_keywords_follow_the_rule() {
        use serde_json::json;
        let kw = |r: Rule| serde_json::Value::Object(r.schema_keywords());
        assert_eq!(kw(Rule::Any), json!({}));
        assert_eq!(kw(Rule::text(5)), json!({"maxLength": 5}));
        assert_eq!(
            kw(Rule::required_text(5, "x")),
            json!({"minLength": 1, "maxLength": 5, "pattern": not_blank_pattern()})
        );
        assert_eq!(
            kw(Rule::Int {
                min: 1,
                max: 18,
                label: "Age"
            }),
            json!({"minimum": 1, "maximum": 18})
        );
        assert_eq!(
            kw(Rule::Choices {
                min: 1,
                max: 5,
                item: "trait"
            }),
            json!({"minItems": 1, "maxItems": 5, "uniqueItems": true})
        );
        assert_eq!(
            kw(Rule::Words {
                max_items: 10,
                item_max: 30,
                item: "keyword"
            })["items"],
            json!({"minLength": 1, "maxLength": 30, "pattern": not_blank_pattern()})
        );
        assert_eq!(kw(Rule::Email { max: 254 })["format"], "email");
        assert_eq!(
            kw(Rule::Password { min: 8, max: 256 }),
            json!({"minLength": 8, "maxLength": 256})
        );
        assert_eq!(kw(Rule::Probability), json!({"minimum": 0, "maximum": 1}));
    }

    #[test]
    fn exactly_one() {
        let rule = ExactlyOne {
            fields: ["a", "b"],
            neither: "none",
            both: "two",
        };
        let run = |set: [bool; 2], partial: bool| {
            let mut errors = Vec::new();
            if partial {
                rule.check_partial(set, &mut errors);
            } else {
                rule.check(set, &mut errors);
            }
            errors
                .into_iter()
                .map(|e| (e.field, e.message))
                .collect::<Vec<_>>()
        };
        assert_eq!(run([true, false], false), []);
        assert_eq!(run([false, true], false), []);
        assert_eq!(run([false, false], false), [("a".into(), "none".into())]);
        assert_eq!(run([true, true], false), [("a".into(), "two".into())]);
        assert_eq!(run([false, false], true), []);
        assert_eq!(run([true, true], true), [("a".into(), "two".into())]);
    }
}
