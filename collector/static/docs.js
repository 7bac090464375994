"use strict";
// Swagger UI over the collector's own OpenAPI; a file, not an inline script, so the pages'
// Content-Security-Policy (script-src 'self') holds here too.
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,  // the default validator is an outside service
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
