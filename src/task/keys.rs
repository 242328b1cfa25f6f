//! Key names and combinations for the keyboard action (`Enter`, `Control+A`, `Shift+Tab`),
//! checked against the US keyboard layout at validation time.

use chromiumoxide::keys::{KeyDefinition, USKEYBOARD_LAYOUT};
use serde::Deserialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    Alt,
    Control,
    Meta,
    Shift,
}

impl Modifier {
    /// The bit CDP's `Input.dispatchKeyEvent` uses for this modifier.
    pub fn bit(self) -> i64 {
        match self {
            Modifier::Alt => 1,
            Modifier::Control => 2,
            Modifier::Meta => 4,
            Modifier::Shift => 8,
        }
    }

    pub fn key_name(self) -> &'static str {
        match self {
            Modifier::Alt => "Alt",
            Modifier::Control => "Control",
            Modifier::Meta => "Meta",
            Modifier::Shift => "Shift",
        }
    }

    pub fn parse(name: &str) -> Option<Modifier> {
        Some(match name.to_ascii_lowercase().as_str() {
            "control" | "ctrl" => Modifier::Control,
            "alt" | "option" => Modifier::Alt,
            "shift" => Modifier::Shift,
            "meta" | "cmd" | "command" | "super" => Modifier::Meta,
            _ => return None,
        })
    }
}

/// A key with the modifiers held while it is pressed.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct KeyChord {
    pub modifiers: Vec<Modifier>,
    pub key: &'static KeyDefinition,
}

impl PartialEq for KeyChord {
    fn eq(&self, other: &Self) -> bool {
        self.modifiers == other.modifiers && std::ptr::eq(self.key, other.key)
    }
}

impl KeyChord {
    pub fn modifier_bits(&self) -> i64 {
        self.modifiers.iter().map(|m| m.bit()).sum()
    }

    /// The text the key types, when no command modifier turns it into a shortcut.
    pub fn text(&self) -> Option<String> {
        if self
            .modifiers
            .iter()
            .any(|m| matches!(m, Modifier::Control | Modifier::Alt | Modifier::Meta))
        {
            return None;
        }
        match self.key.text {
            Some(t) => Some(t.to_string()),
            None if self.key.key.chars().count() == 1 => Some(self.key.key.to_string()),
            None => None,
        }
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.modifiers {
            write!(f, "{}+", m.key_name())?;
        }
        f.write_str(self.key.key)
    }
}

fn alias(name: &str) -> &str {
    match name.to_ascii_lowercase().as_str() {
        "esc" => "Escape",
        "return" => "Enter",
        "space" | "spacebar" => " ",
        "up" => "ArrowUp",
        "down" => "ArrowDown",
        "left" => "ArrowLeft",
        "right" => "ArrowRight",
        "del" => "Delete",
        "ctrl" => "Control",
        "pgup" => "PageUp",
        "pgdn" => "PageDown",
        _ => name,
    }
}

/// The layout's entry for a key name: exact for single characters (`a` ≠ `A`), any case for
/// named keys (`enter` = `Enter`). The main-block key wins over its numpad twin.
pub fn key_definition(name: &str) -> Option<&'static KeyDefinition> {
    let name = alias(name);
    let matches = |d: &&KeyDefinition| {
        if name.chars().count() == 1 {
            d.key == name
        } else {
            d.key.eq_ignore_ascii_case(name)
        }
    };
    let preferred = USKEYBOARD_LAYOUT
        .iter()
        .filter(matches)
        .find(|d| !d.code.starts_with("Numpad") && !d.code.ends_with("Right"));
    preferred.or_else(|| USKEYBOARD_LAYOUT.iter().find(matches))
}

impl TryFrom<String> for KeyChord {
    type Error = String;

    fn try_from(spec: String) -> Result<Self, String> {
        let spec = spec.trim();
        // `+` itself, alone or as the last key of a chord (`Control++`).
        let (mods_part, key_part) = if spec == "+" {
            ("", "+")
        } else if let Some(head) = spec.strip_suffix("++") {
            (head, "+")
        } else {
            match spec.rsplit_once('+') {
                Some((head, key)) => (head, key),
                None => ("", spec),
            }
        };
        let mut modifiers = Vec::new();
        for part in mods_part.split('+').filter(|p| !p.is_empty()) {
            let m = Modifier::parse(part.trim()).ok_or_else(|| {
                format!(
                    "unknown key '{spec}': '{part}' is not a modifier (Control, Alt, Shift, Meta)"
                )
            })?;
            if !modifiers.contains(&m) {
                modifiers.push(m);
            }
        }
        let key = key_definition(key_part.trim_matches(|c| c == '\t'))
            .ok_or_else(|| format!("unknown key '{spec}': expected a key name such as Enter, Tab, Escape, ArrowDown, a, 1, optionally after modifiers as in Control+A"))?;
        Ok(KeyChord { modifiers, key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chord(s: &str) -> KeyChord {
        KeyChord::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn named_keys_and_combinations() {
        let enter = chord("Enter");
        assert_eq!(
            (enter.key.key, enter.key.code, enter.key.key_code),
            ("Enter", "Enter", 13)
        );
        assert_eq!(enter.text().as_deref(), Some("\r"));
        assert_eq!(chord("ArrowDown").key.code, "ArrowDown");
        assert_eq!(chord("escape").key.key, "Escape");
        assert_eq!(chord("Esc").key.key, "Escape");

        let select_all = chord("Control+A");
        assert_eq!(select_all.modifiers, vec![Modifier::Control]);
        assert_eq!(select_all.key.key, "A");
        assert_eq!(select_all.modifier_bits(), 2);
        assert_eq!(select_all.text(), None, "a shortcut types nothing");
        assert_eq!(select_all.to_string(), "Control+A");

        let shift_tab = chord("Shift+Tab");
        assert_eq!(shift_tab.modifier_bits(), 8);
        assert_eq!(chord("a").text().as_deref(), Some("a"));
        assert_eq!(chord("Ctrl+Shift+z").modifier_bits(), 10);
        assert_eq!(chord("Control++").key.key, "+");
    }

    #[test]
    fn named_keys_and_modifiers_are_case_insensitive() {
        for name in ["enter", "ENTER", "eNtEr", "return"] {
            assert_eq!(chord(name).key.key, "Enter", "{name}");
        }
        assert_eq!(chord("tab").key.key, "Tab");
        assert_eq!(chord("arrowdown").key.code, "ArrowDown");
        let lower = chord("control+a");
        assert_eq!((lower.modifier_bits(), lower.key.key), (2, "a"));
        assert_eq!(chord("CTRL+Enter").modifier_bits(), 2);
        // Single characters are exact: `a` and `A` are different keys that type differently.
        assert_eq!(chord("a").text().as_deref(), Some("a"));
        assert_eq!(chord("A").text().as_deref(), Some("A"));
        assert_eq!(chord("space").text().as_deref(), Some(" "));
        // The main-block key wins over its numpad twin.
        assert_eq!(chord("1").key.code, "Digit1");
        assert_eq!(chord("Enter").key.code, "Enter");
    }

    #[test]
    fn unknown_keys_are_refused_with_the_name() {
        let err = KeyChord::try_from("Entr".to_string()).unwrap_err();
        assert!(err.starts_with("unknown key 'Entr'"), "{err}");
        let err = KeyChord::try_from("Hyper+A".to_string()).unwrap_err();
        assert!(err.contains("'Hyper' is not a modifier"), "{err}");
    }
}
