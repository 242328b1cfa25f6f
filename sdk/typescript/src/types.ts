// Types of the agent API (docs/agent-api.md) and of the task WebSocket protocol
// (shared/specs/task-websocket-protocol.md). Times in the agent API are unix milliseconds;
// in the task WebSocket protocol, ISO-8601 strings.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

// ---------------------------------------------------------------------------------------------
// The agent API: the envelope and error codes
// ---------------------------------------------------------------------------------------------

export interface FieldError {
  field: string;
  message: string;
}

export interface ApiErrorBody {
  code: AgentErrorCode | string;
  message: string;
  details?: FieldError[];
}

export interface SuccessEnvelope<T> {
  success: true;
  data: T;
}

export interface ErrorEnvelope {
  success: false;
  error: ApiErrorBody;
}

export type Envelope<T> = SuccessEnvelope<T> | ErrorEnvelope;

/** Every error code docs/agent-api.md lists, by HTTP status. */
export const AGENT_ERROR_CODES = {
  400: ["VALIDATION_ERROR"],
  401: ["UNAUTHORIZED"],
  403: ["FORBIDDEN", "POLICY_DENIED"],
  404: ["TASK_NOT_FOUND", "APPROVAL_NOT_FOUND", "STEP_NOT_FOUND", "UNKNOWN_INSTANCE"],
  409: ["TASK_FINISHED", "TASK_RUNNING", "APPROVAL_DECIDED", "INSTANCE_USED_SINCE", "INSTANCE_BUSY", "INSTANCE_GONE", "NO_CHECKPOINT"],
  429: ["RATE_LIMITED", "QUEUE_FULL", "LIMIT_REACHED"],
  503: ["NO_INSTANCE", "SHUTTING_DOWN", "STORE_UNAVAILABLE", "TASK_ELSEWHERE"],
} as const;

export type AgentErrorCode =
  | "VALIDATION_ERROR"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "POLICY_DENIED"
  | "TASK_NOT_FOUND"
  | "APPROVAL_NOT_FOUND"
  | "STEP_NOT_FOUND"
  | "UNKNOWN_INSTANCE"
  | "TASK_FINISHED"
  | "TASK_RUNNING"
  | "APPROVAL_DECIDED"
  | "INSTANCE_USED_SINCE"
  | "INSTANCE_BUSY"
  | "INSTANCE_GONE"
  | "NO_CHECKPOINT"
  | "RATE_LIMITED"
  | "QUEUE_FULL"
  | "LIMIT_REACHED"
  | "NO_INSTANCE"
  | "SHUTTING_DOWN"
  | "STORE_UNAVAILABLE"
  | "TASK_ELSEWHERE"
  // Codes of the SDK itself (no HTTP answer, or one that is not an envelope).
  | "NETWORK_ERROR"
  | "BAD_RESPONSE";

// ---------------------------------------------------------------------------------------------
// The agent API: records
// ---------------------------------------------------------------------------------------------

export type TaskStatus = "pending" | "running" | "paused" | "completed" | "failed" | "cancelled";
export type StepStatus = "pending" | "running" | "completed" | "failed" | "skipped" | "awaiting_approval";

export interface ErrorInfo {
  code: string;
  message: string;
}

export interface TaskStep {
  id: string;
  index: number;
  toolName: string;
  action: string;
  intention: string;
  args: JsonObject;
  status: StepStatus;
  startedAt?: number;
  completedAt?: number;
  result?: JsonValue;
  error?: ErrorInfo;
}

export interface ApprovalRule {
  source: "policy" | "task" | "external_task";
  index: number;
  decision: string;
  description: string;
}

export interface ApprovalDecisionRecord {
  approved: boolean;
  by: string;
  at: number;
  message?: string;
  modifiedParameters?: JsonObject;
  timedOut: boolean;
  /** For a request with `choices`: the one chosen. */
  choice?: string;
}

export interface ApprovalRequest {
  approvalId: string;
  taskId: string;
  stepId: string;
  stepIndex: number;
  tool: string;
  action: string;
  args: JsonObject;
  rule: ApprovalRule;
  reason: string;
  pageUrl?: string;
  /** base64 PNG */
  screenshot?: string;
  requestedAt: number;
  expiresAt: number;
  onTimeout: "reject" | "approve";
  status: "pending" | "approved" | "rejected" | "expired";
  decision?: ApprovalDecisionRecord;
  /** An external step's timeout prompt: answer with one of these as `choice`. */
  choices?: string[];
  /** What the person is asked (the step's `timeout_message`). */
  message?: string;
}

export interface Undo {
  /** `undo_<task>_<n>` */
  id: string;
  at: number;
  by: string;
  /** The step whose before-state was put back, and its place. */
  index: number;
  stepId: string;
  restored: string[];
  notRestored: string[];
  url?: string;
  forced: boolean;
}

export interface Task {
  id: string;
  name: string;
  description: string;
  status: TaskStatus;
  priority: number;
  conversationId?: string;
  context?: JsonObject;
  instanceId: string;
  owner: string;
  /** The door it came through: `agent`, `websocket`, `rest`, `mcp`, … */
  door: string;
  createdAt: number;
  startedAt?: number;
  completedAt?: number;
  steps: TaskStep[];
  error?: { code: string; message: string; stepId?: string };
  approvals: ApprovalRequest[];
  undos: Undo[];
}

export interface TaskSummary {
  id: string;
  name: string;
  status: TaskStatus;
  priority: number;
  conversationId?: string;
  instanceId: string;
  owner: string;
  createdAt: number;
  startedAt?: number;
  completedAt?: number;
  totalSteps: number;
  completedSteps: number;
}

export interface TaskLog {
  timestamp: number;
  level: "info" | "warn" | "error";
  message: string;
  /** The update message it comes from. */
  type: UpdateMessageType;
  stepId?: string;
}

// ---------------------------------------------------------------------------------------------
// The agent API: requests and answers
// ---------------------------------------------------------------------------------------------

/** A task-format command; `tool_name` is accepted as a spelling of `toolName`. */
export interface AgentCommand {
  toolName?: string;
  tool_name?: string;
  intention?: string;
  args: JsonObject;
}

export interface ApprovalPolicyRule {
  [key: string]: JsonValue | undefined;
}

export interface ApprovalPolicy {
  default?: "allow" | "ask" | "deny" | string;
  rules?: ApprovalPolicyRule[];
}

export interface SubmitRequest {
  /** The task's intention (its first line, cut to 200 characters, is its name). */
  task: string;
  commands: AgentCommand[];
  priority?: number;
  conversationId?: string;
  context?: JsonObject;
  instanceId?: string;
  approval?: ApprovalPolicy;
}

export interface SubmitResponse {
  taskId: string;
  instanceId: string;
  status: "pending";
  queuePosition: number;
  task: Task;
}

export interface CurrentExecution {
  step: TaskStep;
  progress: number;
  status: "running" | "paused";
}

export interface GetResponse {
  task: Task;
  logs: TaskLog[];
  currentExecution?: CurrentExecution;
}

export interface CancelResponse {
  taskId: string;
  status: "cancelled";
}

export interface ApprovalDecision {
  approvalId: string;
  /** Optional when `choice` answers a request with `choices`. */
  approved?: boolean;
  message?: string;
  modifiedParameters?: JsonObject;
  /** retry, skip or fail: for an external step's timeout prompt. */
  choice?: string;
}

export interface ApproveResponse {
  taskId: string;
  decisions: ApprovalRequest[];
}

export interface UndoRequest {
  stepId?: string;
  force?: boolean;
}

export interface UndoResponse {
  taskId: string;
  stepId: string;
  restored: string[];
  notRestored: string[];
  url?: string;
}

export interface HistoryQuery {
  status?: TaskStatus;
  limit?: number;
  offset?: number;
  /** ISO-8601 string, unix ms, or a Date. */
  dateFrom?: string | number | Date;
  dateTo?: string | number | Date;
  conversationId?: string;
}

export interface HistoryResponse {
  tasks: TaskSummary[];
  total: number;
  limit: number;
  offset: number;
}

export interface EventsResponse {
  events: UpdateMessage[];
  lastEventId: string | number;
  finished: boolean;
}

// ---------------------------------------------------------------------------------------------
// The agent API: update messages (WS /api/agent/:taskId/updates, GET .../events)
// ---------------------------------------------------------------------------------------------

interface UpdateBase<T extends string, D> {
  type: T;
  data: D & { taskId: string };
  /** unix ms */
  timestamp: number;
  /** A string holding an integer that grows by one per message of the task. */
  id: string;
}

export type StatusChangeMessage = UpdateBase<
  "status_change",
  { status: TaskStatus; previousStatus?: TaskStatus; message?: string; approvalRequest?: ApprovalRequest }
>;
/** A report of the present state, not history: it carries the id of the message before it. */
export type QueueUpdateMessage = UpdateBase<"queue_update", { queuePosition: number; estimatedWaitTime: number }>;
export type StepStartMessage = UpdateBase<"step_start", { step: TaskStep }>;
export type StepProgressMessage = UpdateBase<"step_progress", { step: TaskStep; progress: number; message: string }>;
export type StepCompleteMessage = UpdateBase<"step_complete", { step: TaskStep; result: JsonValue }>;
/** A step failed (with `step`), or the task failed (without `step`: the final message). */
export type ErrorMessage = UpdateBase<"error", { step?: TaskStep; message: string; error?: ErrorInfo & { stepId?: string } }>;
export type ApprovalRequestMessage = UpdateBase<"approval_request", { approvalRequest: ApprovalRequest; step: TaskStep }>;
export type CompletedMessage = UpdateBase<"completed", { result: Task; progress: 100 }>;
export type CancelledMessage = UpdateBase<"cancelled", { message: string }>;
export type UndoMessage = UpdateBase<"undo", { undo: Undo }>;

export type UpdateMessage =
  | StatusChangeMessage
  | QueueUpdateMessage
  | StepStartMessage
  | StepProgressMessage
  | StepCompleteMessage
  | ErrorMessage
  | ApprovalRequestMessage
  | CompletedMessage
  | CancelledMessage
  | UndoMessage;

export type UpdateMessageType = UpdateMessage["type"];

export const UPDATE_MESSAGE_TYPES: readonly UpdateMessageType[] = [
  "status_change",
  "queue_update",
  "step_start",
  "step_progress",
  "step_complete",
  "error",
  "approval_request",
  "completed",
  "cancelled",
  "undo",
];

/** Whether `m` ends its task's stream: `completed`, `cancelled`, or an `error` without `step`. */
export function isFinalMessage(m: UpdateMessage): boolean {
  return m.type === "completed" || m.type === "cancelled" || (m.type === "error" && m.data.step == null);
}

// ---------------------------------------------------------------------------------------------
// The task WebSocket protocol
// ---------------------------------------------------------------------------------------------

export interface TaskCommand {
  tool_name: string;
  intention?: string;
  args: JsonObject;
}

export interface TaskSubmit {
  task_name: string;
  task_intention?: string;
  instanceId?: string;
  commands: TaskCommand[];
}

export type TaskListStatus = "queued" | "running" | "completed" | "failed" | "cancelled" | "all";
export type WsTaskStatus = "queued" | "running" | "completed" | "failed" | "cancelled";
export type CommandStatus = "pending" | "running" | "success" | "error" | "skipped";

export interface WelcomeMessage {
  type: "welcome";
  sessionId: string;
  serverVersion: string;
}

export interface TaskSubmitResponse {
  type: "task_submit_response";
  taskId: string;
  status: "accepted" | "rejected";
  queuePosition?: number;
  instanceId?: string;
  error?: string;
}

export interface WsTaskSummary {
  id: string;
  name: string;
  status: WsTaskStatus;
  instanceId: string;
  currentCommandIndex?: number;
  totalCommands?: number;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
  [key: string]: unknown;
}

export interface TaskListResponse {
  type: "task_list_response";
  tasks: WsTaskSummary[];
}

export interface WsCommandRecord {
  tool_name: string;
  intention?: string;
  args: JsonObject;
  status: CommandStatus;
  result?: JsonValue;
  error?: string | ErrorInfo;
  startedAt?: string;
  completedAt?: string;
  [key: string]: unknown;
}

export interface WsTaskRecord {
  id: string;
  name: string;
  intention?: string;
  status: WsTaskStatus;
  instanceId: string;
  commands: WsCommandRecord[];
  currentCommandIndex?: number;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
  [key: string]: unknown;
}

export interface TaskStatusResponse {
  type: "task_status_response";
  task: WsTaskRecord | null;
  error?: string;
}

export interface TaskCancelResponse {
  type: "task_cancel_response";
  taskId: string;
  success: boolean;
  error?: string;
}

export interface SubscribeAck {
  type: "subscribe_ack";
  taskId?: string;
  instanceId?: string;
}

export interface TaskProgressMessage {
  type: "task_progress";
  taskId: string;
  commandIndex: number;
  status: CommandStatus;
  tool_name: string;
  intention?: string;
  result?: JsonValue;
  error?: string;
  errorCode?: string;
}

export interface CommandResult {
  status: CommandStatus;
  result?: JsonValue;
  error?: string;
  errorCode?: string;
}

export interface TaskCompleteMessage {
  type: "task_complete";
  taskId: string;
  status: "completed" | "failed" | "cancelled";
  results: CommandResult[];
  completedAt: string;
  /** An extra of this server: why a task did not complete (`{code: "CANCELLED", …}`). */
  error?: ErrorInfo;
}

export interface InstanceStatusMessage {
  type: "instance_status";
  instanceId: string;
  status: "lost" | "relaunched" | "closed";
  reason?: string;
}

/** An extra of this server on the task WebSocket: a command waits for a person's yes (agent API approvals). */
export interface WsApprovalMessage {
  type: "approval_request" | "approval_decided";
  taskId: string;
  approvalId: string;
  commandIndex: number;
  rule: ApprovalRule | JsonValue;
  status: "pending" | "approved" | "rejected" | "expired";
  expiresAt?: string | null;
  decision?: JsonValue;
}

export interface WsErrorMessage {
  type: "error";
  message: string;
}

export type TaskServerMessage =
  | WelcomeMessage
  | TaskSubmitResponse
  | TaskListResponse
  | TaskStatusResponse
  | TaskCancelResponse
  | SubscribeAck
  | TaskProgressMessage
  | TaskCompleteMessage
  | InstanceStatusMessage
  | WsApprovalMessage
  | WsErrorMessage;

export type TaskClientMessage =
  | ({ type: "task_submit" } & TaskSubmit)
  | { type: "task_list"; instanceId?: string; status?: TaskListStatus }
  | { type: "task_status"; taskId: string }
  | { type: "task_cancel"; taskId: string }
  | { type: "subscribe_task"; taskId: string }
  | { type: "subscribe_instance"; instanceId: string };

// ---------------------------------------------------------------------------------------------
// Transport injection
// ---------------------------------------------------------------------------------------------

/** The part of the WHATWG WebSocket the SDK uses (the browser's, `ws`'s, undici's). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: any) => any) | null;
  onmessage: ((ev: { data: any }) => any) | null;
  onerror: ((ev: any) => any) | null;
  onclose: ((ev: { code: number; reason: string; wasClean?: boolean }) => any) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;
