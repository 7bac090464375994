"use strict";
// Operator dashboard: alerts over SSE (no reload), camera states by compound, filters.
(() => {
  const {el, api} = LW;
  const fCompound = document.getElementById("f-compound");
  const fFault = document.getElementById("f-fault");
  const alerts = document.getElementById("alerts");
  const live = document.getElementById("live");
  let source = null;
  const MAX_ALERTS = 200;

  function alertItem(ev, fresh) {
    const li = el("li", {class: "alert" + (ev.state === "cleared" ? " cleared" : "") + (fresh ? " fresh" : ""),
      "data-event-id": ev.event_id, "data-camera": ev.camera, onclick: () => showDetail(ev)},
      el("div", {}, el("span", {class: "badge " + (ev.severity || ""), text: ev.severity || ""}),
        el("strong", {class: "cam", text: ev.camera}), " ",
        el("span", {class: "fault", text: ev.fault}), " ",
        el("span", {class: "state", text: ev.state})),
      el("div", {class: "meta", text: LW.time(ev.t) + "  confidence " +
        (ev.confidence === null ? "-" : ev.confidence.toFixed(2))}));
    return li;
  }

  function addAlert(ev, fresh) {
    alerts.prepend(alertItem(ev, fresh));
    while (alerts.children.length > MAX_ALERTS) alerts.lastChild.remove();
  }

  function showDetail(ev) {
    document.getElementById("detail").classList.remove("hidden");
    document.getElementById("detail-title").textContent = ev.camera + " - " + ev.fault + " " + ev.state;
    const ie = document.getElementById("img-evidence");
    const fe = document.getElementById("fig-evidence");
    const ir = document.getElementById("img-reference");
    const fr = document.getElementById("fig-reference");
    fe.classList.toggle("hidden", !ev.has_snapshot);
    if (ev.has_snapshot) ie.src = "/v1/events/" + encodeURIComponent(ev.event_id) + "/snapshot";
    fr.classList.add("hidden");
    ir.onload = () => fr.classList.remove("hidden");
    ir.src = "/v1/reference?camera=" + encodeURIComponent(ev.camera);
    document.getElementById("detail-noimg").textContent = ev.has_snapshot ? "" : "no evidence image sent";
    const tb = document.getElementById("detail-evidence");
    tb.replaceChildren();
    for (const [k, v] of Object.entries(ev.evidence || {})) {
      tb.append(el("tr", {}, el("th", {text: k}), el("td", {text: JSON.stringify(v)})));
    }
  }

  function query() {
    const q = new URLSearchParams();
    if (fCompound.value) q.set("compound", fCompound.value);
    if (fFault.value) q.set("fault", fFault.value);
    return q;
  }

  async function loadAlerts() {
    const q = query(); q.set("limit", "50");
    const evs = await api("/v1/events?" + q);
    alerts.replaceChildren();
    for (const ev of evs.reverse()) addAlert(ev, false);
  }

  function connect() {
    if (source) source.close();
    source = new EventSource("/v1/stream?" + query());
    source.addEventListener("open", () => { live.className = "on"; live.textContent = "\u25CF live"; });
    source.addEventListener("error", () => { live.className = "off"; live.textContent = "\u25CF reconnecting"; });
    source.addEventListener("state_change", (m) => {
      const ev = JSON.parse(m.data);
      addAlert(ev, true);
      scheduleRefresh();
    });
  }

  let refreshTimer = null;
  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; loadCameras(); }, 1000);
  }

  async function loadCompounds() {
    const comps = await api("/v1/compounds");
    const cur = fCompound.value;
    const known = new Set([...fCompound.options].map((o) => o.value));
    for (const c of comps) if (!known.has(c.compound)) fCompound.append(el("option", {value: c.compound, text: c.compound}));
    fCompound.value = cur;
    return comps;
  }

  async function loadCameras() {
    const comps = await loadCompounds();
    const grid = document.getElementById("compounds");
    const table = document.getElementById("cameras");
    const title = document.getElementById("cams-title");
    if (!fCompound.value) {
      title.textContent = "Compounds (" + comps.length + ")";
      table.classList.add("hidden"); grid.classList.remove("hidden");
      grid.replaceChildren(...comps
        .filter((c) => !fFault.value || (c.raised[fFault.value] || 0) > 0)
        .map((c) => el("div", {class: "compound" + (c.faulty ? " has-faults" : ""), "data-compound": c.compound,
          onclick: () => { fCompound.value = c.compound; changed(); }},
          el("strong", {text: c.compound}), el("br"),
          el("span", {class: "status-ok", text: c.ok + " ok "}),
          el("span", {class: "status-faulty", text: c.faulty + " faulty "}),
          el("span", {class: "status-unknown", text: c.unknown + " unknown"}))));
      return;
    }
    const q = new URLSearchParams({compound: fCompound.value});
    if (fFault.value) q.set("fault", fFault.value);
    const cams = await api("/v1/cameras?" + q);
    title.textContent = "Cameras of " + fCompound.value + " (" + cams.length + ")";
    grid.classList.add("hidden"); table.classList.remove("hidden");
    document.getElementById("camera-rows").replaceChildren(...cams.map((c) =>
      el("tr", {"data-camera": c.id},
        el("td", {text: c.id}),
        el("td", {class: "status-" + c.status, text: c.status}),
        el("td", {text: c.raised.join(", ") || "-"}),
        el("td", {text: LW.ago(c.last_seen)}),
        el("td", {text: c.agent_silent ? "silent (" + LW.ago(c.agent_last_contact) + ")" : LW.ago(c.agent_last_heartbeat || c.agent_last_contact)}))));
  }

  // Seconds as an operator reads them: "2 h 03 min", "7 min 12 s", "0.4 s".
  function span(s) {
    s = Math.abs(s);
    if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + " s";
    const m = Math.round(s / 60);
    const r = Math.round(s);
    if (r < 3600) return Math.floor(r / 60) + " min " + String(r % 60).padStart(2, "0") + " s";
    if (s < 172800) return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
    return Math.round(s / 86400) + " d";
  }

  // clock_offset > 0: the agent's clock is behind the collector's.
  function clockCell(a) {
    if (a.clock_offset === null || a.clock_offset === undefined)
      return el("td", {class: "clock unknown muted", text: "clock unknown (sends no send time)"});
    const off = a.clock_offset;
    const when = "offset measured " + LW.ago(a.clock_offset_at) + " from the agent's send time";
    if (a.clock_skewed)
      return el("td", {class: "clock skewed", title: when + "; beyond the allowed skew: its alert times are corrected by it, fix the box's clock (NTP)"},
        el("span", {class: "badge critical", text: "skew"}),
        "clock " + span(off) + (off > 0 ? " behind" : " ahead"));
    return el("td", {class: "clock ok", title: when,
      text: "clock OK (" + span(off) + (off > 0 ? " behind" : " ahead") + ")"});
  }

  async function loadAgents() {
    const ags = await api("/v1/agents");
    // Silent agents first, then clocks beyond the allowed skew, then by id.
    ags.sort((a, b) => (b.silent - a.silent) || ((b.clock_skewed === true) - (a.clock_skewed === true)) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const silent = ags.filter((a) => a.silent).length;
    const skewed = ags.filter((a) => a.clock_skewed).length;
    document.getElementById("agents-title").textContent = "Agents (" + ags.length + ", " + silent +
      " silent, " + skewed + " clock" + (skewed === 1 ? "" : "s") + " off)";
    document.getElementById("agent-rows").replaceChildren(...ags.map((a) =>
      el("tr", {"data-agent": a.id, class: (a.silent ? "silent" : "") + (a.clock_skewed ? " skewed" : "")},
        el("td", {class: "agent-id", text: a.id}),
        el("td", {class: "last-contact", text: LW.ago(a.last_contact)}),
        el("td", {class: "contact " + (a.silent ? "status-faulty" : "status-ok"), text: a.silent ? "silent" : "reporting"}),
        clockCell(a))));
  }

  function changed() {
    const q = query();
    history.replaceState(null, "", q.toString() ? "?" + q : location.pathname);
    loadAlerts(); loadCameras(); connect();
  }

  async function init() {
    LW.bindLogout();
    const params = new URLSearchParams(location.search);
    const meta = await api("/v1/meta");
    for (const f of meta.faults) fFault.append(el("option", {value: f, text: f}));
    await LW.whoami();
    await loadCompounds();
    if (params.get("compound")) {
      if (![...fCompound.options].some((o) => o.value === params.get("compound")))
        fCompound.append(el("option", {value: params.get("compound"), text: params.get("compound")}));
      fCompound.value = params.get("compound");
    }
    if (params.get("fault")) fFault.value = params.get("fault");
    fCompound.addEventListener("change", changed);
    fFault.addEventListener("change", changed);
    connect();
    await Promise.all([loadAlerts(), loadCameras(), loadAgents()]);
    setInterval(() => { loadCameras(); loadAgents(); }, 15000);  // silence is time-driven, not event-driven
  }
  init().catch((e) => { live.className = "off"; live.textContent = "error: " + e.message; });
})();
