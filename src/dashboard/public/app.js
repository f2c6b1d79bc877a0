// quorumkv dashboard: polls /v1/dashboard/state once a second and draws it; actions go through the
// front's routes. Plain DOM, no framework; every piece of data is set with textContent, never as HTML.

const statePath = '/v1/dashboard/state';
const tokenKey = 'quorumkv.dashboard.token';
const historySeconds = 60;
/** The rates shown as numbers are averaged over this window (one sample a second is jumpy). */
const rateWindowMs = 5000;
const svgNs = 'http://www.w3.org/2000/svg';
const palette = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#e15759', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#8cd17d', '#499894', '#d37295'];

const $ = (id) => document.getElementById(id);

/** @type {any} */
let lastState = null;
/** Per node: the previous counters sample and the rate history. */
const traffic = new Map();
/** Actions under way, by a key such as "fail:1", so their buttons stay disabled. */
const busy = new Set();

// ---- small helpers -----------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'style') applyStyle(node, value);
    else if (name === 'text') node.textContent = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** Styles go through the CSSOM: the page's CSP forbids inline style attributes. */
function applyStyle(node, text) {
  for (const declaration of String(text).split(';')) {
    const colon = declaration.indexOf(':');
    if (colon > 0) node.style.setProperty(declaration.slice(0, colon).trim(), declaration.slice(colon + 1).trim());
  }
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

const fmtInt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
const fmtPct = (f) => `${(f * 100).toFixed(1)}%`;
function fmtRate(r) {
  if (r === null || r === undefined) return '–';
  if (r === 0) return '0';
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}
function fmtMs(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const ms = seconds * 1000;
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`;
}
function fmtAgo(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function colorOf(id) {
  const ids = (lastState?.nodes ?? []).map((n) => n.id);
  const index = ids.indexOf(id);
  return palette[(index < 0 ? Number(id) || 0 : index) % palette.length];
}

function badge(state) {
  return el('span', { class: `badge state-${state}`, text: state });
}

// ---- talking to the front ----------------------------------------------------------------------

function token() {
  try {
    return localStorage.getItem(tokenKey) ?? '';
  } catch {
    return '';
  }
}

async function api(method, path, { body, timeoutMs = 10_000, contentType } = {}) {
  const headers = {};
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = contentType ?? 'application/json';
  const response = await fetch(path, { method, headers, body, signal: AbortSignal.timeout(timeoutMs), cache: 'no-store' });
  const text = await response.text();
  let json = null;
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  return { ok: response.ok, status: response.status, headers: response.headers, text, json };
}

function errorText(result) {
  const message = result.json?.message ?? result.text ?? '';
  if (result.status === 401) return `401: the front wants an API token (enter it above). ${message}`;
  if (result.status === 403) return `403: the token was refused (admin actions need the admin token). ${message}`;
  return `${result.status}: ${message || 'request failed'}`;
}

function say(text, kind = 'info') {
  const box = $('message');
  box.hidden = false;
  box.className = `message ${kind}`;
  box.textContent = text;
}

async function act(key, label, method, path, options = {}) {
  busy.add(key);
  render();
  say(`${label}…`);
  try {
    const result = await api(method, path, { timeoutMs: 60_000, ...options });
    if (result.ok) say(result.json?.message ?? `${label}: done`, 'ok');
    else say(`${label} failed — ${errorText(result)}`, 'error');
    return result;
  } catch (error) {
    say(`${label} failed — ${error.message}`, 'error');
    return null;
  } finally {
    busy.delete(key);
    await poll();
  }
}

// ---- polling -----------------------------------------------------------------------------------

let pollTimer = null;
let polling = false;

async function poll() {
  if (polling) return;
  polling = true;
  clearTimeout(pollTimer);
  try {
    const result = await api('GET', statePath, { timeoutMs: 5000 });
    if (!result.ok || !result.json) {
      setConnection(`Cannot read the cluster state — ${errorText(result)}`, 'error');
    } else {
      lastState = result.json;
      sample(lastState);
      setConnection(`Updated ${new Date(lastState.generatedMs).toLocaleTimeString()}${lastState.observer !== null ? ` · layout as node ${lastState.observer} runs it` : ''}`, 'ok');
      render();
    }
  } catch (error) {
    setConnection(`The front does not answer (${error.message})`, 'error');
  } finally {
    polling = false;
    pollTimer = setTimeout(poll, document.hidden ? 5000 : 1000);
  }
}

function setConnection(text, kind) {
  const box = $('connection');
  box.className = `connection ${kind}`;
  setText(box, text);
}

const ops = ['get', 'put', 'delete', 'update'];
/** Every request of a sample: the sum over the operations. */
const totalOf = (p) => p.get + p.put + p.delete + p.update;

/** Turns cumulative counters into per-second rates (a restarted node's counters start again at 0). */
function sample(state) {
  const now = state.generatedMs;
  for (const node of state.nodes) {
    let entry = traffic.get(node.id);
    if (!entry) {
      entry = { prev: null, history: [] };
      traffic.set(node.id, entry);
    }
    const counters = node.requests;
    if (!counters) {
      entry.prev = null;
      entry.history.push({ t: now, get: 0, put: 0, delete: 0, update: 0, errors: 0, latency: null, down: true });
    } else {
      if (entry.prev && now > entry.prev.t) {
        const dt = (now - entry.prev.t) / 1000;
        const point = { t: now, errors: 0, latency: null, down: false };
        let latencySum = 0;
        let latencyCount = 0;
        for (const op of ops) {
          const cur = counters[op];
          const old = entry.prev.counters[op];
          const delta = (a, b) => (a >= b ? a - b : a);
          point[op] = delta(cur.ok + cur.errors, old.ok + old.errors) / dt;
          point.errors += delta(cur.errors, old.errors) / dt;
          latencySum += delta(cur.latencySum, old.latencySum);
          latencyCount += delta(cur.latencyCount, old.latencyCount);
        }
        point.latency = latencyCount > 0 ? latencySum / latencyCount : null;
        point.latencySum = latencySum;
        point.latencyCount = latencyCount;
        point.dt = dt;
        entry.history.push(point);
      }
      entry.prev = { t: now, counters };
    }
    while (entry.history.length > 0 && entry.history[0].t < now - historySeconds * 1000) entry.history.shift();
  }
  for (const id of [...traffic.keys()]) if (!state.nodes.some((n) => n.id === id)) traffic.delete(id);
}

// ---- rendering ---------------------------------------------------------------------------------

function render() {
  const state = lastState;
  if (!state) return;
  renderSummary(state);
  renderMembers(state);
  renderRing(state);
  renderKeyBars(state);
  renderTraffic(state);
  renderRepair(state);
  renderTopology(state);
  renderReplication(state);
}

function renderSummary(state) {
  const c = state.cluster;
  setText($('sum-strategy'), c ? c.strategy + (c.pending ? ` → ${c.pending.strategy}` : '') : '–');
  setText($('sum-replicas'), c ? `${c.replicas}${c.strategy === 'consistent' ? ` (rf ${c.rf})` : ''}${c.pending ? ` → rf ${c.pending.rf}` : ''}` : '–');
  setText($('sum-layout'), c ? `v${c.layoutVersion}${c.inTransition ? ' (changing)' : ''}` : '–');
  setText($('sum-nodes'), `${state.totals.nodesUp} / ${state.totals.nodesTotal}`);
  const { liveKeys, liveCopies } = state.totals;
  setText($('sum-keys'), liveKeys === null ? fmtInt(liveCopies) : `≈ ${fmtInt(liveKeys)}`);
  $('sum-keys').title = liveKeys === null
    ? `${fmtInt(liveCopies)} copies over the nodes`
    : `${fmtInt(liveCopies)} copies over the nodes, ${c.replicas} per key: exact once every replica holds its keys, low while a node is down or behind`;
  setText($('sum-hints'), fmtInt(state.totals.hintsPending));
  let total = 0;
  for (const entry of traffic.values()) {
    const recent = windowRates(entry.history, state.generatedMs);
    if (recent) total += totalOf(recent);
  }
  setText($('sum-traffic'), `${fmtRate(total)} ops/s`);
}

function memberRow(node) {
  const id = node.id;
  const fail = el('button', { type: 'button', class: 'danger', 'data-action': 'fail', 'aria-label': `Fail node ${id}`, text: 'Fail', onclick: () => act(`fail:${id}`, `Fail node ${id}`, 'POST', `/fail/${encodeURIComponent(id)}`) });
  const recover = el('button', { type: 'button', 'data-action': 'recover', 'aria-label': `Recover node ${id}`, text: 'Recover', onclick: () => act(`recover:${id}`, `Recover node ${id}`, 'POST', `/recover/${encodeURIComponent(id)}`) });
  const remove = el('button', {
    type: 'button',
    class: 'subtle',
    'data-action': 'remove',
    'aria-label': `Decommission node ${id}`,
    title: 'Move this node’s ranges to the others, then stop it',
    text: 'Remove',
    onclick: () => {
      if (!confirm(`Decommission node ${id}? Its ranges move to the other nodes and its process is stopped.`)) return;
      void act(`remove:${id}`, `Decommission node ${id}`, 'DELETE', `/v1/admin/nodes/${encodeURIComponent(id)}`);
    },
  });
  const cells = {
    node: el('th', { scope: 'row' }),
    state: el('td', { class: 'state' }),
    process: el('td', { class: 'process' }),
    role: el('td', { class: 'role' }),
    addresses: el('td', { class: 'addresses' }),
    keys: el('td', { class: 'num keys' }),
    tombstones: el('td', { class: 'num tombstones' }),
    hints: el('td', { class: 'num hints' }),
    recovery: el('td', { class: 'recovery' }),
    layout: el('td', { class: 'num layout' }),
    actions: el('td', {}, el('div', { class: 'row-actions' }, fail, recover, remove)),
  };
  const row = el('tr', { 'data-node': id }, ...Object.values(cells));
  return { row, cells, fail, recover, remove };
}

const memberRows = new Map();

function renderMembers(state) {
  const tbody = $('members').tBodies[0];
  for (const [id, entry] of memberRows) {
    if (!state.nodes.some((n) => n.id === id)) {
      entry.row.remove();
      memberRows.delete(id);
    }
  }
  let previous = null;
  for (const node of state.nodes) {
    let entry = memberRows.get(node.id);
    if (!entry) {
      entry = memberRow(node);
      memberRows.set(node.id, entry);
    }
    // Keep the rows in the state's order without re-creating them (buttons keep focus and clicks).
    const wanted = previous ? previous.nextSibling : tbody.firstChild;
    if (wanted !== entry.row) tbody.insertBefore(entry.row, wanted);
    previous = entry.row;

    const { cells } = entry;
    entry.row.className = `state-row-${node.state}`;
    entry.row.dataset.state = node.state;
    entry.row.dataset.process = node.process;
    cells.node.replaceChildren(el('span', { class: 'swatch', style: `background:${colorOf(node.id)}`, 'aria-hidden': 'true' }), `node ${node.id}`);
    const seen = Object.entries(node.seenBy)
      .filter(([o]) => o !== node.id)
      .map(([o, s]) => `node ${o}: ${s}`)
      .join(', ');
    const stateBadge = badge(node.state);
    stateBadge.title = seen ? `As seen by ${seen}` : 'No other node reports on it';
    const stateChildren = [stateBadge];
    if (node.paused) stateChildren.push(el('span', { class: 'muted small block', text: 'paused' }));
    else if (!node.reachable && node.process !== 'stopped' && node.error) stateChildren.push(el('span', { class: 'muted small block', text: node.error }));
    cells.state.replaceChildren(...stateChildren);
    cells.process.replaceChildren(el('span', { class: `proc proc-${node.process}`, text: node.process }), node.pid ? el('span', { class: 'muted small', text: ` pid ${node.pid}` }) : '');
    setText(cells.role, node.role ?? 'not in layout');
    cells.addresses.replaceChildren(
      el('span', { class: 'mono', text: node.http, title: 'HTTP API' }),
      el('br'),
      el('span', { class: 'mono muted small', text: `redis ${node.resp ?? '–'}`, title: 'Redis protocol' }),
    );
    setText(cells.keys, fmtInt(node.entries?.live));
    setText(cells.tombstones, fmtInt(node.entries?.tombstones));
    setText(cells.hints, node.reachable ? `${fmtInt(node.hintsHeld)} / ${fmtInt(node.hintsFor)}` : `– / ${fmtInt(node.hintsFor)}`);
    if (node.recovery) {
      const pending = node.recovery.peersPending.length ? ` (waiting for ${node.recovery.peersPending.join(', ')})` : '';
      cells.recovery.replaceChildren(el('span', { class: `phase phase-${node.recovery.phase}`, text: node.recovery.phase }), el('span', { class: 'muted small', text: pending }));
    } else cells.recovery.replaceChildren(el('span', { class: 'muted', text: '–' }));
    setText(cells.layout, node.layoutVersion === null ? '–' : `v${node.layoutVersion}`);

    const managed = node.process !== 'unmanaged';
    entry.fail.disabled = !managed || node.process === 'stopped' || busy.has(`fail:${node.id}`) || busy.has(`recover:${node.id}`);
    entry.recover.disabled = !managed || node.process !== 'stopped' || busy.has(`recover:${node.id}`) || busy.has(`fail:${node.id}`);
    entry.remove.disabled = !managed || node.role !== 'active' || busy.has(`remove:${node.id}`);
    setText(entry.fail, busy.has(`fail:${node.id}`) ? 'Failing…' : 'Fail');
    setText(entry.recover, busy.has(`recover:${node.id}`) ? 'Recovering…' : 'Recover');
  }
  $('recover-all').disabled = !state.nodes.some((n) => n.process === 'stopped') || busy.has('recover-all');
  $('add-node').disabled = busy.has('add-node');
}

function arcPath(cx, cy, r0, r1, a0, a1) {
  const p = (r, a) => `${(cx + r * Math.cos(a)).toFixed(3)} ${(cy + r * Math.sin(a)).toFixed(3)}`;
  const large = a1 - a0 > Math.PI ? 1 : 0;
  return `M ${p(r1, a0)} A ${r1} ${r1} 0 ${large} 1 ${p(r1, a1)} L ${p(r0, a1)} A ${r0} ${r0} 0 ${large} 0 ${p(r0, a0)} Z`;
}

function drawRing(group, ring, r0, r1, nodesById, label) {
  const size = ring.size;
  const cx = 110;
  const cy = 110;
  for (const range of ring.ranges) {
    const length = range.end > range.start ? range.end - range.start : size - range.start + range.end;
    const a0 = (range.start / size) * 2 * Math.PI - Math.PI / 2;
    const span = (length / size) * 2 * Math.PI;
    // A whole-ring range is drawn as two halves (an arc cannot start and end at one point).
    const pieces = span >= 2 * Math.PI - 1e-9 ? [[a0, a0 + Math.PI], [a0 + Math.PI, a0 + 2 * Math.PI]] : [[a0, a0 + span]];
    const node = nodesById.get(range.owner);
    const down = node && node.state !== 'alive';
    for (const [from, to] of pieces) {
      const path = svg('path', { d: arcPath(cx, cy, r0, r1, from, to), fill: colorOf(range.owner), class: down ? 'arc arc-down' : 'arc', 'data-owner': range.owner });
      const title = svg('title');
      title.textContent = `${label}node ${range.owner}${down ? ` (${node.state})` : ''}: ${fmtPct(length / size)} of the ring, positions ${range.start + 1}–${range.end}`;
      path.append(title);
      group.append(path);
    }
  }
}

function renderRing(state) {
  const root = $('ring');
  for (const child of [...root.childNodes]) if (child.nodeName !== 'title' && child.nodeName !== 'desc') child.remove();
  const legend = $('ring-legend');
  const ring = state.ring;
  if (!ring) {
    setText($('ring-caption'), 'no node answers');
    legend.replaceChildren();
    return;
  }
  const nodesById = new Map(state.nodes.map((n) => [n.id, n]));
  const group = svg('g');
  drawRing(group, ring, 70, 100, nodesById, '');
  if (state.nextRing) drawRing(group, state.nextRing, 52, 64, nodesById, 'next ring: ');
  const label = svg('text', { x: 110, y: 106, 'text-anchor': 'middle', class: 'ring-label' });
  label.textContent = `${ring.tokens} tokens`;
  const sub = svg('text', { x: 110, y: 124, 'text-anchor': 'middle', class: 'ring-sublabel' });
  sub.textContent = state.nextRing ? 'inner: next ring' : `${ring.replicas} replica${ring.replicas === 1 ? '' : 's'} per key`;
  group.append(label, sub);
  root.append(group);
  setText($('ring-caption'), `${ring.members.length} members × ${ring.vnodes} vnodes`);
  const next = state.nextRing;
  const legendIds = [...new Set([...ring.members, ...(next?.members ?? [])])];
  legend.replaceChildren(
    ...legendIds.map((id) => {
      const node = nodesById.get(id);
      const serving = ring.members.includes(id);
      const shares = serving ? ` primary ${fmtPct(ring.primaryShares[id] ?? 0)}, replica ${fmtPct(ring.replicaShares[id] ?? 0)}` : ' not serving yet';
      const nextShare = next && (next.members.includes(id) ? ` · next ring replica ${fmtPct(next.replicaShares[id] ?? 0)}` : ' · leaving');
      return el(
        'li',
        { 'data-node': id },
        el('span', { class: 'swatch', style: `background:${colorOf(id)}`, 'aria-hidden': 'true' }),
        el('span', { text: `node ${id}` }),
        el('span', { class: 'muted small', text: shares + (nextShare || '') }),
        node && node.state !== 'alive' ? el('span', { text: ' ' }, badge(node.state)) : null,
      );
    }),
  );
}

function renderKeyBars(state) {
  const box = $('key-bars');
  const max = Math.max(1, ...state.nodes.map((n) => (n.entries ? n.entries.live + n.entries.tombstones : 0)));
  box.replaceChildren(
    ...state.nodes.map((node) => {
      const live = node.entries?.live ?? 0;
      const tomb = node.entries?.tombstones ?? 0;
      const share = state.ring?.replicaShares?.[node.id];
      const label = node.entries ? `${fmtInt(live)} keys, ${fmtInt(tomb)} tombstones` : 'unreachable';
      return el(
        'div',
        { class: 'bar-row', 'data-node': node.id },
        el('span', { class: 'bar-label', text: `node ${node.id}` }),
        el(
          'div',
          { class: 'bar-track', role: 'img', 'aria-label': `node ${node.id}: ${label}` },
          el('div', { class: 'bar live', style: `width:${(live / max) * 100}%;background:${colorOf(node.id)}` }),
          el('div', { class: 'bar tomb', style: `width:${(tomb / max) * 100}%` }),
        ),
        el('span', { class: 'bar-value', text: label + (share !== undefined ? ` · ${fmtPct(share)} of ring` : '') }),
      );
    }),
  );
}

function sparkline(points, color) {
  const width = 180;
  const height = 28;
  const s = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'spark', 'aria-hidden': 'true' });
  const now = lastState.generatedMs;
  const max = Math.max(1, ...points.map(totalOf));
  const x = (t) => width - ((now - t) / (historySeconds * 1000)) * width;
  const y = (v) => height - 2 - (v / max) * (height - 4);
  for (const p of points) if (p.down) s.append(svg('rect', { x: x(p.t) - 1.5, y: 0, width: 3, height, class: 'spark-down' }));
  const line = points.filter((p) => !p.down).map((p) => `${x(p.t).toFixed(1)},${y(totalOf(p)).toFixed(1)}`);
  if (line.length > 1) s.append(svg('polyline', { points: line.join(' '), fill: 'none', stroke: color, 'stroke-width': 1.6, 'stroke-linejoin': 'round' }));
  const scale = svg('text', { x: 2, y: 9, class: 'spark-max' });
  scale.textContent = `${fmtRate(max)}/s`;
  s.append(scale);
  return s;
}

/** Mean rates over the last few seconds of samples (time-weighted), or null when there is none. */
function windowRates(history, now) {
  const points = history.filter((p) => !p.down && p.t > now - rateWindowMs && p.dt > 0);
  if (points.length === 0) return null;
  const seconds = points.reduce((sum, p) => sum + p.dt, 0);
  const rate = (key) => points.reduce((sum, p) => sum + p[key] * p.dt, 0) / seconds;
  const latencyCount = points.reduce((sum, p) => sum + p.latencyCount, 0);
  const latencySum = points.reduce((sum, p) => sum + p.latencySum, 0);
  return { get: rate('get'), put: rate('put'), delete: rate('delete'), update: rate('update'), errors: rate('errors'), latency: latencyCount > 0 ? latencySum / latencyCount : null };
}

function renderTraffic(state) {
  const tbody = $('traffic').tBodies[0];
  const rows = state.nodes.map((node) => {
    const history = traffic.get(node.id)?.history ?? [];
    const last = windowRates(history, state.generatedMs);
    const current = history[history.length - 1];
    const up = current && !current.down && last;
    const cell = (v) => el('td', { class: 'num', text: up ? fmtRate(v) : '–' });
    const sparkCell = el('td', { class: 'spark-cell' }, sparkline(history, colorOf(node.id)));
    sparkCell.setAttribute('aria-label', `node ${node.id} total requests per second over the last minute`);
    return el(
      'tr',
      { 'data-node': node.id },
      el('th', { scope: 'row' }, el('span', { class: 'swatch', style: `background:${colorOf(node.id)}`, 'aria-hidden': 'true' }), `node ${node.id}`),
      cell(last?.get),
      cell(last?.put),
      cell(last?.delete),
      cell(last?.update),
      el('td', { class: `num${up && last?.errors > 0 ? ' error-text' : ''}`, text: up ? fmtRate(last?.errors) : '–' }),
      el('td', { class: 'num', text: up ? fmtMs(last?.latency) : '–' }),
      sparkCell,
    );
  });
  tbody.replaceChildren(...rows);
}

function sessionLine(session) {
  const total = Math.max(1, session.rangesTotal);
  const progress = el('progress', { max: total, value: Math.min(session.rangesCompared, total), 'aria-label': `anti-entropy with node ${session.peer}` });
  return el(
    'li',
    {},
    el('span', { text: `with node ${session.peer} (${session.reason}) ` }),
    progress,
    el('span', { class: 'muted small', text: ` ${session.rangesCompared}/${session.rangesTotal} ranges, ${session.rangesDiffering} differing, ${session.keysSent} sent, ${session.keysReceived} received` }),
  );
}

function renderRepair(state) {
  const box = $('repair');
  const rows = state.nodes.map((node) => {
    const parts = [];
    const head = el('div', { class: 'repair-head' }, el('span', { class: 'swatch', style: `background:${colorOf(node.id)}`, 'aria-hidden': 'true' }), el('strong', { text: `node ${node.id}` }), ' ', badge(node.state));
    parts.push(head);
    if (!node.reachable) {
      parts.push(el('p', { class: 'muted small', text: node.error ?? 'unreachable' }));
      if (node.hintsFor > 0) parts.push(el('p', { class: 'small', text: `${fmtInt(node.hintsFor)} hints wait for it on the other nodes` }));
      return el('div', { class: 'repair-node', 'data-node': node.id }, ...parts);
    }
    const ae = node.antiEntropy;
    const lastDone = ae?.recent?.length ? ae.recent[ae.recent.length - 1] : null;
    const held = Object.entries(node.hintsHeldFor ?? {}).filter(([, n]) => n > 0).map(([t, n]) => `${n} for node ${t}`).join(', ');
    parts.push(
      el(
        'dl',
        { class: 'facts' },
        el('dt', { text: 'Recovery' }),
        el('dd', { text: node.recovery ? node.recovery.phase + (node.recovery.peersPending.length ? ` — waiting for ${node.recovery.peersPending.join(', ')}` : '') : '–' }),
        el('dt', { text: 'Hints held' }),
        el('dd', { text: held || 'none' }),
        el('dt', { text: 'Hints delivered' }),
        el('dd', { text: fmtInt(node.hintsDelivered) }),
        el('dt', { text: 'Keys repaired' }),
        el('dd', { text: fmtInt(ae?.keysRepaired) }),
        el('dt', { text: 'Last session' }),
        el('dd', { text: lastDone ? `with node ${lastDone.peer}, ${lastDone.state}${lastDone.finishedMs ? `, ${fmtAgo(lastDone.finishedMs)}` : ''}` : 'none yet' }),
      ),
    );
    if (ae && ae.running.length > 0) parts.push(el('ul', { class: 'sessions', 'aria-label': `anti-entropy sessions running on node ${node.id}` }, ...ae.running.map(sessionLine)));
    return el('div', { class: 'repair-node', 'data-node': node.id }, ...parts);
  });
  box.replaceChildren(...rows);
}

function renderTopology(state) {
  const box = $('topology');
  const c = state.cluster;
  const changing = state.nodes.filter((n) => n.topology?.inTransition);
  if (!c) {
    setText($('topology-caption'), '');
    box.replaceChildren(el('p', { class: 'muted', text: 'No node answers.' }));
    return;
  }
  setText($('topology-caption'), c.inTransition ? 'change under way' : 'stable');
  const parts = [];
  const roles = c.members.map((m) => `node ${m.id}: ${m.role}`).join(', ');
  parts.push(el('p', { class: 'small', text: `Layout v${c.layoutVersion} · ${roles}` }));
  if (c.pending) parts.push(el('p', { class: 'small', text: `Moving to ${c.pending.strategy}${c.pending.strategy === 'consistent' ? ` with rf ${c.pending.rf}` : ''}.` }));
  if (!c.inTransition && changing.length === 0) {
    parts.push(el('p', { class: 'muted small', text: 'No topology or replication change is under way.' }));
  }
  const coordinator = state.nodes.find((n) => n.topology && n.topology.coordinator === n.id && n.topology.inTransition);
  if (coordinator && coordinator.topology.waitingFor.length) {
    parts.push(el('p', { class: 'small', text: `Coordinator node ${coordinator.id} waits for: ${coordinator.topology.waitingFor.map((id) => `node ${id}`).join(', ')}` }));
  }
  // Nodes that gain ranges in this change (a node with nothing to fill is left out).
  const fills = state.nodes.filter((n) => n.topology?.fill && n.topology.fill.rangesTotal > 0);
  if (fills.length) {
    parts.push(
      el(
        'ul',
        { class: 'sessions', 'aria-label': 'range filling by node' },
        ...fills.map((n) => {
          const fill = n.topology.fill;
          const sources = fill.sources.length;
          const done = fill.sources.filter((s) => s.done).length;
          return el(
            'li',
            {},
            el('span', { text: `node ${n.id} fills ${fill.rangesTotal} ranges ` }),
            el('progress', { max: Math.max(1, sources), value: fill.done ? Math.max(1, sources) : done, 'aria-label': `node ${n.id} fill progress` }),
            el('span', { class: 'muted small', text: ` ${done}/${sources} sources done, ${fmtInt(fill.keysReceived)} keys received${fill.done ? ' — done' : ''}` }),
          );
        }),
      ),
    );
  }
  box.replaceChildren(...parts);
}

let replicationFormTouched = false;

function renderReplication(state) {
  const c = state.cluster;
  if (!c) return;
  setText($('replication-caption'), `now ${c.strategy}${c.strategy === 'consistent' ? `, rf ${c.rf}` : ''} → ${c.replicas} replicas per key`);
  $('rf').max = String(Math.max(1, c.members.length));
  if (!replicationFormTouched) {
    $('strategy').value = c.pending?.strategy ?? c.strategy;
    $('rf').value = String(c.pending?.rf ?? c.rf);
  }
  $('rf').disabled = $('strategy').value === 'full';
}

// ---- the key form ------------------------------------------------------------------------------

function kvPath(key, consistency, ttl) {
  const params = new URLSearchParams();
  if (consistency) params.set('consistency', consistency);
  if (ttl) params.set('ttl', ttl);
  const query = params.toString();
  return `/v1/kv/${encodeURIComponent(key)}${query ? `?${query}` : ''}`;
}

/** When an expiring value expires, from a read's header, as local time. */
function expiresText(headers) {
  const at = Number(headers.get('x-quorumkv-expires-at'));
  return at > 0 ? new Date(at).toLocaleString() : 'never';
}

async function showReplicas(key, lines) {
  const box = $('kv-result');
  const out = [];
  for (const [label, value] of lines) out.push(el('dt', { text: label }), el('dd', { class: 'mono', text: value }));
  const list = el('dl', { class: 'facts' }, ...out);
  box.replaceChildren(list);
  try {
    const result = await api('GET', `/v1/keys/${encodeURIComponent(key)}/replicas`);
    if (!result.ok || !result.json) {
      box.append(el('p', { class: 'error-text small', text: `replicas: ${errorText(result)}` }));
      return;
    }
    const nodesById = new Map((lastState?.nodes ?? []).map((n) => [n.id, n]));
    const replicaList = el(
      'ul',
      { class: 'replicas', 'aria-label': `replicas of ${key}` },
      ...result.json.replicas.map((id) => {
        const node = nodesById.get(id);
        return el('li', { 'data-node': id }, el('span', { class: 'swatch', style: `background:${colorOf(id)}`, 'aria-hidden': 'true' }), `node ${id} `, badge(node?.state ?? 'unknown'));
      }),
    );
    box.append(el('p', { class: 'small', text: `Replicas (${result.json.strategy}, ${result.json.rf} per key), in preference order:` }), replicaList);
    if (result.json.writeReplicaSets && result.json.writeReplicaSets.length > 1) {
      box.append(el('p', { class: 'small muted', text: `While the change is under way, writes also reach: ${result.json.writeReplicaSets[1].map((id) => `node ${id}`).join(', ')}` }));
    }
  } catch (error) {
    box.append(el('p', { class: 'error-text small', text: `replicas: ${error.message}` }));
  }
}

function kvError(action, result) {
  $('kv-result').replaceChildren(el('p', { class: 'error-text', text: `${action} failed — ${errorText(result)}` }));
}

async function kvWrite() {
  const key = $('kv-key').value;
  if (!key) return;
  const ttl = $('kv-ttl').value.trim();
  const result = await api('PUT', kvPath(key, $('kv-consistency').value, ttl), { body: $('kv-value').value, contentType: 'text/plain; charset=utf-8' });
  if (!result.ok) return kvError('Write', result);
  await showReplicas(key, [
    ['Written', key],
    ['Version', result.json?.version ?? result.headers.get('x-quorumkv-version') ?? '–'],
    ...(result.json?.expiresMs ? [['Expires', new Date(result.json.expiresMs).toLocaleString()]] : []),
  ]);
}

async function kvRead() {
  const key = $('kv-key').value;
  if (!key) return;
  const result = await api('GET', kvPath(key, $('kv-consistency').value));
  if (result.status === 404) {
    await showReplicas(key, [['Read', key], ['Value', '(not found)']]);
    return;
  }
  if (!result.ok) return kvError('Read', result);
  $('kv-value').value = result.text;
  await showReplicas(key, [
    ['Read', key],
    ['Value', result.text.length > 200 ? `${result.text.slice(0, 200)}…` : result.text],
    ['Version', result.headers.get('x-quorumkv-version') ?? '–'],
    ['Expires', expiresText(result.headers)],
    ['Replicas answered', result.headers.get('x-quorumkv-replicas-answered') ?? '–'],
  ]);
}

async function kvDelete() {
  const key = $('kv-key').value;
  if (!key) return;
  const result = await api('DELETE', kvPath(key, $('kv-consistency').value));
  if (!result.ok) return kvError('Delete', result);
  await showReplicas(key, [['Deleted', key], ['Version', result.json?.version ?? '–']]);
}

function guarded(button, work) {
  return async () => {
    if (button.disabled) return;
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      $('kv-result').replaceChildren(el('p', { class: 'error-text', text: error.message }));
    } finally {
      button.disabled = false;
      void poll();
    }
  };
}

// ---- wiring ------------------------------------------------------------------------------------

function start() {
  $('token').value = token();
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      const value = $('token').value.trim();
      if (value) localStorage.setItem(tokenKey, value);
      else localStorage.removeItem(tokenKey);
      say(value ? 'Token saved in this browser.' : 'Token cleared.', 'ok');
    } catch (error) {
      say(`Cannot store the token: ${error.message}`, 'error');
    }
    void poll();
  });

  $('recover-all').addEventListener('click', async () => {
    const stopped = (lastState?.nodes ?? []).filter((n) => n.process === 'stopped').map((n) => n.id);
    if (stopped.length === 0) return;
    busy.add('recover-all');
    try {
      await Promise.all(stopped.map((id) => act(`recover:${id}`, `Recover node ${id}`, 'POST', `/recover/${encodeURIComponent(id)}`)));
      say(`Recovered ${stopped.map((id) => `node ${id}`).join(', ')}`, 'ok');
    } finally {
      busy.delete('recover-all');
      render();
    }
  });

  $('add-node').addEventListener('click', () => act('add-node', 'Add a node', 'POST', '/v1/admin/nodes', { body: '{}' }));

  $('kv-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void guarded($('kv-write'), kvWrite)();
  });
  $('kv-read').addEventListener('click', guarded($('kv-read'), kvRead));
  $('kv-delete').addEventListener('click', guarded($('kv-delete'), kvDelete));

  $('strategy').addEventListener('change', () => {
    replicationFormTouched = true;
    $('rf').disabled = $('strategy').value === 'full';
  });
  $('rf').addEventListener('input', () => {
    replicationFormTouched = true;
  });
  $('replication-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const strategy = $('strategy').value;
    const body = { strategy };
    if (strategy === 'consistent') body.replication_factor = Number($('rf').value);
    const result = await act('replication', `Set replication to ${strategy}${strategy === 'consistent' ? ` rf ${body.replication_factor}` : ''}`, 'POST', '/set_replication_strategy', { body: JSON.stringify(body) });
    if (result?.ok) replicationFormTouched = false;
  });

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) void poll();
  });
  void poll();
}

start();
