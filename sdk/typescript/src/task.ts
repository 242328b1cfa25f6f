// The task WebSocket protocol (shared/specs/task-websocket-protocol.md) on `ws://host:port/`.

import type {
  SubscribeAck,
  TaskCancelResponse,
  TaskClientMessage,
  TaskCompleteMessage,
  TaskListResponse,
  TaskListStatus,
  TaskProgressMessage,
  TaskServerMessage,
  TaskStatusResponse,
  TaskSubmit,
  TaskSubmitResponse,
  WebSocketConstructor,
  WebSocketLike,
  WelcomeMessage,
  WsTaskRecord,
  WsTaskSummary,
} from "./types.js";

/** A request the server refused: a `rejected` submit, an `error` message, a closed connection. */
export class TaskProtocolError extends Error {
  /** The server's message (`error` of a rejected submit, `message` of an `error`). */
  readonly serverMessage?: string;
  readonly response?: TaskServerMessage;
  constructor(message: string, response?: TaskServerMessage, serverMessage?: string) {
    super(message);
    this.name = "TaskProtocolError";
    if (response !== undefined) this.response = response;
    if (serverMessage !== undefined) this.serverMessage = serverMessage;
  }
}

export interface TaskClientOptions {
  /** `ws://host:port/` (an `http(s)://` URL is turned into `ws(s)://`). */
  url: string;
  /** Sent as `?token=`. */
  token?: string;
  /** default `globalThis.WebSocket` (Node 20 has none: pass `ws`'s). */
  WebSocket?: WebSocketConstructor;
  /** Milliseconds to wait for an answer before a request rejects (default 30 s; 0: forever). */
  requestTimeoutMs?: number;
}

export interface SubmitResult {
  taskId: string;
  queuePosition: number;
  instanceId?: string;
}

type Handler = (m: any) => void;
type Pending = {
  resolve: (m: any) => void;
  reject: (e: unknown) => void;
  taskId?: string;
  timer?: ReturnType<typeof setTimeout>;
};

const RESPONSE_TYPES = ["task_submit_response", "task_list_response", "task_status_response", "task_cancel_response", "subscribe_ack"] as const;
type ResponseType = (typeof RESPONSE_TYPES)[number];
/** How many tasks' progress messages and task_complete a client keeps (for replay and waitForCompletion). */
const KEEP_TASKS = 200;

export class TaskClient {
  readonly url: string;
  private readonly WS: WebSocketConstructor;
  private readonly timeoutMs: number;
  private ws: WebSocketLike | null = null;
  private opening: Promise<WelcomeMessage> | null = null;
  private pending = new Map<ResponseType, Pending[]>();
  private handlers = new Map<string, Set<Handler>>();
  private progressSubs = new Map<string, Set<(m: TaskProgressMessage) => void>>();
  private progressLog = new Map<string, TaskProgressMessage[]>();
  private completions = new Map<string, TaskCompleteMessage>();
  private completionWaiters = new Map<string, Pending[]>();
  private subscribed = new Set<string>();
  /** The `welcome` of the current connection. */
  welcome: WelcomeMessage | undefined;

  constructor(options: TaskClientOptions) {
    const u = new URL(options.url);
    if (u.protocol === "http:") u.protocol = "ws:";
    if (u.protocol === "https:") u.protocol = "wss:";
    if (options.token !== undefined) u.searchParams.set("token", options.token);
    this.url = u.toString();
    const WS = options.WebSocket ?? (globalThis as any).WebSocket;
    if (typeof WS !== "function") throw new TypeError("TaskClient: no WebSocket available; pass options.WebSocket");
    this.WS = WS;
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** Opens the connection; resolves with the server's `welcome`. */
  connect(): Promise<WelcomeMessage> {
    if (this.opening) return this.opening;
    this.opening = new Promise<WelcomeMessage>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = new this.WS(this.url);
      } catch (e) {
        this.opening = null;
        reject(e);
        return;
      }
      this.ws = ws;
      let welcomed = false;
      ws.onmessage = (ev) => {
        let m: TaskServerMessage;
        try {
          m = JSON.parse(typeof ev.data === "string" ? ev.data : String(ev.data));
        } catch {
          return;
        }
        if (m.type === "welcome" && !welcomed) {
          welcomed = true;
          this.welcome = m;
          resolve(m);
        }
        this.dispatch(m);
      };
      ws.onerror = () => {
        /* a close follows */
      };
      ws.onclose = (ev) => {
        if (this.ws === ws) this.ws = null;
        this.opening = null;
        this.subscribed.clear();
        const err = new TaskProtocolError(`task WebSocket closed (${ev?.code ?? 1006}${ev?.reason ? `: ${ev.reason}` : ""})`);
        if (!welcomed) reject(err);
        this.failAll(err);
        this.emit("close", ev);
      };
    });
    return this.opening;
  }

  /** Closes the connection; requests still waiting reject. */
  close(): void {
    const ws = this.ws;
    this.ws = null;
    this.opening = null;
    if (ws) {
      try {
        ws.close(1000);
      } catch {
        /* ignore */
      }
    }
  }

  /** Listens to every server message of a type (`"*"`: all of them; `"close"`: the close). Returns an unsubscribe. */
  on(type: TaskServerMessage["type"] | "*" | "close", handler: Handler): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler);
    return () => set!.delete(handler);
  }

  /** `task_submit`: resolves on `accepted`, rejects with a TaskProtocolError on `rejected`. */
  async submit(task: TaskSubmit): Promise<SubmitResult> {
    const r: TaskSubmitResponse = await this.request("task_submit_response", { type: "task_submit", ...task });
    if (r.status !== "accepted") throw new TaskProtocolError(`task rejected: ${r.error ?? "no reason given"}`, r, r.error);
    this.subscribed.add(r.taskId); // the submitter is subscribed to its task
    const out: SubmitResult = { taskId: r.taskId, queuePosition: r.queuePosition ?? 0 };
    if (r.instanceId !== undefined) out.instanceId = r.instanceId;
    return out;
  }

  /** `task_status`: the task's record, or null when the server does not know it. */
  async status(taskId: string): Promise<WsTaskRecord | null> {
    const r: TaskStatusResponse = await this.request("task_status_response", { type: "task_status", taskId });
    return r.task ?? null;
  }

  /** `task_list` */
  async list(filter: { instanceId?: string; status?: TaskListStatus } = {}): Promise<WsTaskSummary[]> {
    const msg: TaskClientMessage = { type: "task_list" };
    if (filter.instanceId !== undefined) msg.instanceId = filter.instanceId;
    if (filter.status !== undefined) msg.status = filter.status;
    const r: TaskListResponse = await this.request("task_list_response", msg);
    return r.tasks;
  }

  /** `task_cancel`: the answer (`success: false` with `error` when the task is unknown or over). */
  cancel(taskId: string): Promise<TaskCancelResponse> {
    return this.request("task_cancel_response", { type: "task_cancel", taskId });
  }

  /**
   * Calls `onProgress` for each `task_progress` of the task: first those this connection already
   * received (e.g. of a task it submitted), then live ones. Resolves once subscribed (on
   * `subscribe_ack`, or at once for a task this connection is already subscribed to) with an
   * unsubscribe function (which stops the calls; the server ends the subscription with the task).
   */
  async subscribe(taskId: string, onProgress: (m: TaskProgressMessage) => void): Promise<() => void> {
    let set = this.progressSubs.get(taskId);
    if (!set) this.progressSubs.set(taskId, (set = new Set()));
    set.add(onProgress);
    for (const m of this.progressLog.get(taskId) ?? []) {
      try {
        onProgress(m);
      } catch {
        /* a handler's error is its own */
      }
    }
    const off = () => set!.delete(onProgress);
    try {
      await this.ensureSubscribed(taskId);
    } catch (e) {
      off();
      throw e;
    }
    return off;
  }

  /** `instance_status` and the tasks' messages of an instance: `subscribe_instance`. */
  async subscribeInstance(instanceId: string): Promise<SubscribeAck> {
    return this.request("subscribe_ack", { type: "subscribe_instance", instanceId });
  }

  /** Resolves with the task's `task_complete` (subscribing to it when needed). */
  async waitForCompletion(taskId: string, options: { timeoutMs?: number } = {}): Promise<TaskCompleteMessage> {
    const done = this.completions.get(taskId);
    if (done) return done;
    const p = new Promise<TaskCompleteMessage>((resolve, reject) => {
      const w: Pending = { resolve, reject, taskId };
      if (options.timeoutMs) {
        w.timer = setTimeout(() => {
          const list = this.completionWaiters.get(taskId) ?? [];
          const i = list.indexOf(w);
          if (i >= 0) list.splice(i, 1);
          reject(new TaskProtocolError(`no task_complete for ${taskId} within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      }
      let list = this.completionWaiters.get(taskId);
      if (!list) this.completionWaiters.set(taskId, (list = []));
      list.push(w);
    });
    p.catch(() => {});
    try {
      await this.ensureSubscribed(taskId);
    } catch (e) {
      this.settleCompletion(taskId, undefined, e);
    }
    return p;
  }

  /** Forgets what this client kept of a task (its progress messages and task_complete). */
  forget(taskId: string): void {
    this.progressLog.delete(taskId);
    this.completions.delete(taskId);
  }

  // ---- internals ----

  private async ensureSubscribed(taskId: string): Promise<void> {
    if (this.subscribed.has(taskId) || this.completions.has(taskId)) return;
    await this.request("subscribe_ack", { type: "subscribe_task", taskId }, taskId);
    if (!this.completions.has(taskId)) this.subscribed.add(taskId);
  }

  private async request<T>(type: ResponseType, msg: TaskClientMessage, taskId?: string): Promise<T> {
    if (!this.ws || this.ws.readyState !== 1) await this.connect();
    const ws = this.ws;
    if (!ws) throw new TaskProtocolError("task WebSocket is not open");
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { resolve, reject };
      if (taskId !== undefined) p.taskId = taskId;
      if (this.timeoutMs > 0) {
        p.timer = setTimeout(() => {
          this.removePending(type, p);
          reject(new TaskProtocolError(`no ${type} within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
      }
      let q = this.pending.get(type);
      if (!q) this.pending.set(type, (q = []));
      q.push(p);
      try {
        ws.send(JSON.stringify(msg));
      } catch (e) {
        this.removePending(type, p);
        reject(e);
      }
    });
  }

  private removePending(type: ResponseType, p: Pending): void {
    const q = this.pending.get(type);
    const i = q ? q.indexOf(p) : -1;
    if (i >= 0) q!.splice(i, 1);
    if (p.timer) clearTimeout(p.timer);
  }

  private settle(type: ResponseType, m: any): void {
    const q = this.pending.get(type);
    if (!q || q.length === 0) return;
    // subscribe_ack names its task or instance: answer the request that asked for it.
    let i = 0;
    if (type === "subscribe_ack" && typeof m.taskId === "string") {
      const j = q.findIndex((p) => p.taskId === m.taskId);
      if (j >= 0) i = j;
    }
    const [p] = q.splice(i, 1);
    if (p!.timer) clearTimeout(p!.timer);
    p!.resolve(m);
  }

  private settleCompletion(taskId: string, m: TaskCompleteMessage | undefined, err?: unknown): void {
    const list = this.completionWaiters.get(taskId);
    if (!list) return;
    this.completionWaiters.delete(taskId);
    for (const w of list) {
      if (w.timer) clearTimeout(w.timer);
      if (m) w.resolve(m);
      else w.reject(err);
    }
  }

  private failAll(err: unknown): void {
    for (const [, q] of this.pending) {
      for (const p of q.splice(0)) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(err);
      }
    }
    for (const taskId of [...this.completionWaiters.keys()]) this.settleCompletion(taskId, undefined, err);
  }

  private emit(type: string, m: unknown): void {
    for (const key of [type, "*"]) {
      if (key === "*" && type === "close") continue;
      for (const h of this.handlers.get(key) ?? []) {
        try {
          h(m);
        } catch {
          /* a handler's error is its own */
        }
      }
    }
  }

  private dispatch(m: TaskServerMessage): void {
    switch (m.type) {
      case "task_submit_response":
      case "task_list_response":
      case "task_status_response":
      case "task_cancel_response":
      case "subscribe_ack":
        this.settle(m.type, m);
        break;
      case "task_progress": {
        // Kept for subscribe()'s replay: progress can arrive in the same tick as the submit's
        // answer, before the caller could subscribe. The most recent KEEP_TASKS tasks are kept.
        let log = this.progressLog.get(m.taskId);
        if (!log) {
          this.progressLog.set(m.taskId, (log = []));
          if (this.progressLog.size > KEEP_TASKS) this.progressLog.delete(this.progressLog.keys().next().value!);
        }
        log.push(m);
        for (const h of this.progressSubs.get(m.taskId) ?? []) {
          try {
            h(m);
          } catch {
            /* a handler's error is its own */
          }
        }
        break;
      }
      case "task_complete":
        this.completions.set(m.taskId, m);
        if (this.completions.size > KEEP_TASKS) this.completions.delete(this.completions.keys().next().value!);
        this.subscribed.delete(m.taskId);
        this.progressSubs.delete(m.taskId);
        this.settleCompletion(m.taskId, m);
        break;
      case "error": {
        // "Task not found: ID" answers a subscribe_task of that id.
        const match = /^Task not found: (.+)$/.exec(m.message ?? "");
        if (match) {
          const id = match[1]!.trim();
          const q = this.pending.get("subscribe_ack") ?? [];
          const p = q.find((x) => x.taskId === id);
          if (p) {
            this.removePending("subscribe_ack", p);
            p.reject(new TaskProtocolError(m.message, m, m.message));
          }
        }
        break;
      }
      default:
        break;
    }
    this.emit(m.type, m);
  }
}
