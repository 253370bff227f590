//! The OpenAPI document of the API (placeholder, filled in below).

/// The document as pretty JSON text, exactly as served and checked in.
pub fn document_text() -> String {
    String::from("{}")
}
