// The column dictionary grows one row at a time. Without scripts the "add a column" button
// posts the form and the server draws it again with one more row; with scripts the last row is
// copied here, emptied and numbered, and the button no longer submits (Enter saves the form).
(function () {
  "use strict";
  var editor = document.getElementById("column-editor");
  var button = document.getElementById("add-column");
  var count = document.getElementById("column-rows");
  if (!editor || !button || !count) { return; }
  button.type = "button";
  var BLANK = { "type": "string", "role": "attribute" };

  function renumber(node, from, to) {
    ["id", "name", "for", "aria-describedby"].forEach(function (attribute) {
      var value = node.getAttribute(attribute);
      if (value) {
        node.setAttribute(attribute, value.split("col-" + from + "-").join("col-" + to + "-"));
      }
    });
  }

  function empty(row) {
    row.querySelectorAll(".field-error").forEach(function (error) { error.remove(); });
    row.querySelectorAll("[aria-invalid]").forEach(function (field) {
      field.removeAttribute("aria-invalid");
      field.removeAttribute("aria-describedby");
      field.removeAttribute("autofocus");
    });
    row.querySelectorAll("input").forEach(function (input) {
      if (input.type === "checkbox") {
        input.checked = /-shareable$/.test(input.name);
      } else {
        input.value = "";
      }
    });
    row.querySelectorAll("select").forEach(function (select) {
      var field = select.name.replace(/^col-\d+-/, "");
      select.value = BLANK[field] || "";
    });
  }

  button.addEventListener("click", function () {
    var rows = editor.querySelectorAll(".column-row");
    var last = rows[rows.length - 1];
    var from = last.getAttribute("data-row");
    var to = rows.length;
    var row = last.cloneNode(true);
    row.setAttribute("data-row", String(to));
    row.querySelectorAll("*").forEach(function (node) { renumber(node, from, to); });
    row.querySelector("legend").textContent = editor.getAttribute("data-legend")
      .replace("{n}", String(to + 1));
    row.querySelectorAll(".row-name").forEach(function (span) {
      span.textContent = " " + editor.getAttribute("data-row").replace("{n}", String(to + 1));
    });
    empty(row);
    editor.appendChild(row);
    count.value = String(to + 1);
    var status = document.getElementById("column-added");
    if (status) { status.textContent = status.getAttribute("data-text").replace("{n}", String(to + 1)); }
    if (to + 1 >= Number(editor.getAttribute("data-max"))) { button.hidden = true; }
    row.querySelector("input").focus();
  });
})();
