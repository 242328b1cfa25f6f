//! browser_emulate: viewport, user agent, geolocation, time zone, device presets, network conditions.

use serde::Deserialize;

use super::default_true;
use super::{in_range, non_empty, ArgsError};

/// Network conditions presets: (name, download kbit/s, upload kbit/s, latency ms).
pub const THROTTLE_PRESETS: [(&str, f64, f64, f64); 4] = [
    ("slow-3g", 400.0, 400.0, 2000.0),
    ("fast-3g", 1600.0, 750.0, 562.5),
    ("4g", 9000.0, 9000.0, 170.0),
    ("wifi", 30000.0, 15000.0, 2.0),
];

/// A device preset: viewport, pixel ratio, mobile and touch, user agent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Device {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub scale: f64,
    pub mobile: bool,
    pub touch: bool,
    pub user_agent: &'static str,
}

pub const DEVICES: [Device; 6] = [
    Device {
        name: "iPhone 15",
        width: 393,
        height: 852,
        scale: 3.0,
        mobile: true,
        touch: true,
        user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    },
    Device {
        name: "iPhone SE",
        width: 375,
        height: 667,
        scale: 2.0,
        mobile: true,
        touch: true,
        user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    },
    Device {
        name: "Pixel 7",
        width: 412,
        height: 915,
        scale: 2.625,
        mobile: true,
        touch: true,
        user_agent: "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    },
    Device {
        name: "Galaxy S23",
        width: 360,
        height: 780,
        scale: 3.0,
        mobile: true,
        touch: true,
        user_agent: "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    },
    Device {
        name: "iPad",
        width: 820,
        height: 1180,
        scale: 2.0,
        mobile: true,
        touch: true,
        user_agent: "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    },
    Device {
        name: "Desktop",
        width: 1280,
        height: 800,
        scale: 1.0,
        mobile: false,
        touch: false,
        user_agent: "",
    },
];

/// The preset named `name`, ignoring case, spaces and dashes (`iphone-15`, `Pixel7`).
pub fn device(name: &str) -> Option<&'static Device> {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    };
    DEVICES.iter().find(|d| norm(d.name) == norm(name))
}

/// browser_emulate: what the page believes about its device, place and network.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum EmulateAction {
    Viewport {
        width: u32,
        height: u32,
        #[serde(
            default = "default_scale",
            rename = "deviceScaleFactor",
            alias = "device_scale_factor"
        )]
        device_scale_factor: f64,
        #[serde(default)]
        mobile: bool,
    },
    UserAgent {
        #[serde(rename = "userAgent", alias = "user_agent")]
        user_agent: String,
    },
    Geolocation {
        latitude: f64,
        longitude: f64,
        #[serde(default = "default_accuracy")]
        accuracy: f64,
    },
    Timezone {
        #[serde(rename = "timezoneId", alias = "timezone_id", alias = "timezone")]
        timezone_id: String,
    },
    /// One of [`DEVICES`], by name.
    Device { name: String },
    Offline {
        #[serde(default = "default_true")]
        enabled: bool,
    },
    /// A preset of [`THROTTLE_PRESETS`], `none`, or explicit figures.
    Throttle {
        #[serde(default)]
        preset: Option<String>,
        #[serde(default, rename = "downloadKbps", alias = "download_kbps")]
        download_kbps: Option<f64>,
        #[serde(default, rename = "uploadKbps", alias = "upload_kbps")]
        upload_kbps: Option<f64>,
        /// Added round-trip latency in ms.
        #[serde(default)]
        latency: Option<f64>,
    },
    /// Undoes every emulation: viewport, user agent, touch, geolocation, time zone, network.
    Reset,
}

fn default_scale() -> f64 {
    1.0
}

fn default_accuracy() -> f64 {
    10.0
}

pub(super) fn check(action: &EmulateAction) -> Result<(), ArgsError> {
    match action {
        EmulateAction::Viewport {
            width,
            height,
            device_scale_factor,
            ..
        } => {
            in_range("width", f64::from(*width), 50.0, 10_000.0)?;
            in_range("height", f64::from(*height), 50.0, 10_000.0)?;
            in_range("deviceScaleFactor", *device_scale_factor, 0.1, 10.0)
        }
        EmulateAction::UserAgent { user_agent } => non_empty("userAgent", user_agent),
        EmulateAction::Geolocation {
            latitude,
            longitude,
            accuracy,
        } => {
            in_range("latitude", *latitude, -90.0, 90.0)?;
            in_range("longitude", *longitude, -180.0, 180.0)?;
            in_range("accuracy", *accuracy, 0.0, 1e7)
        }
        EmulateAction::Timezone { timezone_id } => non_empty("timezoneId", timezone_id),
        EmulateAction::Device { name } => match device(name) {
            Some(_) => Ok(()),
            None => Err(ArgsError::new(
                "name",
                format!(
                    "unknown device '{name}', expected one of {}",
                    DEVICES.map(|d| d.name).join(", ")
                ),
            )),
        },
        EmulateAction::Throttle {
            preset,
            download_kbps,
            upload_kbps,
            latency,
        } => {
            let explicit = [
                ("downloadKbps", download_kbps),
                ("uploadKbps", upload_kbps),
                ("latency", latency),
            ];
            for (field, v) in explicit {
                if let Some(v) = v {
                    in_range(field, *v, 0.0, 1e7)?;
                }
            }
            let any_explicit = explicit.iter().any(|(_, v)| v.is_some());
            match preset {
                Some(_) if any_explicit => Err(ArgsError::new(
                    "preset",
                    "give either a preset or downloadKbps/uploadKbps/latency, not both",
                )),
                Some(p) if throttle_preset(p).is_none() => Err(ArgsError::new(
                    "preset",
                    format!(
                        "unknown preset '{p}', expected one of {}, none",
                        THROTTLE_PRESETS.map(|t| t.0).join(", ")
                    ),
                )),
                None if !any_explicit => Err(ArgsError::new(
                    "preset",
                    "is required (or give downloadKbps, uploadKbps or latency)",
                )),
                _ => Ok(()),
            }
        }
        EmulateAction::Offline { .. } | EmulateAction::Reset => Ok(()),
    }
}

/// (download kbit/s, upload kbit/s, latency ms) of a preset; `none` (or `off`) is no throttling,
/// all zeros.
pub fn throttle_preset(name: &str) -> Option<(f64, f64, f64)> {
    let name = name.to_ascii_lowercase();
    if name == "none" || name == "off" {
        return Some((0.0, 0.0, 0.0));
    }
    THROTTLE_PRESETS
        .iter()
        .find(|p| p.0 == name)
        .map(|p| (p.1, p.2, p.3))
}
