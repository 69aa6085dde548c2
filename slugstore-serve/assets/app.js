// The status page of `slug serve`.
//
// The server pushes the whole status document (every environment, its releases and newest deploys)
// over one Server-Sent Events stream whenever it changes; the page re-renders the environments from it
// and tails the log of the deploy being watched. Actions send the token as a Bearer header; the token
// is kept in this tab's sessionStorage only.
"use strict";

const state = {
  doc: null,
  // The deploy whose log is shown: {env, id}; `pinned` once the user picked one.
  log: null,
  pinned: false,
  logOffset: 0,
  logTimer: null,
  // What the user chose in each environment's promote form, kept across re-renders.
  promoteFrom: {},
  busy: false,
};

const $ = (sel, root = document) => root.querySelector(sel);

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

// Full slug ids in free text (a promotion's source) shortened as everywhere else on the page.
const shortIds = (text) => String(text ?? "").replace(/\b([0-9a-f]{12})[0-9a-f]{52}\b/g, "$1…");
const short = (id) => (id ? String(id).slice(0, 12) : "");
const secs = (s) => (s == null ? "" : s < 10 ? `${s.toFixed(2)}s` : `${s.toFixed(1)}s`);

function when(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  return isNaN(d) ? rfc3339 : d.toLocaleString();
}

function unixWhen(t) {
  return t ? new Date(t * 1000).toLocaleString() : "";
}

// ---- token -------------------------------------------------------------------------------------

function token() {
  return sessionStorage.getItem("slug-token") || "";
}

function setToken(t) {
  if (t) sessionStorage.setItem("slug-token", t);
  else sessionStorage.removeItem("slug-token");
  const st = $("#auth-state");
  st.dataset.state = t ? "unlocked" : "locked";
  st.textContent = t ? "actions unlocked" : "locked";
  $("#token").value = "";
}

function initToken() {
  // `slug serve` prints the URL with #token=…; a fragment never reaches a server's logs.
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    setToken(decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  } else {
    setToken(token());
  }
  $("#token-save").addEventListener("click", () => setToken($("#token").value.trim()));
  $("#token").addEventListener("keydown", (e) => {
    if (e.key === "Enter") setToken($("#token").value.trim());
  });
}

// ---- actions -----------------------------------------------------------------------------------

function toast(text, kind) {
  const t = $("#toast");
  t.textContent = text;
  t.dataset.kind = kind;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), kind === "error" ? 12000 : 6000);
}

async function act(env, action, body, what) {
  if (!token()) {
    toast("Enter the token first: actions need the token `slug serve` printed.", "error");
    return;
  }
  if (state.busy) return;
  state.busy = true;
  document.body.dataset.busy = "1";
  toast(`${what}…`, "info");
  try {
    const r = await fetch(`/api/envs/${encodeURIComponent(env)}/${action}`, {
      method: "POST",
      headers: { "Authorization": `Bearer ${token()}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const doc = await r.json().catch(() => ({}));
    if (r.status === 401) {
      setToken("");
      toast(`Wrong token (HTTP 401): nothing was changed. ${doc.error || ""}`, "error");
    } else if (!r.ok) {
      toast(`${what} failed (HTTP ${r.status}): ${doc.error || r.statusText}`, "error");
    } else {
      toast(`${what}: done.`, "ok");
    }
  } catch (e) {
    toast(`${what} failed: ${e}`, "error");
  } finally {
    state.busy = false;
    delete document.body.dataset.busy;
  }
}

function onClick(e) {
  const b = e.target.closest("button[data-action]");
  if (b) {
    const env = b.dataset.env;
    if (b.dataset.action === "rollback") {
      const body = b.dataset.to ? { to: b.dataset.to } : {};
      const what = b.dataset.to
        ? `Rollback of ${env} to ${short(b.dataset.to)}`
        : `Rollback of ${env}`;
      act(env, "rollback", body, what);
    } else if (b.dataset.action === "promote") {
      const sec = b.closest(".env");
      const from = $("select.promote-from", sec).value;
      const force = $("input.promote-force", sec).checked;
      act(env, "promote", { from, force }, `Promotion of ${from} to ${env}`);
    }
    return;
  }
  const d = e.target.closest(".deploy[data-deploy]");
  if (d) {
    state.pinned = true;
    showLog(d.dataset.env, d.dataset.deploy);
  }
}

// ---- rendering ---------------------------------------------------------------------------------

function renderPhases(d) {
  return d.phases.map((p) => {
    const title = [p.state.replace("_", " "), p.started ? `started ${when(p.started)}` : "", p.detail || ""]
      .filter(Boolean).join(" · ");
    const time = p.state === "in_progress" && p.started
      ? `<span class="elapsed" data-since="${esc(p.started)}"></span>`
      : secs(p.seconds);
    return `<span class="phase" data-phase="${esc(p.phase)}" data-state="${esc(p.state)}" title="${esc(title)}">`
      + `<span class="name">${esc(p.phase.replace("_", "-"))}</span><span class="time">${time}</span></span>`;
  }).join("");
}

function renderDeploy(env, d) {
  const selected = state.log && state.log.env === env && state.log.id === d.id;
  const extra = [
    d.reused_build && !d.promoted_from ? "reused build" : "",
    d.slug ? `slug <code>${esc(short(d.slug))}</code>` : "",
  ].filter(Boolean).join(" · ");
  return `<li class="deploy${selected ? " selected" : ""}" data-env="${esc(env)}" data-deploy="${esc(d.id)}" data-state="${esc(d.state)}">
    <div class="summary"><span class="badge" data-state="${esc(d.state)}">${esc(d.state.replace("_", " "))}</span>
      <span class="id">${esc(d.id)}</span> <span class="source">${esc(shortIds(d.source))}</span>
      <span class="meta">${extra}${d.seconds != null ? ` · ${secs(d.seconds)}` : ""}</span></div>
    <div class="phases">${renderPhases(d)}</div>
    ${d.error ? `<div class="error">${esc(d.error)}</div>` : ""}
  </li>`;
}

function renderEnv(env, all) {
  const others = all.filter((e) => e.name !== env.name && e.live);
  const from = state.promoteFrom[env.name] || (others[0] && others[0].name) || "";
  const readOnly = state.doc.read_only;
  const releases = env.releases.map((r) => `<li data-slug="${esc(r.slug)}" class="${r.current ? "live" : ""}">
      <code>${esc(short(r.slug))}</code>${r.current ? ' <span class="tag">live</span>' : ""}
      <span class="meta">${r.last_activated ? `last live ${esc(unixWhen(r.last_activated))}` : "never live"}</span>
      ${!r.current && !readOnly ? `<button type="button" data-action="rollback" data-env="${esc(env.name)}" data-to="${esc(r.slug)}">Roll back to this</button>` : ""}
    </li>`).join("");
  const deploys = env.deploys.map((d) => renderDeploy(env.name, d)).join("");
  const switches = env.activations.slice(0, 5).map((a) => `<li data-kind="${esc(a.kind)}">
      <span class="meta">${esc(unixWhen(a.time))}</span> ${a.kind === "rollback" ? "rollback to" : "deploy of"}
      <code>${esc(short(a.slug))}</code>${a.previous ? ` <span class="meta">(was ${esc(short(a.previous))})</span>` : ""}</li>`).join("");
  const crons = (env.crons || []).map((c) => `<li data-job="${esc(c.job)}" data-state="${esc(c.state)}">
      <span class="badge" data-state="${esc(c.state)}">${esc(c.state.replace("_", " "))}</span> <code>${esc(c.job)}</code>
      <span class="meta">due ${esc(c.due)}${c.seconds != null ? ` · ${secs(c.seconds)}` : ""}</span>
      ${c.error ? `<span class="error">${esc(c.error)}</span>` : ""}</li>`).join("");
  const promote = readOnly || others.length === 0 ? "" : `<div class="promote">
      Promote <select class="promote-from" data-env="${esc(env.name)}">${others.map((o) =>
        `<option value="${esc(o.name)}"${o.name === from ? " selected" : ""}>${esc(o.name)} (${esc(short(o.live))})</option>`).join("")}</select>
      here <label><input type="checkbox" class="promote-force"> force</label>
      <button type="button" data-action="promote" data-env="${esc(env.name)}">Promote</button></div>`;
  return `<section class="env" data-env="${esc(env.name)}" data-live="${esc(env.live || "")}">
    <header><h2>${esc(env.name)}</h2><span class="branch">branch ${esc(env.branch)}</span>
      <code class="target">${esc(env.target)}</code></header>
    ${env.error ? `<p class="error">${esc(env.error)}</p>` : ""}
    <div class="live">live: ${env.live ? `<code class="live-slug">${esc(short(env.live))}</code>` : "<em>nothing</em>"}
      ${env.live && !readOnly && env.releases.length > 1 ? `<button type="button" data-action="rollback" data-env="${esc(env.name)}">Roll back</button>` : ""}</div>
    ${promote}
    <h3>Deploys <span class="count">${env.deploy_count}</span></h3>
    ${deploys ? `<ol class="deploys">${deploys}</ol>` : '<p class="empty">No deploy yet.</p>'}
    <h3>Releases on disk</h3>
    ${releases ? `<ul class="releases">${releases}</ul>` : '<p class="empty">None.</p>'}
    ${switches ? `<h3>Switches of current</h3><ol class="switches">${switches}</ol>` : ""}
    ${crons ? `<h3>Crons <span class="meta">last run of each job</span></h3><ul class="crons">${crons}</ul>` : ""}
  </section>`;
}

function render(doc) {
  state.doc = doc;
  const problem = $("#problem");
  problem.hidden = !doc.error;
  problem.textContent = doc.error || "";
  const envs = doc.environments || [];
  document.body.dataset.readOnly = doc.read_only ? "1" : "";
  $("#auth").hidden = !!doc.read_only;
  $("#envs").innerHTML = envs.length
    ? envs.map((e) => renderEnv(e, envs)).join("")
    : '<p class="empty">No environment is defined (see <code>slug env add</code>).</p>';
  followNewest(envs);
  tick();
}

// Without a deploy picked by the user, the log shown is the newest deploy's, whatever environment.
function followNewest(envs) {
  let newest = null;
  for (const e of envs) {
    for (const d of e.deploys) {
      if (!newest || d.id > newest.id) newest = { env: e.name, id: d.id };
    }
  }
  if (!state.pinned && newest && (!state.log || state.log.id !== newest.id)) {
    showLog(newest.env, newest.id);
  } else if (state.log) {
    fetchLog();
  }
}

function deployOf(env, id) {
  const e = state.doc && (state.doc.environments || []).find((x) => x.name === env);
  return e && e.deploys.find((d) => d.id === id);
}

// ---- the log -----------------------------------------------------------------------------------

function showLog(env, id) {
  state.log = { env, id };
  state.logOffset = 0;
  const pre = $("#log");
  pre.textContent = "";
  pre.dataset.deploy = id;
  pre.dataset.env = env;
  $("#log-title").textContent = `of deploy ${id} (${env})`;
  $("#log-panel").hidden = false;
  document.querySelectorAll(".deploy.selected").forEach((el) => el.classList.remove("selected"));
  document.querySelectorAll(`.deploy[data-deploy="${CSS.escape(id)}"]`).forEach((el) => el.classList.add("selected"));
  fetchLog();
}

async function fetchLog() {
  const target = state.log;
  if (!target || fetchLog.running) return;
  fetchLog.running = true;
  try {
    for (;;) {
      const r = await fetch(`/api/envs/${encodeURIComponent(target.env)}/deploys/${encodeURIComponent(target.id)}/log?offset=${state.logOffset}`);
      if (!r.ok || state.log !== target) break;
      const text = await r.text();
      const next = Number(r.headers.get("X-Log-Offset"));
      const size = Number(r.headers.get("X-Log-Size"));
      const pre = $("#log");
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent += text;
      if (atBottom) pre.scrollTop = pre.scrollHeight;
      state.logOffset = next;
      if (next >= size) break;
    }
  } finally {
    fetchLog.running = false;
  }
  // A running deploy writes hook output between status changes: keep tailing until it ends.
  clearTimeout(state.logTimer);
  const d = target && deployOf(target.env, target.id);
  if (d && d.state === "in_progress") state.logTimer = setTimeout(fetchLog, 500);
}

// ---- the stream --------------------------------------------------------------------------------

function tick() {
  const now = Date.now();
  document.querySelectorAll(".elapsed[data-since]").forEach((el) => {
    const t = Date.parse(el.dataset.since);
    if (!isNaN(t)) el.textContent = `${Math.max(0, Math.round((now - t) / 1000))}s`;
  });
}

function connect() {
  const conn = $("#conn");
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => {
    conn.dataset.state = "live";
    conn.textContent = "live";
  });
  es.addEventListener("status", (e) => render(JSON.parse(e.data)));
  es.addEventListener("error", () => {
    // EventSource reconnects by itself after a dropped connection; say so meanwhile.
    conn.dataset.state = "connecting";
    conn.textContent = "reconnecting…";
    // It gives up for good on an answer other than a stream, such as the 503 of a server serving its
    // limit of streams: open a new one a little later.
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  });
}

initToken();
document.addEventListener("click", onClick);
document.addEventListener("change", (e) => {
  if (e.target.matches("select.promote-from")) state.promoteFrom[e.target.dataset.env] = e.target.value;
});
setInterval(tick, 1000);
connect();
