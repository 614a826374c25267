// corsgate playground: asks the engine (POST /api/evaluate on this page's origin),
// runs the same request for real against the demo gateway (another origin),
// and shows the gateway's decisions live (server-sent events).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { gateway: "", lastVerdict: null };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function parseHeaders(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const i = line.indexOf(":");
    if (i <= 0) throw new Error(`header line "${line}" needs the form Name: value`);
    out.push([line.slice(0, i).trim(), line.slice(i + 1).trim()]);
  }
  return out;
}

function currentRequest() {
  return {
    policy: $("policy").value,
    origin: $("origin").value.trim(),
    method: $("method").value.trim() || "GET",
    path: $("path").value,
    headers: parseHeaders($("headers").value),
    credentials: $("credentials").value,
  };
}

function showPolicyErrors(errors) {
  const list = $("policy-errors");
  list.replaceChildren();
  for (const e of errors || []) {
    const where = e.line ? `line ${e.line}${e.column ? `, column ${e.column}` : ""}: ` : "";
    list.append(el("li", {}, where + e.message));
  }
}

function wireBox(title, exchange, skipped) {
  const box = el("div", { class: "box" + (skipped ? " skipped" : "") }, el("h3", {}, title));
  if (!exchange) {
    box.append(el("p", { class: "muted" }, skipped || "not sent"));
    return box;
  }
  const req = [`${exchange.method} ${exchange.url}`, ...exchange.headers.map(([n, v]) => `${n}: ${v}`)].join("\n");
  box.append(el("pre", { class: "wire", "aria-label": "request" }, req));
  if (exchange.response) {
    const resp = [`${exchange.response.status}`, ...exchange.response.headers.map(([n, v]) => `${n}: ${v}`)].join("\n");
    box.append(el("pre", { class: "wire", "aria-label": "response" }, resp));
  }
  return box;
}

function showVerdict(data) {
  const out = $("verdict");
  out.replaceChildren();
  const v = data.verdict;
  state.lastVerdict = v;
  if (!v) {
    out.append(el("p", { class: "muted" }, data.error || "Fix the policy first."));
    return;
  }
  const pre = (data.wire || []).find((w) => w.stage === "preflight");
  const actual = (data.wire || []).filter((w) => w.stage !== "preflight");
  const flow = el("div", { class: "flow" });
  flow.append(wireBox("Preflight (OPTIONS)", pre, pre ? null : "no preflight needed (or served from cache)"));
  if (actual.length === 0) flow.append(wireBox("Request", null, "never sent: the preflight failed"));
  for (const a of actual) flow.append(wireBox("Request", a));
  out.append(flow);
  const steps = el("div", { class: "box", id: "steps" }, el("h3", {}, "Checks"));
  for (const s of v.steps) steps.append(el("div", { class: "step " + (s.ok ? "ok" : "fail") }, s.message));
  out.append(steps);
  if (v.allowed) {
    out.append(el("div", { class: "banner ok", id: "engine-verdict", "data-allowed": "true" },
      `Allowed: script can read the response. Readable headers: ${v.exposed_headers.join(", ") || "(none)"}`));
  } else {
    const r = v.reason;
    out.append(el("div", { class: "banner bad", id: "engine-verdict", "data-allowed": "false", "data-code": r ? r.code : "" },
      `Blocked (${r ? r.code : "unknown"}): ${r ? r.message.replace(/ Fix: .*$/, "") : ""}`));
    if (r) out.append(el("div", { class: "fix" }, el("strong", {}, "The browser's fix: "), r.fix.sentence));
    if (data.policy_reason) out.append(policyReasonBox(data.policy_reason));
  }
}

// The policy's own reason (the gateway's corsgate-reason header) beside the
// browser's, and the TOML change that allows the request.
function policyReasonBox(p) {
  const box = el("div", { class: "box policy-reason", id: "policy-reason", "data-code": p.code },
    el("h3", {}, "The policy's reason (corsgate-reason)"), el("p", {}, p.text));
  if (p.edits.length) {
    box.append(el("p", {}, "Proposed policy change (TOML, replacing these keys):"),
      el("pre", { class: "wire", id: "policy-edit" }, p.edits.join("\n")));
    const use = el("button", { type: "button", id: "use-edit" }, "Put this change in the policy");
    use.addEventListener("click", () => { applyEdits(p.edits); });
    box.append(use);
  } else if (p.why_no_edit) {
    box.append(el("p", { class: "muted", id: "policy-edit-none" }, p.why_no_edit));
  }
  return box;
}

// Replaces each edited key's line in the policy text (or appends it).
function applyEdits(edits) {
  const area = $("policy");
  let text = area.value;
  for (const line of edits) {
    const key = line.split(" ")[0];
    const re = new RegExp(`^${key}\\s*=.*$`, "m");
    text = re.test(text) ? text.replace(re, line) : `${text.replace(/\n?$/, "\n")}${line}\n`;
  }
  area.value = text;
  area.dispatchEvent(new Event("input"));
}

async function evaluate() {
  let body;
  try { body = currentRequest(); } catch (e) { showVerdict({ error: e.message }); return; }
  const resp = await fetch("/api/evaluate", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await resp.json();
  showPolicyErrors(data.errors);
  showVerdict(data);
  return data;
}

async function applyPolicy() {
  const resp = await fetch("/api/policy", { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ policy: $("policy").value }) });
  const data = await resp.json();
  showPolicyErrors(data.errors);
  $("apply-status").textContent = data.errors && data.errors.length ? "not applied: the policy has errors" : "applied";
  return data;
}

async function runInBrowser() {
  const real = $("real");
  real.replaceChildren(el("p", { class: "muted" }, "running…"));
  let req;
  try { req = currentRequest(); } catch (e) { real.replaceChildren(el("p", {}, e.message)); return; }
  const applied = await applyPolicy();
  if (applied.errors && applied.errors.length) { real.replaceChildren(el("p", {}, "Fix the policy first.")); return; }
  // A page cannot choose its Origin: this browser sends the page's own. Say so,
  // and compare with the engine's prediction for that origin, leaving the
  // request the user built (and its verdict above) as it is.
  const asked = req.origin;
  const ranFrom = location.origin;
  const data = await evaluate();
  let predicted = data && data.verdict;
  if (asked !== ranFrom) {
    const resp = await fetch("/api/evaluate", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(Object.assign({}, req, { origin: ranFrom })) });
    predicted = (await resp.json()).verdict;
  }
  let outcome;
  try {
    const headers = new Headers();
    for (const [n, v] of req.headers) headers.append(n, v);
    const resp = await fetch(state.gateway + req.path, { method: req.method, headers, credentials: req.credentials, mode: "cors", cache: "no-store" });
    const readable = [];
    resp.headers.forEach((_, name) => readable.push(name.toLowerCase()));
    readable.sort();
    outcome = { allowed: true, status: resp.status, readable };
  } catch (e) {
    outcome = { allowed: false, error: String(e) };
  }
  const agree = predicted && predicted.allowed === outcome.allowed &&
    (!outcome.allowed || JSON.stringify(predicted.exposed_headers) === JSON.stringify(outcome.readable));
  const where = asked === ranFrom
    ? `ran from ${ranFrom}`
    : `ran from ${ranFrom}, not ${asked || "(empty)"}: a page cannot choose its Origin, so this is the request from the page's own origin; the engine's prediction compared is for ${ranFrom}`;
  real.replaceChildren(
    el("div", { class: "banner " + (agree ? "ok" : "bad"), id: "real-verdict", "data-allowed": String(outcome.allowed), "data-agree": String(!!agree), "data-ran-from": ranFrom, "data-asked": asked },
      `This browser (${where}): ${outcome.allowed ? `allowed (status ${outcome.status}; readable: ${outcome.readable.join(", ") || "(none)"})` : `blocked (${outcome.error})`} — ` +
      (agree ? "matches the engine's prediction." : "differs from the engine's prediction!")));
}

const presets = {
  allowed: { method: "GET", path: "/api/items", headers: "", credentials: "same-origin" },
  json: { method: "POST", path: "/api/items", headers: "Content-Type: application/json", credentials: "include" },
  denied: { origin: "https://evil.example", method: "GET", path: "/api/items", headers: "", credentials: "include" },
  patch: { method: "patch", path: "/api/items/1", headers: "Content-Type: application/json", credentials: "same-origin" },
};

function applyPreset(name) {
  const p = presets[name];
  $("origin").value = p.origin || location.origin;
  $("method").value = p.method;
  $("path").value = p.path;
  $("headers").value = p.headers;
  $("credentials").value = p.credentials;
  evaluate();
}

function liveView() {
  const tbody = document.querySelector("#live tbody");
  const source = new EventSource("/api/events");
  source.onmessage = (ev) => {
    const d = JSON.parse(ev.data);
    const row = el("tr", { class: d.allowed ? "allowed" : "denied" },
      el("td", {}, new Date(d.time_ms).toLocaleTimeString()), el("td", {}, d.origin || "—"),
      el("td", {}, d.method), el("td", {}, d.path), el("td", {}, d.allowed ? "allowed" : "denied"),
      el("td", { class: "reason" }, d.reason));
    tbody.prepend(row);
    while (tbody.children.length > 50) tbody.lastChild.remove();
  };
}

async function init() {
  const cfg = await (await fetch("/api/config")).json();
  state.gateway = cfg.gateway_origin;
  $("page-origin").textContent = location.origin;
  $("gateway-origin").textContent = cfg.gateway_origin;
  $("policy").value = cfg.policy;
  $("origin").value = location.origin;
  $("evaluate").addEventListener("click", evaluate);
  $("run").addEventListener("click", runInBrowser);
  $("apply").addEventListener("click", applyPolicy);
  let timer;
  $("policy").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(evaluate, 300); });
  for (const b of document.querySelectorAll("[data-preset]")) b.addEventListener("click", () => applyPreset(b.dataset.preset));
  liveView();
  await evaluate();
  document.body.dataset.ready = "true";
}

init();
