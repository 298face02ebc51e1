// The admin page: a thin client of the gateway's JSON admin API. No framework, no build step.
// Everything shown is put in with textContent, so nothing a client sent can run as markup.
"use strict";

const KEY_STORAGE = "gateway-admin-key";
const PAGE_SIZE = 50;
const $ = (id) => document.getElementById(id);

const state = { source: null, eventsBefore: null, rejectionsBefore: null, dialects: [], trafficWindow: "hour" };

// -- talking to the API ------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE) || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return null;
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    if (response.status === 401 && path !== "/api/v1/sources") signOut("The admin key was refused; sign in again.");
    throw new ApiError(response.status, data);
  }
  return data;
}

// -- small DOM helpers ---------------------------------------------------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// One time format everywhere on the page: 2024-05-01 12:30:05 UTC (the gateway's own times are UTC).
function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function clock(ms) { return `${new Date(ms).toISOString().slice(11, 16)} UTC`; }

function plural(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }

function show(node, visible) { node.hidden = !visible; }

function showError(node, error) {
  node.textContent = error ? error.message : "";
  show(node, Boolean(error));
}

function badge(status) {
  return el("span", { class: `badge ${status === "connected" ? "ok" : "idle"}`, text: status });
}

function dl(node, pairs) {
  node.replaceChildren();
  for (const [term, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    node.append(el("dt", { text: term }), el("dd", {}, value instanceof Node ? value : String(value)));
  }
}

// Flattens an event into "path: value" rows, the way a person reads attributes.
function attributes(value, prefix = "", rows = []) {
  if (value !== null && typeof value === "object" && Object.keys(value).length) {
    for (const [key, inner] of Object.entries(value)) {
      attributes(inner, prefix ? (Array.isArray(value) ? `${prefix}[${key}]` : `${prefix}.${key}`) : key, rows);
    }
  } else {
    rows.push([prefix, typeof value === "string" ? value : JSON.stringify(value)]);
  }
  return rows;
}

function attributesTable(event) {
  const body = el("tbody");
  for (const [path, value] of attributes(event)) {
    body.append(el("tr", {}, el("th", { text: path }), el("td", { text: value })));
  }
  return el("table", { class: "attributes" }, body);
}

// -- signing in ------------------------------------------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  show($("app"), false);
  show($("nav"), false);
  show($("login"), true);
  showError($("login-error"), message ? new Error(message) : null);
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, $("admin-key").value.trim());
  try {
    await api("GET", "/api/v1/sources");
  } catch (error) {
    signOut(error.status === 401 ? error.message : `The gateway did not answer: ${error.message}`);
    return;
  }
  $("admin-key").value = "";
  await start();
}

async function start() {
  show($("login"), false);
  show($("app"), true);
  show($("nav"), true);
  await loadDialects();
  await route();
}

// -- the sources list -----------------------------------------------------------------------------

async function loadSources() {
  const { sources } = await api("GET", "/api/v1/sources");
  const body = $("sources-body");
  body.replaceChildren();
  for (const s of sources) {
    body.append(el("tr", { "data-source": s.name },
      el("td", {}, el("a", { href: `#source/${encodeURIComponent(s.name)}`, text: s.name })),
      el("td", { text: s.dialect }),
      el("td", {}, badge(s.status)),
      el("td", { class: "num", text: String(s.events_total) }),
      el("td", { class: "num", text: String(s.events_24h) }),
      el("td", { class: "num", text: String(s.rejected_total) }),
      el("td", { text: when(s.last_event_at) }),
      el("td", {}, el("code", { text: s.key_hint || "—" })),
      el("td", { text: s.origin === "config" ? "config.toml" : "API" })));
  }
  show($("sources-empty"), sources.length === 0);
}

async function loadDialects() {
  const { dialects } = await api("GET", "/api/v1/dialects");
  state.dialects = dialects;
  const select = $("create-dialect");
  select.replaceChildren(...dialects.map((d) => el("option", { value: d.name, text: d.name })));
  describeDialect();
}

function describeDialect() {
  const dialect = state.dialects.find((d) => d.name === $("create-dialect").value);
  $("dialect-help").textContent = dialect
    ? `${dialect.description || dialect.name}. Clients send the key ${dialect.send_key}.` : "";
}

async function createSource(event) {
  event.preventDefault();
  showError($("create-error"), null);
  let settings = {};
  const text = $("create-settings").value.trim();
  if (text) {
    try { settings = JSON.parse(text); } catch (error) {
      showError($("create-error"), new Error(`More settings is not valid JSON: ${error.message}`));
      return;
    }
  }
  const body = { ...settings, name: $("create-name").value.trim(), dialect: $("create-dialect").value };
  try {
    const created = await api("POST", "/api/v1/sources", body);
    $("create-form").reset();
    describeDialect();
    showKey(created);
    await loadSources();
  } catch (error) {
    showError($("create-error"), error);
  }
}

function showKey(answer) {
  $("key-source").textContent = answer.source.name;
  const fields = Object.entries(answer.credentials).map(([k, v]) => [k, el("code", { class: "secret", text: v })]);
  if (answer.key && !Object.values(answer.credentials).includes(answer.key)) {
    fields.push(["key clients send", el("code", { class: "secret", text: answer.key })]);
  }
  if (answer.previous_key_expires_at) fields.push(["previous key works until", when(answer.previous_key_expires_at)]);
  dl($("key-fields"), fields);
  const paths = answer.source.endpoints.map((e) => e.path).join(", ");
  $("key-how").textContent = `Send events to ${paths} with the key ${answer.source.send_key}.`;
  show($("key-view"), true);
  $("key-view").scrollIntoView({ block: "nearest" });
}

// -- one source ------------------------------------------------------------------------------------

async function loadSource(name) {
  const { source } = await api("GET", `/api/v1/sources/${encodeURIComponent(name)}`);
  state.source = source;
  $("source-title").textContent = source.name;
  renderStatus(source);
  const endpoints = el("ul", { class: "plain" },
    ...source.endpoints.map((e) => el("li", {}, el("code", { text: `${e.methods.join("/")} ${e.path}` }))));
  const previous = (source.previous_keys || []).map((k) => `${k.key_hint} until ${when(k.expires_at)}`).join(", ");
  dl($("source-facts"), [
    ["Dialect", source.dialect],
    ["Key", el("code", { text: source.key_hint || "—" })],
    ["Previous keys", previous],
    ["Send the key", source.send_key],
    ["Events", `${source.events_total} in all, ${source.events_24h} in the last 24 h`],
    ["Rejected", String(source.rejected_total)],
    ["Last error", source.last_error ? `${source.last_error} (${when(source.last_error_at)})` : ""],
    ["Created", source.created_at ? when(source.created_at) : "from config.toml"],
    ["Endpoints", endpoints],
  ]);
  show($("source-actions"), !source.read_only);
  show($("source-readonly"), source.read_only);
}

function renderStatus(status) {
  $("source-status").replaceWith(Object.assign(badge(status.status), { id: "source-status" }));
  $("source-message").textContent = status.message;
}

async function checkConnection() {
  const status = await api("GET", `/api/v1/sources/${encodeURIComponent(state.source.name)}/status`);
  renderStatus(status);
  if (status.connected) await loadSource(state.source.name);
}

function eventItem(record) {
  const e = record.event;
  const what = e.event || e.name || e.type;
  const who = e.userId || e.anonymousId || "";
  const summary = el("summary", {},
    el("span", { class: "type", text: e.type }), " ",
    el("strong", { text: what }), " ",
    el("span", { class: "muted", text: who }), " ",
    el("time", { datetime: record.received_at, text: when(record.received_at) }));
  const raw = record.raw === null ? null : el("div", {},
    el("h4", { text: "As the client sent it" }),
    el("pre", { text: JSON.stringify(record.raw, null, 2) }));
  return el("li", { "data-seq": String(record.seq) }, el("details", { class: "event" }, summary,
    el("h4", { text: "Attributes" }), attributesTable(e), raw));
}

function rejectionItem(r) {
  const summary = el("summary", {},
    el("span", { class: "type bad", text: r.code }), " ",
    el("strong", { text: r.reason }), " ",
    r.field ? el("code", { text: r.field }) : null, " ",
    el("time", { datetime: r.received_at, text: when(r.received_at) }));
  return el("li", {}, el("details", { class: "event rejected" }, summary,
    el("h4", { text: "Payload as sent" }),
    el("pre", { text: typeof r.payload === "string" ? r.payload : JSON.stringify(r.payload, null, 2) })));
}

async function loadPage(kind, more) {
  const name = encodeURIComponent(state.source.name);
  const cursorKey = kind === "events" ? "eventsBefore" : "rejectionsBefore";
  const list = $(`${kind}-list`);
  let query = `?limit=${PAGE_SIZE}`;
  if (more && state[cursorKey]) query += `&before=${state[cursorKey]}`;
  else list.replaceChildren();
  const answer = await api("GET", `/api/v1/sources/${name}/${kind}${query}`);
  const items = answer[kind];
  list.append(...items.map(kind === "events" ? eventItem : rejectionItem));
  state[cursorKey] = answer.next_before;
  show($(`${kind}-more`), Boolean(answer.next_before));
  show($(`${kind}-empty`), list.children.length === 0);
}

async function rotateKey() {
  const name = state.source.name;
  if (!confirm(`Rotate the key of ${name}? The current key keeps working for a day.`)) return;
  showKey(await api("POST", `/api/v1/sources/${encodeURIComponent(name)}/rotate-key`, {}));
  await loadSource(name);
}

async function deleteSource() {
  const name = state.source.name;
  if (!confirm(`Delete source ${name}? Its key stops working at once.`)) return;
  await api("DELETE", `/api/v1/sources/${encodeURIComponent(name)}`);
  location.hash = "";
}

// -- traffic: accepted and rejected events per minute per source -------------------------------------

function svg(tag, attrs) {
  const template = $("chart-template").content.firstElementChild;
  const node = tag === "svg" ? template.cloneNode(false) : document.createElementNS(template.namespaceURI, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

function chart(name, series, firstMinuteMs, minutes) {
  const width = 600, height = 90, step = width / minutes;
  const peak = Math.max(1, ...series.accepted.map((a, i) => a + series.rejected[i]));
  const drawing = svg("svg", { "aria-label": `${name}: events per minute` });
  series.accepted.forEach((accepted, i) => {
    const rejected = series.rejected[i];
    if (!accepted && !rejected) return;
    const x = i * step, w = Math.max(step * 0.85, 0.6);
    const ha = (accepted / peak) * (height - 4), hr = (rejected / peak) * (height - 4);
    const at = clock(firstMinuteMs + i * 60000);
    if (accepted) {
      const bar = svg("rect", { x, y: height - ha, width: w, height: ha, fill: "#1f7a3f", class: "accepted" });
      bar.append(Object.assign(svg("title", {}), { textContent: `${at}: ${accepted} accepted` }));
      drawing.append(bar);
    }
    if (rejected) {
      const bar = svg("rect", { x, y: height - ha - hr, width: w, height: hr, fill: "#a3222a", class: "rejected" });
      bar.append(Object.assign(svg("title", {}), { textContent: `${at}: ${rejected} rejected` }));
      drawing.append(bar);
    }
  });
  const total = (list) => list.reduce((a, b) => a + b, 0);
  const label = (ms) => (minutes > 60 ? when(ms).slice(0, 16) + " UTC" : clock(ms));  // a day spans two dates
  return el("div", { class: "chart", "data-source": name },
    el("h3", { text: `${name} — ${total(series.accepted)} accepted, ${total(series.rejected)} rejected` }),
    drawing,
    el("div", { class: "axis" }, el("span", { text: label(firstMinuteMs) }), el("span", { text: `peak ${peak}/min` }),
      el("span", { text: label(firstMinuteMs + (minutes - 1) * 60000) })));
}

async function loadTraffic() {
  const window = state.trafficWindow || "hour";
  $("traffic-hour").setAttribute("aria-pressed", String(window === "hour"));
  $("traffic-day").setAttribute("aria-pressed", String(window === "day"));
  const answer = await api("GET", `/api/v1/traffic?window=${window}`);
  const first = answer.first_minute * 1000;
  const names = Object.keys(answer.sources).sort();
  const busy = names.filter((n) => answer.sources[n].accepted.some(Boolean) || answer.sources[n].rejected.some(Boolean));
  $("traffic-charts").replaceChildren(...names.map((n) => chart(n, answer.sources[n], first, answer.minutes)));
  $("traffic-range").textContent = `${when(first)} to ${when(first + answer.minutes * 60000)}`;
  show($("traffic-empty"), busy.length === 0);
}

function setTrafficWindow(window) {
  state.trafficWindow = window;
  return loadTraffic();
}

// -- webhooks (when the webhook sink plugin is loaded) ---------------------------------------------

function webhookMessage(text, ok) {
  const node = $("webhooks-message");
  node.textContent = text;
  node.className = ok ? "notice-line" : "notice-line bad";
  show(node, Boolean(text));
}

function describeFailure(error) {
  const response = error.body && error.body.detail && error.body.detail.response;
  const extra = response && response.body ? ` The target answered: ${String(response.body).slice(0, 200)}` : "";
  return `${error.message}${extra}`;
}

async function testWebhook(hook) {
  const { results } = await api("POST", `/api/v1/webhooks/${encodeURIComponent(hook.id)}/validate`, {});
  const said = results.response && results.response.status ? ` (HTTP ${results.response.status})` : "";
  const why = results.response && results.response.error ? `: ${results.response.error}` : "";
  webhookMessage(`${hook.name}: ${results.msg}${said}${why}`, results.ok);
}

async function replayWebhook(hook) {
  if (!confirm(`Send the dead batches of ${hook.name} again?`)) return;
  const answer = await api("POST", `/api/v1/webhooks/${encodeURIComponent(hook.id)}/replay`, {});
  const count = answer && answer.results && Array.isArray(answer.results.batch_ids) ? answer.results.batch_ids.length
    : (answer && answer.results && answer.results.replayed) || 0;
  webhookMessage(`${hook.name}: ${plural(count, "dead batch")} sent again.`, true);
  await loadWebhooks();
}

async function deleteWebhook(hook) {
  if (!confirm(`Delete webhook ${hook.name}? Its batches are forgotten.`)) return;
  await api("DELETE", `/api/v1/webhooks/${encodeURIComponent(hook.id)}`);
  webhookMessage(`${hook.name} deleted.`, true);
  await loadWebhooks();
}

function editWebhook(hook) {
  $("webhook-id").value = hook.id;
  $("webhook-name").value = hook.name || "";
  $("webhook-target").value = hook.target || "";
  $("webhook-events").value = (hook.events || []).join(", ");
  $("webhook-token").value = hook.auth_token || "";
  $("webhook-private").checked = Boolean(hook.allow_private_targets);
  $("webhook-form-title").textContent = `Edit webhook ${hook.name}`;
  $("webhook-submit").textContent = "Save changes";
  show($("webhook-cancel"), true);
  $("webhook-form-card").scrollIntoView({ block: "nearest" });
}

function resetWebhookForm() {
  $("webhook-form").reset();
  $("webhook-id").value = "";
  $("webhook-form-title").textContent = "Add a webhook";
  $("webhook-submit").textContent = "Create webhook";
  show($("webhook-cancel"), false);
  showError($("webhook-form-error"), null);
}

async function saveWebhook(event) {
  event.preventDefault();
  showError($("webhook-form-error"), null);
  const id = $("webhook-id").value;
  const events = $("webhook-events").value.split(",").map((e) => e.trim()).filter(Boolean);
  const body = { name: $("webhook-name").value.trim(), target: $("webhook-target").value.trim(),
    events: events.length ? events : null, allow_private_targets: $("webhook-private").checked };
  const token = $("webhook-token").value;
  if (token) body.auth_token = token;
  else if (id) body.auth_token = null;
  if (!id && !body.events) delete body.events;
  $("webhook-submit").disabled = true;
  try {
    if (id) await api("PUT", `/api/v1/webhooks/${encodeURIComponent(id)}`, body);
    else await api("POST", "/api/v1/webhooks", body);
    webhookMessage(id ? `${body.name} saved.` : `${body.name} created: the test POST to ${body.target} succeeded.`, true);
    resetWebhookForm();
    await loadWebhooks();
  } catch (error) {
    const failure = new Error(describeFailure(error));
    showError($("webhook-form-error"), failure);
  } finally {
    $("webhook-submit").disabled = false;
  }
}

function stateBadge(name) {
  return el("span", { class: `badge ${name === "delivered" ? "ok" : name === "dead" ? "bad" : "idle"}`, text: name });
}

// Renders overlap (a replay re-renders while a refresh is in flight); only the newest may reach the page,
// or a slow older answer would show counts from before the newer one.
let webhooksRender = 0;

async function loadWebhooks() {
  const target = $("webhooks-body");
  const generation = ++webhooksRender;
  let hooks;
  try {
    hooks = (await api("GET", "/api/v1/webhooks")).results;
  } catch (error) {
    if (error.status !== 404) throw error;
    target.replaceChildren(el("p", { class: "muted", text: "No webhooks plugin is loaded." }));
    show($("webhook-form-card"), false);
    return;
  }
  if (generation !== webhooksRender) return;
  if (!hooks.length) {
    target.replaceChildren(el("p", { class: "muted", id: "webhooks-empty",
      text: "No webhooks yet: add one with the form below (a name and the URL to POST events to), or add a "
        + "[[sinks]] table of type \"webhook\" to config.toml." }));
    return;
  }
  const rows = await Promise.all(hooks.map(async (hook) => {
    let batches = [];
    try {
      batches = (await api("GET", `/api/v1/webhooks/${encodeURIComponent(hook.id)}/batch-status?limit=5`)).results;
    } catch (_) { batches = []; }
    const recent = el("ul", { class: "plain" }, ...batches.map((b) => el("li", {},
      stateBadge(b.state),
      ` ${plural(b.size, "event")}, ${plural(b.attempts, "attempt")}, ${when(b.created_at)}`,
      b.last_error ? el("span", { class: "muted", text: ` — ${b.last_error}` }) : null)));
    const nonzero = Object.entries(hook.batches || {}).filter(([, v]) => v > 0);
    const counts = nonzero.length ? el("ul", { class: "plain" }, ...nonzero.map(([k, v]) => el("li", {}, stateBadge(k), ` ${v}`)))
      : el("span", { class: "muted", text: "none" });
    const dead = (hook.batches && hook.batches.dead) || 0;
    const actions = el("td", { class: "actions" },
      el("button", { type: "button", class: "secondary", "data-action": "test", text: "Send test POST",
        onclick: guardedWebhook(() => testWebhook(hook)) }),
      dead ? el("button", { type: "button", "data-action": "replay", text: `Replay ${plural(dead, "dead batch")}`,
        onclick: guardedWebhook(() => replayWebhook(hook)) }) : null,
      hook.read_only ? el("span", { class: "muted small", text: "from config.toml: change it there" }) : null,
      hook.read_only ? null : el("button", { type: "button", class: "secondary", "data-action": "edit", text: "Edit",
        onclick: () => editWebhook(hook) }),
      hook.read_only ? null : el("button", { type: "button", class: "danger", "data-action": "delete", text: "Delete",
        onclick: guardedWebhook(() => deleteWebhook(hook)) }));
    const filter = hook.events && hook.events.length ? hook.events.join(", ") : "all events";
    return el("tr", { "data-webhook": hook.id }, el("td", { text: hook.name }),
      el("td", {}, el("code", { text: hook.target || "" }), el("div", { class: "muted small", text: filter })),
      el("td", {}, counts), el("td", {}, batches.length ? recent : el("span", { class: "muted",
        text: "No batches yet: they appear once events reach this webhook." })), actions);
  }));
  if (generation !== webhooksRender) return;
  target.replaceChildren(el("table", { class: "list", id: "webhooks-table" },
    el("thead", {}, el("tr", {}, ...["Name", "Target", "Batches", "Recent batches", ""].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows)));
}

function guardedWebhook(action) {
  return async () => {
    showError($("webhooks-error"), null);
    try { await action(); } catch (error) { showError($("webhooks-error"), new Error(describeFailure(error))); }
  };
}

// -- navigation -------------------------------------------------------------------------------------

async function route() {
  showError($("app-error"), null);
  const match = location.hash.match(/^#source\/(.+)$/);
  show($("sources-view"), !match);
  show($("webhooks-view"), !match);
  show($("source-view"), Boolean(match));
  try {
    if (match) {
      await loadSource(decodeURIComponent(match[1]));
      await Promise.all([loadPage("events", false), loadPage("rejections", false)]);
    } else {
      state.source = null;
      await Promise.all([loadSources(), loadWebhooks(), loadTraffic()]);
    }
  } catch (error) {
    showError($("app-error"), error);
  }
}

function guarded(action) {
  return async (...args) => {
    showError($("app-error"), null);
    try { await action(...args); } catch (error) { showError($("app-error"), error); }
  };
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", () => signOut());
  $("create-form").addEventListener("submit", createSource);
  $("create-dialect").addEventListener("change", describeDialect);
  $("key-done").addEventListener("click", () => { dl($("key-fields"), []); show($("key-view"), false); });
  $("refresh-sources").addEventListener("click", guarded(() => Promise.all([loadSources(), loadWebhooks(),
    loadTraffic()])));
  $("traffic-hour").addEventListener("click", guarded(() => setTrafficWindow("hour")));
  $("traffic-day").addEventListener("click", guarded(() => setTrafficWindow("day")));
  $("webhook-form").addEventListener("submit", saveWebhook);
  $("webhook-cancel").addEventListener("click", resetWebhookForm);
  $("check-connection").addEventListener("click", guarded(checkConnection));
  $("refresh-events").addEventListener("click", guarded(() => Promise.all([loadPage("events", false),
    loadPage("rejections", false)])));
  $("events-more").addEventListener("click", guarded(() => loadPage("events", true)));
  $("rejections-more").addEventListener("click", guarded(() => loadPage("rejections", true)));
  $("rotate-key").addEventListener("click", guarded(rotateKey));
  $("delete-source").addEventListener("click", guarded(deleteSource));
  window.addEventListener("hashchange", route);
  if (sessionStorage.getItem(KEY_STORAGE)) start().catch((error) => signOut(error.message));
  else signOut();
});
