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

$('#steps').addEventListener('click', (e) => {
  if (!e.target.matches('img.thumb')) return;
  $('#zoom img').src = e.target.src;
  $('#zoom').hidden = false;
});
$('#zoom').addEventListener('click', () => ($('#zoom').hidden = true));

// ---- Start ------------------------------------------------------------------------------------

connect();
const fromHash = location.hash.match(/task=([^&]+)/);
if (fromHash) select(decodeURIComponent(fromHash[1]));
