"use strict";
// Crew ticket board: list by compound, acknowledge, assign, comment, close. Phone-first layout.
(() => {
  const {el, api} = LW;
  const fCompound = document.getElementById("f-compound");
  const fStatus = document.getElementById("f-status");
  const box = document.getElementById("tickets");
  const err = document.getElementById("board-error");
  let canWrite = false;
  let open = new Set();  // ticket ids whose forms are expanded: keep them across refreshes

  async function act(path, body) {
    err.textContent = "";
    try { await api(path, {method: "POST", json: body || {}}); }
    catch (e) { err.textContent = e.message; }
    await load();
  }

  function form(t, kind) {
    const id = t.id;
    if (kind === "assign") {
      const input = el("input", {name: "assignee", placeholder: "assignee", value: t.assignee || "", required: true});
      return el("form", {class: "assign-form", onsubmit: (e) => { e.preventDefault(); act(`/v1/tickets/${id}/assign`, {assignee: input.value}); }},
        input, el("button", {type: "submit", text: "Save assignee"}));
    }
    if (kind === "comment") {
      const ta = el("textarea", {name: "body", rows: 3, placeholder: "what was found / done", required: true});
      return el("form", {class: "comment-form", onsubmit: (e) => { e.preventDefault(); act(`/v1/tickets/${id}/comments`, {body: ta.value}); }},
        ta, el("button", {type: "submit", text: "Add comment"}));
    }
    const note = el("textarea", {name: "note", rows: 2, placeholder: "repair note (optional)"});
    const reset = el("input", {type: "checkbox", name: "reset_baseline", checked: true});
    return el("form", {class: "close-form", onsubmit: (e) => { e.preventDefault(); open.delete(id);
        act(`/v1/tickets/${id}/close`, {note: note.value || null, reset_baseline: reset.checked}); }},
      note, el("label", {}, reset, " ask the agent to re-learn this camera's baseline (after a repair)"),
      el("button", {type: "submit", class: "danger confirm-close", text: "Confirm close"}));
  }

  function card(t) {
    const forms = el("div", {class: "forms"});
    const toggle = (kind) => () => {
      const existing = forms.querySelector("." + kind + "-form");
      forms.replaceChildren();
      if (!existing) { forms.append(form(t, kind)); open.add(t.id); } else open.delete(t.id);
    };
    const faults = t.faults.map((f) => el("span", {class: "badge" + (f.cleared_at ? " muted" : " critical"),
      text: f.fault + (f.cleared_at ? " (cleared)" : "")}));
    const actions = el("div", {class: "actions"});
    if (canWrite && t.status !== "closed") {
      if (!t.acknowledged_at) actions.append(el("button", {type: "button", class: "primary ack", text: "Acknowledge",
        onclick: () => act(`/v1/tickets/${t.id}/ack`)}));
      actions.append(el("button", {type: "button", class: "assign", text: "Assign", onclick: toggle("assign")}),
        el("button", {type: "button", class: "comment", text: "Comment", onclick: toggle("comment")}),
        el("button", {type: "button", class: "close", text: "Close", onclick: toggle("close")}));
    }
    return el("article", {class: "card", "data-ticket-id": t.id, "data-camera": t.camera},
      el("div", {}, el("span", {class: "status " + t.status, text: t.status}), " ",
        el("span", {class: "muted", text: "#" + t.id + " - " + t.compound})),
      el("h3", {text: t.camera}),
      el("div", {}, ...faults),
      el("div", {class: "muted", text: "opened " + LW.ago(t.opened_at) +
        (t.assignee ? " - assigned to " + t.assignee : "") +
        (t.acknowledged_by ? " - ack by " + t.acknowledged_by : "")}),
      actions, forms);
  }

  async function load() {
    const q = new URLSearchParams();
    if (fCompound.value.trim()) q.set("compound", fCompound.value.trim());
    if (fStatus.value) q.set("status", fStatus.value);
    document.getElementById("csv").href = "/v1/tickets.csv?" + q;
    try {
      const ts = await api("/v1/tickets?" + q);
      box.replaceChildren(...ts.map(card));
      document.getElementById("empty").classList.toggle("hidden", ts.length > 0);
    } catch (e) { err.textContent = e.message; }
  }

  async function init() {
    LW.bindLogout();
    const me = await LW.whoami();
    canWrite = me.permissions.includes("tickets_write");
    const params = new URLSearchParams(location.search);
    if (params.get("compound")) fCompound.value = params.get("compound");
    if (params.get("status") !== null) fStatus.value = params.get("status");
    try {
      const comps = await api("/v1/compounds");
      document.getElementById("compound-list").replaceChildren(...comps.map((c) => el("option", {value: c.compound})));
    } catch (e) { /* operators without camera view still get the board */ }
    fCompound.addEventListener("change", load);
    fStatus.addEventListener("change", load);
    await load();
    // Refresh unless someone is typing into a form on a card.
    setInterval(() => { if (!box.querySelector("form")) load(); }, 10000);
  }
  init().catch((e) => { err.textContent = e.message; });
})();
