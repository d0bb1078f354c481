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
