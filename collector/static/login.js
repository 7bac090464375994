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
    location.href = sameOriginPath(new URLSearchParams(location.search).get("next"))
      || (body.role === "crew" ? "/board" : "/dashboard");
  } catch (e) {
    err.textContent = "collector unreachable: " + e;
  }
});

// `next` only ever leads to a page of this collector: a path, resolved the way the browser
// would resolve it (so "//host", "/\\host", "/\t/host" and "javascript:" land elsewhere
// and are refused), whose origin is ours. Anything else falls back to the home page.
function sameOriginPath(next) {
  if (!next || next[0] !== "/" || next[1] === "/" || next[1] === "\\") return null;
  let u;
  try { u = new URL(next, location.origin); } catch (e) { return null; }
  if (u.origin !== location.origin) return null;
  return u.pathname + u.search + u.hash;
}
