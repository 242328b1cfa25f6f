// The agent API client: REST routes under /api/agent and the updates stream
// (WS /api/agent/:taskId/updates, with resume by lastEventId and a long-polling fallback on
// GET /api/agent/:taskId/events).

import {
  isFinalMessage,
  type ApprovalDecision,
  type ApproveResponse,
  type CancelResponse,
  type EventsResponse,
  type FetchLike,
  type FieldError,
  type GetResponse,
  type HistoryQuery,
  type HistoryResponse,
  type SubmitRequest,
  type SubmitResponse,
  type UndoRequest,
  type UndoResponse,
  type UpdateMessage,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./types.js";

/** An answer with `success: false` (or no answer at all: `status` 0, code `NETWORK_ERROR`). */
export class AgentApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: FieldError[];
  /** Seconds, from `Retry-After`, when the server sent one. */
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, details?: FieldError[], retryAfter?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "AgentApiError";
    this.status = status;
    this.code = code;
    if (details !== undefined) this.details = details;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

export interface AgentClientOptions {
  /** e.g. `http://127.0.0.1:3400` (a path prefix is kept). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer TOKEN` over HTTP and as `?token=` for WebSockets. */
  token?: string;
  /**
   * A WebSocket constructor; default `globalThis.WebSocket` (Node 20 has none: pass `ws`'s).
   * `null`: none, the updates are long-polled.
   */
  WebSocket?: WebSocketConstructor | null;
  /** default `globalThis.fetch` */
  fetch?: FetchLike;
  /** Extra headers for every HTTP request. */
  headers?: Record<string, string>;
}

export type SubscriptionState =
  | "connecting" // opening the WebSocket
  | "open" // the WebSocket is open
  | "reconnecting" // waiting before the next WebSocket attempt
  | "polling" // long-polling GET /events (the WebSocket failed too often)
  | "finished" // the task's final message was delivered
  | "closed" // close() was called
  | "failed"; // a fatal error (e.g. TASK_NOT_FOUND, UNAUTHORIZED)

export interface StateInfo {
  transport: "websocket" | "polling" | null;
  /** Consecutive failed WebSocket connection attempts. */
  failures: number;
  /** The delay before the next attempt, when reconnecting. */
  delayMs?: number;
  error?: unknown;
}

export interface UpdatesOptions {
  /** Resume after this message id (messages with a greater id are delivered). */
  lastEventId?: number | string;
  onMessage: (message: UpdateMessage) => void;
  onStateChange?: (state: SubscriptionState, info: StateInfo) => void;
  /** Fatal errors (the subscription then ends) and errors thrown by onMessage. */
  onError?: (error: unknown) => void;
  /** Called when ids jump and GET /events could not fill the gap (the message is delivered anyway). */
  onGap?: (afterId: number, nextId: number) => void;
  /** Consecutive failed WebSocket attempts before long-polling (default 3). */
  maxWebSocketFailures?: number;
  /** First reconnection delay (default 250 ms), doubled per attempt up to maxBackoffMs (10 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Fraction of each delay that is random (default 0.5: a delay is between 50% and 100% of its step). */
  jitter?: number;
  /** `wait` of each long poll, in seconds (default 25). */
  pollWaitSeconds?: number;
  /** While polling, try the WebSocket again this often (default 15 s). */
  webSocketRetryMs?: number;
  /** Fill a jump in ids from GET /events before delivering (default true). */
  fillGaps?: boolean;
}

export interface UpdatesSubscription {
  /** The id of the last message delivered (queue_update excluded), or undefined before any. */
  readonly lastEventId: number | undefined;
  readonly state: SubscriptionState;
  /** Resolves with the final message (undefined after close()); rejects on a fatal error. */
  readonly done: Promise<UpdateMessage | undefined>;
  close(): void;
}

const FATAL_CLOSE_CODES: Record<number, [number, string]> = {
  4400: [400, "VALIDATION_ERROR"],
  4401: [401, "UNAUTHORIZED"],
  4403: [403, "FORBIDDEN"],
  4404: [404, "TASK_NOT_FOUND"],
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isFatalHttp(e: unknown): boolean {
  if (!(e instanceof AgentApiError)) return false;
  if (e.status === 0 || e.code === "BAD_RESPONSE") return false;
  return e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429;
}

function toId(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

export class AgentClient {
  readonly baseUrl: string;
  readonly token?: string;
  private readonly WS?: WebSocketConstructor;
  private readonly fetchFn: FetchLike;
  private readonly headers: Record<string, string>;

  constructor(options: AgentClientOptions) {
    if (!options || !options.baseUrl) throw new TypeError("AgentClient: baseUrl is required");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    if (options.token !== undefined) this.token = options.token;
    const g = globalThis as any;
    const WS = options.WebSocket === null ? undefined : (options.WebSocket ?? (typeof g.WebSocket === "function" ? g.WebSocket : undefined));
    if (WS !== undefined) this.WS = WS;
    const f = options.fetch ?? (typeof g.fetch === "function" ? g.fetch.bind(g) : undefined);
    if (!f) throw new TypeError("AgentClient: no fetch available; pass options.fetch");
    this.fetchFn = f;
    this.headers = { ...(options.headers ?? {}) };
  }

  // ---- REST -------------------------------------------------------------------------------

  /** POST /api/agent */
  submit(request: SubmitRequest): Promise<SubmitResponse> {
    return this.request("POST", "/api/agent", request);
  }

  /** GET /api/agent/:taskId */
  get(taskId: string): Promise<GetResponse> {
    return this.request("GET", `/api/agent/${encodeURIComponent(taskId)}`);
  }

  /** GET /api/agent/history */
  history(query: HistoryQuery = {}): Promise<HistoryResponse> {
    const q: Record<string, string> = {};
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null) continue;
      q[k] = v instanceof Date ? v.toISOString() : String(v);
    }
    return this.request("GET", "/api/agent/history", undefined, q);
  }

  /** DELETE /api/agent/:taskId */
  cancel(taskId: string): Promise<CancelResponse> {
    return this.request("DELETE", `/api/agent/${encodeURIComponent(taskId)}`);
  }

  /** POST /api/agent/:taskId/approve, one decision or several at once. */
  approve(taskId: string, decision: ApprovalDecision | ApprovalDecision[]): Promise<ApproveResponse> {
    const body = Array.isArray(decision) ? { decisions: decision } : decision;
    return this.request("POST", `/api/agent/${encodeURIComponent(taskId)}/approve`, body);
  }

  /** POST /api/agent/:taskId/undo */
  undo(taskId: string, options: UndoRequest = {}): Promise<UndoResponse> {
    const body: UndoRequest = {};
    if (options.stepId !== undefined) body.stepId = options.stepId;
    if (options.force !== undefined) body.force = options.force;
    return this.request("POST", `/api/agent/${encodeURIComponent(taskId)}/undo`, body);
  }

  /** GET /api/agent/:taskId/events?after=N&wait=S: one long poll. */
  events(taskId: string, options: { after?: number | string; wait?: number; signal?: AbortSignal } = {}): Promise<EventsResponse> {
    const q: Record<string, string> = {};
    if (options.after !== undefined) q.after = String(options.after);
    if (options.wait !== undefined) q.wait = String(options.wait);
    return this.request("GET", `/api/agent/${encodeURIComponent(taskId)}/events`, undefined, q, options.signal);
  }

  // ---- updates ----------------------------------------------------------------------------

  /** Follows a task's update messages, in order, each once, until its final message. */
  updates(taskId: string, options: UpdatesOptions): UpdatesSubscription {
    return new Subscription(this, taskId, options);
  }

  /** The updates as an async iterator; breaking out of the loop closes the subscription. */
  stream(taskId: string, options: Omit<UpdatesOptions, "onMessage"> = {}): AsyncIterableIterator<UpdateMessage> & { subscription: UpdatesSubscription } {
    const queue: UpdateMessage[] = [];
    const waiters: Array<{ resolve: (r: IteratorResult<UpdateMessage>) => void; reject: (e: unknown) => void }> = [];
    let ended = false;
    let failure: unknown;
    const sub = this.updates(taskId, {
      ...options,
      onMessage: (m) => {
        const w = waiters.shift();
        if (w) w.resolve({ value: m, done: false });
        else queue.push(m);
      },
    });
    const end = () => {
      ended = true;
      while (waiters.length) {
        const w = waiters.shift()!;
        if (failure !== undefined) w.reject(failure);
        else w.resolve({ value: undefined, done: true });
      }
    };
    sub.done.then(end, (e) => {
      failure = e;
      end();
    });
    const it = {
      subscription: sub,
      next(): Promise<IteratorResult<UpdateMessage>> {
        if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
        if (ended) {
          if (failure !== undefined) {
            const f = failure;
            failure = undefined;
            return Promise.reject(f);
          }
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise<IteratorResult<UpdateMessage>>((resolve, reject) => waiters.push({ resolve, reject }));
      },
      return(): Promise<IteratorResult<UpdateMessage>> {
        sub.close();
        queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it as AsyncIterableIterator<UpdateMessage> & { subscription: UpdatesSubscription };
  }

  // ---- internals --------------------------------------------------------------------------

  /** @internal */
  webSocketConstructor(): WebSocketConstructor | undefined {
    return this.WS;
  }

  /** @internal ws(s)://…/api/agent/:taskId/updates?lastEventId=N&token=T */
  updatesUrl(taskId: string, lastEventId: number | undefined): string {
    const u = new URL(this.baseUrl + `/api/agent/${encodeURIComponent(taskId)}/updates`);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    if (lastEventId !== undefined) u.searchParams.set("lastEventId", String(lastEventId));
    if (this.token !== undefined) u.searchParams.set("token", this.token);
    return u.toString();
  }

  private async request<T>(method: string, path: string, body?: unknown, query?: Record<string, string>, signal?: AbortSignal): Promise<T> {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) u.searchParams.set(k, v);
    const headers: Record<string, string> = { Accept: "application/json", ...this.headers };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.token !== undefined) headers.Authorization = `Bearer ${this.token}`;
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (signal) init.signal = signal;
    let res: Response;
    try {
      res = await this.fetchFn(u.toString(), init);
    } catch (e) {
      if ((e as any)?.name === "AbortError") throw e;
      throw new AgentApiError(0, "NETWORK_ERROR", `${method} ${path}: ${(e as Error)?.message ?? String(e)}`, undefined, undefined, e);
    }
    const text = await res.text();
    let json: any;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const ra = res.headers.get("Retry-After");
    const retryAfter = ra !== null && ra !== "" && Number.isFinite(Number(ra)) ? Number(ra) : undefined;
    if (json && typeof json === "object") {
      if (json.success === true && res.ok) return json.data as T;
      const err = json.error;
      if (err && typeof err === "object" && typeof err.code === "string") {
        throw new AgentApiError(res.status, err.code, String(err.message ?? err.code), Array.isArray(err.details) ? err.details : undefined, retryAfter);
      }
    }
    throw new AgentApiError(res.status, "BAD_RESPONSE", `${method} ${path}: HTTP ${res.status}, not an envelope: ${text.slice(0, 200)}`, undefined, retryAfter);
  }
}

class Subscription implements UpdatesSubscription {
  private last: number | undefined;
  private lastQueueUpdate: string | undefined;
  private _state: SubscriptionState = "connecting";
  private stopped = false;
  private ws: WebSocketLike | null = null;
  private wsFailures = 0;
  private attempt = 0;
  private polling = false;
  private pollAbort: AbortController | null = null;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private inbox: UpdateMessage[] = [];
  private pumping = false;
  private finalMessage: UpdateMessage | undefined;
  private resolveDone!: (m: UpdateMessage | undefined) => void;
  private rejectDone!: (e: unknown) => void;
  readonly done: Promise<UpdateMessage | undefined>;

  private readonly maxFailures: number;
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private readonly jitter: number;
  private readonly pollWait: number;
  private readonly wsRetry: number;
  private readonly fillGaps: boolean;

  constructor(
    private readonly client: AgentClient,
    private readonly taskId: string,
    private readonly opts: UpdatesOptions,
  ) {
    this.last = toId(opts.lastEventId);
    this.maxFailures = opts.maxWebSocketFailures ?? 3;
    this.initialBackoff = opts.initialBackoffMs ?? 250;
    this.maxBackoff = opts.maxBackoffMs ?? 10_000;
    this.jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
    this.pollWait = opts.pollWaitSeconds ?? 25;
    this.wsRetry = opts.webSocketRetryMs ?? 15_000;
    this.fillGaps = opts.fillGaps ?? true;
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {}); // a caller that never awaits `done` gets no unhandled rejection
    if (client.webSocketConstructor()) this.connect(false);
    else this.startPolling(); // no WebSocket at all: polling only
  }

  get lastEventId(): number | undefined {
    return this.last;
  }

  get state(): SubscriptionState {
    return this._state;
  }

  close(): void {
    if (this.stopped) return;
    this.stop();
    this.setState("closed", { transport: null, failures: this.wsFailures });
    this.resolveDone(undefined);
  }

  // ---- state ----

  private setState(state: SubscriptionState, info: StateInfo): void {
    this._state = state;
    try {
      this.opts.onStateChange?.(state, info);
    } catch (e) {
      this.report(e);
    }
  }

  private report(e: unknown): void {
    try {
      this.opts.onError?.(e);
    } catch {
      /* ignore */
    }
  }

  private stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pollAbort?.abort();
    this.pollAbort = null;
    this.polling = false;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try {
        ws.close(1000);
      } catch {
        /* ignore */
      }
    }
  }

  private fail(e: unknown): void {
    if (this.stopped) return;
    this.stop();
    this.setState("failed", { transport: null, failures: this.wsFailures, error: e });
    this.report(e);
    this.rejectDone(e);
  }

  private finish(m: UpdateMessage | undefined): void {
    if (this.stopped) return;
    this.stop();
    this.setState("finished", { transport: null, failures: this.wsFailures });
    this.resolveDone(m);
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) f();
    }, ms);
    this.timers.add(t);
  }

  private backoff(attempt: number): number {
    const step = Math.min(this.maxBackoff, this.initialBackoff * 2 ** Math.max(0, attempt - 1));
    return Math.round(step * (1 - this.jitter * Math.random()));
  }

  // ---- WebSocket ----

  /** Opens the WebSocket. A probe is a try while polling: its failure does not count. */
  private connect(probe: boolean): void {
    if (this.stopped) return;
    const WS = this.client.webSocketConstructor()!;
    if (!probe) this.setState("connecting", { transport: "websocket", failures: this.wsFailures });
    let ws: WebSocketLike;
    try {
      ws = new WS(this.client.updatesUrl(this.taskId, this.last));
    } catch (e) {
      this.wsClosed(null, probe, false, 1006, e);
      return;
    }
    if (!probe) this.ws = ws;
    let opened = false;
    let notFound: string | undefined;
    ws.onopen = () => {
      if (this.stopped) {
        try {
          ws.close(1000);
        } catch {
          /* ignore */
        }
        return;
      }
      opened = true;
      this.wsFailures = 0;
      this.attempt = 0;
      if (probe) {
        // The WebSocket is back: stop polling (messages are deduplicated by id meanwhile).
        this.polling = false;
        this.pollAbort?.abort();
        this.pollAbort = null;
        const old = this.ws;
        this.ws = ws;
        if (old && old !== ws) {
          try {
            old.close(1000);
          } catch {
            /* ignore */
          }
        }
        probe = false;
      }
      this.setState("open", { transport: "websocket", failures: 0 });
    };
    ws.onmessage = (ev) => {
      if (this.stopped) return;
      let m: any;
      try {
        m = JSON.parse(typeof ev.data === "string" ? ev.data : String(ev.data));
      } catch (e) {
        this.report(new AgentApiError(0, "BAD_RESPONSE", `updates: a message that is not JSON: ${String(ev.data).slice(0, 200)}`, undefined, undefined, e));
        return;
      }
      if (!m || typeof m !== "object" || typeof m.type !== "string") return;
      if (toId(m.id) === undefined) {
        // Not a message of the task's history (e.g. the unknown-task error before a 4404).
        if (m.type === "error") notFound = String(m.data?.message ?? m.message ?? "error");
        return;
      }
      this.ingest(m as UpdateMessage);
    };
    let refusedWith: number | undefined;
    ws.onerror = (ev: any) => {
      // A close follows. Node's `ws` says why a handshake failed ("Unexpected server response:
      // 404"); the server answers an unknown task's upgrade so. Browsers do not tell.
      const m = /Unexpected server response: (\d{3})/.exec(String(ev?.message ?? ev?.error?.message ?? ""));
      if (m) refusedWith = Number(m[1]);
    };
    ws.onclose = (ev) => {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      let code = ev?.code ?? 1006;
      if (!opened && refusedWith !== undefined && FATAL_CLOSE_CODES[4000 + refusedWith]) code = 4000 + refusedWith;
      this.wsClosed(ws, probe, opened, code, undefined, notFound ?? (refusedWith ? `the updates WebSocket was refused with HTTP ${refusedWith}` : undefined), ev?.reason);
    };
  }

  private wsClosed(ws: WebSocketLike | null, probe: boolean, opened: boolean, code: number, error?: unknown, serverMessage?: string, reason?: string): void {
    if (ws && this.ws === ws) this.ws = null;
    if (this.stopped) return;
    const fatal = FATAL_CLOSE_CODES[code];
    if (fatal) {
      this.fail(new AgentApiError(fatal[0], fatal[1], serverMessage ?? (reason || `updates closed with ${code}`)));
      return;
    }
    if (probe && !opened) {
      // Still polling: try again later.
      this.later(this.wsRetry, () => this.probe());
      return;
    }
    if (this.polling) return;
    if (!opened) this.wsFailures++;
    if (this.wsFailures >= this.maxFailures) {
      this.startPolling(error);
      return;
    }
    this.attempt++;
    const delay = this.backoff(this.attempt);
    this.setState("reconnecting", { transport: "websocket", failures: this.wsFailures, delayMs: delay, error });
    this.later(delay, () => this.connect(false));
  }

  private probe(): void {
    if (this.stopped || !this.polling) return;
    this.connect(true);
  }

  // ---- polling ----

  private startPolling(error?: unknown): void {
    if (this.stopped || this.polling) return;
    this.polling = true;
    this.setState("polling", { transport: "polling", failures: this.wsFailures, error });
    if (this.client.webSocketConstructor()) this.later(this.wsRetry, () => this.probe());
    void this.pollLoop();
  }

  private async pollLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped && this.polling) {
      const abort = new AbortController();
      this.pollAbort = abort;
      try {
        const res = await this.client.events(this.taskId, { after: this.last ?? 0, wait: this.pollWait, signal: abort.signal });
        if (this.stopped || abort.signal.aborted) return;
        failures = 0;
        for (const e of res.events ?? []) this.ingest(e);
        await this.drain();
        if (res.finished && !this.stopped) {
          this.finish(this.finalMessage);
          return;
        }
      } catch (e) {
        if (this.stopped || abort.signal.aborted) return;
        if (isFatalHttp(e)) {
          this.fail(e);
          return;
        }
        failures++;
        const delay = this.backoff(failures);
        this.report(e);
        await sleep(delay);
      } finally {
        if (this.pollAbort === abort) this.pollAbort = null;
      }
    }
  }

  // ---- delivery: one message at a time, in id order, each once ----

  private ingest(m: UpdateMessage): void {
    this.inbox.push(m);
    void this.pump();
  }

  private drainWaiters: Array<() => void> = [];

  private drain(): Promise<void> {
    if (!this.pumping && this.inbox.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.inbox.length && !this.stopped) {
        await this.handle(this.inbox.shift()!);
      }
    } finally {
      this.pumping = false;
      if (this.stopped) this.inbox.length = 0;
      const ws = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of ws) w();
    }
  }

  private async handle(m: UpdateMessage): Promise<void> {
    const id = toId(m.id);
    if (id === undefined) return;
    if (m.type === "queue_update") {
      // A report of the present state carrying the previous message's id: never advances.
      if (this.last !== undefined && id < this.last) return;
      const key = `${id}:${m.data?.queuePosition}:${m.data?.estimatedWaitTime}`;
      if (key === this.lastQueueUpdate) return;
      this.lastQueueUpdate = key;
      this.deliver(m, false);
      return;
    }
    if (this.last !== undefined && id <= this.last) return; // seen
    if (this.last !== undefined && id > this.last + 1 && this.fillGaps) {
      await this.fill(this.last, id);
      if (this.stopped || (this.last !== undefined && id <= this.last)) return;
      if (this.last !== undefined && id > this.last + 1) this.opts.onGap?.(this.last, id);
    }
    this.deliver(m, true);
  }

  /** Fetches the messages between `after` and `before` (exclusive) and delivers them. */
  private async fill(after: number, before: number): Promise<void> {
    let res: EventsResponse;
    try {
      res = await this.client.events(this.taskId, { after, wait: 0 });
    } catch (e) {
      this.report(e);
      return;
    }
    const evs = (res.events ?? [])
      .filter((e) => e.type !== "queue_update")
      .map((e) => [toId(e.id), e] as const)
      .filter(([eid]) => eid !== undefined && eid > after && eid < before)
      .sort((a, b) => a[0]! - b[0]!);
    for (const [eid, e] of evs) {
      if (this.stopped) return;
      if (this.last !== undefined && eid! <= this.last) continue;
      this.deliver(e, true);
    }
  }

  private deliver(m: UpdateMessage, advance: boolean): void {
    if (this.stopped) return;
    if (advance) this.last = toId(m.id);
    try {
      this.opts.onMessage(m);
    } catch (e) {
      this.report(e);
    }
    if (advance && isFinalMessage(m)) {
      this.finalMessage = m;
      this.finish(m);
    }
  }
}
