//! browser_interact: click, type, keyboard, scroll, select, hover, move, press, upload.

use serde::Deserialize;

use super::{in_range, non_empty, ArgsError};
use crate::task::keys::{KeyChord, Modifier};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScrollDirection {
    Up,
    Down,
    Left,
    Right,
}

/// Pixels scrolled when a scroll command gives no `amount`.
pub const DEFAULT_SCROLL_PX: f64 = 500.0;

fn default_scroll() -> f64 {
    DEFAULT_SCROLL_PX
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum InteractAction {
    /// On an element (`selector`) or at a point of the viewport (`x`, `y`).
    Click {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        x: Option<f64>,
        #[serde(default)]
        y: Option<f64>,
    },
    /// Moves the mouse to an element's centre or to a point.
    Move {
        #[serde(default)]
        selector: Option<String>,
        #[serde(default)]
        x: Option<f64>,
        #[serde(default)]
        y: Option<f64>,
    },
    /// Presses a key with modifiers held, on whatever has the focus.
    Press {
        key: KeyChord,
        #[serde(default)]
        modifiers: Vec<String>,
    },
    /// Puts files into an `<input type=file>`; every path must exist.
    Upload {
        selector: String,
        files: Vec<String>,
    },
    Type {
        selector: String,
        text: String,
    },
    Keyboard {
        key: KeyChord,
    },
    Scroll {
        direction: ScrollDirection,
        #[serde(default = "default_scroll")]
        amount: f64,
    },
    /// `value` matches an option's value or, failing that, its visible label.
    Select {
        selector: String,
        value: String,
    },
    Hover {
        selector: String,
    },
}

/// An element (`selector`) or a point (`x` and `y`), not both.
fn target(selector: &Option<String>, x: &Option<f64>, y: &Option<f64>) -> Result<(), ArgsError> {
    match (selector, x, y) {
        (Some(s), None, None) => non_empty("selector", s),
        (None, Some(x), Some(y)) => {
            in_range("x", *x, 0.0, 100_000.0)?;
            in_range("y", *y, 0.0, 100_000.0)
        }
        (None, None, None) => Err(ArgsError::new(
            "selector",
            "is required (or give x and y for a point)",
        )),
        (None, Some(_), None) => Err(ArgsError::new("y", "is required with x")),
        (None, None, Some(_)) => Err(ArgsError::new("x", "is required with y")),
        (Some(_), _, _) => Err(ArgsError::new(
            "selector",
            "give either selector or x and y, not both",
        )),
    }
}

pub(super) fn check(action: &InteractAction) -> Result<(), ArgsError> {
    match action {
        InteractAction::Hover { selector }
        | InteractAction::Type { selector, .. }
        | InteractAction::Select { selector, .. } => non_empty("selector", selector),
        InteractAction::Click { selector, x, y } | InteractAction::Move { selector, x, y } => {
            target(selector, x, y)
        }
        InteractAction::Press { modifiers, .. } => {
            for (i, m) in modifiers.iter().enumerate() {
                if Modifier::parse(m).is_none() {
                    return Err(ArgsError::new(
                        &format!("modifiers[{i}]"),
                        format!("unknown modifier '{m}', expected Control, Alt, Shift or Meta"),
                    ));
                }
            }
            Ok(())
        }
        InteractAction::Upload { selector, files } => {
            non_empty("selector", selector)?;
            if files.is_empty() {
                return Err(ArgsError::new("files", "must list at least one file"));
            }
            for (i, file) in files.iter().enumerate() {
                let path = std::path::Path::new(file);
                if !path.is_absolute() {
                    return Err(ArgsError::new(
                        &format!("files[{i}]"),
                        format!("must be an absolute path: '{file}'"),
                    ));
                }
                if !path.is_file() {
                    return Err(ArgsError::new(
                        &format!("files[{i}]"),
                        format!("no such file: {file}"),
                    ));
                }
            }
            Ok(())
        }
        InteractAction::Scroll { amount, .. } => {
            if amount.is_finite() && *amount >= 0.0 {
                Ok(())
            } else {
                Err(ArgsError::new(
                    "amount",
                    "must be a non-negative number of pixels",
                ))
            }
        }
        InteractAction::Keyboard { .. } => Ok(()),
    }
}
