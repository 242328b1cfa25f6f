//! The MCP door: the same tools for MCP clients, over stdio (`browser-control mcp`), streamable
//! HTTP (`/mcp`) and the legacy HTTP+SSE transport (`/sse`). Like every door it talks to the
//! scheduler only: a tool call is a one-command task, run, listed and measured like any other,
//! and its result is rendered as MCP content.

pub mod session;
pub mod sse;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use prometheus_client::metrics::gauge::Gauge;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ProtocolVersion,
    ResourceContents, ServerCapabilities, ServerConfig, Tool as McpTool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Map, Value};

use crate::events::EventKind;
use crate::scheduler::{Caller, Scheduler, SubmitError};
use crate::server::error::ApiError;
use crate::task::catalog::{task_tool_input_schema, tool_doc, TOOLS};
use crate::task::{
    validate_submission, Action, Content, Door, InstanceAction, Task, TaskStatus, Tool, ToolResult,
    User, ValidationError,
};
use crate::wire;
use session::Session;

/// How MCP sessions use browsers.
#[derive(Debug, Clone, Copy, Default)]
pub struct McpOptions {
    /// Sessions run on the pool (least-loaded, or `instanceId`) instead of each starting an
    /// instance of its own.
    pub shared_instance: bool,
}

/// What the MCP door may hold at once.
#[derive(Debug, Clone, Copy)]
pub struct McpLimits {
    /// Open sessions of `serve` (streamable HTTP and SSE together); one more is refused.
    pub max_sessions: usize,
    /// Instances one session may have added with `browser_instance create` or `attach` and not
    /// closed yet (its own browser aside). They are closed when the session ends.
    pub max_instances: usize,
}

impl Default for McpLimits {
    fn default() -> Self {
        McpLimits {
            max_sessions: 32,
            max_instances: 4,
        }
    }
}

/// The open sessions of one server, counted against [`McpLimits::max_sessions`].
pub struct SessionSlots {
    open: AtomicUsize,
    max: usize,
    gauge: Gauge,
}

/// One open session's place; given back when its handler is dropped (the session ended).
pub struct SessionSlot(Arc<SessionSlots>);

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.gauge.dec();
    }
}

impl SessionSlots {
    /// `gauge` follows the count (`browser_control_mcp_sessions`).
    pub fn new(max: usize, gauge: Gauge) -> Arc<SessionSlots> {
        Arc::new(SessionSlots {
            open: AtomicUsize::new(0),
            max,
            gauge,
        })
    }

    /// Sessions open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// A place for one more session, or the refusal to answer with.
    pub fn try_take(self: &Arc<Self>) -> Result<SessionSlot, ApiError> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .map_err(|_| self.refusal())?;
        self.gauge.inc();
        Ok(SessionSlot(self.clone()))
    }

    /// 503 `TOO_MANY_SESSIONS`, naming the limit and how to free a place.
    pub fn refusal(&self) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TOO_MANY_SESSIONS",
            format!(
                "Too many MCP sessions: {} are open, the limit is {} (--max-mcp-sessions). End \
                 one (DELETE /mcp with its Mcp-Session-Id, or close its /sse stream) or wait for \
                 an idle one to expire",
                self.open(),
                self.max
            ),
        )
    }
}

/// In front of `/mcp`: a request that would open a session (a POST without `Mcp-Session-Id`)
/// while every place is taken gets the refusal, in the one error shape.
pub async fn gate(
    State(slots): State<Arc<SessionSlots>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let opens_session = request.uri().path() == "/mcp"
        && request.method() == axum::http::Method::POST
        && !request.headers().contains_key("mcp-session-id");
    if opens_session && slots.open() >= slots.max {
        return slots.refusal().into_response();
    }
    next.run(request).await
}

/// The MCP tool that runs one fixed action of an engine tool.
const SNAPSHOT_TOOL: &str = "browser_snapshot";
/// The MCP tool that runs a whole task.
const TASK_TOOL: &str = "browser_task";

const INSTRUCTIONS: &str = "Drives a headless Chromium. Start with browser_navigate (goto), then \
browser_snapshot: it outlines the page with a ref (e.g. e12) on each interactive element; pass \
`ref` instead of `selector` to browser_interact and browser_content. Take a new snapshot after \
the page changes. browser_task runs several commands as one task, with progress notifications.";

/// One MCP session's handler. Dropping it (the session ended) closes the session's instances.
pub struct BrowserMcp {
    scheduler: Scheduler,
    session: Arc<Session>,
    /// The user the session belongs to: fixed at its start (stdio: the local user; SSE: who
    /// opened the stream), or by its first call (streamable HTTP). Calls of another user are
    /// refused, so a session id is no way into someone else's browser.
    user: std::sync::OnceLock<User>,
    /// Its place among the server's open sessions (none over stdio).
    _slot: Option<SessionSlot>,
}

impl BrowserMcp {
    pub fn new(scheduler: Scheduler, options: McpOptions) -> BrowserMcp {
        Self::with_limits(scheduler, options, McpLimits::default(), None)
    }

    /// A session of a server: it holds `slot` while it lives.
    pub fn with_limits(
        scheduler: Scheduler,
        options: McpOptions,
        limits: McpLimits,
        slot: Option<SessionSlot>,
    ) -> BrowserMcp {
        let session = Arc::new(Session::new(
            scheduler.clone(),
            options.shared_instance,
            limits.max_instances,
        ));
        BrowserMcp {
            scheduler,
            session,
            user: std::sync::OnceLock::new(),
            _slot: slot,
        }
    }

    /// [`BrowserMcp::with_limits`] for a session of `user` from its start.
    pub fn for_user(mut self, user: User) -> BrowserMcp {
        self.user = std::sync::OnceLock::from(user);
        self
    }

    /// The scheduler as this session's user sees it. Over HTTP, each request carries the user
    /// the server's guard found; the first one binds the session.
    fn caller(&self, context: &RequestContext<RoleServer>) -> Result<Caller, &'static str> {
        let asking = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<User>())
            .cloned();
        let bound = match asking {
            Some(asking) => {
                let bound = self.user.get_or_init(|| asking.clone());
                if bound.name != asking.name {
                    return Err(
                        "this MCP session belongs to another user: open a session of your own",
                    );
                }
                bound
            }
            None => self.user.get_or_init(User::local),
        };
        Ok(self.scheduler.as_user(bound.clone(), Door::Mcp))
    }

    /// The session behind this handler (its label, its instance).
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Every tool, with its input schema.
    pub fn tools() -> Vec<McpTool> {
        let instance_id = json!({
            "type": "string",
            "description": "Instance to run on, e.g. inst_2 (default: this session's own browser, \
                            or the least-loaded one when instances are shared)"
        });
        let mut tools = Vec::new();
        for doc in TOOLS {
            let mut schema = doc.input_schema();
            if doc.tool != Tool::Instance {
                schema["properties"]["instanceId"] = instance_id.clone();
            }
            tools.push(tool(doc.tool.name(), doc.description, schema));
        }
        let mut snapshot = tool_doc(Tool::Content).fixed_action_input_schema("snapshot");
        snapshot["properties"]["instanceId"] = instance_id.clone();
        tools.push(tool(
            SNAPSHOT_TOOL,
            "Snapshot the page's accessibility tree: a compact outline, one line per element \
             (role \"name\" [ref=e12] [states]: value), indented by nesting. Interactive elements \
             carry a ref; pass it as `ref` to browser_interact or browser_content instead of a \
             selector. Refs last until the page changes document. Limit the size with max_length \
             or snapshot one element with selector/ref.",
            snapshot,
        ));
        let mut task = task_tool_input_schema();
        task["properties"]["instanceId"] = instance_id;
        tools.push(tool(
            TASK_TOOL,
            "Run several commands as one task, in order, on one browser; after a failure the rest \
             are skipped. Progress is reported per command as MCP progress notifications (when \
             the request carries a progress token). The result lists each command's outcome.",
            task,
        ));
        tools
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let name = request.name.as_ref();
        let mut args = request.arguments.unwrap_or_default();
        // browser_instance's `close` reads `instanceId` as its own argument (the instance to
        // close); every other tool takes it as where to run.
        let where_to_run = if name == Tool::Instance.name() {
            None
        } else {
            args.remove("instanceId")
        };
        let instance = match where_to_run {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) if !id.is_empty() => Some(id),
            Some(_) => {
                return failure(
                    "INVALID_ARGUMENTS",
                    "instanceId: must be a non-empty string",
                )
            }
        };
        let caller = match self.caller(&context) {
            Ok(caller) => caller,
            Err(refused) => return failure("FORBIDDEN", refused),
        };
        if name == TASK_TOOL {
            return self.run_task(&caller, args, instance, context).await;
        }
        let (tool, args) = if name == SNAPSHOT_TOOL {
            if let Some(action) = args.get("action") {
                if action != "snapshot" {
                    return failure(
                        "INVALID_ARGUMENTS",
                        "action: browser_snapshot takes no action (it is browser_content snapshot)",
                    );
                }
            }
            args.insert("action".into(), "snapshot".into());
            (Tool::Content, args)
        } else {
            // call_tool refuses unknown names before this.
            let Some(tool) = Tool::from_name(name) else {
                return failure("UNKNOWN_TOOL", format!("no tool named {name}"));
            };
            (tool, args)
        };
        let action = args
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let submission = json!({
            "task_name": format!("mcp: {} {action}", tool.name()),
            "commands": [{"tool_name": tool.name(), "args": Value::Object(args)}],
        });
        let task = match self
            .submit_and_wait(&caller, submission, instance, &context)
            .await
        {
            Ok(task) => task,
            Err(result) => return result,
        };
        let command = &task.commands[0];
        match (&command.result, &command.error) {
            (Some(result), _) if task.status == TaskStatus::Completed => {
                CallToolResult::success(content_of(result))
            }
            (_, Some(error)) => failure(error.code.as_str(), &error.message),
            _ => failure(
                "CANCELLED",
                format!("the task ended as {}", task.status.as_str()),
            ),
        }
    }

    /// Queues `submission` (on `instance`, else the session's), waits for it to finish and
    /// returns its final record. A cancelled request cancels the task.
    async fn submit_and_wait(
        &self,
        caller: &Caller,
        submission: Value,
        instance: Option<String>,
        context: &RequestContext<RoleServer>,
    ) -> Result<Task, CallToolResult> {
        self.submit_and_watch(caller, submission, instance, context, |_, _| None, true)
            .await
    }

    /// [`BrowserMcp::submit_and_wait`], calling `on_event` for each event of the task up to
    /// its end; what it returns (a progress notification) is sent before the next event.
    async fn submit_and_watch(
        &self,
        caller: &Caller,
        mut submission: Value,
        instance: Option<String>,
        context: &RequestContext<RoleServer>,
        mut on_event: impl FnMut(&Task, &EventKind) -> Option<ProgressNotificationParam>,
        single_command: bool,
    ) -> Result<Task, CallToolResult> {
        let instance = match instance {
            Some(id) => Some(id),
            None => self.session.instance(caller).await.map_err(|e| {
                failure(
                    "INSTANCE_UNAVAILABLE",
                    format!("cannot start this session's browser: {e:#}"),
                )
            })?,
        };
        if let Some(id) = &instance {
            submission["instanceId"] = Value::from(id.as_str());
        }
        submission["metadata"] = json!({"source": "mcp", "session": self.session.label});
        let spec =
            validate_submission(&submission).map_err(|e| invalid_failure(e, single_command))?;
        // Instances the task adds belong to the session: counted against its limit (held
        // until they are known), closed with it.
        let adding = spec
            .commands
            .iter()
            .filter(|c| adds_instance(&c.parsed.action))
            .count();
        let mut added = match adding {
            0 => None,
            n => Some(
                self.session
                    .reserve_instances(n)
                    .await
                    .map_err(|e| failure("LIMIT_REACHED", e))?,
            ),
        };
        let submitted = caller.submit(spec).await.map_err(submit_failure)?;
        // The submitted record names each command's action: enough for progress, with no
        // copy of the live record per event.
        let (task_id, submitted) = (submitted.task_id, submitted.task);
        let Some(mut watch) = caller.watch_from_start(&task_id).await else {
            return Err(failure("UNAVAILABLE", "the task record was lost"));
        };
        let mut cancelled = false;
        loop {
            tokio::select! {
                kind = watch.next() => match kind {
                    Some(EventKind::TaskFinished { task }) => {
                        if let Some(added) = added.as_mut() {
                            session::adopt_instances(added, &task);
                        }
                        return Ok(Task::clone(&task));
                    }
                    Some(kind) => {
                        if let EventKind::ApprovalRequested { approval, .. } = &kind {
                            ask_through_client(caller, &task_id, approval, &submitted, context);
                        }
                        if let Some(param) = on_event(&submitted, &kind) {
                            if let Err(e) = context.peer.notify_progress(param).await {
                                tracing::debug!("progress notification not sent: {e}");
                            }
                        }
                    }
                    None => return Err(failure("UNAVAILABLE", "the scheduler stopped")),
                },
                _ = context.ct.cancelled(), if !cancelled => {
                    cancelled = true;
                    let _ = caller.cancel(&task_id).await;
                }
            }
        }
    }
}

/// Puts an approval request to the person through the MCP client too, when it can elicit
/// (the other doors can still answer; whichever answer comes first counts). Accepting with
/// `approved` decides; declining rejects; cancelling leaves the request to the other doors.
fn ask_through_client(
    caller: &Caller,
    task_id: &str,
    approval: &crate::task::approval::Approval,
    task: &Task,
    context: &RequestContext<RoleServer>,
) {
    use rmcp::model::{ElicitRequestParams, ElicitationAction, ElicitationSchema};
    if !context
        .peer
        .supported_elicitation_modes()
        .contains(&rmcp::service::ElicitationMode::Form)
    {
        return;
    }
    let step = task
        .commands
        .get(approval.index)
        .map(|c| c.describe())
        .unwrap_or_default();
    let message = format!(
        "Approve step {} of task {}: {step}? ({})",
        approval.index + 1,
        task.name,
        approval.rule.description
    );
    let Ok(schema) = ElicitationSchema::builder()
        .required_bool_property("approved", |b| {
            b.title("Approve").description("Run this step")
        })
        .optional_string("message")
        .build()
    else {
        return;
    };
    let timeout =
        std::time::Duration::from_millis(approval.expires_at.saturating_sub(crate::task::now_ms()));
    let (peer, caller) = (context.peer.clone(), caller.clone());
    let (task_id, approval_id) = (task_id.to_string(), approval.id.clone());
    tokio::spawn(async move {
        let asked = peer
            .create_elicitation_with_timeout(
                ElicitRequestParams::FormElicitationParams {
                    meta: None,
                    message,
                    requested_schema: schema,
                },
                Some(timeout),
            )
            .await;
        let (approved, said) = match asked {
            Ok(r) if r.action == ElicitationAction::Accept => {
                let content = r.content.unwrap_or_default();
                (
                    content.get("approved").and_then(Value::as_bool) == Some(true),
                    content
                        .get("message")
                        .and_then(Value::as_str)
                        .map(String::from),
                )
            }
            Ok(r) if r.action == ElicitationAction::Decline => {
                (false, Some("declined through the MCP client".into()))
            }
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(approval = %approval_id, "elicitation not answered: {e}");
                return;
            }
        };
        let input = crate::scheduler::DecisionInput {
            approval_id: approval_id.clone(),
            approved,
            message: said,
            modified_parameters: None,
            choice: None,
        };
        if let Err(e) = caller.decide(&task_id, &[input]).await {
            tracing::debug!(approval = %approval_id, "elicited answer not taken: {e}");
        }
    });
}

impl BrowserMcp {
    async fn run_task(
        &self,
        caller: &Caller,
        mut args: Map<String, Value>,
        instance: Option<String>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        if !args.contains_key("task_name") {
            args.insert("task_name".into(), "mcp: browser_task".into());
        }
        let total = args
            .get("commands")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let token = context.meta.get_progress_token();
        let mut done = 0usize;
        let progress = |task: &Task, kind: &EventKind| {
            let message = progress_message(task, kind)?;
            done += 1;
            Some(
                ProgressNotificationParam::new(token.clone()?, done as f64)
                    .with_total(total as f64)
                    .with_message(message),
            )
        };
        let task = match self
            .submit_and_watch(
                caller,
                Value::Object(args),
                instance,
                &context,
                progress,
                false,
            )
            .await
        {
            Ok(task) => task,
            Err(result) => return result,
        };
        task_result(&task)
    }
}

/// `browser_instance create` and `attach`: the commands that add an instance.
fn adds_instance(action: &Action) -> bool {
    matches!(
        action,
        Action::Instance(InstanceAction::Create { .. } | InstanceAction::Attach { .. })
    )
}

/// `browser_navigate goto: ok`, `browser_interact click: EXECUTION_ERROR …`, `… skipped`, for
/// the events that end a command.
fn progress_message(task: &Task, kind: &EventKind) -> Option<String> {
    let command = kind.command()?;
    let action = task
        .commands
        .get(command.index)
        .map(|c| c.parsed.action.name())
        .unwrap_or("?");
    let what = format!("{} {action}", command.tool_name);
    match kind {
        EventKind::CommandSucceeded { .. } => Some(format!("{what}: ok")),
        EventKind::CommandFailed { error, .. } => Some(format!(
            "{what}: {}: {}",
            error.code.as_str(),
            error.message
        )),
        EventKind::CommandSkipped { .. } => Some(format!("{what}: skipped")),
        _ => None,
    }
}

/// A whole task's outcome, shaped as `task_complete`; screenshots go as image content, each
/// replaced in the JSON by `[image N]`.
fn task_result(task: &Task) -> CallToolResult {
    let mut images = Vec::new();
    let mut complete = wire::task_complete(task);
    if let Some(map) = complete.as_object_mut() {
        map.remove("type");
    }
    if let Some(results) = complete["results"].as_array_mut() {
        for result in results {
            let Some(content) = result["result"]["content"].as_array_mut() else {
                continue;
            };
            for item in content {
                if item["type"] == "image" {
                    images.push(ContentBlock::image(
                        item["data"].as_str().unwrap_or_default(),
                        item["mimeType"].as_str().unwrap_or("image/png"),
                    ));
                    *item = json!({"type": "image", "data": format!("[image {}]", images.len())});
                }
            }
        }
    }
    let mut content = vec![ContentBlock::text(
        serde_json::to_string_pretty(&complete).expect("JSON serializes"),
    )];
    content.extend(images);
    if task.status == TaskStatus::Completed {
        CallToolResult::success(content)
    } else {
        CallToolResult::error(content)
    }
}

fn tool(name: &'static str, description: &'static str, schema: Value) -> McpTool {
    let Value::Object(schema) = schema else {
        unreachable!("input schemas are objects")
    };
    McpTool::new(name, description, Arc::new(schema))
}

/// A result's items as MCP content: text, images for screenshots, embedded files (PDFs).
fn content_of(result: &ToolResult) -> Vec<ContentBlock> {
    result
        .content
        .iter()
        .map(|c| match c {
            Content::Text { text } => ContentBlock::text(text.clone()),
            Content::Image { data, mime_type } => {
                ContentBlock::image(data.clone(), mime_type.clone())
            }
            Content::Resource { resource } => ContentBlock::resource(
                ResourceContents::blob(resource.blob.clone(), resource.uri.clone())
                    .with_mime_type(resource.mime_type.clone()),
            ),
        })
        .collect()
}

/// A failed call: `isError: true`, with `CODE: message`.
fn failure(code: &str, message: impl AsRef<str>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{code}: {}",
        message.as_ref()
    ))])
}

/// A refused submission. For a one-command task, arguments are named as the tool sees them
/// (`url: is required`), not by their path in the task (`commands[0].args.url`).
fn invalid_failure(e: ValidationError, single_command: bool) -> CallToolResult {
    let field = if single_command {
        e.field
            .strip_prefix("commands[0].args.")
            .or_else(|| (e.field == "commands[0].args").then_some("arguments"))
            .unwrap_or(&e.field)
    } else {
        &e.field
    };
    failure(
        crate::task::ErrorCode::InvalidArguments.as_str(),
        format!("{field}: {}", e.message),
    )
}

/// A refused submission, with the scheduler's code for its cause.
fn submit_failure(error: SubmitError) -> CallToolResult {
    failure(error.code(), error.to_string())
}

impl ServerHandler for BrowserMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
            .with_server_info(Implementation::new(
                "browser-control",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }

    /// Only revisions with sessions (an `initialize`): a session owns its browser, so the
    /// sessionless 2026-07-28 revision is not offered.
    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        ProtocolVersion::KNOWN_VERSIONS
            .iter()
            .filter(|v| v.has_initialize())
            .cloned()
            .collect::<Vec<_>>()
            .into()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(Self::tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // An unknown tool is a protocol error (the MCP spec's choice); everything that goes
        // wrong with a known tool is a tool result with isError.
        let known = [SNAPSHOT_TOOL, TASK_TOOL].contains(&request.name.as_ref())
            || Tool::from_name(&request.name).is_some();
        if !known {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool: {} (the tools are listed by tools/list)",
                    request.name
                ),
                None,
            ));
        }
        Ok(self.call(request, context).await.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_listed_with_an_object_schema() {
        let tools = BrowserMcp::tools();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "browser_navigate",
                "browser_interact",
                "browser_content",
                "browser_execute",
                "browser_instance",
                "browser_network",
                "browser_emulate",
                "browser_debug",
                "browser_tab",
                "sleep",
                "external_task",
                "browser_snapshot",
                "browser_task"
            ]
        );
        for tool in &tools {
            assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
            assert!(tool.description.as_deref().is_some_and(|d| d.len() > 20));
        }
        let interact = &tools[1].input_schema;
        assert!(interact["properties"]["ref"].is_object());
        assert!(interact["properties"]["instanceId"].is_object());
        assert!(tools[4].input_schema["properties"]
            .get("instanceId")
            .is_none());
    }

    #[test]
    fn failures_carry_code_and_message() {
        let result = failure("EXECUTION_ERROR", "boom");
        assert_eq!(result.is_error, Some(true));
        assert_eq!(
            result.content[0].as_text().unwrap().text,
            "EXECUTION_ERROR: boom"
        );
        let error = crate::task::ValidationError {
            field: "commands[0].args.url".into(),
            message: "is required".into(),
        };
        let invalid = invalid_failure(error.clone(), true);
        assert_eq!(
            invalid.content[0].as_text().unwrap().text,
            "INVALID_ARGUMENTS: url: is required"
        );
        let full = submit_failure(SubmitError::NoInstance);
        assert_eq!(
            full.content[0].as_text().unwrap().text,
            "NO_INSTANCE: No browser instance available"
        );
        let in_task = invalid_failure(error, false);
        assert_eq!(
            in_task.content[0].as_text().unwrap().text,
            "INVALID_ARGUMENTS: commands[0].args.url: is required"
        );
    }
}
