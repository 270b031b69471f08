// Starts Swagger UI from the settings the page carries; kept out of the page so that the
// Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("swagger-settings").textContent);
  var csrfToken = document.body.dataset.csrfToken;
  settings.dom_id = "#swagger-ui";
  settings.presets = [SwaggerUIBundle.presets.apis];
  // "Try it out" from a signed-in browser uses the session, which needs the CSRF token on POST.
  settings.requestInterceptor = function (req) {
    if (csrfToken) {
      req.headers["X-CSRFToken"] = csrfToken;
    }
    return req;
  };
  window.ui = SwaggerUIBundle(settings);
})();
