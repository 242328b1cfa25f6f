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

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
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
    /// Presses a key with modifiers held, on whatever has the focus. The origin's `ctrl`,
    /// `alt`, `shift` and `meta` are folded into `modifiers` at validation (and left false).
    Press {
        key: KeyChord,
        #[serde(default)]
        modifiers: Vec<String>,
        #[serde(default)]
        ctrl: bool,
        #[serde(default)]
        alt: bool,
        #[serde(default)]
        shift: bool,
        #[serde(default)]
        meta: bool,
    },
    /// Puts files into an `<input type=file>`; every path must exist.
    Upload {
        selector: String,
        files: Vec<String>,
    },
    Type {
        selector: String,
        text: String,
        /// Milliseconds between characters; without it the text goes in as one input.
        #[serde(default)]
        delay: Option<f64>,
    },
    Keyboard {
        key: KeyChord,
    },
    /// By `direction` and `amount`, or by `deltaX` / `deltaY` (the origin's); the page, or
    /// the element under `selector` (scrolled as a mouse wheel over it would).
    Scroll {
        #[serde(default)]
        direction: Option<ScrollDirection>,
        #[serde(default)]
        amount: Option<f64>,
        #[serde(default, rename = "deltaX")]
        delta_x: Option<f64>,
        #[serde(default, rename = "deltaY")]
        delta_y: Option<f64>,
        #[serde(default)]
        selector: Option<String>,
    },
    /// One of: `value` (an option's value or, failing that, its visible label), `label` (the
    /// visible label only), `index` (from 0).
    Select {
        selector: String,
        #[serde(default)]
        value: Option<String>,
        #[serde(default)]
        label: Option<String>,
        #[serde(default)]
        index: Option<u32>,
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

impl InteractAction {
    /// A scroll's movement in pixels (right and down are positive).
    pub fn scroll_deltas(&self) -> Option<(f64, f64)> {
        let InteractAction::Scroll {
            direction,
            amount,
            delta_x,
            delta_y,
            ..
        } = self
        else {
            return None;
        };
        Some(match direction {
            Some(direction) => {
                let amount = amount.unwrap_or(DEFAULT_SCROLL_PX);
                match direction {
                    ScrollDirection::Up => (0.0, -amount),
                    ScrollDirection::Down => (0.0, amount),
                    ScrollDirection::Left => (-amount, 0.0),
                    ScrollDirection::Right => (amount, 0.0),
                }
            }
            None => (delta_x.unwrap_or(0.0), delta_y.unwrap_or(0.0)),
        })
    }
}

pub(super) fn check(action: &mut InteractAction) -> Result<(), ArgsError> {
    match action {
        InteractAction::Hover { selector } => non_empty("selector", selector),
        InteractAction::Type {
            selector, delay, ..
        } => {
            non_empty("selector", selector)?;
            if let Some(delay) = delay {
                in_range("delay", *delay, 0.0, 10_000.0)?;
            }
            Ok(())
        }
        InteractAction::Select {
            selector,
            value,
            label,
            index,
        } => {
            non_empty("selector", selector)?;
            match (value.is_some(), label.is_some(), index.is_some()) {
                (false, false, false) => {
                    Err(ArgsError::new("value", "is required (or label, or index)"))
                }
                (true, false, false) | (false, true, false) | (false, false, true) => Ok(()),
                _ => Err(ArgsError::new(
                    if value.is_some() { "label" } else { "index" },
                    "give one of value, label and index",
                )),
            }
        }
        InteractAction::Click { selector, x, y } | InteractAction::Move { selector, x, y } => {
            target(selector, x, y)
        }
        InteractAction::Press {
            modifiers,
            ctrl,
            alt,
            shift,
            meta,
            ..
        } => {
            for (i, m) in modifiers.iter().enumerate() {
                if Modifier::parse(m).is_none() {
                    return Err(ArgsError::new(
                        &format!("modifiers[{i}]"),
                        format!("unknown modifier '{m}', expected Control, Alt, Shift or Meta"),
                    ));
                }
            }
            // The origin's booleans are modifiers too: one list for the engine.
            for (held, name) in [
                (ctrl, "Control"),
                (alt, "Alt"),
                (shift, "Shift"),
                (meta, "Meta"),
            ] {
                let m = Modifier::parse(name).expect("a modifier");
                if std::mem::take(held) && !modifiers.iter().any(|g| Modifier::parse(g) == Some(m))
                {
                    modifiers.push(name.to_string());
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
        InteractAction::Scroll {
            direction,
            amount,
            delta_x,
            delta_y,
            selector,
        } => {
            if let Some(selector) = selector {
                non_empty("selector", selector)?;
            }
            if let Some(amount) = amount {
                if !(amount.is_finite() && *amount >= 0.0) {
                    return Err(ArgsError::new(
                        "amount",
                        "must be a non-negative number of pixels",
                    ));
                }
            }
            let deltas = delta_x.is_some() || delta_y.is_some();
            match (direction.is_some(), deltas) {
                (true, true) => Err(ArgsError::new(
                    "direction",
                    "give either direction (and amount) or deltaX/deltaY, not both",
                )),
                (false, false) => Err(ArgsError::new(
                    "direction",
                    "is required (or deltaX/deltaY, the pixels to scroll)",
                )),
                (false, true) if amount.is_some() => Err(ArgsError::new(
                    "amount",
                    "goes with direction; with deltaX/deltaY the deltas are the amount",
                )),
                _ => Ok(()),
            }
        }
        InteractAction::Keyboard { .. } => Ok(()),
    }
}
