"use strict";
// Small helpers shared by the dashboard and the ticket board. Data is always inserted with
// textContent, never innerHTML, so a camera name can never become markup.
const LW = {
  el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  },
  async api(path, opts = {}) {
    const init = {credentials: "same-origin", ...opts};
    if (opts.json !== undefined) {
      init.method = init.method || "POST";
      init.headers = {"Content-Type": "application/json"};
      init.body = JSON.stringify(opts.json);
    }
    const r = await fetch(path, init);
    if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); }
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.detail || ("HTTP " + r.status));
    return body;
  },
  time(ts) {
    if (ts === null || ts === undefined) return "-";
    return new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) + "Z";
  },
  ago(ts) {
    if (!ts) return "-";
    const s = Math.max(0, Date.now() / 1000 - ts);
    if (s < 90) return Math.round(s) + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 172800) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  },
  async whoami() {
    const me = await LW.api("/v1/whoami");
    const w = document.getElementById("whoami");
    if (w) w.textContent = me.subject + " (" + me.role + ")";
    return me;
  },
  bindLogout() {
    const b = document.getElementById("logout");
    if (b) b.addEventListener("click", async () => {
      await fetch("/v1/session/logout", {method: "POST", credentials: "same-origin"});
      location.href = "/login";
    });
  },
};
