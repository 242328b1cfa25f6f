/*
 * external-task-client.js - browser-control "external task" client (ExternalTaskClient).
 *
 * Served by browser-control at GET /external-task-client.js. Include it in the external app
 * from the browser-control server itself (the app may live on any other origin):
 *
 *   <script src="http://BROWSER_CONTROL_HOST:PORT/external-task-client.js"></script>
 *   <script>
 *     const client = new ExternalTaskClient();
 *     client.onInit = (config) => { ... };             // init payload (session_id, stage_id, ...)
 *     client.onCommand('restart', (data) => { ... });   // restart | close | pause | resume | custom
 *     client.connect();
 *     // client.logEvent(type, data); client.reportProgress(0..100, step); client.complete(data);
 *   </script>
 *
 * The WebSocket URL is found, in order: connect({wsUrl}); the page's `ws_url` query parameter
 * (browser-control appends it, with `task_token`, when it opens the app); the origin of this
 * script's own URL; window.location.host. The token is connect({taskToken}) or the page's
 * `task_token` query parameter.
 *
 * The client reconnects after a drop (backoff 250 ms doubling to 5 s, with jitter), sends
 * `ready` on every (re)connection and queues messages sent while disconnected, flushing them
 * in order after `ready`. It stops for good after disconnect() or when the server closes with
 * a code 4000-4999 (token refused or task over), then calls onClose(code, reason).
 *
 * Optional hooks: onInit(config, {reconnect}), onError(payload), onClose(code, reason),
 * onConnectionChange(connected), onMessage(message) for message types it does not know.
 *
 * Plain ES2018, no dependencies, no build step.
 */
(function (root) {
  'use strict';

  // document.currentScript is only set while this script runs: capture it now.
  var SCRIPT_SRC = null;
  try {
    if (typeof document !== 'undefined' && document.currentScript && document.currentScript.src) {
      SCRIPT_SRC = document.currentScript.src;
    }
  } catch (e) { /* not in a browser */ }

  var WS_PATH = '/api/ws/external-task/';
  var BACKOFF_MIN_MS = 250;
  var BACKOFF_MAX_MS = 5000;
  var DEFAULT_MAX_QUEUE = 1000;
  var OPEN = 1; // WebSocket.OPEN
  var CONNECTING = 0; // WebSocket.CONNECTING

  function pageParams() {
    try {
      return new URLSearchParams(root.location.search);
    } catch (e) {
      return new URLSearchParams('');
    }
  }

  // "ws(s)://host[:port]" for an http(s) or ws(s) URL, or null.
  function wsOriginOf(url) {
    try {
      var u = new URL(url);
      if (u.protocol === 'https:' || u.protocol === 'wss:') return 'wss://' + u.host;
      if (u.protocol === 'http:' || u.protocol === 'ws:') return 'ws://' + u.host;
    } catch (e) { /* not a URL */ }
    return null;
  }

  function tokenFromWsUrl(url) {
    try {
      var path = new URL(url).pathname;
      var i = path.lastIndexOf(WS_PATH);
      if (i >= 0) return decodeURIComponent(path.slice(i + WS_PATH.length).split('/')[0]) || null;
    } catch (e) { /* not a URL */ }
    return null;
  }

  function isHook(fn) {
    return typeof fn === 'function';
  }

  class ExternalTaskClient {
    constructor(options) {
      var opts = options || {};
      this.ws = null;
      this.config = null;
      this.commandHandlers = {};
      this.taskToken = null;
      this.wsUrl = null;
      // Optional hooks.
      this.onInit = null;
      this.onError = null;
      this.onClose = null;
      this.onConnectionChange = null;
      this.onMessage = null;

      this._options = opts;
      this._maxQueue = opts.maxQueue > 0 ? opts.maxQueue : DEFAULT_MAX_QUEUE;
      this._queue = [];
      this._connected = false;
      this._active = false; // between connect() and a final stop
      this._attempt = 0; // reconnection attempts since the last init
      this._timer = null;
      this._connections = 0; // sockets opened since connect()
    }

    // True while the socket is open and `ready` has been sent.
    get connected() {
      return this._connected;
    }

    // Open the connection. opts: {taskToken, wsUrl}, both optional, overriding the page's query.
    connect(opts) {
      if (this._active && this.ws && (this.ws.readyState === OPEN || this.ws.readyState === CONNECTING)) {
        return; // already connected or connecting
      }
      var o = Object.assign({}, this._options, opts || {});
      var url = this._resolveUrl(o);
      if (!url) {
        console.error('ExternalTaskClient: no task_token found in URL (and no ws_url)');
        return;
      }
      this.wsUrl = url;
      this._active = true;
      this._attempt = 0;
      this._connections = 0;
      this._clearTimer();
      this._open();
    }

    _resolveUrl(o) {
      var params = pageParams();
      var explicitToken = o.taskToken ? String(o.taskToken) : null;
      var queryWsUrl = params.get('ws_url');
      var url = null;
      if (o.wsUrl) {
        url = String(o.wsUrl);
      } else if (queryWsUrl && !explicitToken) {
        url = queryWsUrl;
      } else {
        var token = explicitToken || params.get('task_token');
        if (!token) return null;
        var base = (queryWsUrl && wsOriginOf(queryWsUrl)) ||
          (SCRIPT_SRC && wsOriginOf(SCRIPT_SRC)) ||
          wsOriginOf(root.location.href);
        if (!base) return null;
        url = base + WS_PATH + encodeURIComponent(token);
      }
      this.taskToken = explicitToken || tokenFromWsUrl(url) || params.get('task_token');
      return url;
    }

    _open() {
      var self = this;
      var ws;
      try {
        ws = new root.WebSocket(this.wsUrl);
      } catch (e) {
        console.error('ExternalTaskClient: cannot open WebSocket', e);
        this._scheduleReconnect();
        return;
      }
      this.ws = ws;

      ws.onopen = function () {
        if (self.ws !== ws) return;
        self._connections += 1;
        ws.send(JSON.stringify(self._stamp({ type: 'ready' })));
        self._connected = true;
        self._flush();
        self._hook('onConnectionChange', true);
      };

      ws.onmessage = function (event) {
        if (self.ws !== ws) return;
        var message;
        try {
          message = JSON.parse(event.data);
        } catch (e) {
          console.warn('ExternalTaskClient: ignoring a message that is not JSON', event.data);
          return;
        }
        self.handleMessage(message);
      };

      ws.onerror = function () {
        if (self.ws !== ws) return;
        console.warn('ExternalTaskClient: WebSocket error on', self.wsUrl);
      };

      ws.onclose = function (event) {
        if (self.ws !== ws) return;
        self.ws = null;
        var wasConnected = self._connected;
        self._connected = false;
        if (wasConnected) self._hook('onConnectionChange', false);
        var code = event && event.code;
        var reason = (event && event.reason) || '';
        if (!self._active) {
          self._hook('onClose', code, reason); // disconnect()
        } else if (code >= 4000 && code <= 4999) {
          self._active = false;
          console.warn('ExternalTaskClient: the server ended the connection:', code, reason);
          self._hook('onClose', code, reason);
        } else {
          self._scheduleReconnect();
        }
      };
    }

    _scheduleReconnect() {
      if (!this._active) return;
      this._clearTimer();
      var base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, this._attempt));
      var delay = Math.min(BACKOFF_MAX_MS, Math.round(base * (0.8 + 0.4 * Math.random())));
      this._attempt += 1;
      var self = this;
      this._timer = setTimeout(function () {
        self._timer = null;
        if (self._active && !self.ws) self._open();
      }, delay);
    }

    _clearTimer() {
      if (this._timer !== null) {
        clearTimeout(this._timer);
        this._timer = null;
      }
    }

    _hook(name) {
      var fn = this[name];
      if (!isHook(fn)) return undefined;
      try {
        return fn.apply(this, Array.prototype.slice.call(arguments, 1));
      } catch (e) {
        console.error('ExternalTaskClient: ' + name + ' threw', e);
        return undefined;
      }
    }

    _stamp(message) {
      return Object.assign({}, message, { timestamp: new Date().toISOString() });
    }

    _flush() {
      while (this._queue.length && this.ws && this.ws.readyState === OPEN) {
        try {
          this.ws.send(this._queue[0].text);
        } catch (e) {
          return; // stays queued for the next connection
        }
        this._queue.shift();
      }
    }

    _enqueue(text, type) {
      if (this._queue.length >= this._maxQueue) {
        // Drop the oldest message that is not a `complete`, so a completion is never lost.
        var i = 0;
        while (i < this._queue.length && this._queue[i].type === 'complete') i++;
        this._queue.splice(i < this._queue.length ? i : 0, 1);
        console.warn('ExternalTaskClient: queue full, dropped the oldest message');
      }
      this._queue.push({ text: text, type: type });
    }

    // Handle incoming messages from the platform.
    handleMessage(message) {
      if (!message || typeof message !== 'object') return;
      switch (message.type) {
        case 'init':
          this.config = message.payload;
          this._attempt = 0;
          this._hook('onInit', this.config, { reconnect: this._connections > 1 });
          break;

        case 'command':
          this.handleCommand(message.payload);
          break;

        case 'error':
          console.warn('ExternalTaskClient: server error:', message.payload && message.payload.message);
          this._hook('onError', message.payload);
          break;

        default:
          if (isHook(this.onMessage)) {
            this._hook('onMessage', message);
          } else {
            console.log('ExternalTaskClient: unknown message type:', message.type);
          }
      }
    }

    // Run the command's handler, then acknowledge with {command, success}. A handler returning
    // a Promise is acknowledged once it settles.
    handleCommand(payload) {
      var p = payload || {};
      var command = p.command;
      var data = Object.assign({}, p);
      delete data.command;
      var self = this;
      var ack = function (success) {
        self.send({ type: 'command_ack', payload: { command: command, success: success } });
      };

      var handler = Object.prototype.hasOwnProperty.call(this.commandHandlers, command)
        ? this.commandHandlers[command]
        : null;
      if (!isHook(handler)) {
        console.warn('ExternalTaskClient: no handler for command:', command);
        ack(false);
        return;
      }
      var result;
      try {
        result = handler(data);
      } catch (e) {
        console.error('ExternalTaskClient: command handler error:', e);
        ack(false);
        return;
      }
      if (result && typeof result.then === 'function') {
        result.then(function () {
          ack(true);
        }, function (e) {
          console.error('ExternalTaskClient: command handler error:', e);
          ack(false);
        });
      } else {
        ack(true);
      }
    }

    // Register a command handler (restart, close, pause, resume, custom, ...).
    onCommand(command, handler) {
      this.commandHandlers[command] = handler;
    }

    // Send a message ({type, payload}) to the platform, stamped with `timestamp`. Returns true
    // when it went out now, false when it was queued for the next connection.
    send(message) {
      var stamped = this._stamp(message);
      this._enqueue(JSON.stringify(stamped), stamped.type);
      if (this._connected) this._flush();
      return this._queue.length === 0;
    }

    // Log an event.
    logEvent(eventType, data) {
      return this.send({
        type: 'log',
        payload: { event_type: eventType, data: data === undefined ? {} : data }
      });
    }

    // Report progress (0-100).
    reportProgress(progress, step) {
      return this.send({
        type: 'progress',
        payload: { progress: progress, step: step === undefined ? null : step }
      });
    }

    // Complete the task with results.
    complete(data) {
      return this.send({
        type: 'complete',
        payload: { data: data === undefined ? {} : data }
      });
    }

    // Disconnect for good (no reconnection). Messages still queued stay queued.
    disconnect() {
      var wasActive = this._active;
      this._active = false;
      this._clearTimer();
      if (this.ws) {
        try {
          this.ws.close(1000, 'client disconnect');
        } catch (e) { /* already closing */ }
      } else if (wasActive) {
        this._hook('onClose', 1000, 'client disconnect');
      }
    }
  }

  root.ExternalTaskClient = ExternalTaskClient;
  if (typeof module !== 'undefined' && module.exports) {
    module.exports = ExternalTaskClient;
    module.exports.ExternalTaskClient = ExternalTaskClient;
  }
})(typeof window !== 'undefined' ? window : (typeof globalThis !== 'undefined' ? globalThis : this));
