// Upload a data version with a progress bar: the file goes as the raw request body to the API
// (so it streams to disk on the server), with the session's CSRF token. Without scripts the
// form posts as multipart and works the same, only without progress.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest) { return; }
  var sending = false;
  form.addEventListener("submit", function (event) {
    var input = document.getElementById("file");
    var file = input.files && input.files[0];
    if (!file) { return; }
    event.preventDefault();
    // A second click while the file is on its way would send it again.
    if (sending) { return; }
    sending = true;
    form.querySelector("button[type=submit]").disabled = true;
    var box = document.getElementById("upload-progress");
    var bar = document.getElementById("upload-bar");
    var status = document.getElementById("upload-status");
    box.hidden = false;
    var request = new XMLHttpRequest();
    request.open("PUT", form.getAttribute("data-api"));
    request.setRequestHeader("Content-Type", /\.parquet$/i.test(file.name)
      ? "application/vnd.apache.parquet" : "text/csv");
    request.setRequestHeader("X-CSRF-Token", window.marketplace.csrfToken());
    request.setRequestHeader("Accept", "application/json");
    // The form's token makes the server answer a repeated upload with the version it stored.
    request.setRequestHeader("Idempotency-Key", form.elements.upload_token.value);
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round(100 * e.loaded / e.total);
        bar.textContent = bar.value + " %";
      }
    });
    request.upload.addEventListener("load", function () {
      status.textContent = status.getAttribute("data-validating");
    });
    request.addEventListener("load", function () {
      var body = {};
      try { body = JSON.parse(request.responseText); } catch (ignored) { body = {}; }
      var version = body.version || "";
      if (request.status === 200 || (request.status === 422 && body.errors && body.errors.length
                                     && body.detail && /data version/.test(body.detail))) {
        var match = /data version (\d+)/.exec(body.detail || "");
        var number = version || (match ? match[1] : "");
        window.location.assign(form.getAttribute("data-report") + (number ? "?version=" + number : ""));
        return;
      }
      status.textContent = status.getAttribute("data-failed") + " " + (body.detail || request.status);
      sending = false;
      form.querySelector("button[type=submit]").disabled = false;
    });
    request.addEventListener("error", function () {
      status.textContent = status.getAttribute("data-failed");
      sending = false;
      form.querySelector("button[type=submit]").disabled = false;
    });
    request.send(file);
  });
})();
