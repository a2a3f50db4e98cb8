// autotrader operator page: live state over server-sent events read with fetch(), so the
// bearer token travels in the Authorization header (never in a URL, never in a cookie).
"use strict";

const TOKEN_KEY = "autotrader-web-token";
const $ = (id) => document.getElementById(id);
const firstSeen = new Map(); // trade id -> ms epoch the page first showed it
let stream = null; // AbortController of the running stream
let role = "read";

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (attrs) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function toast(text, bad) {
  const t = $("toast");
  t.textContent = text;
  t.dataset.bad = bad ? "1" : "0";
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 4000);
}

function setConn(state, text) {
  const c = $("conn");
  c.dataset.conn = state;
  c.textContent = text;
}

function showLogin(message) {
  if (stream) stream.abort();
  stream = null;
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("account").textContent = "";
  const badge = $("state-badge");
  badge.dataset.state = "unknown";
  badge.textContent = "signed out";
  setConn("off", "offline");
  $("token").focus();
}

// -- the live stream -------------------------------------------------------------------
async function connect() {
  if (stream) stream.abort();
  const ctrl = new AbortController();
  stream = ctrl;
  let delay = 1000;
  while (!ctrl.signal.aborted) {
    try {
      setConn("wait", "connecting");
      const resp = await fetch("/api/events", {
        headers: { Authorization: "Bearer " + token(), Accept: "text/event-stream" },
        cache: "no-store",
        signal: ctrl.signal,
      });
      if (resp.status === 401 || resp.status === 403) {
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin("That token was refused.");
        return;
      }
      if (!resp.ok || !resp.body) throw new Error("HTTP " + resp.status);
      setConn("on", "live");
      delay = 1000;
      await readEvents(resp.body);
    } catch (err) {
      if (ctrl.signal.aborted) return;
    }
    setConn("off", "reconnecting");
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

async function readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (event === "state" && data.length) render(JSON.parse(data.join("\n")));
    }
  }
}

// -- rendering -------------------------------------------------------------------------
function row(cells, attrs) {
  const tr = el("tr", null, attrs);
  for (const [label, value, cls] of cells) {
    const td = el("td", null, { "data-label": label });
    if (value instanceof Node) td.append(value); else td.textContent = value == null ? "" : String(value);
    if (cls) td.className = cls;
    tr.append(td);
  }
  return tr;
}

function fillTable(id, rows) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren(...rows);
  $(id).parentElement.hidden = rows.length === 0;
  const empty = $(id + "-empty");
  if (empty) empty.hidden = rows.length !== 0;
}

function time(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleTimeString();
}

function render(state) {
  const s = state.status;
  role = state.you.role;
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("account").textContent = s.account_label;
  const badge = $("state-badge");
  badge.dataset.state = s.killed ? "killed" : s.trading_state;
  badge.textContent = s.killed ? "halted · kill switch" : s.trading_state;

  const summary = [
    ["Connected", s.connected ? "yes" : "no"],
    ["Running", s.running ? "yes" : "no"],
    ["Strategy", s.strategy || "–"],
    ["Open orders", s.open_orders],
    ["Orders", `${s.orders_total} (filled ${s.orders_filled}, rejected ${s.orders_rejected})`],
    ["Fills", s.fills_total],
    ["Fill rate", `${Math.round(s.fill_rate * 100)}%`],
    ["Notional", s.filled_notional],
    ["Fees", s.commission],
    ["You", `${state.you.name} (${state.you.role})`],
  ];
  if (s.kill_report) summary.push(["Kill switch", s.kill_report.reason]);
  $("summary").replaceChildren(...summary.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));

  const readOnly = role !== "control";
  $("readonly-note").hidden = !readOnly;
  for (const b of $("actions").querySelectorAll("button")) b.disabled = readOnly || (s.killed && b.dataset.action !== "kill");

  $("orders-count").textContent = state.open_orders.length ? `(${state.open_orders.length})` : "";
  // Served by an account gateway, every order names the strategy that owns it.
  const owners = state.open_orders.some((o) => "strategy" in o);
  $("orders-strategy").hidden = !owners;
  fillTable("orders", state.open_orders.map((o) => {
    const cancel = readOnly ? "" : el("button", "Cancel", { type: "button", class: "small", "data-cancel": o.client_order_id });
    return row([
      ["Order", o.client_order_id, "id"], ...(owners ? [["Strategy", o.strategy ?? "–", "strategy"]] : []),
      ["Symbol", o.symbol], ["Side", o.side], ["Qty", o.quantity],
      ["Price", o.limit_price ?? o.stop_price ?? "MKT"], ["Status", o.status], ["Filled", o.filled_quantity],
      ["", cancel],
    ], { "data-order": o.client_order_id });
  }));

  renderUnknown(state.unknown_outcomes || [], readOnly);

  fillTable("positions", state.positions.filter((p) => p.quantity !== "0" || p.realized_pnl !== "0").map((p) => {
    const flat = readOnly || p.side === "flat" ? "" :
      el("button", "Flatten", { type: "button", class: "small danger", "data-flatten": p.symbol });
    return row([
      ["Symbol", p.symbol], ["Quantity", p.quantity], ["Avg price", p.average_price],
      ["Realized PnL", p.realized_pnl], ["Fees", p.fees_paid], ["", flat],
    ], { "data-symbol": p.symbol });
  }));

  const now = Date.now();
  fillTable("fills", state.fills.map((f) => {
    if (!firstSeen.has(f.trade_id)) firstSeen.set(f.trade_id, now);
    return row([
      ["Time", time(f.timestamp)], ["Symbol", f.symbol], ["Side", f.side], ["Qty", f.quantity],
      ["Price", f.price], ["Fee", `${f.fee} ${f.fee_currency}`], ["Order", f.client_order_id, "id"],
    ], { "data-trade": f.trade_id, "data-first-seen": String(firstSeen.get(f.trade_id)) });
  }));

  fillTable("balances", state.balances.map((b) => row([
    ["Asset", b.asset], ["Total", b.total], ["Available", b.available], ["Locked", b.locked],
  ])));

  const alerts = state.alerts.map((a) => {
    const li = el("li", null, { "data-level": a.level });
    li.append(el("span", time(a.timestamp), { class: "when" }), el("span", a.level, { class: "level" }),
      el("span", a.message, { class: "msg" }));
    return li;
  });
  $("alerts").replaceChildren(...alerts);
  $("alerts-empty").hidden = alerts.length !== 0;

  const rates = Object.entries(s.failure_rates || {});
  const breakers = Object.entries(state.breakers.breakers || {});
  $("resilience").replaceChildren(
    el("dt", "Request breaker"), el("dd", state.breakers.engine),
    ...breakers.flatMap(([k, v]) => [el("dt", k), el("dd", v)]),
    el("dt", "Failure rates"),
    el("dd", rates.length ? rates.map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`).join(", ") : "none"),
    el("dt", "Rate-limit waits"),
    el("dd", Object.entries(state.rate_limits || {}).map(([k, v]) =>
      `${k} ${v.waits}× (${Number(v.waited_seconds).toFixed(2)} s, longest ${Number(v.longest_wait).toFixed(2)} s)`).join(", ") || "none"),
    el("dt", "Dead letters"), el("dd", state.dead_letters.length),
  );
  const letters = state.dead_letters.map((d) => el("li", `${d.operation} ${d.client_order_id} ${d.symbol}: ${d.error_type} ${d.error_message}`));
  $("dead-letters").replaceChildren(...letters);
  $("dead-letters-empty").hidden = letters.length !== 0;
}

// Orders of unknown outcome: rows are kept by id across updates, so a reason being typed
// and the chosen settlement survive the live stream's re-renders.
const SETTLE_CHOICES = [
  ["look_up", "Look it up again"], ["working", "Working at the broker"], ["filled", "Filled (fetch its fills)"],
  ["canceled", "Canceled / not working"], ["rejected", "Never reached the broker"],
];

function unknownItem(u) {
  const li = el("li", null, { "data-unknown": u.client_order_id });
  li.append(el("div", null, { class: "what" }), el("div", null, { class: "why" }));
  const form = el("div", null, { class: "settle" });
  const pick = el("select", null, { "aria-label": `Settle ${u.client_order_id} as`, "data-settle-as": "" });
  for (const [value, label] of SETTLE_CHOICES) pick.append(el("option", label, { value }));
  const reason = el("input", null, {
    type: "text", maxlength: "200", placeholder: "What the broker shows (audited)",
    "aria-label": `Why: what the broker shows for ${u.client_order_id}`, "data-settle-reason": "",
  });
  form.append(pick, reason, el("button", "Settle", { type: "button", class: "small warn", "data-settle": u.client_order_id }));
  li.append(form);
  return li;
}

function renderUnknown(items, readOnly) {
  // Kept rows are never moved: moving a node would take the focus from a reason being typed.
  const list = $("unknown");
  const wanted = new Set(items.map((u) => u.client_order_id));
  for (const li of [...list.children]) if (!wanted.has(li.dataset.unknown)) li.remove();
  const keep = new Map([...list.children].map((li) => [li.dataset.unknown, li]));
  for (const u of items) {
    let li = keep.get(u.client_order_id);
    if (!li) list.append((li = unknownItem(u)));
    const o = u.order || {};
    const terms = [o.side, o.quantity, u.symbol, o.limit_price ? `@ ${o.limit_price}` : ""].filter(Boolean).join(" ");
    li.querySelector(".what").replaceChildren(
      el("span", u.operation, { class: "op" }), el("span", u.client_order_id, { class: "id" }),
      ...(o.strategy ? [el("span", o.strategy, { class: "strategy" })] : []),
      el("span", terms), el("span", `since ${time(u.since)}`, { class: "when" }),
    );
    li.querySelector(".why").textContent = u.last_error ? `${u.reason} · ${u.last_error}` : u.reason;
    li.querySelector(".settle").hidden = readOnly;
  }
  $("unknown-count").textContent = items.length ? `(${items.length})` : "";
  $("unknown-card").hidden = items.length === 0;
}

async function settle(button) {
  const id = button.dataset.settle;
  const li = button.closest("li");
  const as = li.querySelector("[data-settle-as]").value;
  const reason = li.querySelector("[data-settle-reason]").value.trim();
  if (as !== "look_up" && !reason) {
    toast("Say what the broker shows for this order first (the reason is audited).", true);
    li.querySelector("[data-settle-reason]").focus();
    return;
  }
  const label = SETTLE_CHOICES.find(([v]) => v === as)[1];
  const text = as === "look_up"
    ? `Ask the broker about order ${id} again now?`
    : `Settle order ${id} as "${label}"? Reason: ${reason}. This is written to the audit log and cannot be undone.`;
  if (!(await confirmStep(text))) return;
  await act(`/api/orders/${encodeURIComponent(id)}/settle`, { as, reason }, `Settle ${id}`);
}

// -- actions ---------------------------------------------------------------------------
function confirmStep(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    $("confirm-no").focus();
  });
}

async function act(path, body, label) {
  try {
    const resp = await fetch(path, {
      method: "POST",
      headers: { Authorization: "Bearer " + token(), "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
      cache: "no-store",
    });
    const data = await resp.json().catch(() => ({}));
    if (resp.status === 401) { showLogin("Your token was refused."); return; }
    if (!resp.ok) { toast(`${label} refused: ${data.message || resp.status}`, true); return; }
    toast(`${label}: done`);
  } catch (err) {
    toast(`${label} failed: ${err}`, true);
  }
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button");
  if (!button || button.disabled) return;
  if (button.dataset.action) {
    const action = button.dataset.action;
    if (button.dataset.confirm && !(await confirmStep(button.dataset.confirm))) return;
    const body = action === "halt" || action === "reducing-only" || action === "kill" ? { reason: "operator page" } : {};
    await act(`/api/actions/${action}`, body, button.textContent);
  } else if (button.dataset.cancel) {
    const id = button.dataset.cancel;
    button.disabled = true;
    await act(`/api/orders/${encodeURIComponent(id)}/cancel`, {}, `Cancel ${id}`);
  } else if (button.dataset.settle) {
    await settle(button);
  } else if (button.dataset.flatten) {
    const symbol = button.dataset.flatten;
    if (!(await confirmStep(`Flatten the ${symbol} position with a market order?`))) return;
    await act("/api/actions/flatten", { symbol }, `Flatten ${symbol}`);
  }
});

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("token").value.trim();
  if (!value) return;
  sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = "";
  $("login-error").textContent = "";
  $("login").hidden = true;
  connect();
});

$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin("Signed out.");
});

if (token()) connect(); else showLogin("");
