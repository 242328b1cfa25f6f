//! The OpenAPI 3.1 document of every route the server answers, generated from the handlers'
//! `#[utoipa::path]` attributes and the schemas below, served at `GET /api/openapi.json`, with
//! Swagger UI (compiled into the binary, nothing fetched) at `/api/docs/`.
//!
//! What is described, and how:
//! - The REST routes (`/tasks`, `/instances`, `/api/tools`, `/health`, `/info`, `/metrics`):
//!   fully, with the bodies they really send. Most handlers build their JSON by hand
//!   (src/wire.rs, `json!`), so the shapes are written out here as schema-only structs whose
//!   field names are the wire's (task-websocket-protocol.md, task-format.md).
//! - The WebSocket routes, `GET /` (the task protocol) and `GET /ws?taskId=` (the execution
//!   panel stream): as GET operations answering `101`, with the protocol named in the
//!   description. OpenAPI has no words for WebSocket messages; their specs do. `GET /` without
//!   an upgrade also answers the dashboard (HTML) or a JSON description of the server, and both
//!   are described.
//! - MCP (`/mcp`, `/sse`, `/message`): minimally, one operation per method with an opaque
//!   JSON-RPC body and the errors this server adds. They are not REST: the protocol is MCP's
//!   (JSON-RPC over streamable HTTP or over SSE), its own schema is the tool list a session
//!   answers, and a request out of an MCP session means nothing. They are kept in the document
//!   (tagged `mcp`) so that it lists every route; the schemathesis run leaves them out.
//! - The dashboard's files, the document itself and Swagger UI's files: as plain GETs.
//!
//! Every operation may also answer 401 (a token is required), 403 (a foreign Origin, a rebound
//! Host) and 429 (rate limited, `Retry-After`): [`CommonResponses`] adds them everywhere, since
//! the guard in front of every route answers them, and 413 on those with a body. Errors have
//! one shape, [`ErrorBody`].
//!
//! A route added to `fn router` (src/server/mod.rs) must be listed in `paths(...)` below:
//! tests/openapi.rs reads the router's route literals (and those of the routers it merges) and
//! fails on any path the document lacks, and on any method the router's own `Allow` answer and
//! the document disagree on.

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{self, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served (`/api/docs` redirects to it).
pub const UI_PATH: &str = "/api/docs/";

/// Swagger UI's own policy: its scripts, styles and images are the binary's files (no inline
/// script: the initializer is a file of its own, `swagger-initializer.js`); `data:` images
/// because its stylesheet draws its icons as data URLs; requests ("Try it out") to this server
/// only; no framing, no forms, no plugins. Its one inline style element, the two colours of its
/// logo (`.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}`, written by
/// swagger-ui-standalone-preset.js), is allowed by its hash rather than by 'unsafe-inline':
/// tests/openapi.rs fails on any refusal, so a Swagger UI that changes it is noticed.
pub const UI_POLICY: &str = "default-src 'none'; script-src 'self'; \
                             style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
                             img-src 'self' data:; connect-src 'self'; font-src 'self'; \
                             frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "browser-control",
        description = "Drive headless Chromium: tasks (lists of tool commands) queued on \
                       browser instances, one tool command at a time, and the server's state. \
                       The task WebSocket protocol at `/` and MCP at `/mcp` and `/sse` share \
                       the same engine; they are named here but specified elsewhere \
                       (task-websocket-protocol.md, execution-panel-protocol.md, MCP).",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        crate::server::routes::root::root,
        crate::server::routes::panel::panel,
        crate::server::routes::dashboard::script,
        crate::server::routes::dashboard::style,
        crate::server::routes::tasks::list,
        crate::server::routes::tasks::submit,
        crate::server::routes::tasks::get,
        crate::server::routes::tasks::cancel,
        crate::server::routes::tasks::cancel_by_post,
        crate::server::routes::instances::list,
        crate::server::routes::instances::create,
        crate::server::routes::instances::close,
        crate::server::routes::health::health,
        crate::server::routes::metrics::metrics,
        crate::server::routes::tools::list,
        crate::server::routes::tools::run,
        crate::server::routes::info::info,
        crate::server::routes::audit::list,
        crate::server::agent::submit::submit,
        crate::server::agent::history::history,
        crate::server::agent::task::get,
        crate::server::agent::task::cancel,
        crate::server::agent::approve::approve,
        crate::server::agent::undo::undo,
        crate::server::agent::updates::updates,
        crate::server::agent::updates::events,
        crate::server::external::app::socket,
        crate::server::external::rest::client_js,
        crate::server::external::rest::react_hook,
        crate::server::external::rest::state,
        crate::server::external::rest::command,
        crate::server::external::rest::done,
        crate::server::external::rest::init,
        mcp_post,
        mcp_get,
        mcp_delete,
        sse_connect,
        sse_message,
        document,
        ui_redirect,
        ui_file,
    ),
    components(schemas(
        AgentSubmission,
        AgentErrorEnvelope,
        AgentErrorDetail,
        AgentFieldError,
        AgentApproval,
        AgentDecision,
        AgentUndo,
        ErrorBody,
        ErrorDetail,
        ToolErrorBody,
        TaskSubmission,
        SubmittedCommand,
        SubmitResponse,
        SubmitType,
        Accepted,
        TaskStatus,
        CommandStatus,
        StatusFilter,
        TaskSummary,
        TaskDetail,
        CommandDetail,
        TaskError,
        CommandError,
        ToolResult,
        Content,
        EmbeddedResource,
        TaskListResponse,
        TaskResponse,
        CancelResponse,
        InstanceInfo,
        InstanceListResponse,
        InstanceClosed,
        InstanceRequest,
        HealthResponse,
        ClusterCounts,
        InfoResponse,
        InfoEndpoints,
        InfoUser,
        AuditResponse,
        AuditEntry,
        ToolListResponse,
        ToolDescription,
        ActionDescription,
        ToolName,
        ToolRunResponse,
        RootDescription,
    )),
    modifiers(&Security, &CommonResponses),
    tags(
        (name = "agent", description = "The agent API (docs/agent-api.md): tasks described in words, their update stream, approvals, undo and history, in the `{success, data | error}` envelope"),
        (name = "tasks", description = "Submit, list, read and cancel tasks"),
        (name = "instances", description = "The browser pool"),
        (name = "tools", description = "Every tool with its JSON Schema; one command run at once"),
        (name = "server", description = "Health, metrics and what this server is"),
        (name = "websocket", description = "WebSocket protocols (upgrade requests), and the dashboard"),
        (name = "mcp", description = "MCP transports: not REST, described minimally"),
        (name = "docs", description = "This document and Swagger UI"),
    )
)]
pub struct ApiDoc;

/// The document, as served.
pub fn document_json() -> openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /api/openapi.json` and Swagger UI under `/api/docs/`, each answer with [`UI_POLICY`].
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    use utoipa_swagger_ui::{Config, SwaggerUi};
    let config = Config::new([DOCUMENT_PATH])
        // No badge fetched from validator.swagger.io.
        .validator_url("none");
    let ui: Router<S> = SwaggerUi::new(UI_PATH.trim_end_matches('/'))
        .url(DOCUMENT_PATH, document_json())
        .config(config)
        .into();
    ui.layer(axum::middleware::map_response(with_policy))
}

async fn with_policy(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(UI_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `bearerAuth`, `apiKey` (and the `?token=` query the dashboard uses), any one of them, or
/// none where the server runs without a token (loopback).
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        use utoipa::openapi::security::SecurityRequirement;
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <token>`: a JWT, an API key, or the server's \
                         --token (BROWSER_CONTROL_TOKEN). Required off loopback; without \
                         --token on loopback, no credentials are needed.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key in the `X-API-Key` header.",
            ))),
        );
        components.add_security_scheme(
            "tokenQuery",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "The token as `?token=`, for clients that cannot set headers (browsers \
                 opening a WebSocket, the dashboard).",
            ))),
        );
        doc.security = Some(vec![
            SecurityRequirement::new("bearerAuth", Vec::<String>::new()),
            SecurityRequirement::new("apiKey", Vec::<String>::new()),
            SecurityRequirement::new("tokenQuery", Vec::<String>::new()),
            // No credentials: a server on loopback started without --token.
            SecurityRequirement::default(),
        ]);
    }
}

/// The answers of the guard in front of every route (401, 403), and 429 (rate limited), on
/// every operation; 413 on every operation that takes a body.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, ResponseBuilder, Type};
        let error = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build()
        };
        let components = doc.components.get_or_insert_with(Default::default);
        let integer_header = |description: &str| {
            HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                ))
                .description(Some(description))
                .build()
        };
        let string_header = |description: &str| {
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some(description))
                .build()
        };
        components.responses.insert(
            "Unauthorized".into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(
                        "A token is required (`UNAUTHORIZED`): send `Authorization: Bearer \
                         <token>`, or `?token=`.",
                    )
                    .header(
                        "WWW-Authenticate",
                        string_header("`Bearer`: the scheme to authenticate with"),
                    )
                    .content("application/json", error())
                    .build(),
            ),
        );
        components.responses.insert(
            "Forbidden".into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(
                        "Refused before any handler: a foreign `Origin` (`FORBIDDEN_ORIGIN`) or, \
                         on loopback, a `Host` that is not a loopback name (`FORBIDDEN_HOST`).",
                    )
                    .content("application/json", error())
                    .build(),
            ),
        );
        components.responses.insert(
            "RateLimited".into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(
                        "Rate limited (`TOO_MANY_REQUESTS`), or a submission past the \
                         instance's --max-queued (`QUEUE_FULL`): try again later.",
                    )
                    .header(
                        "Retry-After",
                        integer_header("Seconds to wait before trying again, when known"),
                    )
                    .content("application/json", error())
                    .build(),
            ),
        );
        components.responses.insert(
            "PayloadTooLarge".into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(
                        "The body is over --max-message-bytes (`PAYLOAD_TOO_LARGE`); the \
                         connection may close after this answer.",
                    )
                    .content("application/json", error())
                    .build(),
            ),
        );
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let mut add = |status: &str, name: &str| {
                    operation
                        .responses
                        .responses
                        .entry(status.into())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                };
                add("401", "Unauthorized");
                add("403", "Forbidden");
                add("429", "RateLimited");
                if operation.request_body.is_some() {
                    add("413", "PayloadTooLarge");
                }
            }
        }
    }
}

// The MCP transports and the document's own routes have no handler of ours to carry the
// attribute (rmcp's service, utoipa-swagger-ui's router): these functions only carry it.

/// MCP over streamable HTTP: one JSON-RPC message.
///
/// The MCP specification's transport: `initialize` (without `Mcp-Session-Id`) opens a session
/// with a browser of its own; later messages carry the session's `Mcp-Session-Id`. Answers are
/// JSON or an SSE stream, as the client's `Accept` allows. Not REST: described minimally.
#[utoipa::path(
    post, path = "/mcp", tag = "mcp", operation_id = "mcpPost",
    request_body(content = Object, description = "A JSON-RPC 2.0 message (MCP)", content_type = "application/json"),
    params(("Mcp-Session-Id" = Option<String>, Header, description = "The session, after `initialize`")),
    responses(
        (status = 200, description = "The JSON-RPC answer, as JSON or as an SSE stream", content(
            (Object = "application/json"),
            (String = "text/event-stream"),
        )),
        (status = 202, description = "A notification or an answer, accepted"),
        (status = 400, description = "Not a JSON-RPC message, or no session", body = ErrorBody),
        (status = 404, description = "Unknown or ended session", body = ErrorBody),
        (status = 406, description = "`Accept` takes neither JSON nor SSE", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 503, description = "Every MCP session place is taken (`TOO_MANY_SESSIONS`)", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn mcp_post() {}

/// MCP over streamable HTTP: the server's stream of a session.
#[utoipa::path(
    get, path = "/mcp", tag = "mcp", operation_id = "mcpGet",
    params(("Mcp-Session-Id" = String, Header, description = "The session")),
    responses(
        (status = 200, description = "Server-sent JSON-RPC messages", content_type = "text/event-stream", body = String),
        (status = 400, description = "No session named", body = ErrorBody),
        (status = 404, description = "Unknown or ended session", body = ErrorBody),
        (status = 406, description = "`Accept` does not take `text/event-stream`", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn mcp_get() {}

/// MCP over streamable HTTP: ends a session (and closes its browser).
#[utoipa::path(
    delete, path = "/mcp", tag = "mcp", operation_id = "mcpDelete",
    params(("Mcp-Session-Id" = String, Header, description = "The session")),
    responses(
        (status = 202, description = "The session is ended"),
        (status = 400, description = "No session named", body = ErrorBody),
        (status = 404, description = "Unknown or ended session", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn mcp_delete() {}

/// MCP's legacy HTTP+SSE transport: opens a session.
///
/// The first event (`endpoint`) names the URL to POST the session's messages to
/// (`/message?sessionId=…`); the JSON-RPC answers come as `message` events. The stream lasts as
/// long as the session.
#[utoipa::path(
    get, path = "/sse", tag = "mcp", operation_id = "sseConnect",
    responses(
        (status = 200, description = "The session's event stream", content_type = "text/event-stream", body = String),
        (status = 503, description = "Every MCP session place is taken (`TOO_MANY_SESSIONS`)", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn sse_connect() {}

/// MCP's legacy HTTP+SSE transport: one JSON-RPC message of a session.
#[utoipa::path(
    post, path = "/message", tag = "mcp", operation_id = "sseMessage",
    params(("sessionId" = String, Query, description = "The session, as its `endpoint` event named it")),
    request_body(content = Object, description = "A JSON-RPC 2.0 message (MCP)", content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted: the answer comes on the session's stream"),
        (status = 400, description = "Not a JSON-RPC message, or no sessionId", body = ErrorBody),
        (status = 404, description = "Unknown or ended session", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn sse_message() {}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "docs", operation_id = "openapiDocument",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
#[allow(dead_code)]
fn document() {}

/// Swagger UI: redirects to `/api/docs/`.
#[utoipa::path(
    get, path = "/api/docs", tag = "docs", operation_id = "swaggerUiRedirect",
    responses((status = 303, description = "To `/api/docs/`", headers(("Location" = String, description = "`/api/docs/`"))))
)]
#[allow(dead_code)]
fn ui_redirect() {}

/// Swagger UI's page (`/api/docs/`) and its files, compiled into the binary.
#[utoipa::path(
    get, path = "/api/docs/{file}", tag = "docs", operation_id = "swaggerUiFile",
    params(("file" = String, Path, description = "A file of Swagger UI; empty for its page (`index.html`)")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/html"), (String = "text/javascript"), (String = "application/javascript"),
            (String = "text/css"), (String = "image/png"),
        )),
        (status = 404, description = "No such file", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn ui_file() {}

// The shapes. These types only describe what the handlers write (they are never built): their
// field names are the wire's. Answers are closed (`deny_unknown_fields`: `additionalProperties:
// false`), so a field added to an answer and not here fails the schemathesis run.

/// Every error of every route: `{"error": {"code": "NOT_FOUND", "message": "Task not found: task_1_1"}}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// What went wrong, for programs: `BAD_REQUEST`, `INVALID_ARGUMENTS`, `NOT_FOUND`,
    /// `UNKNOWN_INSTANCE`, `QUEUE_FULL`, `CONFLICT`, `UNAUTHORIZED`, `FORBIDDEN_ORIGIN`,
    /// `PAYLOAD_TOO_LARGE`, `STORE_UNAVAILABLE`, …
    #[schema(example = "NOT_FOUND")]
    pub code: String,
    /// For people; credentials in it are redacted.
    #[schema(example = "Task not found: task_1_1")]
    pub message: String,
}

/// `POST /api/agent`'s body.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(example = json!({
    "task": "Read the example page's title",
    "commands": [{"toolName": "browser_execute", "intention": "read it", "args": {"action": "evaluate", "script": "return document.title"}}],
    "priority": 0,
    "conversationId": "conv-1",
    "context": {"source": "docs"}
}))]
pub struct AgentSubmission {
    /// What the task is for, in words: its intention; the first line is its name.
    pub task: String,
    /// The commands, in the task-format shape (`toolName` or `tool_name`, `intention`, `args`).
    pub commands: Vec<serde_json::Value>,
    /// -100 to 100, higher first (default 0).
    pub priority: Option<i32>,
    #[serde(rename = "conversationId")]
    pub conversation_id: Option<String>,
    /// Kept with the task and given back (a JSON object of at most 64 KiB).
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(rename = "instanceId")]
    pub instance_id: Option<String>,
    /// The task's own approval rules (stricter than the server's only).
    pub approval: Option<serde_json::Value>,
}

/// Every error of the agent API: `{"success": false, "error": {code, message, details?}}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AgentErrorEnvelope {
    /// Always false.
    pub success: bool,
    pub error: AgentErrorDetail,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AgentErrorDetail {
    /// `VALIDATION_ERROR`, `TASK_NOT_FOUND`, `APPROVAL_NOT_FOUND`, `TASK_FINISHED`, `POLICY_DENIED`, …
    pub code: String,
    pub message: String,
    /// Every invalid field.
    pub details: Option<Vec<AgentFieldError>>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AgentFieldError {
    pub field: String,
    pub message: String,
}

/// `POST /api/agent/{id}/approve`: one decision, or `{"decisions": [...]}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AgentApproval {
    #[serde(rename = "approvalId")]
    pub approval_id: Option<String>,
    pub approved: Option<bool>,
    pub message: Option<String>,
    /// Merged into the step's `args` and validated again.
    #[serde(rename = "modifiedParameters")]
    pub modified_parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// For a request with `choices` (an external step's timeout): `retry`, `skip` or `fail`
    /// (then `approved` may be left out).
    pub choice: Option<String>,
    /// Several answers at once.
    pub decisions: Option<Vec<AgentDecision>>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AgentDecision {
    #[serde(rename = "approvalId")]
    pub approval_id: String,
    pub approved: Option<bool>,
    pub message: Option<String>,
    #[serde(rename = "modifiedParameters")]
    pub modified_parameters: Option<serde_json::Map<String, serde_json::Value>>,
    pub choice: Option<String>,
}

/// `POST /api/agent/{id}/undo`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AgentUndo {
    /// Restore the state before this step (default: before the last step that changed state).
    #[serde(rename = "stepId")]
    pub step_id: Option<String>,
    /// Undo although another task ran on the instance since.
    pub force: Option<bool>,
}

/// An error of `POST /api/tools/{name}`: the error shape with `success: false` beside it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ToolErrorBody {
    /// Always false.
    pub success: bool,
    pub error: ErrorDetail,
}

/// A task: the body of a `task_submit` message (task-format.md), `type` optional.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "task_name": "Compute",
    "task_intention": "an example that runs anywhere",
    "commands": [
        {"tool_name": "browser_execute", "intention": "Multiply",
         "args": {"action": "evaluate", "script": "return 6 * 7"}}
    ]
}))]
#[allow(dead_code)]
pub struct TaskSubmission {
    /// `task_submit` when given.
    #[serde(rename = "type")]
    pub kind: Option<SubmitType>,
    #[schema(min_length = 1, example = "Log in")]
    pub task_name: String,
    pub task_intention: Option<String>,
    /// Commands, in order; each `args` is checked against its tool's schema (`GET /api/tools`).
    #[schema(min_items = 1)]
    pub commands: Vec<SubmittedCommand>,
    /// Queue on this instance; without it, the least-loaded shared instance.
    #[serde(rename = "instanceId")]
    pub instance_id: Option<String>,
    /// Kept with the task and returned by `GET /tasks/{id}`.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SubmittedCommand {
    pub tool_name: ToolName,
    pub intention: Option<String>,
    /// The tool's arguments, with `action`: see the tool's `inputSchema` in `GET /api/tools`.
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
}

/// The tools a command may name.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ToolName {
    BrowserNavigate,
    BrowserInteract,
    BrowserContent,
    BrowserExecute,
    BrowserInstance,
    BrowserNetwork,
    BrowserEmulate,
    BrowserDebug,
    BrowserTab,
    Sleep,
    ExternalTask,
}

/// `POST /tasks`'s answer: queued.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SubmitResponse {
    #[schema(example = "task_1_1")]
    pub task_id: String,
    pub status: Accepted,
    /// How many tasks run before it on its instance (the running one included).
    #[schema(minimum = 0)]
    pub queue_position: u64,
    #[schema(example = "inst_1")]
    pub instance_id: String,
}

/// `task_submit`.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SubmitType {
    TaskSubmit,
}

/// `accepted`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Accepted {
    Accepted,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum TaskStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum CommandStatus {
    Pending,
    Running,
    Success,
    Error,
    Skipped,
}

/// `GET /tasks?status=`: a status, or `all` (the default).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum StatusFilter {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
    All,
}

/// A `task_list_response` item. Times are ISO-8601 (`2024-01-15T10:30:00.000Z`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TaskSummary {
    #[schema(example = "task_1_1")]
    pub id: String,
    pub name: String,
    pub status: TaskStatus,
    pub instance_id: String,
    #[schema(minimum = 0)]
    pub current_command_index: u64,
    #[schema(minimum = 0)]
    pub total_commands: u64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
}

/// The `task` of a `task_status_response`: the summary plus intention, commands and error.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TaskDetail {
    pub id: String,
    pub name: String,
    pub status: TaskStatus,
    pub instance_id: String,
    #[schema(minimum = 0)]
    pub current_command_index: u64,
    #[schema(minimum = 0)]
    pub total_commands: u64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    pub intention: String,
    /// The user the task belongs to.
    #[schema(example = "ann")]
    pub owner: String,
    /// The door it came through: `websocket`, `rest`, `mcp`, `cli` or `agent`.
    #[schema(example = "rest")]
    pub door: String,
    pub commands: Vec<CommandDetail>,
    /// Why a failed task failed.
    pub error: Option<TaskError>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CommandDetail {
    pub id: String,
    pub tool_name: String,
    pub intention: String,
    /// As submitted.
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
    pub status: CommandStatus,
    pub result: Option<ToolResult>,
    pub error: Option<CommandError>,
    #[serde(rename = "startedAt")]
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[serde(rename = "completedAt")]
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
}

/// A command's error code (task-format.md).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CommandError {
    #[schema(example = "EXECUTION_ERROR")]
    pub code: String,
    pub message: String,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TaskError {
    #[schema(example = "EXECUTION_ERROR")]
    pub code: String,
    pub message: String,
    /// The command that failed.
    #[serde(rename = "commandId")]
    pub command_id: Option<String>,
}

/// A tool's result, shaped as MCP tool results are.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ToolResult {
    pub content: Vec<Content>,
}

/// One item of a result: text, an image (base64), or a file such as a PDF (base64 `blob`).
#[derive(ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Content {
    Text {
        text: String,
    },
    Image {
        data: String,
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    Resource {
        resource: EmbeddedResource,
    },
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct EmbeddedResource {
    pub uri: String,
    #[serde(rename = "mimeType")]
    pub mime_type: String,
    pub blob: String,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TaskListResponse {
    /// Oldest first, as they were submitted.
    pub tasks: Vec<TaskSummary>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TaskResponse {
    pub task: TaskDetail,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CancelResponse {
    pub task_id: String,
    /// Always true.
    pub success: bool,
}

/// One browser instance.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct InstanceInfo {
    #[schema(example = "inst_1")]
    pub id: String,
    /// `ready`, `lost` (noticed, not yet relaunched) or `relaunching`.
    pub status: String,
    /// Attached to a browser started elsewhere.
    pub remote: bool,
    pub endpoint: Option<String>,
    #[schema(minimum = 0)]
    pub pid: Option<u32>,
    #[schema(minimum = 0)]
    pub queued: u64,
    pub running_task_id: Option<String>,
    /// Started for one client (an MCP session); present only when true.
    pub private: Option<bool>,
    /// The runner it belongs to.
    pub node: String,
    /// The user who created it; absent for the shared boot pool.
    pub owner: Option<String>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct InstanceListResponse {
    pub instances: Vec<InstanceInfo>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct InstanceClosed {
    pub instance_id: String,
    /// Always true.
    pub closed: bool,
}

/// browser_instance's arguments: `{"action": "create", "viewport": …}` or `{"action":
/// "attach", "endpoint": "http://host:9222"}`; no body creates a default instance.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InstanceRequest {
    /// `create` or `attach`.
    #[schema(example = "create")]
    pub action: String,
    /// For `attach`: the DevTools endpoint of a running browser.
    pub endpoint: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct HealthResponse {
    /// `ok` when at least one instance is ready (200), else `unavailable` (503).
    #[schema(example = "ok")]
    pub status: String,
    pub version: String,
    #[schema(minimum = 0)]
    pub instances_ready: u64,
    /// Tasks waiting on every instance.
    #[schema(minimum = 0)]
    pub queued: u64,
    pub instances: Vec<InstanceInfo>,
    /// The runner that answered.
    #[schema(example = "node_1")]
    pub node: String,
    /// The task store: `memory`, `sqlite` or `postgres`.
    pub store: String,
    /// What the runners sharing the store have; null when the store could not be read.
    pub cluster: Option<ClusterCounts>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ClusterCounts {
    #[schema(minimum = 0)]
    pub nodes: u64,
    #[schema(minimum = 0)]
    pub instances: u64,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct InfoResponse {
    /// `browser-control`.
    pub name: String,
    pub version: String,
    pub endpoints: InfoEndpoints,
    /// Whether requests need a credential (a token, a JWT or an API key).
    pub token_required: bool,
    /// Who is asking.
    pub user: InfoUser,
    /// Every tool's name.
    pub tools: Vec<String>,
}

/// Where the doors are.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct InfoEndpoints {
    pub websocket: String,
    pub panel: String,
    pub mcp: String,
    pub sse: String,
    pub tools: String,
    pub tool: String,
    pub tasks: String,
    pub instances: String,
    pub health: String,
    pub metrics: String,
    pub info: String,
    pub audit: String,
    /// The external app's token WebSocket (external-task.md).
    #[serde(rename = "externalTask")]
    pub external_task: String,
    /// The external app's client library.
    #[serde(rename = "externalTaskClient")]
    pub external_task_client: String,
}

/// The caller, as the server knows them.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct InfoUser {
    #[schema(example = "ann")]
    pub name: String,
    /// Sees and manages every user's tasks and instances, reads the audit trail.
    pub admin: bool,
}

/// The audit trail, oldest first.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AuditResponse {
    pub entries: Vec<AuditEntry>,
}

/// Who did what to which task, instance or key, when, through which door, on which runner.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AuditEntry {
    /// Unix milliseconds.
    #[schema(minimum = 0)]
    pub at: u64,
    pub user: String,
    /// `task_submitted`, `task_cancelled`, `instance_created`, `instance_closed`,
    /// `key_created` or `key_revoked`.
    pub action: String,
    /// The task, instance or key id.
    pub target: String,
    pub door: String,
    pub node_id: String,
    /// A task's name, for a submission.
    pub detail: Option<String>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ToolListResponse {
    pub tools: Vec<ToolDescription>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ToolDescription {
    pub name: String,
    pub description: String,
    /// The JSON Schema of the tool's arguments.
    #[schema(value_type = Object)]
    pub input_schema: serde_json::Value,
    pub actions: Vec<ActionDescription>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ActionDescription {
    pub name: String,
    pub description: String,
    /// Required fields; `selector|ref` means exactly one of them.
    pub required: Vec<String>,
    pub optional: Vec<String>,
    /// Arguments that parse.
    #[schema(value_type = Object)]
    pub example: serde_json::Value,
}

/// `POST /api/tools/{name}`'s answer: the command's result.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ToolRunResponse {
    /// Always true.
    pub success: bool,
    pub result: ToolResult,
    /// The one-command task it ran as (in `GET /tasks`).
    pub task_id: String,
    pub instance_id: String,
}

/// `GET /` to a client that neither upgrades nor asks for HTML.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RootDescription {
    pub name: String,
    pub version: String,
    pub websocket: String,
    pub dashboard: String,
    pub panel: String,
    pub mcp: Vec<String>,
    pub routes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tool_names_are_the_engines() {
        let doc = serde_json::to_value(document_json()).unwrap();
        let documented = &doc["components"]["schemas"]["ToolName"]["enum"];
        let engine: Vec<&str> = crate::task::Tool::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(documented, &serde_json::json!(engine));
        let statuses: Vec<&str> = crate::task::TaskStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(
            doc["components"]["schemas"]["TaskStatus"]["enum"],
            serde_json::json!(statuses)
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_both_security_schemes() {
        let doc = serde_json::to_value(document_json()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
        assert_eq!(schemes["apiKey"]["name"], "X-API-Key");
        assert_eq!(schemes["apiKey"]["in"], "header");
        let ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len(), "operation ids are unique: {ids:?}");
        // The guard's answers, everywhere.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for status in ["401", "403", "429"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }
}
