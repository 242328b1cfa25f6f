//! Screenshots and PDFs are kept once, as bytes beside the record (the `artifacts` rows of the
//! SQL stores), not inside its JSON: the result JSON keeps an empty `data`/`blob` where they go.

use base64::Engine;
use serde_json::Value;

use crate::task::{Content, Task, ToolResult};

/// One image or embedded file of a result, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// Its place in the result's `content`.
    pub item: usize,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

/// The failure screenshot of a command is artifact item [`FAILURE_SCREENSHOT`].
pub const FAILURE_SCREENSHOT: usize = usize::MAX >> 1;

/// Splits a result into its JSON (artifacts left out) and its artifacts.
pub fn split(result: &ToolResult) -> (Value, Vec<Artifact>) {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut kept = result.clone();
    let mut artifacts = Vec::new();
    for (item, content) in kept.content.iter_mut().enumerate() {
        let (data, mime_type) = match content {
            Content::Image { data, mime_type } => (data, mime_type.clone()),
            Content::Resource { resource } => (&mut resource.blob, resource.mime_type.clone()),
            Content::Text { .. } => continue,
        };
        // Not base64 (never from our tools): kept in the JSON as it came.
        if let Ok(bytes) = engine.decode(data.as_bytes()) {
            artifacts.push(Artifact {
                item,
                mime_type,
                bytes,
            });
            data.clear();
        }
    }
    (
        serde_json::to_value(&kept).expect("a result serializes"),
        artifacts,
    )
}

/// Puts a result back together.
pub fn join(json: Value, artifacts: &[Artifact]) -> anyhow::Result<ToolResult> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut result: ToolResult = serde_json::from_value(json)?;
    for artifact in artifacts {
        let Some(content) = result.content.get_mut(artifact.item) else {
            continue;
        };
        let encoded = engine.encode(&artifact.bytes);
        match content {
            Content::Image { data, .. } => *data = encoded,
            Content::Resource { resource } => resource.blob = encoded,
            Content::Text { .. } => {}
        }
    }
    Ok(result)
}

/// Decodes a failure screenshot (base64 PNG) for storing.
pub fn decode(png: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(png.as_bytes())
        .ok()
}

pub fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Roughly what a task's artifacts weigh (their base64 length), for the byte cap.
pub fn bytes_of(task: &Task) -> u64 {
    let in_results: usize = task
        .commands
        .iter()
        .filter_map(|c| c.result.as_ref())
        .flat_map(|r| r.content.iter())
        .map(|c| match c {
            Content::Image { data, .. } => data.len(),
            Content::Resource { resource } => resource.blob.len(),
            Content::Text { .. } => 0,
        })
        .sum();
    let failures: usize = task
        .commands
        .iter()
        .filter_map(|c| c.failure_screenshot.as_ref())
        .map(String::len)
        .sum();
    (in_results + failures) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::EmbeddedResource;

    #[test]
    fn a_result_splits_and_joins_back_losslessly() {
        let mut result = ToolResult::text("before");
        result.content.push(Content::Image {
            data: encode(b"\x89PNG fake"),
            mime_type: "image/png".into(),
        });
        result.content.push(Content::Resource {
            resource: EmbeddedResource {
                uri: "file:///page.pdf".into(),
                mime_type: "application/pdf".into(),
                blob: encode(b"%PDF-1.4"),
            },
        });
        let (json, artifacts) = split(&result);
        assert_eq!(artifacts.len(), 2);
        assert_eq!(artifacts[0].bytes, b"\x89PNG fake");
        assert_eq!(json["content"][1]["data"], "");
        assert_eq!(json["content"][2]["resource"]["blob"], "");
        assert_eq!(json["content"][0]["text"], "before");
        assert_eq!(join(json, &artifacts).unwrap(), result);
    }
}
