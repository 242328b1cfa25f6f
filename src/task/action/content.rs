//! browser_content: screenshot, get_text, get_html, get_viewport_dom, snapshot, pdf, attribute,
//! query.

use serde::Deserialize;

use super::{non_empty, ArgsError};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ContentAction {
    Screenshot {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default, alias = "fullPage")]
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
    GetViewportDom,
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
        #[serde(default, alias = "printBackground")]
        background: bool,
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
    Letter,
    Legal,
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

pub(super) fn check(action: &ContentAction) -> Result<(), ArgsError> {
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
        } => non_empty("selector", selector),
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
        | ContentAction::GetViewportDom
        | ContentAction::Pdf { .. } => Ok(()),
    }
}
