// Workspace page: while a job waits or runs, poll it and reload the page when it has ended.
(function () {
  "use strict";
  var jobs = document.querySelectorAll("[data-job-url][data-finished='false']");
  if (!jobs.length) { return; }
  var ended = ["succeeded", "failed", "cancelled"];

  function poll(url) {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && ended.indexOf(body.status) >= 0) {
          window.location.reload();
          return;
        }
        window.setTimeout(function () { poll(url); }, body ? 2000 : 5000);
      })
      .catch(function () { window.setTimeout(function () { poll(url); }, 5000); });
  }
  Array.prototype.forEach.call(jobs, function (job) {
    window.setTimeout(function () { poll(job.getAttribute("data-job-url")); }, 1500);
  });
}());
