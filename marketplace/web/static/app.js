// Shared browser helpers. Session JSON calls must carry the CSRF token from the page's meta tag.
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  window.marketplace = {
    csrfToken: csrfToken,
    fetchJSON: function (url, options) {
      options = options || {};
      options.headers = Object.assign({ "Accept": "application/json", "X-CSRF-Token": csrfToken() },
                                      options.headers || {});
      options.credentials = "same-origin";
      return fetch(url, options).then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      });
    }
  };
})();
// A confirmation shown where the reader acted (data-focus-on-load) takes the focus, so it is
// both in view and read out by a screen reader, which a status shown at page load is not.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var message = document.querySelector("[data-focus-on-load]");
  if (message) { message.focus(); }
});
