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
