// The planner page: show the brand fields of the chosen mode, search brands, busy button.
(function () {
  "use strict";
  var form = document.getElementById("brief");
  if (!form) { return; }

  function showMode() {
    var mode = (form.querySelector("input[name=mode]:checked") || {}).value || "existing";
    form.querySelectorAll(".mode-existing").forEach(function (el) {
      el.hidden = mode !== "existing";
    });
    form.querySelectorAll(".mode-new").forEach(function (el) { el.hidden = mode !== "new"; });
  }
  form.querySelectorAll("input[name=mode]").forEach(function (el) {
    el.addEventListener("change", showMode);
  });
  showMode();

  // Brand search: the server sends the first brands; typing asks for matching ones.
  var brand = document.getElementById("f-brand");
  var list = document.getElementById("brand-list");
  var timer = null;
  if (brand && list && window.fetch) {
    brand.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch("brands.json?q=" + encodeURIComponent(brand.value))
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (items) {
            list.textContent = "";
            items.forEach(function (b) {
              var o = document.createElement("option");
              o.value = b.label;
              o.textContent = b.category + (b.country ? " \u00b7 " + b.country : "");
              list.appendChild(o);
            });
          })
          .catch(function () { /* the typed value is still sent as it is */ });
      }, 150);
    });
  }

  // Leave out the fields of the other mode, so the URL (and the CSV link) stays short.
  form.addEventListener("submit", function () {
    form.querySelectorAll("[hidden] input, [hidden] select").forEach(function (el) {
      el.disabled = true;
    });
    var button = document.getElementById("submit");
    button.disabled = true;
    button.textContent = "Ranking\u2026";
  });
  // Coming back with the browser's back button re-enables the form.
  window.addEventListener("pageshow", function () {
    form.querySelectorAll("[disabled]").forEach(function (el) { el.disabled = false; });
    var button = document.getElementById("submit");
    button.textContent = "Find influencers";
  });
})();
