//! YAML reading with errors for people: one line, the path of the offending item from the top
//! of the document (`silences[0].matchers`), the message, and the line and column.

use serde::de::DeserializeOwned;

/// Reads `text` as a `T`; an error is one line: `path: message (line L, column C)`, the
/// path leading from the top of the document to the offending item.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut path = None;
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = Some(e.path().to_string());
            e.into_inner()
        })
    })
    .map_err(|e| {
        let at = e
            .location()
            .filter(|l| l.line() > 0)
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        let message = message(&e.to_string());
        match path.as_deref() {
            Some(p) if !p.is_empty() && p != "." => format!("{p}: {message}{at}"),
            _ => format!("{message}{at}"),
        }
    })
}

/// serde-saphyr's text on one line, without its position (given apart) and in plain words.
fn message(text: &str) -> String {
    let first = text.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.rfind(" at line ") {
        Some(i) if first[i..].contains("column") => &first[..i],
        _ => first,
    };
    first
        .replace(
            "expected sequence start",
            "expected a list (`[a, b]`, or one `- item` per line)",
        )
        .replace(
            "expected mapping start",
            "expected a mapping (`key: value` lines)",
        )
}
