//! A tool's result as the plan's assumptions about it see it
//! (`let X = call T(...) where COND`, checked by
//! [`warden_core::assume`]).
//!
//! The result is its `structuredContent` when the server sends one (an
//! object's members are the result's fields: `bill.amount` is member
//! `amount`). Otherwise it is the text of its text content blocks (joined
//! by newlines, leading and trailing whitespace removed), read as JSON
//! when it is JSON, else as one string (what `bill` itself is). A result
//! with neither is `null`, which no assumption holds of.
//!
//! ```
//! use rmcp::model::{CallToolResult, ContentBlock};
//! let r = CallToolResult::success(vec![ContentBlock::text(r#" {"amount": 40} "#)]);
//! assert_eq!(warden_mcp::assume::result_json(&r)["amount"], 40);
//! let r = CallToolResult::success(vec![ContentBlock::text("hello")]);
//! assert_eq!(warden_mcp::assume::result_json(&r), "hello");
//! ```

use rmcp::model::{CallToolResult, ContentBlock};

/// The result as JSON, for [`warden_core::assume::ResultAssumption::check_result`].
pub fn result_json(result: &CallToolResult) -> serde_json::Value {
    if let Some(s) = &result.structured_content {
        return s.clone();
    }
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect();
    if texts.is_empty() {
        return serde_json::Value::Null;
    }
    let text = texts.join("\n");
    let text = text.trim();
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}
