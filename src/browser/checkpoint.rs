//! Checkpoints for undo: what a page's state is made of that the browser can put back (its
//! URL, every cookie, the origin's localStorage and sessionStorage), taken in a few CDP calls,
//! and a restore that says plainly what it could not undo.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

use super::executor::{
    bounded, cdp_error, eval_once, side_ctx, timed_out, Ctx, EvalFailure, Executor, World,
};
use super::instance::BrowserInstance;
use super::navigate;
use crate::task::{CommandError, ErrorCode, NavigateAction, WaitUntil};

/// How long taking a checkpoint may take (two CDP calls, in practice a few milliseconds).
pub const CHECKPOINT_BUDGET: Duration = Duration::from_secs(5);
/// How long a restore may take: cookies, up to two page loads, storage writes and checks.
pub const RESTORE_BUDGET: Duration = Duration::from_secs(20);

/// How long getting the page to work on may take.
const OPEN_BUDGET: Duration = Duration::from_secs(5);

/// What a restore cannot put back, whatever happens: said in every report.
pub const NEVER_RESTORED: [&str; 5] = [
    "IndexedDB, Cache Storage and service workers",
    "other origins' localStorage and sessionStorage",
    "server-side effects (requests already sent: orders, messages, deletions stay done)",
    "in-page state (JavaScript variables, form input not kept in storage, scroll position)",
    "session history (back/forward entries)",
];

/// A page's restorable state at one moment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// The page's URL (with its fragment).
    pub url: String,
    /// The page's origin (`http://host:port`); `None` for an opaque one (about:blank, data:),
    /// which has no storage.
    pub origin: Option<String>,
    /// Every cookie of the page's browser context, as CDP's Network.Cookie objects (httpOnly
    /// ones included).
    pub cookies: Vec<Value>,
    /// The origin's localStorage, sorted by key.
    pub local_storage: Vec<(String, String)>,
    /// The tab's sessionStorage for the origin, sorted by key.
    pub session_storage: Vec<(String, String)>,
    /// When it was taken, in milliseconds since the Unix epoch.
    pub taken_at: u64,
    /// The tab it was taken in (the active one when the caller named none): the one a restore
    /// goes to, sessionStorage being per tab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tab_id: Option<String>,
}

/// What a restore put back, and what it did not (with why).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    /// Of "url", "cookies", "localStorage", "sessionStorage": those that were put back and
    /// checked to be as they were.
    pub restored: Vec<String>,
    /// What a restore never undoes ([`NEVER_RESTORED`]), then anything that failed here, why.
    pub not_restored: Vec<String>,
    /// The URL the page is at after the restore.
    pub url: String,
}

/// A page's URL, origin and Web Storage, read in one evaluation.
#[derive(Debug, serde::Deserialize)]
struct Snapshot {
    href: String,
    origin: String,
    local: Area,
    session: Area,
}

#[derive(Debug, serde::Deserialize)]
struct Area {
    #[serde(default)]
    items: Option<Vec<(String, String)>>,
    #[serde(default)]
    error: Option<String>,
}

impl Area {
    fn sorted(&self) -> Vec<(String, String)> {
        let mut items = self.items.clone().unwrap_or_default();
        items.sort();
        items
    }
}

const READ_STATE: &str = r#"(() => {
  const read = (name) => {
    try {
      const s = globalThis[name];
      const items = [];
      for (let i = 0; i < s.length; i++) {
        const k = s.key(i);
        items.push([k, s.getItem(k)]);
      }
      return { items };
    } catch (e) {
      return { error: String((e && e.message) || e) };
    }
  };
  return { href: location.href, origin: location.origin,
           local: read('localStorage'), session: read('sessionStorage') };
})()"#;

/// The origin as a checkpoint keeps it: `None` when opaque.
fn real_origin(origin: &str) -> Option<String> {
    (!origin.is_empty() && origin != "null").then(|| origin.to_string())
}

/// Gets the page to work on (replacing a crashed one first, so that is not taken for the
/// instance breaking), against cancellation and a short deadline.
async fn opening<T>(
    cancel: &CancellationToken,
    what: &str,
    work: impl std::future::Future<Output = Result<T, CommandError>>,
) -> Result<T, CommandError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(CommandError::new(ErrorCode::Cancelled, format!("{what} was cancelled"))),
        done = tokio::time::timeout(OPEN_BUDGET, work) => done.unwrap_or_else(|_| Err(timed_out(OPEN_BUDGET, what))),
    }
}

/// Runs a read (or an idempotent write) in the isolated world (the page's own when that is
/// not there yet), again while the page is between documents, until the deadline.
async fn eval_retrying(ctx: &Ctx<'_>, script: &str) -> Result<Value, CommandError> {
    loop {
        let world = match ctx.page.secondary_execution_context().await {
            Ok(Some(context)) => World::Isolated(context),
            _ => World::Page,
        };
        match eval_once(&ctx.page, script, world).await {
            Ok(v) => return Ok(v),
            Err(EvalFailure::ContextGone(e)) => {
                if ctx.remaining() < Duration::from_millis(60) {
                    return Err(cdp_error("Runtime.evaluate", e));
                }
                sleep(Duration::from_millis(10)).await;
            }
            Err(EvalFailure::Cdp(e)) => return Err(cdp_error("Runtime.evaluate", e)),
            Err(EvalFailure::Thrown(text)) => return Err(CommandError::execution(text)),
        }
    }
}

async fn read_state(ctx: &Ctx<'_>) -> Result<Snapshot, CommandError> {
    let value = eval_retrying(ctx, READ_STATE).await?;
    serde_json::from_value(value.clone()).map_err(|e| {
        CommandError::execution(format!("unexpected answer from the page: {e} ({value})"))
    })
}

async fn all_cookies(ctx: &Ctx<'_>) -> Result<Vec<Value>, CommandError> {
    let answer = ctx.cdp("Network.getAllCookies", json!({})).await?;
    Ok(answer["cookies"].as_array().cloned().unwrap_or_default())
}

/// A Network.Cookie as the Network.CookieParam that makes it again (a session cookie gets no
/// `expires`; read-only fields such as `size` are left out).
fn cookie_param(cookie: &Value) -> Value {
    let mut param = serde_json::Map::new();
    for field in [
        "name",
        "value",
        "domain",
        "path",
        "secure",
        "httpOnly",
        "sameSite",
        "priority",
        "sourceScheme",
        "sourcePort",
        "partitionKey",
    ] {
        if let Some(v) = cookie.get(field).filter(|v| !v.is_null()) {
            param.insert(field.to_string(), v.clone());
        }
    }
    let session = cookie["session"].as_bool().unwrap_or(false);
    if let Some(expires) = cookie["expires"].as_f64().filter(|e| !session && *e > 0.0) {
        param.insert("expires".into(), json!(expires));
    }
    Value::Object(param)
}

/// What identifies a cookie and what a restore must give it back, for comparing two lists.
pub fn cookie_key(cookie: &Value) -> String {
    let expires = if cookie["session"].as_bool().unwrap_or(false) {
        -1
    } else {
        cookie["expires"].as_f64().unwrap_or(-1.0).round() as i64
    };
    json!([
        cookie["name"],
        cookie["domain"],
        cookie["path"],
        cookie["partitionKey"],
        cookie["value"],
        cookie["httpOnly"],
        cookie["secure"],
        cookie["sameSite"],
        cookie["session"],
        expires,
    ])
    .to_string()
}

fn cookie_keys(cookies: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = cookies.iter().map(cookie_key).collect();
    keys.sort();
    keys
}

/// The names of the keys two storage lists differ in.
fn differing_keys(want: &[(String, String)], got: &[(String, String)]) -> Vec<String> {
    let mut keys: Vec<String> = want
        .iter()
        .filter(|item| !got.contains(item))
        .chain(got.iter().filter(|item| !want.contains(item)))
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn without_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(before, _)| before)
}

impl Executor {
    /// Takes a checkpoint of the page of `tab_id` (the active tab when `None`, as a command
    /// without tabId): its URL, every cookie of its browser context (CDP, httpOnly included),
    /// and its origin's localStorage and sessionStorage (empty for an opaque origin).
    pub async fn checkpoint(
        &self,
        instance: &BrowserInstance,
        tab_id: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<Checkpoint, CommandError> {
        let started = tokio::time::Instant::now();
        let tab = tab_id
            .map(String::from)
            .unwrap_or_else(|| instance.active_tab());
        let ctx = opening(
            cancel,
            "the checkpoint",
            side_ctx(instance, Some(&tab), CHECKPOINT_BUDGET),
        )
        .await?;
        // One budget for the whole checkpoint, the page's opening included.
        let left = CHECKPOINT_BUDGET.saturating_sub(started.elapsed());
        bounded(instance, cancel, left, "the checkpoint", async {
            let state = read_state(&ctx).await?;
            let cookies = all_cookies(&ctx).await?;
            let origin = real_origin(&state.origin);
            let (local_storage, session_storage) = if origin.is_some() {
                (state.local.sorted(), state.session.sorted())
            } else {
                (Vec::new(), Vec::new())
            };
            Ok(Checkpoint {
                url: state.href,
                origin,
                cookies,
                local_storage,
                session_storage,
                taken_at: crate::task::now_ms(),
                tab_id: Some(tab.clone()),
            })
        })
        .await
    }

    /// Puts a checkpoint back in its tab (the active one when that tab is closed): every cookie
    /// exactly (all cleared, the saved ones set), the origin's localStorage and sessionStorage
    /// exactly (written from a page of that origin), then loads the saved URL, so the page
    /// starts again from the restored state. Each part is checked afterwards; the report says
    /// what is back and what is not.
    pub async fn restore(
        &self,
        instance: &BrowserInstance,
        checkpoint: &Checkpoint,
        cancel: &CancellationToken,
    ) -> Result<RestoreReport, CommandError> {
        if let Err(why) = instance.policy().check_navigation(&checkpoint.url) {
            return Err(CommandError::execution(format!(
                "cannot restore: navigation to {} refused: {why}",
                checkpoint.url
            )));
        }
        let mut notes: Vec<String> = NEVER_RESTORED.iter().map(|s| s.to_string()).collect();
        let open = |tab: Option<String>| async move {
            let ctx = side_ctx(instance, tab.as_deref(), RESTORE_BUDGET).await;
            (tab, ctx)
        };
        let opened = opening(cancel, "the restore", async {
            let (tab, ctx) = open(checkpoint.tab_id.clone()).await;
            match ctx {
                Ok(ctx) => Ok((tab, ctx, None)),
                Err(e) if tab.is_some() => {
                    let (tab, ctx) = open(None).await;
                    ctx.map(|ctx| (tab, ctx, Some(e)))
                }
                Err(e) => Err(e),
            }
        })
        .await;
        let (tab, ctx, moved) = opened?;
        if let Some(e) = moved {
            notes.push(format!(
                "the checkpoint's tab: {} (restored into the active tab instead; its \
                 sessionStorage is that tab's)",
                e.message
            ));
        }
        let done = bounded(
            instance,
            cancel,
            RESTORE_BUDGET,
            "the restore",
            restore_on(&ctx, checkpoint, &mut notes),
        )
        .await;
        // A restore cut short may have left a navigation pending: repaired before the next
        // command, as Executor::run does.
        let unfinished = done.is_err() || ctx.wants_fresh_page();
        if unfinished {
            instance.after_unfinished(tab.as_deref(), true);
        }
        let (restored, url) = done?;
        Ok(RestoreReport {
            restored,
            not_restored: notes,
            url,
        })
    }
}

/// The restore's steps on one page; `notes` gets what failed. Returns what was restored and
/// the URL the page ended at.
async fn restore_on(
    ctx: &Ctx<'_>,
    checkpoint: &Checkpoint,
    notes: &mut Vec<String>,
) -> Result<(Vec<String>, String), CommandError> {
    let mut restored = Vec::new();
    // 1. Cookies first, so that every load below already carries them.
    ctx.cdp("Network.clearBrowserCookies", json!({})).await?;
    let params: Vec<Value> = checkpoint.cookies.iter().map(cookie_param).collect();
    let mut cookie_failure = None;
    if !params.is_empty() {
        if let Err(e) = ctx
            .cdp("Network.setCookies", json!({ "cookies": params }))
            .await
        {
            // One refused cookie fails the whole call: set them one by one to keep the rest.
            for param in &params {
                if let Err(e) = ctx.cdp("Network.setCookie", param.clone()).await {
                    cookie_failure = Some(format!(
                        "cookie {} of {}: {}",
                        param["name"], param["domain"], e.message
                    ));
                }
            }
            if cookie_failure.is_none() {
                tracing::debug!(
                    "Network.setCookies failed ({}), one by one worked",
                    e.message
                );
            }
        }
    }

    // 2. Storage can only be written from a page of its origin: go there first when the page
    // is elsewhere, write both areas, then load the saved URL again so the page starts from it.
    // A load that fails is said in the report (what was put back before it stays put back).
    let wanted = checkpoint.origin.as_deref();
    let mut wrote_storage = false;
    let mut load_failure: Option<String> = None;
    if let Some(origin) = wanted {
        let here = read_state(ctx).await?;
        if real_origin(&here.origin).as_deref() != Some(origin) {
            if let Err(e) = navigate::goto(ctx, &checkpoint.url, WaitUntil::Load).await {
                load_failure = Some(e.message);
            }
        }
        let here = read_state(ctx).await?;
        if real_origin(&here.origin).as_deref() == Some(origin) {
            let script = format!(
                "((want) => {{ for (const [name, items] of Object.entries(want)) {{ \
                 const s = globalThis[name]; s.clear(); \
                 for (const [k, v] of items) s.setItem(k, v); }} return true; }})({})",
                json!({
                    "localStorage": checkpoint.local_storage,
                    "sessionStorage": checkpoint.session_storage,
                })
            );
            match eval_retrying(ctx, &script).await {
                Ok(_) => wrote_storage = true,
                Err(e) => notes.push(format!(
                    "localStorage and sessionStorage of {origin}: writing them failed: {}",
                    e.message
                )),
            }
            if let Err(e) = load_again(ctx, &here.href, &checkpoint.url).await {
                load_failure = Some(e.message);
            }
        } else {
            notes.push(format!(
                "localStorage and sessionStorage of {origin}: loading {} ended at {} (another \
                 origin), where they cannot be written",
                checkpoint.url, here.href
            ));
        }
    } else {
        let here = read_state(ctx).await?;
        if let Err(e) = load_again(ctx, &here.href, &checkpoint.url).await {
            load_failure = Some(e.message);
        }
    }

    // 3. Check what the page has now.
    let now = read_state(ctx).await?;
    let cookies = all_cookies(ctx).await?;
    if cookie_keys(&cookies) == cookie_keys(&checkpoint.cookies) {
        restored.push("cookies".to_string());
    } else {
        let want = cookie_keys(&checkpoint.cookies);
        let got = cookie_keys(&cookies);
        let differ: Vec<String> = checkpoint
            .cookies
            .iter()
            .chain(cookies.iter())
            .filter(|c| {
                let k = cookie_key(c);
                !want.contains(&k) || !got.contains(&k)
            })
            .map(|c| format!("{} ({})", c["name"].as_str().unwrap_or("?"), c["domain"]))
            .collect();
        notes.push(format!(
            "cookies: {} differ after the restore ({}){}",
            differ.len(),
            differ.join(", "),
            cookie_failure.map(|f| format!("; {f}")).unwrap_or_default()
        ));
    }
    if wrote_storage {
        for (name, want, got) in [
            (
                "localStorage",
                &checkpoint.local_storage,
                now.local.sorted(),
            ),
            (
                "sessionStorage",
                &checkpoint.session_storage,
                now.session.sorted(),
            ),
        ] {
            let area = if name == "localStorage" {
                &now.local
            } else {
                &now.session
            };
            if let Some(error) = &area.error {
                notes.push(format!("{name}: cannot be read back: {error}"));
            } else if *want == got {
                restored.push(name.to_string());
            } else {
                notes.push(format!(
                    "{name}: written, but after the page loaded it differs in {} (the page's \
                     own scripts change it as it loads)",
                    differing_keys(want, &got).join(", ")
                ));
            }
        }
    }
    if let Some(why) = load_failure {
        notes.push(format!("url: {why} (the page is at {})", now.href));
    } else if now.href == checkpoint.url {
        restored.insert(0, "url".to_string());
    } else {
        notes.push(format!(
            "url: the page is at {} instead of {} (redirected)",
            now.href, checkpoint.url
        ));
    }
    Ok((restored, now.href))
}

/// Loads `url` anew from `here`: a reload when the page is already there, a goto then a
/// reload when only the fragment differs (the goto alone would stay in the document).
async fn load_again(ctx: &Ctx<'_>, here: &str, url: &str) -> Result<(), CommandError> {
    if here == url {
        reload(ctx).await
    } else if without_fragment(here) == without_fragment(url) && url.contains('#') {
        navigate::goto(ctx, url, WaitUntil::Load).await?;
        reload(ctx).await
    } else {
        navigate::goto(ctx, url, WaitUntil::Load).await.map(|_| ())
    }
}

async fn reload(ctx: &Ctx<'_>) -> Result<(), CommandError> {
    navigate::run(
        ctx,
        &NavigateAction::Reload {
            wait_until: WaitUntil::Load,
            ignore_cache: false,
        },
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_cookie_is_set_without_expiry_and_read_only_fields_are_dropped() {
        let param = cookie_param(&json!({
            "name": "a", "value": "1", "domain": "127.0.0.1", "path": "/", "expires": -1,
            "size": 2, "httpOnly": true, "secure": false, "session": true, "priority": "Medium",
            "sameParty": false, "sourceScheme": "NonSecure", "sourcePort": 8080,
        }));
        assert_eq!(
            param,
            json!({
                "name": "a", "value": "1", "domain": "127.0.0.1", "path": "/", "httpOnly": true,
                "secure": false, "priority": "Medium", "sourceScheme": "NonSecure",
                "sourcePort": 8080,
            })
        );
    }

    #[test]
    fn storage_differences_name_each_key_once() {
        let want = vec![("a".into(), "1".into()), ("b".into(), "2".into())];
        let got = vec![("a".into(), "9".into()), ("c".into(), "3".into())];
        assert_eq!(differing_keys(&want, &got), vec!["a", "b", "c"]);
        assert_eq!(without_fragment("http://x/a#b"), "http://x/a");
    }

    #[test]
    fn a_checkpoint_round_trips_as_json() {
        let c = Checkpoint {
            url: "http://127.0.0.1:1/a".into(),
            origin: Some("http://127.0.0.1:1".into()),
            cookies: vec![json!({"name": "a"})],
            local_storage: vec![("k".into(), "v".into())],
            session_storage: vec![],
            taken_at: 1,
            tab_id: None,
        };
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains("\"localStorage\""), "{text}");
        assert_eq!(serde_json::from_str::<Checkpoint>(&text).unwrap(), c);
    }
}
