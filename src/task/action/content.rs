//! browser_content: screenshot, get_text, get_html, get_viewport_dom, snapshot, pdf, attribute,
//! query.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{in_range, non_empty, serde_typed, ArgsError, Tool};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ContentAction {
    Screenshot {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        full_page: bool,
        #[serde(default)]
        format: ImageFormat,
        /// 0 to 100, for jpeg and webp.
        #[serde(default)]
        quality: Option<u32>,
    },
    GetText {
        selector: String,
    },
    GetHtml {
        #[serde(default)]
        selector: Option<String>,
    },
    /// The origin's read: HTML (the default) or text, of the element or the whole page.
    Get {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        format: GetFormat,
    },
    /// The visible elements: at most `max_elements` (default 250), none smaller than
    /// `min_size` pixels either way.
    GetViewportDom {
        #[serde(default, rename = "maxElements")]
        max_elements: Option<u32>,
        #[serde(default, rename = "minSize")]
        min_size: Option<f64>,
    },
    /// An accessibility-tree outline of the page (or of one element), each interactive
    /// element with a ref (`e12`) that `ref` arguments accept in place of a selector.
    Snapshot {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        max_length: Option<usize>,
    },
    /// The page as a PDF (headless only).
    Pdf {
        #[serde(default)]
        paper: Paper,
        #[serde(default)]
        landscape: bool,
        /// Print background colours and images.
        #[serde(default)]
        background: bool,
        /// Rendering scale, 0.1 to 2.
        #[serde(default)]
        scale: Option<f64>,
        /// Paper size in inches, instead of `paper`'s.
        #[serde(default, rename = "paperWidth")]
        paper_width: Option<f64>,
        #[serde(default, rename = "paperHeight")]
        paper_height: Option<f64>,
    },
    /// The value of one attribute of the first element matching `selector`.
    Attribute {
        selector: String,
        name: String,
    },
    /// How many elements match, and a short description of each (up to `limit`).
    Query {
        selector: String,
        #[serde(default = "default_query_limit")]
        limit: u32,
    },
}

fn default_query_limit() -> u32 {
    50
}

/// What `get` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GetFormat {
    #[default]
    Html,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    #[default]
    Png,
    #[serde(alias = "jpg")]
    Jpeg,
    Webp,
}

impl ImageFormat {
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }
}

/// Paper sizes for `pdf`, in inches (width, height) as Page.printToPDF takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Paper {
    #[default]
    #[serde(alias = "Letter")]
    Letter,
    #[serde(alias = "Legal")]
    Legal,
    #[serde(alias = "Tabloid")]
    Tabloid,
    #[serde(alias = "A3")]
    A3,
    #[serde(alias = "A4")]
    A4,
    #[serde(alias = "A5")]
    A5,
}

impl Paper {
    pub fn inches(self) -> (f64, f64) {
        match self {
            Paper::Letter => (8.5, 11.0),
            Paper::Legal => (8.5, 14.0),
            Paper::Tabloid => (11.0, 17.0),
            Paper::A3 => (11.69, 16.54),
            Paper::A4 => (8.27, 11.69),
            Paper::A5 => (5.83, 8.27),
        }
    }
}

/// Reads the arguments. The origin's `domDepth` is met by any flat list and `includeHidden:
/// false` is what the list is: both are checked here, then left out.
pub(super) fn parse(map: &Map<String, Value>) -> Result<ContentAction, ArgsError> {
    let mut map = map.clone();
    map.remove("domDepth");
    if map.remove("includeHidden") == Some(Value::Bool(true)) {
        return Err(ArgsError::new(
            "includeHidden",
            "true is not supported: the viewport DOM lists the elements a user can see (use get_html, or query, for hidden ones)",
        ));
    }
    serde_typed(&map, Tool::Content)
}

pub(super) fn check(action: &mut ContentAction) -> Result<(), ArgsError> {
    match action {
        ContentAction::GetText { selector } => non_empty("selector", selector),
        ContentAction::Screenshot {
            selector,
            format,
            quality,
            ..
        } => {
            if let Some(selector) = selector {
                non_empty("selector", selector)?;
            }
            match (format, quality) {
                (ImageFormat::Png, Some(_)) => Err(ArgsError::new(
                    "quality",
                    "applies to jpeg and webp only, not png",
                )),
                (_, Some(q)) if *q > 100 => Err(ArgsError::new("quality", "must be from 0 to 100")),
                _ => Ok(()),
            }
        }
        ContentAction::GetHtml {
            selector: Some(selector),
        }
        | ContentAction::Get {
            selector: Some(selector),
            ..
        } => non_empty("selector", selector),
        ContentAction::Pdf {
            scale,
            paper_width,
            paper_height,
            ..
        } => {
            if let Some(scale) = scale {
                in_range("scale", *scale, 0.1, 2.0)?;
            }
            for (field, inches) in [("paperWidth", paper_width), ("paperHeight", paper_height)] {
                if let Some(inches) = inches {
                    in_range(field, *inches, 1.0, 200.0)?;
                }
            }
            Ok(())
        }
        ContentAction::Snapshot {
            selector,
            max_length,
        } => {
            if let Some(selector) = selector {
                non_empty("selector", selector)?;
            }
            if *max_length == Some(0) {
                return Err(ArgsError::new(
                    "max_length",
                    "must be a positive number of characters",
                ));
            }
            Ok(())
        }
        ContentAction::Attribute { selector, name } => {
            non_empty("selector", selector)?;
            non_empty("name", name)
        }
        ContentAction::Query { selector, limit } => {
            non_empty("selector", selector)?;
            if *limit == 0 {
                return Err(ArgsError::new("limit", "must be at least 1"));
            }
            Ok(())
        }
        ContentAction::GetHtml { selector: None }
        | ContentAction::Get { selector: None, .. }
        | ContentAction::GetViewportDom { .. } => Ok(()),
    }
}
