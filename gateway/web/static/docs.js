// Starts Swagger UI on the gateway's own OpenAPI document; its files come from
// the installed package, so /docs works without internet.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
});
