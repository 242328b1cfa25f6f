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
    /// Other names it goes by (the origin's `Samsung Galaxy S23`).
    pub aliases: &'static [&'static str],
    pub width: u32,
    pub height: u32,
    pub scale: f64,
    pub mobile: bool,
    pub touch: bool,
    pub user_agent: &'static str,
}

const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const IPAD_UA: &str = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

const fn phone(
    name: &'static str,
    aliases: &'static [&'static str],
    (width, height): (u32, u32),
    scale: f64,
    user_agent: &'static str,
) -> Device {
    Device {
        name,
        aliases,
        width,
        height,
        scale,
        mobile: true,
        touch: true,
        user_agent,
    }
}

/// The presets: ours, and those the origin's docs name (iPhone 14, iPhone 14 Pro Max, Pixel 7
/// Pro, Samsung Galaxy S23, iPad Pro, iPad Mini).
pub const DEVICES: [Device; 11] = [
    phone("iPhone 15", &[], (393, 852), 3.0, IPHONE_UA),
    phone("iPhone 14", &[], (390, 844), 3.0, IPHONE_UA),
    phone("iPhone 14 Pro Max", &[], (430, 932), 3.0, IPHONE_UA),
    phone("iPhone SE", &[], (375, 667), 2.0, IPHONE_UA),
    phone(
        "Pixel 7",
        &[],
        (412, 915),
        2.625,
        "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    ),
    phone(
        "Pixel 7 Pro",
        &[],
        (412, 892),
        3.5,
        "Mozilla/5.0 (Linux; Android 14; Pixel 7 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    ),
    phone(
        "Galaxy S23",
        &["Samsung Galaxy S23"],
        (360, 780),
        3.0,
        "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    ),
    phone("iPad", &[], (820, 1180), 2.0, IPAD_UA),
    phone("iPad Pro", &[], (1024, 1366), 2.0, IPAD_UA),
    phone("iPad Mini", &[], (768, 1024), 2.0, IPAD_UA),
    Device {
        name: "Desktop",
        aliases: &[],
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
    DEVICES
        .iter()
        .find(|d| norm(d.name) == norm(name) || d.aliases.iter().any(|a| norm(a) == norm(name)))
}

/// browser_emulate: what the page believes about its device, place and network.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum EmulateAction {
    Viewport {
        width: u32,
        height: u32,
        #[serde(default = "default_scale", rename = "deviceScaleFactor")]
        device_scale_factor: f64,
        #[serde(default)]
        mobile: bool,
    },
    UserAgent {
        #[serde(rename = "userAgent")]
        user_agent: String,
        /// `navigator.platform` (Win32, MacIntel, …).
        #[serde(default)]
        platform: Option<String>,
    },
    Geolocation {
        latitude: f64,
        longitude: f64,
        #[serde(default = "default_accuracy")]
        accuracy: f64,
    },
    Timezone {
        #[serde(rename = "timezoneId")]
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
        #[serde(default, rename = "downloadKbps")]
        download_kbps: Option<f64>,
        #[serde(default, rename = "uploadKbps")]
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

pub(super) fn check(action: &mut EmulateAction) -> Result<(), ArgsError> {
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
        EmulateAction::UserAgent {
            user_agent,
            platform,
        } => {
            if let Some(platform) = platform {
                non_empty("platform", platform)?;
            }
            non_empty("userAgent", user_agent)
        }
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
                ("downloadKbps", *download_kbps),
                ("uploadKbps", *upload_kbps),
                ("latency", *latency),
            ];
            for (field, v) in explicit {
                if let Some(v) = v {
                    in_range(field, v, 0.0, 1e7)?;
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
                        "unknown preset '{p}', expected one of {}, offline, none",
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

/// The preset that takes the page offline (the origin's), rather than throttling it.
pub const OFFLINE_PRESET: &str = "offline";

/// (download kbit/s, upload kbit/s, latency ms) of a preset; `none` (or `off`) is no throttling,
/// all zeros, and so is `offline` (which also takes the page offline).
pub fn throttle_preset(name: &str) -> Option<(f64, f64, f64)> {
    let name = name.to_ascii_lowercase();
    if name == "none" || name == "off" || name == OFFLINE_PRESET {
        return Some((0.0, 0.0, 0.0));
    }
    THROTTLE_PRESETS
        .iter()
        .find(|p| p.0 == name)
        .map(|p| (p.1, p.2, p.3))
}
