//! browser_content: screenshot, get_text, get_html, get (the origin's: html or text),
//! get_viewport_dom, snapshot, pdf, attribute, query.

use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, CaptureScreenshotParams, Viewport,
};
use serde_json::{json, Value};

use super::executor::{cdp_error, helper, require_ok, Ctx, World};
use crate::task::{
    CommandError, Content, ContentAction, EmbeddedResource, GetFormat, ImageFormat, Paper,
    ToolResult,
};

pub async fn run(ctx: &Ctx<'_>, action: &ContentAction) -> Result<ToolResult, CommandError> {
    match action {
        ContentAction::Screenshot {
            selector,
            full_page,
            format,
            quality,
        } => screenshot(ctx, selector.as_deref(), *full_page, *format, *quality).await,
        ContentAction::Pdf {
            paper,
            landscape,
            background,
            scale,
            paper_width,
            paper_height,
        } => {
            let (width, height) = paper.inches();
            let print = Print {
                paper: *paper,
                width: paper_width.unwrap_or(width),
                height: paper_height.unwrap_or(height),
                custom: paper_width.is_some() || paper_height.is_some(),
                landscape: *landscape,
                background: *background,
                scale: *scale,
            };
            pdf(ctx, print).await
        }
        ContentAction::Attribute { selector, name } => {
            let answer: Value = helper(
                ctx,
                "attribute",
                json!({ "selector": selector, "name": name }),
            )
            .await?;
            let state = answer["state"].as_str().unwrap_or("missing");
            require_ok(selector, state, answer["detail"].as_str())?;
            // JSON: a string, or null when the element has no such attribute.
            Ok(ToolResult::text(answer["value"].to_string()))
        }
        ContentAction::Query { selector, limit } => {
            let mut answer: Value = helper(
                ctx,
                "query",
                json!({ "selector": selector, "limit": limit }),
            )
            .await?;
            let state = answer["state"].as_str().unwrap_or("missing").to_string();
            require_ok(selector, &state, answer["detail"].as_str())?;
            if let Value::Object(map) = &mut answer {
                map.remove("state");
            }
            Ok(ToolResult::text(answer.to_string()))
        }
        ContentAction::GetText { selector } => {
            let answer: Value = helper(ctx, "text", json!({ "selector": selector })).await?;
            read_field(selector, &answer, "text")
        }
        ContentAction::GetHtml { selector } => {
            let answer: Value = helper(ctx, "html", json!({ "selector": selector })).await?;
            read_field(selector.as_deref().unwrap_or("document"), &answer, "html")
        }
        ContentAction::Get {
            selector,
            format: GetFormat::Html,
        } => {
            let answer: Value = helper(ctx, "html", json!({ "selector": selector })).await?;
            read_field(selector.as_deref().unwrap_or("document"), &answer, "html")
        }
        ContentAction::Get {
            selector,
            format: GetFormat::Text,
        } => {
            // The whole page's text is the body's (what a reader sees).
            let selector = selector.as_deref().unwrap_or("body");
            let answer: Value = helper(ctx, "text", json!({ "selector": selector })).await?;
            read_field(selector, &answer, "text")
        }
        ContentAction::Snapshot {
            selector,
            max_length,
        } => {
            let answer: Value = helper(
                ctx,
                "snapshot",
                json!({ "selector": selector, "max": max_length.unwrap_or(DEFAULT_SNAPSHOT_CHARS) }),
            )
            .await?;
            let state = answer["state"].as_str().unwrap_or("missing");
            require_ok(
                selector.as_deref().unwrap_or("body"),
                state,
                answer["detail"].as_str(),
            )?;
            let mut text = answer["snapshot"].as_str().unwrap_or_default().to_string();
            // Cross-origin frames are snapshotted by their own helpers (frames.rs).
            if text.contains(" [frame=") {
                let max = max_length.unwrap_or(DEFAULT_SNAPSHOT_CHARS);
                text = super::frames::fill_snapshot(ctx, &text, max).await;
            }
            Ok(ToolResult::text(format!(
                "Page URL: {}\nPage title: {}\n{}",
                answer["url"].as_str().unwrap_or_default(),
                answer["title"].as_str().unwrap_or_default(),
                text
            )))
        }
        ContentAction::GetViewportDom {
            max_elements,
            min_size,
        } => viewport_dom(ctx, *max_elements, *min_size).await,
    }
}

/// How many elements the viewport DOM lists without `maxElements`.
const DEFAULT_VIEWPORT_ELEMENTS: u32 = 250;
/// The most the page is asked for when small elements are to be left out afterwards.
const MAX_VIEWPORT_ELEMENTS: u32 = 5000;

/// The visible elements, at most `max_elements`, without those smaller than `min_size` px in
/// width or height (left out before counting, so the small ones do not use up the limit).
async fn viewport_dom(
    ctx: &Ctx<'_>,
    max_elements: Option<u32>,
    min_size: Option<f64>,
) -> Result<ToolResult, CommandError> {
    let wanted = max_elements.unwrap_or(DEFAULT_VIEWPORT_ELEMENTS);
    let ask = if min_size.is_some() {
        MAX_VIEWPORT_ELEMENTS
    } else {
        wanted
    };
    let mut answer: Value = helper(ctx, "viewport_dom", json!({ "limit": ask })).await?;
    if let Value::Object(map) = &mut answer {
        map.remove("state");
        if let (Some(min), Some(Value::Array(elements))) = (min_size, map.get_mut("elements")) {
            let big_enough = |e: &Value| {
                let size = |i: usize| e["box"][i].as_f64().unwrap_or(0.0);
                size(2) >= min && size(3) >= min
            };
            elements.retain(big_enough);
            if elements.len() > wanted as usize {
                elements.truncate(wanted as usize);
                map.insert("truncated".into(), Value::Bool(true));
            }
        }
    }
    Ok(ToolResult::text(answer.to_string()))
}

/// The size of a snapshot without `max_length`, in characters: a few thousand tokens.
pub const DEFAULT_SNAPSHOT_CHARS: usize = 20_000;

fn read_field(selector: &str, answer: &Value, field: &str) -> Result<ToolResult, CommandError> {
    let state = answer["state"].as_str().unwrap_or("missing");
    require_ok(selector, state, answer["detail"].as_str())?;
    Ok(ToolResult::text(answer[field].as_str().unwrap_or_default()))
}

#[derive(serde::Deserialize)]
struct Region {
    state: String,
    #[serde(default)]
    desc: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    x: f64,
    #[serde(default)]
    y: f64,
    #[serde(default)]
    width: f64,
    #[serde(default)]
    height: f64,
}

/// The viewport, the whole page, or one element. Pages and elements are clipped in document
/// coordinates with `captureBeyondViewport`, which leaves the emulated viewport as it was
/// (chromiumoxide's own full-page and element shots do not).
async fn screenshot(
    ctx: &Ctx<'_>,
    selector: Option<&str>,
    full_page: bool,
    format: ImageFormat,
    quality: Option<u32>,
) -> Result<ToolResult, CommandError> {
    // Fast encoding: a somewhat larger file for a much cheaper capture.
    let mut params = CaptureScreenshotParams::builder()
        .format(match format {
            ImageFormat::Png => CaptureScreenshotFormat::Png,
            ImageFormat::Jpeg => CaptureScreenshotFormat::Jpeg,
            ImageFormat::Webp => CaptureScreenshotFormat::Webp,
        })
        .optimize_for_speed(true);
    if let Some(quality) = quality {
        params = params.quality(i64::from(quality));
    }
    let region = match (selector, full_page) {
        (Some(selector), _) => {
            let region: Region = helper(ctx, "rect", json!({ "selector": selector })).await?;
            if region.state == "hidden" {
                return Err(CommandError::execution(format!(
                    "{} ('{selector}') is not visible: nothing to capture",
                    region.desc.unwrap_or_default()
                )));
            }
            require_ok(selector, &region.state, region.detail.as_deref())?;
            Some(region)
        }
        (None, true) => Some(helper::<Region>(ctx, "page_size", json!({})).await?),
        (None, false) => None,
    };
    if let Some(r) = region {
        params = params
            .clip(Viewport {
                x: r.x,
                y: r.y,
                width: r.width.max(1.0),
                height: r.height.max(1.0),
                scale: 1.0,
            })
            .capture_beyond_viewport(true);
    }
    let shot = ctx
        .page
        .execute(params.build())
        .await
        .map_err(|e| cdp_error("Page.captureScreenshot", e))?;
    let data: &str = shot.result.data.as_ref();
    Ok(ToolResult::image(data.to_string(), format.mime_type()))
}

/// How to print a page.
struct Print {
    paper: Paper,
    /// Inches: the paper's, or `paperWidth` / `paperHeight`.
    width: f64,
    height: f64,
    custom: bool,
    landscape: bool,
    background: bool,
    scale: Option<f64>,
}

/// Page.printToPDF (headless Chromium only). The PDF comes back as an embedded resource, with a
/// line saying its size.
async fn pdf(ctx: &Ctx<'_>, print: Print) -> Result<ToolResult, CommandError> {
    let Print {
        paper,
        width,
        height,
        custom,
        landscape,
        background,
        scale,
    } = print;
    let mut params = json!({
        "paperWidth": width,
        "paperHeight": height,
        "landscape": landscape,
        "printBackground": background,
    });
    if let Some(scale) = scale {
        params["scale"] = json!(scale);
    }
    let answer = ctx.cdp("Page.printToPDF", params).await.map_err(|e| {
        CommandError::execution(format!("{} (PDF needs headless Chromium)", e.message))
    })?;
    let data = answer["data"].as_str().unwrap_or_default().to_string();
    let bytes = data.len() / 4 * 3;
    let url = match super::executor::eval_once(&ctx.page, "location.href", World::Page).await {
        Ok(Value::String(url)) => url,
        _ => "about:blank".into(),
    };
    Ok(ToolResult {
        content: vec![
            Content::Text {
                text: format!(
                    "PDF of {url}: about {bytes} bytes, {}{}{}",
                    if custom {
                        format!("{width}×{height} in")
                    } else {
                        format!("{paper:?}").to_lowercase()
                    },
                    if landscape { ", landscape" } else { "" },
                    scale.map(|s| format!(", scale {s}")).unwrap_or_default()
                ),
            },
            Content::Resource {
                resource: EmbeddedResource {
                    uri: format!("{url}#pdf"),
                    mime_type: "application/pdf".into(),
                    blob: data,
                },
            },
        ],
    })
}
