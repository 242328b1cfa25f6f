// The dashboard: a client of the task WebSocket protocol (task list, cancel, instance
// subscriptions), of GET /instances, and of the execution panel stream for the selected task.
// No framework and no build step: the server embeds this file as it is.
'use strict';

const params = new URLSearchParams(location.search);
const token = params.get('token');
const wsBase = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
const withToken = (path) =>
  token ? path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : path;

const ICON = { queued: '◷', idle: '◷', pending: '○', running: '▶', completed: '✓', failed: '✗', cancelled: '⊘' };
const FINISHED = new Set(['completed', 'failed', 'cancelled']);
const SHOWN_FINISHED = 300; // the newest finished tasks listed; enough history without a slow page

const $ = (selector) => document.querySelector(selector);

// Builds an element: h('td', {class: 'x'}, 'text', child...). Text always goes in as text.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

const time = (iso) => (iso ? Date.parse(iso) : null);

// ---- The task WebSocket ---------------------------------------------------------------------

const state = {
  socket: null,
  backoff: 500,
  tasks: new Map(), // id -> task_list item
  rows: new Map(), // id -> { tr, key }
  subscribed: new Set(), // instance ids
  selected: null,
  refreshTimer: null,
};

function setConnection(s, text) {
  const conn = $('#conn');
  conn.dataset.state = s;
  conn.textContent = text;
}

function connect() {
  const ws = new WebSocket(withToken(wsBase + '/'));
  state.socket = ws;
  ws.onopen = () => {
    state.backoff = 500;
    state.subscribed.clear();
    setConnection('online', 'connected');
    refresh();
  };
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  ws.onclose = () => {
    if (state.socket !== ws) return;
    state.socket = null;
    setConnection('offline', 'disconnected: reconnecting…');
    setTimeout(connect, state.backoff);
    state.backoff = Math.min(state.backoff * 2, 5000);
  };
}

function send(message) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify(message));
  }
}

function onMessage(msg) {
  switch (msg.type) {
    case 'welcome':
      $('#version').textContent = 'v' + msg.serverVersion;
      // Who is signed in: their tasks are the ones listed (an admin's: everyone's).
      fetch(withToken('/info'))
        .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
        .then((info) => {
          const who = info.user.name + (info.user.admin ? ' (admin)' : '');
          $('#version').textContent = 'v' + msg.serverVersion + ' · ' + who;
        })
        .catch(() => {});
      break;
    case 'task_list_response':
      renderTasks(msg.tasks);
      break;
    case 'task_cancel_response':
      if (!msg.success) console.warn('cancel refused', msg.error);
      refreshSoon();
      break;
    case 'approval_request':
    case 'approval_decided':
      // Extra messages to instance subscribers: a step waits for a person, or was answered.
      watchApprovals(msg.taskId);
      refreshSoon();
      break;
    case 'task_progress':
    case 'task_complete':
    case 'task_submit_response':
    case 'instance_status':
      refreshSoon();
      break;
  }
}

// Events only say that something changed; the list and the instances are read again, at most
// a few times a second however many events arrive.
function refreshSoon() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    refresh();
  }, 150);
}

function refresh() {
  send({ type: 'task_list', status: 'all' });
  findPaused();
  fetch(withToken('/instances'))
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((body) => renderInstances(body.instances))
    .catch(() => {});
}

setInterval(() => state.socket && refresh(), 2000);

// ---- Instances --------------------------------------------------------------------------------

function instanceState(inst) {
  if (inst.status !== 'ready') return inst.status; // lost, relaunching
  return inst.runningTaskId ? 'busy' : 'idle';
}

function renderInstances(instances) {
  const box = $('#instances');
  if (!instances.length) {
    box.replaceChildren(h('p', { class: 'empty' }, 'No instance.'));
    return;
  }
  box.replaceChildren(
    ...instances.map((inst) => {
      const s = instanceState(inst);
      if (!state.subscribed.has(inst.id)) {
        state.subscribed.add(inst.id);
        send({ type: 'subscribe_instance', instanceId: inst.id });
      }
      const where = inst.remote ? inst.endpoint : inst.pid ? `pid ${inst.pid}` : '';
      return h(
        'div',
        { class: 'instance', dataset: { instanceId: inst.id, state: s } },
        h('b', {}, inst.id), ' ',
        h('span', { class: `badge ${s}` }, s), ' ',
        inst.remote ? h('span', { class: 'badge remote' }, 'remote') : null,
        inst.private ? h('span', { class: 'badge private', title: 'the own browser of an MCP session' }, 'private') : null,
        h('div', { class: 'meta' },
          `queue: ${inst.queued}`,
          inst.runningTaskId ? ` · running ${inst.runningTaskId}` : '',
          where ? ` · ${where}` : ''),
      );
    }),
  );
}

// ---- Tasks ------------------------------------------------------------------------------------

function order(a, b) {
  const rank = (t) => (t.status === 'running' ? 0 : t.status === 'queued' ? 1 : 2);
  const r = rank(a) - rank(b);
  if (r) return r;
  if (rank(a) < 2) return time(a.createdAt) - time(b.createdAt);
  return time(b.completedAt) - time(a.completedAt);
}

// Commands done: all of a completed task; otherwise those before the current one (the one
// running, or the one that failed or was stopped).
function progress(t) {
  const done = t.status === 'completed' ? t.totalCommands : t.currentCommandIndex;
  return `${done}/${t.totalCommands}`;
}

function elapsed(t) {
  if (!t.startedAt) return FINISHED.has(t.status) ? 'never ran' : 'queued';
  const end = t.completedAt ? time(t.completedAt) : Date.now();
  return duration(end - time(t.startedAt));
}

function taskRow(t) {
  const cancellable = !FINISHED.has(t.status);
  return h(
    'tr',
    { dataset: { taskId: t.id, status: t.status }, class: t.id === state.selected ? 'selected' : null },
    h('td', {}, h('span', { class: `icon ${t.status}`, title: t.status }, ICON[t.status] || '?')),
    h('td', { title: t.name }, t.name, h('br'), h('span', { class: 'id' }, t.id)),
    h('td', {}, t.instanceId),
    h('td', {}, progress(t)),
    h('td', {}, elapsed(t)),
    h('td', {}, cancellable ? h('button', { class: 'cancel', dataset: { cancel: t.id } }, 'Cancel') : null),
  );
}

function renderTasks(list) {
  list.sort(order);
  const live = list.filter((t) => !FINISHED.has(t.status));
  const finished = list.filter((t) => FINISHED.has(t.status)).slice(0, SHOWN_FINISHED);
  const shown = live.concat(finished);
  state.tasks = new Map(list.map((t) => [t.id, t]));
  const rows = new Map();
  const trs = shown.map((t) => {
    // A row is rebuilt only when what it shows changed.
    const key = JSON.stringify([t.status, t.currentCommandIndex, t.startedAt, t.completedAt,
      t.status === 'running' ? elapsed(t) : '', t.id === state.selected]);
    const old = state.rows.get(t.id);
    const tr = old && old.key === key ? old.tr : taskRow(t);
    rows.set(t.id, { tr, key });
    return tr;
  });
  state.rows = rows;
  $('#tasks tbody').replaceChildren(...trs);
  $('#tasks-empty').hidden = list.length > 0;
  $('#task-count').textContent = list.length ? `(${live.length} active, ${list.length - live.length} done)` : '';
  renderDetailHead();
}

$('#tasks tbody').addEventListener('click', (e) => {
  const cancel = e.target.closest('button[data-cancel]');
  if (cancel) {
    e.stopPropagation();
    send({ type: 'task_cancel', taskId: cancel.dataset.cancel });
    cancel.disabled = true;
    cancel.textContent = 'Cancelling…';
    return;
  }
  const row = e.target.closest('tr[data-task-id]');
  if (row) select(row.dataset.taskId);
});

// ---- The selected task, over the execution panel stream ---------------------------------------

const panel = { socket: null, taskId: null, steps: new Map(), messages: new Set(), status: null, errors: 0 };

function select(taskId) {
  if (panel.taskId === taskId) return;
  state.selected = taskId;
  history.replaceState(null, '', `${location.search}#task=${encodeURIComponent(taskId)}`);
  for (const [id, row] of state.rows) row.tr.classList.toggle('selected', id === taskId);
  if (panel.socket) {
    const old = panel.socket;
    panel.socket = null;
    old.close();
  }
  Object.assign(panel, { taskId, steps: new Map(), messages: new Set(), status: null, errors: 0 });
  $('#steps').replaceChildren();
  $('#steps').dataset.taskId = taskId;
  delete $('#steps').dataset.taskStatus;
  $('#log').replaceChildren();
  $('#detail').hidden = false;
  $('#no-detail').hidden = true;
  renderDetailHead();
  openPanel(taskId, 0);
}

function openPanel(taskId, attempt) {
  const ws = new WebSocket(withToken(`${wsBase}/ws?taskId=${encodeURIComponent(taskId)}`));
  panel.socket = ws;
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.taskId === panel.taskId) onPanel(msg);
  };
  ws.onclose = () => {
    // The panel replays the whole task on connect, and steps and messages are keyed by id:
    // reconnecting loses nothing and repeats nothing.
    if (panel.socket !== ws || FINISHED_PANEL.has(panel.status)) return;
    setTimeout(() => panel.taskId === taskId && openPanel(taskId, attempt + 1), Math.min(500 * 2 ** attempt, 5000));
  };
}

const FINISHED_PANEL = new Set(['completed', 'failed']);

function onPanel(msg) {
  const p = msg.payload;
  switch (msg.type) {
    case 'step_update':
      renderStep(p);
      break;
    case 'message':
      if (panel.messages.has(p.id)) return;
      panel.messages.add(p.id);
      addLog(p.type, p.content, p.timestamp);
      break;
    case 'status_change':
      panel.status = p.status;
      $('#steps').dataset.taskStatus = p.status;
      if (p.status === 'paused') watchApprovals(panel.taskId);
      refreshSoon(); // the list and the badge catch up with the panel
      break;
    case 'error':
      addLog('error', p.error, new Date().toISOString());
      break;
  }
}

function renderStep(step) {
  const started = time(step.startedAt);
  const ended = time(step.completedAt);
  const li = h(
    'li',
    { class: 'step', id: `step-${step.id}`, dataset: { stepId: step.id, status: step.status } },
    h('span', { class: `icon ${step.status}`, title: step.status }, ICON[step.status] || '?'),
    h('span', { class: 'label' }, step.label),
    h('span', { class: 'duration' }, started && ended ? duration(ended - started) : step.status === 'running' ? '…' : ''),
    step.details ? h('span', { class: 'details' }, step.details) : null,
    step.screenshot ? h('img', { class: 'thumb', src: step.screenshot, alt: `screenshot of ${step.label}` }) : null,
    // A running external step: a person may mark it done (completion_mode manual) or go on
    // without it (optional); the server refuses it for required steps, and says so.
    step.status === 'running' && /^External task/.test(step.details || '')
      ? h('span', { class: 'external-actions' },
        h('button', { class: 'mark-done', dataset: { stepId: step.id } }, 'Mark as done'),
        h('span', { class: 'error', role: 'alert' }))
      : null,
  );
  const old = panel.steps.get(step.id);
  if (old) old.replaceWith(li);
  else $('#steps').append(li);
  panel.steps.set(step.id, li);
}

function addLog(type, content, timestamp) {
  const at = timestamp ? new Date(timestamp).toLocaleTimeString() : '';
  const log = $('#log');
  log.append(h('li', { dataset: { type } }, h('time', {}, at), content));
  log.lastChild.scrollIntoView({ block: 'nearest' });
}

function renderDetailHead() {
  if (!state.selected) return;
  const t = state.tasks.get(state.selected);
  $('#detail-name').textContent = t ? t.name : state.selected;
  $('#detail-id').textContent = t ? `${t.id} on ${t.instanceId}` : `${state.selected} (not submitted yet)`;
  const s = t ? t.status : panel.status || 'unknown';
  const badge = $('#detail-status');
  badge.textContent = s;
  badge.className = `badge ${s}`;
  const cancel = $('#detail-cancel');
  cancel.hidden = !t || FINISHED.has(t.status);
  cancel.disabled = false;
  cancel.textContent = 'Cancel';
}

$('#detail-cancel').addEventListener('click', () => {
  send({ type: 'task_cancel', taskId: state.selected });
  $('#detail-cancel').disabled = true;
});

// POST /api/external-tasks/{token}/done, the token read from the running command of the task.
function markDone(button) {
  const taskId = $('#steps').dataset.taskId;
  const error = button.parentElement.querySelector('.error');
  button.disabled = true;
  const headers = token ? { Authorization: 'Bearer ' + token } : {};
  fetch(`/tasks/${encodeURIComponent(taskId)}`, { headers })
    .then((r) => r.json())
    .then((t) => {
      const command = ((t.task || t).commands || []).find((c) => c.id === button.dataset.stepId);
      const tok = command && command.externalTask && command.externalTask.task_token;
      if (!tok) throw new Error('the step is no longer waiting');
      return fetch(`/api/external-tasks/${tok}/done`, { method: 'POST', headers });
    })
    .then((r) => (r.ok ? null : r.json().then((j) => { throw new Error((j.error && j.error.message) || j.message || `HTTP ${r.status}`); })))
    .catch((e) => { error.textContent = e.message; button.disabled = false; });
}

$('#steps').addEventListener('click', (e) => {
  if (e.target.matches('button.mark-done')) {
    markDone(e.target);
    return;
  }
  if (!e.target.matches('img.thumb')) return;
  $('#zoom img').src = e.target.src;
  $('#zoom').hidden = false;
});
$('#zoom').addEventListener('click', () => ($('#zoom').hidden = true));


// ---- Approvals: steps waiting for a person's yes ----------------------------------------------
// Read from the agent API (GET /api/agent/{id}: task.approvals), answered with
// POST /api/agent/{id}/approve. A task's requests are read again whenever it is heard to wait or
// to have been answered: an approval_request or approval_decided message, a panel status of
// paused, or the list of paused tasks read with every refresh (which also finds requests made
// before the page was opened).

const approvals = {
  boxes: new Map(), // approvalId -> { el, status, args, task: {id, name, steps} }
  timers: new Map(), // task id -> refresh timer
  loading: new Set(), // task ids being read
};

// The agent API with the page's credential. It goes in a header, the way the agent API reads it
// from any client (its history route refuses query parameters it does not know, token included).
function api(method, path, body) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    .then((r) => r.json().catch(() => ({ success: false, error: { message: `HTTP ${r.status}` } }))
      .then((json) => ({ status: r.status, json })));
}

const when = (v) => (v === null || v === undefined ? null : new Date(typeof v === 'number' ? v : Date.parse(v)));

// Paused tasks the page did not hear about (asked before it was opened, or while it reconnected).
function findPaused() {
  api('GET', '/api/agent/history?status=paused&limit=100')
    .then(({ json }) => {
      if (json.success) json.data.tasks.forEach((t) => watchApprovals(t.id));
    })
    .catch(() => {});
}

function watchApprovals(taskId) {
  if (!taskId) return;
  if (approvals.timers.has(taskId)) return;
  approvals.timers.set(taskId, setTimeout(() => {
    approvals.timers.delete(taskId);
    loadApprovals(taskId);
  }, 100));
}

function loadApprovals(taskId) {
  if (approvals.loading.has(taskId)) {
    watchApprovals(taskId); // read again once this read is over
    return;
  }
  approvals.loading.add(taskId);
  api('GET', `/api/agent/${encodeURIComponent(taskId)}`)
    .then(({ json }) => json.success && renderApprovals(json.data.task))
    .catch(() => {})
    .finally(() => approvals.loading.delete(taskId));
}

// A request is shown once it was seen pending here; after its answer its box shows the
// decision until dismissed. A pending box is never rebuilt, so an edit in progress stays.
function renderApprovals(task) {
  for (const a of task.approvals) {
    const old = approvals.boxes.get(a.approvalId);
    if (!old && a.status !== 'pending') continue;
    // Unchanged, or a read older than the answer given here: the box stays as it is.
    if (old && (old.status === a.status || a.status === 'pending')) continue;
    const about = { id: task.id, name: task.name, steps: task.steps };
    const el = approvalBox(about, a);
    if (old) old.el.replaceWith(el);
    else $('#approval-list').append(el);
    approvals.boxes.set(a.approvalId, { el, status: a.status, args: a.args, task: about });
  }
  showApprovalSection();
}

function showApprovalSection() {
  const pending = [...approvals.boxes.values()].filter((b) => b.status === 'pending').length;
  $('#approvals').hidden = approvals.boxes.size === 0;
  $('#approvals-count').textContent = pending ? `(${pending} waiting)` : '';
}

function approvalBox(task, a) {
  const step = (task.steps || [])[a.stepIndex] || {};
  const expires = when(a.expiresAt);
  const pending = a.status === 'pending';
  return h(
    'div',
    { class: 'approval', dataset: { approvalId: a.approvalId, taskId: task.id, status: a.status } },
    h('div', { class: 'approval-head' },
      h('b', {}, `Step ${a.stepIndex + 1}: ${a.tool} ${a.action}`), ' ',
      h('span', { class: `badge ${a.status}` }, a.status),
      pending ? null : h('button', { class: 'dismiss', dataset: { dismiss: a.approvalId } }, 'Dismiss')),
    h('div', { class: 'muted' }, task.name, ' · ', h('span', { class: 'id' }, task.id)),
    step.intention ? h('div', { class: 'intention' }, step.intention) : null,
    h('div', { class: 'rule' }, 'Rule: ', a.rule && a.rule.description),
    h('div', { class: 'reason' }, a.message || a.reason),
    a.pageUrl ? h('div', { class: 'muted' }, 'Page: ', a.pageUrl) : null,
    a.screenshot
      ? h('img', { class: 'thumb', src: 'data:image/png;base64,' + a.screenshot, alt: 'the page when it was asked' })
      : null,
    expires && pending
      ? h('div', { class: 'expires' }, `Expires ${expires.toLocaleString()} (then ${a.onTimeout === 'approve' ? 'approved' : 'rejected'})`)
      : null,
    pending && !a.choices
      ? h('label', {}, 'Arguments (JSON; edits are sent as modifiedParameters)',
        h('textarea', { class: 'args', rows: 6, spellcheck: 'false' }, JSON.stringify(a.args, null, 2)))
      : h('pre', { class: 'args' }, JSON.stringify(a.args, null, 2)),
    pending ? h('input', { class: 'message', type: 'text', placeholder: 'Message (optional)', maxlength: 2000 }) : null,
    pending && a.choices
      // An external step's timeout: one button per choice (retry, skip, fail).
      ? h('div', { class: 'actions' },
        ...a.choices.map((c) => h('button', { class: c === 'fail' ? 'reject' : 'approve', dataset: { choice: c } }, c[0].toUpperCase() + c.slice(1))),
        h('span', { class: 'error', role: 'alert' }))
      : pending
        ? h('div', { class: 'actions' },
          h('button', { class: 'approve', dataset: { decide: 'approve' } }, 'Approve'),
          h('button', { class: 'reject', dataset: { decide: 'reject' } }, 'Reject'),
          h('span', { class: 'error', role: 'alert' }))
        : decisionView(a),
  );
}

function decisionView(a) {
  const d = a.decision;
  if (!d) return h('div', { class: 'decision' }, a.status);
  const at = when(d.at);
  const verb = d.timedOut ? `${a.status} (no answer in time)` : d.choice ? `${d.choice} chosen by ${d.by}` : `${d.approved ? 'Approved' : 'Rejected'} by ${d.by}`;
  return h('div', { class: 'decision', dataset: { approved: String(d.approved) } },
    verb, at ? ` at ${at.toLocaleTimeString()}` : '',
    d.message ? h('div', { class: 'decision-message' }, 'Message: ', d.message) : null,
    d.modifiedParameters ? h('div', { class: 'decision-modified' }, 'Modified: ', JSON.stringify(d.modifiedParameters)) : null);
}

// Approve sends only the top-level keys that were edited (the server merges them into the
// step's args); nothing edited, no modifiedParameters. A removed key cannot be said that way.
function changedArgs(original, text) {
  let edited;
  try {
    edited = JSON.parse(text);
  } catch (e) {
    throw new Error('The arguments are not valid JSON: ' + e.message);
  }
  if (!edited || typeof edited !== 'object' || Array.isArray(edited)) throw new Error('The arguments must be a JSON object');
  const removed = Object.keys(original || {}).filter((k) => !(k in edited));
  if (removed.length) throw new Error(`A key cannot be removed, only changed: ${removed.join(', ')}`);
  const changed = {};
  for (const [k, v] of Object.entries(edited)) {
    if (JSON.stringify(v) !== JSON.stringify((original || {})[k])) changed[k] = v;
  }
  return Object.keys(changed).length ? changed : null;
}

function showError(box, error) {
  const el = box.querySelector('.error');
  el.replaceChildren(error.message || String(error));
  for (const d of error.details || []) el.append(h('div', { class: 'detail' }, `${d.field}: ${d.message}`));
}

function decide(box, approved, choice) {
  const entry = approvals.boxes.get(box.dataset.approvalId);
  if (!entry || entry.status !== 'pending') return;
  const body = choice ? { approvalId: box.dataset.approvalId, choice } : { approvalId: box.dataset.approvalId, approved };
  const message = box.querySelector('input.message').value.trim();
  if (message) body.message = message;
  if (approved && !choice) {
    try {
      const changed = changedArgs(entry.args, box.querySelector('textarea.args').value);
      if (changed) body.modifiedParameters = changed;
    } catch (e) {
      showError(box, e);
      return;
    }
  }
  const buttons = box.querySelectorAll('.actions button');
  buttons.forEach((b) => (b.disabled = true));
  box.querySelector('.error').replaceChildren();
  box.dataset.sending = '';
  api('POST', `/api/agent/${encodeURIComponent(entry.task.id)}/approve`, body)
    .then(({ json }) => {
      if (!json.success) {
        showError(box, json.error || {});
        return;
      }
      const decided = (json.data.decisions || [])[0];
      if (decided && approvals.boxes.get(decided.approvalId)) {
        const el = approvalBox(entry.task, decided);
        box.replaceWith(el);
        approvals.boxes.set(decided.approvalId, { ...entry, el, status: decided.status });
        showApprovalSection();
      }
    })
    .catch((e) => showError(box, e))
    .finally(() => {
      buttons.forEach((b) => (b.disabled = false));
      delete box.dataset.sending;
      watchApprovals(entry.task.id);
      refreshSoon();
    });
}

$('#approval-list').addEventListener('click', (e) => {
  const button = e.target.closest('button[data-decide]');
  if (button) {
    decide(button.closest('.approval'), button.dataset.decide === 'approve');
    return;
  }
  const chosen = e.target.closest('button[data-choice]');
  if (chosen) {
    decide(chosen.closest('.approval'), chosen.dataset.choice !== 'fail', chosen.dataset.choice);
    return;
  }
  const dismiss = e.target.closest('button[data-dismiss]');
  if (dismiss) {
    const entry = approvals.boxes.get(dismiss.dataset.dismiss);
    if (entry) entry.el.remove();
    approvals.boxes.delete(dismiss.dataset.dismiss);
    showApprovalSection();
    return;
  }
  if (e.target.matches('img.thumb')) {
    $('#zoom img').src = e.target.src;
    $('#zoom').hidden = false;
  }
});

// ---- Start ------------------------------------------------------------------------------------

connect();
const fromHash = location.hash.match(/task=([^&]+)/);
if (fromHash) select(decodeURIComponent(fromHash[1]));
