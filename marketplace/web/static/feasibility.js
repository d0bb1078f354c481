// Live feasibility count for a form that describes a cohort (the application form and the
// statistics form). The form carries data-feasibility="<API URL>" and an element with id
// "feasibility-count" (role="status"); its fields are named dataset (checkboxes or a select),
// purpose, age_min, age_max, sex, diagnoses, municipalities, period_start and period_end.
// Only a rounded count is ever shown; under the holders' threshold it reads "under N".
(function () {
  "use strict";
  var da = (document.documentElement.lang || "da") !== "en";
  var text = {
    persons: da ? "Omkring {n} personer efter samtykke og kohorte" : "About {n} persons after consent and cohort",
    under: da ? "Under {n} personer efter samtykke og kohorte" : "Under {n} persons after consent and cohort",
    none: da ? "Vælg et datasæt for at se, hvor mange personer kohorten har" : "Choose a dataset to see how many persons the cohort holds",
    failed: da ? "Antallet kan ikke beregnes: " : "The count cannot be computed: "
  };

  function codes(value) {
    return (value || "").split(/[\s,;]+/).filter(function (part) { return part; });
  }

  function values(form, name) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name === name && (el.type !== "checkbox" && el.type !== "radio" || el.checked);
    }).map(function (el) { return el.value; }).filter(function (v) { return v !== ""; });
  }

  function field(form, name) {
    var found = values(form, name);
    return found.length ? found[0] : "";
  }

  function body(form) {
    var cohort = {};
    var low = field(form, "age_min"), high = field(form, "age_max");
    if (low || high) { cohort.age = [parseInt(low || "0", 10), parseInt(high || "130", 10)]; }
    var sex = values(form, "sex");
    if (sex.length) { cohort.sex = sex; }
    var diagnoses = codes(field(form, "diagnoses"));
    if (diagnoses.length) { cohort.diagnoses = diagnoses.map(function (c) { return c.toUpperCase(); }); }
    var municipalities = codes(field(form, "municipalities"));
    if (municipalities.length) { cohort.municipalities = municipalities; }
    var start = field(form, "period_start"), end = field(form, "period_end");
    if (start || end) {
      cohort.period = {};
      if (start) { cohort.period.start = start; }
      if (end) { cohort.period.end = end; }
    }
    var request = {
      datasets: values(form, "dataset").map(function (id) { return parseInt(id, 10); }),
      cohort: cohort
    };
    var purpose = field(form, "purpose");
    if (purpose) { request.purpose = purpose; }
    return request;
  }

  function show(output, message) { output.textContent = message; }

  function update(form, output) {
    var request = body(form);
    if (!request.datasets.length) { show(output, text.none); return; }
    window.marketplace.fetchJSON(form.getAttribute("data-feasibility"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request)
    }).then(function (answer) {
      var b = answer.body || {};
      if (answer.status !== 200) {
        var detail = (b.errors || []).map(function (e) { return e.message; }).join("; ") || b.detail || "";
        show(output, text.failed + detail);
      } else if (b.suppressed) {
        show(output, text.under.replace("{n}", b.threshold));
      } else {
        show(output, text.persons.replace("{n}", b.persons));
      }
    }).catch(function () { show(output, text.failed); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-feasibility]");
    var output = document.getElementById("feasibility-count");
    if (!form || !output || !window.marketplace) { return; }
    var timer = null;
    function soon() {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { update(form, output); }, 300);
    }
    form.addEventListener("input", soon);
    form.addEventListener("change", soon);
    update(form, output);
  });
})();
