// The toolkit serve dashboard: polls /api/dashboard (the state, recent requests and calls) and
// /api/logs?after=SEQ (workers' new output) every second. Polling rather than the /api/events
// stream: a page with a request that never ends never settles for headless tools (--dump-dom).
// No framework, no CDN.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { requests: [], logs: [], seenRequests: new Set(), seenLogs: new Set() };
const MAX_ROWS = 100;
const MAX_LOG_LINES = 2000;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

function fill(tbody, rows, columns, emptyText) {
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", {}, el("td", { colspan: String(columns), class: "empty" }, emptyText)));
    return;
  }
  for (const row of rows) tbody.append(row);
}

const time = (seconds) => new Date(seconds * 1000).toLocaleTimeString();
const ms = (value) => (value === null || value === undefined ? "—" : `${Math.round(value)} ms`);

function renderApps(apps) {
  const list = $("#apps");
  list.replaceChildren();
  for (const app of apps) {
    const link = el("a", { href: `${app.origin}/` }, app.app);
    list.append(el("li", {}, link, ` — ${app.origin}, pid ${app.pid}, ${app.endpoints} endpoint(s)`, app.this ? " (this serve)" : ""));
  }
  if (!apps.length) list.append(el("li", { class: "empty" }, "No serves registered."));
}

function renderEndpoints(endpoints) {
  fill($("#endpoints tbody"), endpoints.map((e) => el("tr", {},
    el("td", {}, el("code", {}, e.function)),
    el("td", {}, el("span", { class: "method" }, e.method)),
    el("td", {}, el("a", { href: e.url }, e.url)),
    el("td", {}, e.docs ? el("a", { href: e.docs }, "docs") : "—"),
    el("td", {}, el("span", { class: e.auth ? "badge auth" : "badge" }, e.auth ? "proxy auth" : "public")))),
  5, "This app has no web endpoints.");
}

function renderPools(pools) {
  fill($("#pools tbody"), pools.map((p) => el("tr", {},
    el("td", {}, el("code", {}, p.function)),
    el("td", {}, Object.keys(p.params).length ? JSON.stringify(p.params) : "—"),
    el("td", { class: "workers" }, p.workers), el("td", {}, p.busy), el("td", {}, p.inflight),
    el("td", {}, p.starting), el("td", {}, p.waiting), el("td", {}, p.max))),
  8, "No workers yet: the first request starts them.");
}

function renderFunctions(functions, classes, schedules) {
  fill($("#functions tbody"), functions.map((f) => el("tr", {},
    el("td", {}, el("code", {}, f.tag)), el("td", {}, f.is_generator ? "generator" : f.kind), el("td", {}, f.backend))),
  3, "No plain functions.");
  const list = $("#classes");
  list.replaceChildren(...classes.map((c) => el("li", {}, el("code", {}, c.name),
    ` methods: ${c.methods.join(", ")}`, c.parameters.length ? `; parameters: ${c.parameters.join(", ")}` : "")));
  if (!classes.length) list.append(el("li", { class: "empty" }, "No classes."));
  fill($("#schedules tbody"), schedules.map((s) => el("tr", {},
    el("td", {}, el("code", {}, s.function)), el("td", {}, s.schedule),
    el("td", {}, new Date(s.next_run).toLocaleString()), el("td", {}, s.runs))),
  4, "No schedules.");
}

function renderSandboxes(sandboxes) {
  fill($("#sandboxes tbody"), (sandboxes || []).map((s) => el("tr", {},
    el("td", {}, el("code", {}, s.id)), el("td", {}, s.app), el("td", {}, s.name || "—"),
    el("td", {}, new Date(s.created_at * 1000).toLocaleTimeString()),
    el("td", {}, Object.entries(s.tunnels).map(([port, url]) => `${port} → ${url}`).join(", ") || "—"))),
  5, "No live sandboxes.");
}

function requestRow(r) {
  return el("tr", {},
    el("td", {}, time(r.started)), el("td", {}, el("code", {}, r.function)), el("td", {}, r.method),
    el("td", {}, el("code", {}, r.path)), el("td", { class: `s${String(r.status)[0]}` }, r.status),
    el("td", {}, ms(r.duration_ms)), el("td", {}, r.client));
}

function addRequests(requests) {
  for (const r of requests) {
    if (state.seenRequests.has(r.seq)) continue;
    state.seenRequests.add(r.seq);
    state.requests.push(r);
  }
  state.requests.sort((a, b) => b.seq - a.seq);
  state.requests.length = Math.min(state.requests.length, MAX_ROWS);
  fill($("#requests tbody"), state.requests.map(requestRow), 7, "No requests yet.");
}

function renderCalls(calls) {
  fill($("#calls tbody"), calls.map((c) => el("tr", { "data-call": c.call_id, onclick: () => showCall(c.call_id) },
    el("td", {}, time(c.started)), el("td", {}, el("code", {}, c.function)),
    el("td", { class: c.status }, c.status), el("td", {}, ms(c.duration_ms)), el("td", {}, el("code", {}, c.call_id)))),
  5, "No calls yet.");
}

async function showCall(callId) {
  const response = await fetch(`/api/calls/${encodeURIComponent(callId)}`);
  if (!response.ok) return;
  const call = await response.json();
  $("#detail-id").textContent = call.call_id;
  $("#detail-function").textContent = call.function;
  $("#detail-status").textContent = call.status + (call.duration_ms !== null ? ` in ${ms(call.duration_ms)}` : "");
  $("#detail-arguments").textContent = call.arguments || "(none)";
  $("#detail-result").textContent = call.error ? `${call.error.type}: ${call.error.message}` : (call.result ?? "(not finished)");
  const tb = $("#detail-traceback");
  tb.hidden = !(call.error && call.error.traceback);
  tb.textContent = call.error ? call.error.traceback : "";
  $("#call-detail").hidden = false;
}

function addLogs(lines) {
  for (const line of lines) {
    if (state.seenLogs.has(line.seq)) continue;
    state.seenLogs.add(line.seq);
    state.logs.push(line);
    const select = $("#log-function");
    if (![...select.options].some((o) => o.value === line.function)) select.append(el("option", { value: line.function }, line.function));
  }
  state.logs.sort((a, b) => a.seq - b.seq);
  if (state.logs.length > MAX_LOG_LINES) state.logs.splice(0, state.logs.length - MAX_LOG_LINES);
  renderLogs();
}

function renderLogs() {
  const fn = $("#log-function").value;
  const filter = $("#log-filter").value.toLowerCase();
  const box = $("#logs");
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  const shown = state.logs.filter((l) => (!fn || l.function === fn) && (!filter || l.line.toLowerCase().includes(filter)));
  box.replaceChildren(...shown.map((l) => el("div", { class: "line" }, el("span", { class: "fn" }, `[${l.function}] `), l.line)));
  if (!shown.length) box.append(el("div", { class: "empty" }, state.logs.length ? "No line matches." : "No output yet."));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

async function refresh() {
  try {
    const response = await fetch("/api/dashboard", { cache: "no-store" });
    const data = await response.json();
    document.title = `toolkit serve: ${data.app}`;
    $("#app-name").textContent = data.app;
    renderApps(data.apps);
    renderEndpoints(data.endpoints);
    renderPools(data.pools);
    renderFunctions(data.functions, data.classes, data.schedules);
    renderSandboxes(data.sandboxes);
    addRequests(data.requests);
    renderCalls(data.calls);
    $("#status").textContent = `serving, pid ${data.pid}`;
    $("#status").className = "status ok";
  } catch (error) {
    $("#status").textContent = "this serve is not answering";
    $("#status").className = "status bad";
  }
}

let lastLog = 0;

async function pollLogs() {
  const lines = await fetch(`/api/logs?after=${lastLog}`, { cache: "no-store" }).then((r) => r.json()).catch(() => []);
  if (lines.length) {
    lastLog = Math.max(lastLog, ...lines.map((l) => l.seq));
    addLogs(lines);
  }
}

async function tick() {
  await Promise.all([refresh(), pollLogs()]);
  setTimeout(tick, 1000);
}

function start() {
  $("#log-function").addEventListener("change", renderLogs);
  $("#log-filter").addEventListener("input", renderLogs);
  $("#detail-close").addEventListener("click", () => { $("#call-detail").hidden = true; });
  tick();
}

start();
