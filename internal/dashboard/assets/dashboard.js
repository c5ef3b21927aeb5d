// Live refresh of the overview: every few seconds the server re-renders the sections
// (GET /dashboard/api/overview) and they are swapped in place. No framework, no build step.
(function () {
  "use strict";
  var status = document.getElementById("refresh-status");
  var every = 3000;
  function refresh() {
    fetch("/dashboard/api/overview", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (data) {
        Object.keys(data.sections || {}).forEach(function (name) {
          var el = document.querySelector('[data-section="' + name + '"]');
          if (el) { el.innerHTML = data.sections[name]; }
        });
        if (status) { status.textContent = "Updated " + new Date().toLocaleTimeString(); status.dataset.at = data.at; }
      })
      .catch(function (err) {
        if (status) { status.textContent = "Refresh failed (" + err.message + "); retrying"; }
      })
      .finally(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
