//! Wire-format helpers of the emulator (base64, form encoding, timestamps, random digits), kept
//! here on purpose, on third-party crates only: the emulator shares no code with the service's
//! own clients.

use std::fmt::Write as _;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use percent_encoding::percent_decode_str;
use time::{format_description::well_known::Rfc3339, OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// Standard base64 with padding (meeting ids) or base64url without (JWT segments), RFC 4648.
pub(crate) fn base64(input: &[u8], url_safe: bool) -> String {
    if url_safe {
        URL_SAFE_NO_PAD.encode(input)
    } else {
        STANDARD.encode(input)
    }
}

/// Decodes an `application/x-www-form-urlencoded` body into name/value pairs, in order.
pub(crate) fn parse_form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    let pairs = body.split('&').filter(|pair| !pair.is_empty());
    pairs.map(|pair| pair.split_once('=').unwrap_or((pair, ""))).map(|(k, v)| (decode(k), decode(v))).collect()
}

/// Form-style encoding as .NET's `HttpUtility.UrlEncode` (space as `+`, `-_.!*'()` kept), which is
/// how Graph encodes `joinInformation.content`.
pub(crate) fn form_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len() * 2);
    for b in input.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'!' | b'*' | b'\'' | b'(' | b')' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Parses an `Edm.DateTimeOffset` literal; one without offset is taken as UTC.
pub(crate) fn parse_datetime(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339).or_else(|_| OffsetDateTime::parse(&format!("{value}Z"), &Rfc3339)).ok()
}

/// `YYYY-MM-DD{separator}HH:MM:SS` in UTC, then `suffix`: `fraction` adds Graph's 7 digits.
pub(crate) fn timestamp(t: OffsetDateTime, separator: char, fraction: bool, suffix: &str) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let (y, mo, d, h, mi, s) = (t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second());
    let mut out = format!("{y:04}-{mo:02}-{d:02}{separator}{h:02}:{mi:02}:{s:02}");
    if fraction {
        let _ = write!(out, ".{:07}", t.nanosecond() / 100);
    }
    out + suffix
}

/// Graph's DateTimeOffset rendering: UTC, seven fractional digits, `Z`.
pub(crate) fn graph_datetime(t: OffsetDateTime) -> String {
    timestamp(t, 'T', true, "Z")
}

/// `len` random characters of `alphabet` (at most 256 symbols), the first one never `'0'`.
pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    let size = alphabet.len().clamp(1, 256);
    let limit = 256 - 256 % size; // rejection sampling keeps the draw unbiased
    let mut out = String::with_capacity(len);
    while out.len() < len {
        // Bytes 6 and 8 of a v4 UUID carry its version and variant bits.
        let bytes = Uuid::new_v4().into_bytes();
        for (_, &b) in bytes.iter().enumerate().filter(|(i, b)| *i != 6 && *i != 8 && usize::from(**b) < limit) {
            match alphabet.get(usize::from(b) % size) {
                Some(b'0') if out.is_empty() => {}
                Some(&c) if out.len() < len => out.push(char::from(c)),
                _ => {}
            }
        }
    }
    out
}

/// `len` random decimal digits, not starting with 0.
pub(crate) fn random_digits(len: usize) -> String {
    random_string(len, b"0123456789")
}

/// `base64url(header).base64url(claims).base64url(signature)`: the shape of a JWT, for the
/// tokens the emulator mints (it never verifies its own signatures).
pub(crate) fn jwt_shaped(header: &serde_json::Value, claims: &serde_json::Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        base64(header.to_string().as_bytes(), true),
        base64(claims.to_string().as_bytes(), true),
        base64(signature, true)
    )
}

/// An AADSTS error as the token endpoint sends it: OAuth `error`, AADSTS code, HTTP status,
/// message.
pub(super) struct AadstsError(pub(super) String, pub(super) u32, pub(super) u16, pub(super) String);

pub(super) fn aadsts(error: &str, code: u32, status: u16, message: impl Into<String>) -> AadstsError {
    AadstsError(error.to_owned(), code, status, message.into())
}
