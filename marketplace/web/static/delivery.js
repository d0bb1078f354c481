// Extract page: poll the job's state and show its progress; reload when it has finished.
(function () {
  "use strict";
  var job = document.querySelector("[data-extract-url]");
  if (!job || job.getAttribute("data-finished") === "true") { return; }
  var url = job.getAttribute("data-extract-url");
  var bar = job.querySelector("progress");
  var text = job.querySelector("[data-progress-text]");

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body) { window.setTimeout(poll, 5000); return; }
        bar.value = body.progress;
        text.textContent = String(Math.round(body.progress * 100));
        if (body.status === "succeeded" || body.status === "failed") {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 1500);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
}());
