//! browser_emulate: viewport, user agent, geolocation, time zone, device presets, offline and
//! throttling. Each setting holds for the instance's page until changed (a fresh page, after a
//! crash or an unfinished goto, starts without them).

use serde_json::json;

use super::executor::Ctx;
use super::instance::NetConditions;
use crate::task::action::{device, throttle_preset, OFFLINE_PRESET};
use crate::task::{CommandError, EmulateAction, ToolResult};

pub async fn run(ctx: &Ctx<'_>, action: &EmulateAction) -> Result<ToolResult, CommandError> {
    match action {
        EmulateAction::Viewport {
            width,
            height,
            device_scale_factor,
            mobile,
        } => {
            metrics(ctx, *width, *height, *device_scale_factor, *mobile).await?;
            Ok(ToolResult::text(format!(
                "Viewport is {width}x{height} at {device_scale_factor}x{}",
                if *mobile { ", mobile" } else { "" }
            )))
        }
        EmulateAction::UserAgent {
            user_agent,
            platform,
        } => {
            let mut params = json!({ "userAgent": user_agent });
            if let Some(platform) = platform {
                params["platform"] = json!(platform);
            }
            ctx.cdp("Emulation.setUserAgentOverride", params).await?;
            Ok(ToolResult::text(match platform {
                Some(platform) => format!("User agent is {user_agent}, platform {platform}"),
                None => format!("User agent is {user_agent}"),
            }))
        }
        EmulateAction::Geolocation {
            latitude,
            longitude,
            accuracy,
        } => {
            ctx.instance
                .browser_execute(super::executor::RawCommand {
                    method: "Browser.grantPermissions",
                    params: json!({ "permissions": ["geolocation"] }),
                })
                .await?;
            ctx.cdp(
                "Emulation.setGeolocationOverride",
                json!({ "latitude": latitude, "longitude": longitude, "accuracy": accuracy }),
            )
            .await?;
            Ok(ToolResult::text(format!(
                "Geolocation is {latitude}, {longitude} (±{accuracy} m), permission granted"
            )))
        }
        EmulateAction::Timezone { timezone_id } => {
            // Chromium takes an unknown id without complaint; the page's ICU knows the real ones.
            let probe = format!(
                "(() => {{ try {{ new Intl.DateTimeFormat('en-US', {{ timeZone: {} }}); return true; }} catch (_) {{ return false; }} }})()",
                serde_json::Value::from(timezone_id.as_str())
            );
            if let Ok(serde_json::Value::Bool(false)) =
                super::executor::eval_once(&ctx.page, &probe, super::executor::World::Page).await
            {
                return Err(CommandError::execution(format!(
                    "unknown timezoneId '{timezone_id}': expected an IANA time zone such as Europe/Paris"
                )));
            }
            ctx.cdp(
                "Emulation.setTimezoneOverride",
                json!({ "timezoneId": timezone_id }),
            )
            .await
            .map_err(|e| {
                CommandError::execution(format!(
                    "timezoneId '{timezone_id}' was refused: {}",
                    e.message
                ))
            })?;
            Ok(ToolResult::text(format!("Time zone is {timezone_id}")))
        }
        EmulateAction::Device { name } => {
            let d = device(name).expect("checked at validation");
            metrics(ctx, d.width, d.height, d.scale, d.mobile).await?;
            ctx.cdp(
                "Emulation.setTouchEmulationEnabled",
                json!({ "enabled": d.touch, "maxTouchPoints": if d.touch { 5 } else { 1 } }),
            )
            .await?;
            if !d.user_agent.is_empty() {
                ctx.cdp(
                    "Emulation.setUserAgentOverride",
                    json!({ "userAgent": d.user_agent }),
                )
                .await?;
            }
            Ok(ToolResult::text(format!(
                "Emulating {}: {}x{} at {}x{}{}",
                d.name,
                d.width,
                d.height,
                d.scale,
                if d.mobile { ", mobile" } else { "" },
                if d.touch { ", touch" } else { "" }
            )))
        }
        EmulateAction::Reset => {
            for (method, params) in [
                ("Emulation.clearDeviceMetricsOverride", json!({})),
                // An empty user agent or time zone removes the override.
                ("Emulation.setUserAgentOverride", json!({ "userAgent": "" })),
                ("Emulation.setTimezoneOverride", json!({ "timezoneId": "" })),
                ("Emulation.clearGeolocationOverride", json!({})),
                (
                    "Emulation.setTouchEmulationEnabled",
                    json!({ "enabled": false }),
                ),
            ] {
                ctx.cdp(method, params).await?;
            }
            network_conditions(ctx, NetConditions::default()).await?;
            Ok(ToolResult::text(
                "Emulation reset: viewport, user agent, touch, geolocation, time zone and network are the browser's own",
            ))
        }
        EmulateAction::Offline { enabled } => {
            let mut conditions = *ctx.state.network.lock().unwrap();
            conditions.offline = *enabled;
            network_conditions(ctx, conditions).await?;
            Ok(ToolResult::text(if *enabled {
                "The page is offline"
            } else {
                "The page is online"
            }))
        }
        EmulateAction::Throttle {
            preset,
            download_kbps,
            upload_kbps,
            latency,
        } => {
            let (down, up, lat) = match preset {
                Some(p) => throttle_preset(p).expect("checked at validation"),
                None => (
                    download_kbps.unwrap_or(0.0),
                    upload_kbps.unwrap_or(0.0),
                    latency.unwrap_or(0.0),
                ),
            };
            let mut conditions = *ctx.state.network.lock().unwrap();
            conditions.download_kbps = down;
            conditions.upload_kbps = up;
            conditions.latency_ms = lat;
            // The origin's `offline` preset: no network at all.
            let offline = preset
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(OFFLINE_PRESET));
            if offline {
                conditions.offline = true;
            }
            network_conditions(ctx, conditions).await?;
            if offline {
                return Ok(ToolResult::text(
                    "The page is offline (preset offline; throttling removed)",
                ));
            }
            let show = |v: f64| {
                if v == 0.0 {
                    "unlimited".to_string()
                } else {
                    format!("{v} kbit/s")
                }
            };
            Ok(ToolResult::text(format!(
                "Network throttled{}: download {}, upload {}, latency {lat} ms",
                preset
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default(),
                show(down),
                show(up)
            )))
        }
    }
}

async fn metrics(
    ctx: &Ctx<'_>,
    width: u32,
    height: u32,
    scale: f64,
    mobile: bool,
) -> Result<(), CommandError> {
    ctx.cdp(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile }),
    )
    .await?;
    Ok(())
}

/// Network.emulateNetworkConditions with the page's whole state (throughput 0 = unlimited,
/// which CDP spells -1), then remembered.
async fn network_conditions(ctx: &Ctx<'_>, c: NetConditions) -> Result<(), CommandError> {
    let bytes_per_s = |kbps: f64| {
        if kbps > 0.0 {
            kbps * 1000.0 / 8.0
        } else {
            -1.0
        }
    };
    ctx.cdp(
        "Network.emulateNetworkConditions",
        json!({
            "offline": c.offline,
            "latency": c.latency_ms,
            "downloadThroughput": bytes_per_s(c.download_kbps),
            "uploadThroughput": bytes_per_s(c.upload_kbps),
        }),
    )
    .await?;
    *ctx.state.network.lock().unwrap() = c;
    Ok(())
}
