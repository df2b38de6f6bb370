// The ward console: everything it shows comes from the public API, called with a token for
// the caller chosen under "Act as" — no admin path. `/_ward/api/project` describes the project;
// `/_ward/api/why` cites the declarations behind a refusal; on `ward dev`, `/_ward/api/token`
// mints the token for a chosen caller (with the page's CSRF token). On `ward serve --console`
// the console's own routes need an operator's token, and the page acts with pasted tokens.
"use strict";

const PAGE = 20;
const state = { project: null, table: null, token: null, offset: 0, seq: 0, ir: null, live: null, operator: null };
const $ = (id) => document.getElementById(id);
const csrf = document.querySelector('meta[name="ward-csrf"]').content;
const mode = document.querySelector('meta[name="ward-mode"]').content;

// Headers for the console's own routes: an operator's token on `ward serve --console`.
function consoleHeaders(extra) {
  const headers = Object.assign({}, extra);
  if (mode === "serve" && state.operator) headers.Authorization = "Bearer " + state.operator;
  return headers;
}

// Where a declaration was written, as `file:line`, or "" when the IR does not say.
function where(key) {
  const at = state.project.sources[key];
  return at ? at.file + ":" + at.line : "";
}

// The declarations behind a refusal, listed under `list` as `file:line — what`.
async function explain(method, path, answer, list) {
  list.replaceChildren();
  const res = await fetch("/_ward/api/why", {
    method: "POST",
    headers: consoleHeaders({ "Content-Type": "application/json", "x-ward-csrf": csrf }),
    body: JSON.stringify({ method, path, answer }),
  });
  if (!res.ok) return;
  const why = await res.json();
  for (const rule of why.rules) {
    const li = document.createElement("li");
    li.append(cell("code", rule.file + ":" + rule.line), document.createTextNode(" — " + rule.what));
    li.className = "rule";
    list.append(li);
  }
}

function cell(tag, text) {
  const el = document.createElement(tag);
  el.textContent = text;
  return el;
}

function shown(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

async function load() {
  const res = await fetch("/_ward/api/project", { headers: consoleHeaders() });
  const answer = await res.json();
  if (!res.ok) {
    $("signin").hidden = false;
    $("signin-status").textContent = state.operator ? res.status + " " + answer.code + ": " + answer.error : "";
    return false;
  }
  $("signin").hidden = true;
  state.project = answer;
  $("ir").textContent = "ir " + state.project.ir.slice(0, 12);
  const roles = $("role");
  roles.replaceChildren(new Option("(anonymous)", ""));
  for (const r of state.project.roles) roles.add(new Option(r, r));
  const list = $("tables");
  list.replaceChildren();
  for (const t of state.project.tables) {
    const a = cell("a", t.name);
    a.href = "#" + t.name;
    a.dataset.table = t.name;
    a.addEventListener("click", (e) => { e.preventDefault(); pick(t.name); });
    const li = document.createElement("li");
    li.append(a);
    list.append(li);
  }
  if (state.project.tables.length) pick(location.hash.slice(1) || state.project.tables[0].name);
  return true;
}

function pick(name) {
  const table = state.project.tables.find((t) => t.name === name);
  if (!table) return;
  state.table = table;
  state.offset = 0;
  for (const a of document.querySelectorAll("nav a")) {
    a.setAttribute("aria-current", String(a.dataset.table === name));
  }
  $("title").textContent = name;
  $("where").textContent = where(name) ? "declared at " + where(name) : "";
  const cols = $("columns").tBodies[0];
  cols.replaceChildren();
  for (const c of table.columns) {
    const tr = document.createElement("tr");
    const at = where(name + ".column." + c.name) || (c.system ? "system" : "");
    tr.append(cell("td", c.name), cell("td", c.type), cell("td", c.required ? "yes" : ""), cell("td", at));
    cols.append(tr);
  }
  const resources = $("resources");
  resources.replaceChildren();
  const entries = table.views.map((v) => ["view " + v, name + ".view." + v])
    .concat(table.actions.map((a) => ["action " + a, name + ".action." + a]))
    .concat(state.project.actions.map((a) => ["action " + a + " (standalone)", "action." + a]));
  for (const [label, key] of entries) {
    const li = cell("li", label + " ");
    li.append(cell("code", where(key)));
    resources.append(li);
  }
  policy(name);
  $("history-panel").hidden = true;
  $("live-panel").hidden = !table.realtime;
  unfollow();
  grid();
}

// A row's versions, as the caller may see them (`GET /api/T/{id}/history`).
async function history(id) {
  const panel = $("history-panel");
  panel.hidden = false;
  $("history-title").textContent = "History of " + id;
  const body = $("history").tBodies[0];
  body.replaceChildren();
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  const url = "/api/" + encodeURIComponent(state.table.name) + "/" + encodeURIComponent(id) + "/history";
  const res = await fetch(url, { headers });
  const answer = await res.json();
  const status = $("history-status");
  if (!res.ok) {
    status.textContent = res.status + " " + answer.code + " (" + answer.layer + "): " + answer.error;
    return;
  }
  status.textContent = answer.data.length + " version(s) from GET " + url;
  for (const v of answer.data) {
    const tr = document.createElement("tr");
    tr.append(cell("td", v.seq), cell("td", v.op), cell("td", v.at), cell("td", shown(v.actor)), cell("td", shown(v.after)));
    body.append(tr);
  }
}

function unfollow() {
  if (state.live) state.live.close();
  state.live = null;
  $("events").replaceChildren();
  $("live-status").textContent = "";
}

// The table's realtime stream as the caller: a ticket for their token, then an EventSource.
async function follow() {
  unfollow();
  if (!state.token) {
    $("live-status").textContent = "act as a role first: a stream needs a token";
    return;
  }
  const res = await fetch("/api/subscribe/ticket", {
    method: "POST",
    headers: { Authorization: "Bearer " + state.token },
  });
  const answer = await res.json();
  if (!res.ok) {
    $("live-status").textContent = res.status + " " + answer.code + ": " + answer.error;
    return;
  }
  const url = "/api/" + encodeURIComponent(state.table.name) + "/subscribe?ticket=" + answer.ticket;
  const source = new EventSource(url);
  state.live = source;
  source.onopen = () => { $("live-status").textContent = "following"; };
  source.onerror = () => { $("live-status").textContent = "stream closed"; source.close(); };
  for (const kind of ["insert", "update", "delete", "enter", "leave", "reset", "overflow", "gone", "auth-expired"]) {
    source.addEventListener(kind, (e) => {
      const li = cell("li", kind + " " + e.data);
      li.className = "event";
      $("events").append(li);
    });
  }
}

function policy(name) {
  const t = state.project.explain.tables.find((x) => x.table === name);
  const head = $("policy").tHead;
  const body = $("policy").tBodies[0];
  head.replaceChildren();
  body.replaceChildren();
  if (!t) return;
  const tr = document.createElement("tr");
  tr.append(cell("th", "operation"));
  for (const who of state.project.explain.callers) tr.append(cell("th", who));
  head.append(tr);
  for (const row of t.operations) {
    const r = document.createElement("tr");
    r.append(cell("th", row.operation));
    for (const c of row.cells) {
      const td = cell("td", c.access === "when" ? "when " + c.when : c.access);
      td.className = c.access;
      r.append(td);
    }
    body.append(r);
  }
}

async function grid() {
  const status = $("grid-status");
  const head = $("grid").tHead;
  const body = $("grid").tBodies[0];
  head.replaceChildren();
  body.replaceChildren();
  status.className = "";
  status.textContent = "loading…";
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  const url = "/api/" + encodeURIComponent(state.table.name) + "?limit=" + PAGE + "&offset=" + state.offset;
  const res = await fetch(url, { headers });
  const answer = await res.json();
  // How long the first page took, from navigation to the grid's answer (devtools show it).
  if (!performance.getEntriesByName("ward-first-grid").length) performance.mark("ward-first-grid");
  if (!res.ok) {
    status.className = "error";
    status.textContent = res.status + " " + answer.code + " (" + answer.layer + "): " + answer.error;
    const rules = document.createElement("ul");
    status.append(rules);
    await explain("GET", url, answer, rules);
    $("prev").disabled = true;
    $("next").disabled = true;
    return;
  }
  const rows = answer.data;
  const keys = rows.length ? Object.keys(rows[0]) : state.table.columns.map((c) => c.name);
  const tr = document.createElement("tr");
  if (state.table.history) tr.append(cell("th", ""));
  for (const k of keys) tr.append(cell("th", k));
  head.append(tr);
  for (const row of rows) {
    const r = document.createElement("tr");
    if (state.table.history) {
      const button = cell("button", "history");
      button.type = "button";
      button.className = "link history";
      button.addEventListener("click", () => history(row.id));
      const td = document.createElement("td");
      td.append(button);
      r.append(td);
    }
    for (const k of keys) r.append(cell("td", shown(row[k])));
    body.append(r);
  }
  status.textContent = rows.length + " row(s) from GET " + url;
  $("prev").disabled = state.offset === 0;
  $("next").disabled = !answer.pagination.hasMore;
}

// What `ward dev` last said about the files: a broken save's diagnostics, or the reload that
// fixed it. A new IR reloads the project's description.
async function watch() {
  try {
    const res = await fetch("/_ward/api/status", { headers: consoleHeaders() });
    const s = await res.json();
    if (s.seq !== state.seq) {
      state.seq = s.seq;
      const box = $("diagnostics");
      box.hidden = s.message === "";
      box.textContent = s.message;
      box.className = /error/.test(s.message) && !/fixed|reloaded/.test(s.message) ? "" : "ok";
    }
    if (state.ir !== null && s.ir !== state.ir) {
      state.ir = s.ir;
      await load();
    }
    state.ir = s.ir;
  } catch (e) {
    // The server is restarting: the next poll tells.
  }
  setTimeout(watch, 1000);
}

// A request of any shape, as the caller chosen under "Act as"; a refusal says which layer of
// the pipeline decided it.
async function send(event) {
  event.preventDefault();
  const method = $("method").value;
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  const init = { method, headers };
  const text = $("body").value.trim();
  if (text && method !== "GET" && method !== "DELETE") {
    headers["Content-Type"] = "application/json";
    init.body = text;
  }
  const path = $("path").value;
  const res = await fetch(path, init);
  const raw = await res.text();
  let answer = null;
  try { answer = JSON.parse(raw); } catch (e) { answer = null; }
  const why = $("why");
  $("why-rules").replaceChildren();
  if (res.ok) {
    why.className = "";
    why.textContent = res.status + ": allowed";
  } else if (answer && answer.layer) {
    why.className = "denied";
    why.textContent = res.status + ": denied by the " + answer.layer + " layer: " + answer.code + " — " + answer.error;
    await explain(method, path, answer, $("why-rules"));
  } else {
    why.className = "denied";
    why.textContent = String(res.status);
  }
  $("answer").textContent = answer ? JSON.stringify(answer, null, 2) : raw;
}

async function act(event) {
  event.preventDefault();
  if (mode === "serve") {
    state.token = $("as-token").value.trim() || null;
    $("caller").textContent = state.token ? "the pasted token" : "anonymous";
    state.offset = 0;
    return grid();
  }
  const role = $("role").value;
  if (!role) {
    state.token = null;
    $("caller").textContent = "anonymous";
    return grid();
  }
  const res = await fetch("/_ward/api/token", {
    method: "POST",
    headers: consoleHeaders({ "Content-Type": "application/json", "x-ward-csrf": csrf }),
    body: JSON.stringify({ sub: $("sub").value, roles: [role], org: $("org").value }),
  });
  const answer = await res.json();
  if (!res.ok) {
    $("caller").textContent = "token refused: " + answer.error;
    return;
  }
  state.token = answer.token;
  $("caller").textContent = $("sub").value + " as " + role + " in " + ($("org").value || "no org");
  state.offset = 0;
  return grid();
}

$("acting").addEventListener("submit", act);
$("playground").addEventListener("submit", send);
$("follow").addEventListener("click", follow);
$("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); grid(); });
$("next").addEventListener("click", () => { state.offset += PAGE; grid(); });
$("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  state.operator = $("operator-token").value.trim();
  sessionStorage.setItem("ward-operator", state.operator);
  load().then((ok) => { if (ok) watch(); });
});
if (mode === "serve") {
  // An operator acts with the tokens they hold: the server mints none.
  $("mint-fields").hidden = true;
  $("as-token-field").hidden = false;
  state.operator = sessionStorage.getItem("ward-operator");
}
load().then((ok) => { if (ok) watch(); });
