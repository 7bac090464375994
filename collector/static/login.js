"use strict";
// Exchange a token for an HttpOnly session cookie; the token is never kept by the page.
document.getElementById("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = document.getElementById("token");
  const err = document.getElementById("login-error");
  err.textContent = "";
  try {
    const r = await fetch("/v1/session", {method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({token: input.value})});
    input.value = "";
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { err.textContent = body.detail || ("sign-in failed: HTTP " + r.status); return; }
    const next = new URLSearchParams(location.search).get("next");
    const safe = next && next.startsWith("/") && !next.startsWith("//") ? next : null;
    location.href = safe || (body.role === "crew" ? "/board" : "/dashboard");
  } catch (e) {
    err.textContent = "collector unreachable: " + e;
  }
});
