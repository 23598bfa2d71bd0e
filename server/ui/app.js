// Peregrine's web UI: plain DOM code over the read-only API of the same
// listener. Everything shown comes from alerts, which attackers can
// shape: it is only ever set as text, never parsed as HTML.
"use strict";

const PRIORITIES = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"];
const ALERT_FILTERS = ["since", "until", "source", "priority", "rule", "namespace", "pod", "user", "session", "q"];
const SESSION_FILTERS = ["user", "namespace", "pod", "since"];

// h builds an element: h("td", {class: "x"}, "text", child...).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

const main = () => document.getElementById("main");
const status = (text, cls) => { const s = document.getElementById("status"); s.textContent = text; s.className = cls || ""; };

// A bearer token, when the API asks for one, is kept for this tab only.
function headers() {
  const t = sessionStorage.getItem("peregrine-token");
  return t ? { Authorization: "Bearer " + t } : {};
}

async function api(path) {
  const resp = await fetch("../api/v1/" + path, { headers: headers(), credentials: "same-origin" });
  const body = await resp.json().catch(() => ({}));
  if (resp.status === 401 || resp.status === 403) throw new AuthError(body.error || resp.statusText);
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

class AuthError extends Error {}

function query(params, names) {
  const q = new URLSearchParams();
  for (const n of names) if (params.get(n)) q.set(n, params.get(n));
  return q;
}

function fmtTime(t) {
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function link(text, hash) { return h("a", { href: hash }, text); }

function alertsLink(filters) { return "#/alerts?" + new URLSearchParams(filters).toString(); }

// ---- alerts ----

function filterForm(params, names, onsubmit) {
  const field = (n) => {
    if (n === "priority") {
      return h("select", { name: n }, h("option", { value: "" }, "any"),
        PRIORITIES.map((p) => h("option", { value: p.toLowerCase(), selected: params.get(n) === p.toLowerCase() }, "≥ " + p)));
    }
    if (n === "source") {
      return h("select", { name: n }, ["", "syscall", "k8s_audit", "k8s_admission"].map((s) =>
        h("option", { value: s, selected: params.get(n) === s }, s || "any")));
    }
    const ph = n === "since" || n === "until" ? "2026-12-02T10:00:00Z" : n === "q" ? "text in the output" : "";
    return h("input", { name: n, value: params.get(n) || "", placeholder: ph, size: n === "q" ? 24 : 14 });
  };
  const form = h("form", { class: "filters", id: "filters" },
    names.map((n) => h("label", {}, n === "q" ? "text" : n, field(n))),
    h("button", { type: "submit" }, "Filter"),
    h("button", { type: "button", class: "plain", onclick: () => onsubmit(new URLSearchParams()) }, "Clear"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    onsubmit(q);
  });
  return form;
}

function fieldsOf(a) { return a.output_fields || {}; }

function alertRow(a, fresh) {
  const f = fieldsOf(a);
  const who = f["k8s.exec.user"] || f["ka.user.name"] || "";
  const ns = f["k8s.ns.name"] || f["ka.target.namespace"] || "";
  const pod = f["k8s.pod.name"] || (f["ka.target.resource"] === "pods" ? f["ka.target.name"] : "") || "";
  const tr = h("tr", { class: "alert" + (fresh ? " new" : ""), "data-rule": a.rule },
    h("td", { class: "time" }, fmtTime(a.time)),
    h("td", {}, h("span", { class: "prio " + a.priority }, a.priority)),
    h("td", {}, a.rule),
    h("td", {}, a.source),
    h("td", { class: "user" }, who),
    h("td", {}, ns && pod ? ns + "/" + pod : ns),
    h("td", { class: "output" }, a.output));
  tr.addEventListener("click", () => toggleDetail(tr, a));
  return tr;
}

function toggleDetail(tr, a) {
  if (tr.nextSibling && tr.nextSibling.classList && tr.nextSibling.classList.contains("detail")) {
    tr.nextSibling.remove();
    return;
  }
  tr.after(h("tr", { class: "detail" }, h("td", { colspan: 7 }, alertDetail(a))));
}

// alertDetail shows every output field, with links to what it names.
function alertDetail(a) {
  const f = fieldsOf(a);
  const links = [];
  const ns = f["k8s.ns.name"] || f["ka.target.namespace"];
  const pod = f["k8s.pod.name"] || (f["ka.target.resource"] === "pods" ? f["ka.target.name"] : "");
  if (pod) links.push(link("alerts of pod " + (ns ? ns + "/" : "") + pod, alertsLink(ns ? { namespace: ns, pod } : { pod })));
  for (const u of [f["ka.user.name"], f["k8s.exec.user"]]) if (u) links.push(link("alerts of user " + u, alertsLink({ user: u })));
  if (f["k8s.exec.id"]) links.push(link("exec session " + f["k8s.exec.id"], "#/session/" + encodeURIComponent(f["k8s.exec.id"])));
  const rows = Object.keys(f).sort().map((k) => h("tr", {}, h("th", {}, k), h("td", { class: "output" }, f[k] === null ? "<NA>" : String(f[k]))));
  return h("div", { class: "alert-detail" },
    h("p", {}, links.flatMap((l, i) => (i ? [" · ", l] : [l]))),
    h("table", {}, h("tbody", {},
      h("tr", {}, h("th", {}, "rule"), h("td", {}, a.rule)),
      h("tr", {}, h("th", {}, "uuid"), h("td", { class: "output" }, a.uuid || "")),
      h("tr", {}, h("th", {}, "tags"), h("td", {}, (a.tags || []).join(", "))),
      h("tr", {}, h("th", {}, "hostname"), h("td", {}, a.hostname || "")),
      rows)));
}

function alertTable(id) {
  return h("table", { id },
    h("thead", {}, h("tr", {}, ["time", "priority", "rule", "source", "user", "namespace/pod", "output"].map((c) => h("th", {}, c)))),
    h("tbody", {}));
}

async function alertsView(params) {
  const filters = query(params, ALERT_FILTERS);
  const table = alertTable("alerts");
  const tbody = table.querySelector("tbody");
  const pager = h("div", { class: "pager" });
  const live = h("input", { type: "checkbox", id: "live", checked: true });
  const chart = h("div", { class: "chart", id: "chart" }, h("span", { class: "muted" }, "…"));
  main().replaceChildren(
    h("h1", {}, "Alerts"),
    filterForm(params, ALERT_FILTERS, (q) => { location.hash = "#/alerts?" + q.toString(); }),
    chart,
    h("div", { class: "pager" }, h("label", {}, live, " live updates")),
    table, pager);
  drawStats(chart, filters);
  const more = async (cursor) => {
    const q = new URLSearchParams(filters);
    if (cursor) q.set("cursor", cursor);
    const page = await api("alerts?" + q);
    for (const a of page.items) tbody.append(alertRow(a));
    pager.replaceChildren(page.next ? h("button", { class: "plain", onclick: () => more(page.next) }, "Older alerts")
      : h("span", { class: "muted" }, tbody.children.length ? "No older alerts." : "No alerts."));
  };
  await more("");
  follow(filters, (a) => { if (live.checked) tbody.prepend(alertRow(a, true)); });
}

// follow reads /api/v1/stream (server-sent events) through fetch, which,
// unlike EventSource, can send the token; it stops when the view changes.
let streamAbort = null;
async function follow(filters, onAlert) {
  const ctl = new AbortController();
  streamAbort = ctl;
  try {
    const resp = await fetch("../api/v1/stream?" + filters, { headers: headers(), signal: ctl.signal });
    if (!resp.ok) return;
    status("live");
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = ev.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data) onAlert(JSON.parse(data));
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") status("stream: " + e.message, "error");
    return;
  }
  if (!ctl.signal.aborted) status("stream ended");
}

// drawStats charts alerts over time, stacked by priority or by rule (the
// most frequent ones; the others together), and names the rules that
// raised most.
let chartBy = "priority";
async function drawStats(el, filters) {
  const st = await api("stats?" + filters);
  const keys = chartBy === "priority" ? PRIORITIES
    : [...new Set(st.buckets.flatMap((b) => Object.keys(b.rules)))].sort((a, b) => (a === "(other rules)") - (b === "(other rules)") || a.localeCompare(b));
  const classOf = (k) => (chartBy === "priority" ? k : "r" + keys.indexOf(k));
  const countsOf = (b) => (chartBy === "priority" ? b.counts : b.rules);
  const W = 1000, H = 130, n = Math.max(st.buckets.length, 1);
  const max = Math.max(1, ...st.buckets.map((b) => Object.values(b.counts).reduce((x, y) => x + y, 0)));
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "alerts over time by " + chartBy });
  const bw = W / n;
  st.buckets.forEach((b, i) => {
    let y = H;
    for (const k of keys) {
      const c = countsOf(b)[k];
      if (!c) continue;
      const bh = (c / max) * (H - 4);
      y -= bh;
      const r = svg("rect", { x: i * bw + 0.5, y, width: Math.max(bw - 1, 1), height: bh, class: "bar " + classOf(k) });
      r.append(svg("title", {}));
      r.firstChild.textContent = `${fmtTime(b.time)} ${k}: ${c}`;
      s.append(r);
    }
  });
  const total = st.buckets.reduce((t, b) => t + Object.values(b.counts).reduce((x, y) => x + y, 0), 0);
  const by = h("select", { id: "chart-by", "aria-label": "stack by" },
    ["priority", "rule"].map((v) => h("option", { value: v, selected: chartBy === v }, "by " + v)));
  by.addEventListener("change", () => { chartBy = by.value; drawStats(el, filters); });
  el.replaceChildren(s,
    h("div", { class: "legend", id: "legend" }, by, keys.map((k) => h("span", { class: "key " + classOf(k) }, k)),
      h("span", { class: "muted" }, `${total} alerts, ${st.step} a bar`)),
    h("p", { class: "toprules", id: "toprules" }, "Most frequent: ",
      st.rules.slice(0, 8).flatMap((r, i) => [i ? ", " : "", link(r.rule, alertsLink({ rule: r.rule })), ` (${r.count})`])));
}

// ---- sessions ----

function verdict(v) { return h("span", { class: "verdict " + v }, v); }

async function sessionsView(params) {
  const filters = query(params, SESSION_FILTERS);
  const tbody = h("tbody", {});
  const pager = h("div", { class: "pager" });
  main().replaceChildren(
    h("h1", {}, "Exec sessions"),
    h("p", { class: "muted" }, "Each kubectl exec (or attach): who, into what, which command, and what admission said. Open one for the alerts of the processes it spawned."),
    filterForm(params, SESSION_FILTERS, (q) => { location.hash = "#/sessions?" + q.toString(); }),
    h("table", { id: "sessions" },
      h("thead", {}, h("tr", {}, ["time", "user", "groups", "namespace/pod", "container", "command", "tty", "admission", "alerts"].map((c) => h("th", {}, c)))),
      tbody),
    pager);
  const more = async (cursor) => {
    const q = new URLSearchParams(filters);
    if (cursor) q.set("cursor", cursor);
    const page = await api("sessions?" + q);
    for (const x of page.items) {
      const tr = h("tr", { class: "session", "data-id": x.id },
        h("td", { class: "time" }, fmtTime(x.time)),
        h("td", { class: "user" }, link(x.user, "#/session/" + encodeURIComponent(x.id))),
        h("td", {}, (x.groups || []).join(", ")),
        h("td", {}, x.namespace + "/" + x.pod),
        h("td", {}, x.container || "(default)"),
        h("td", { class: "output" }, (x.command || []).join(" ")),
        h("td", {}, x.tty ? "yes" : "no"),
        h("td", {}, verdict(x.verdict)),
        h("td", {}, String(x.alerts)));
      tr.addEventListener("click", () => { location.hash = "#/session/" + encodeURIComponent(x.id); });
      tbody.append(tr);
    }
    pager.replaceChildren(page.next ? h("button", { class: "plain", onclick: () => more(page.next) }, "Older sessions")
      : h("span", { class: "muted" }, tbody.children.length ? "No older sessions." : "No exec sessions."));
  };
  await more("");
}

function bindingText(b) {
  if (b.state === "bound") {
    return `bound: a process in container ${b.container_id.slice(0, 12)} at ${fmtTime(b.time)}` + (b.ambiguous ? " (a guess: another session ran the same command there then)" : "");
  }
  return b.state === "pending" ? "pending: no process yet" : "unbound: no process of its own was seen";
}

async function sessionView(id) {
  const [x, binding] = await Promise.all([api("sessions/" + encodeURIComponent(id)), api("sessions/" + encodeURIComponent(id) + "/binding")]);
  const s = x.session;
  const table = alertTable("session-alerts");
  for (const a of x.alerts) table.querySelector("tbody").append(alertRow(a));
  const dd = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
  main().replaceChildren(
    h("h1", {}, "Exec session"),
    h("div", { class: "card", id: "session" }, h("dl", {},
      dd("user", link(s.user, alertsLink({ user: s.user }))),
      dd("groups", (s.groups || []).join(", ")),
      dd("into", link(`${s.namespace}/${s.pod}`, alertsLink({ namespace: s.namespace, pod: s.pod }))),
      dd("container", s.container || "(the pod's default)"),
      dd("command", (s.command || []).join(" ")),
      dd("tty", s.tty ? "yes" : "no"),
      dd("when", fmtTime(s.time)),
      dd("admission", verdict(s.verdict)),
      dd("binding", h("span", { id: "binding", class: "binding " + binding.state }, bindingText(binding))),
      dd("session id", s.id),
      dd("audit id", s.auditid || "—"))),
    h("h2", {}, `Alerts of the processes it spawned (${x.alerts.length})`),
    x.alerts.length ? table : h("p", { class: "muted" }, "None."));
}

// ---- rules ----

async function rulesView() {
  const { items } = await api("rules");
  const filter = h("input", { placeholder: "filter by name or tag", size: 30, id: "rule-filter" });
  const tbody = h("tbody", {});
  const render = () => {
    const f = filter.value.toLowerCase();
    tbody.replaceChildren(...items
      .filter((r) => !f || r.name.toLowerCase().includes(f) || r.tags.some((t) => t.toLowerCase().includes(f)))
      .sort((a, b) => b.hits - a.hits)
      .map((r) => h("tr", { class: "rule" },
        h("td", {}, r.hits ? link(r.name, alertsLink({ rule: r.name })) : r.name),
        h("td", {}, r.source),
        h("td", {}, h("span", { class: "prio " + r.priority }, r.priority)),
        h("td", {}, r.enabled ? "yes" : "no"),
        h("td", {}, r.tags.join(", ")),
        h("td", { class: "hits" }, String(r.hits)))));
  };
  filter.addEventListener("input", render);
  main().replaceChildren(h("h1", {}, `Rules (${items.length} loaded)`), h("p", {}, filter),
    h("table", { id: "rules" }, h("thead", {}, h("tr", {}, ["rule", "source", "priority", "enabled", "tags", "hits"].map((c) => h("th", {}, c)))), tbody));
  render();
}

// ---- routing ----

function askToken(message) {
  const input = h("input", { type: "password", size: 40, placeholder: "bearer token" });
  const form = h("form", { class: "filters" }, h("label", {}, "token", input), h("button", { type: "submit" }, "Use"));
  form.addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem("peregrine-token", input.value); route(); });
  main().replaceChildren(h("h1", {}, "Sign in"), h("p", { class: "error" }, message),
    h("p", { class: "muted" }, "A read-only token from webserver.tokens_file, or a client certificate your browser presents."), form);
}

async function route() {
  if (streamAbort) streamAbort.abort();
  status("");
  const [path, qs] = (location.hash.slice(1) || "/alerts").split("?");
  const params = new URLSearchParams(qs || "");
  const view = path.split("/")[1] || "alerts";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === view || (view === "session" && a.dataset.view === "sessions"));
  try {
    if (view === "sessions") await sessionsView(params);
    else if (view === "session") await sessionView(decodeURIComponent(path.split("/")[2] || ""));
    else if (view === "rules") await rulesView();
    else await alertsView(params);
  } catch (e) {
    if (e instanceof AuthError) askToken(e.message);
    else main().replaceChildren(h("p", { class: "error", id: "error" }, e.message));
  }
}

window.addEventListener("hashchange", route);
route();
