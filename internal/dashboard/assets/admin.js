// /admin/integrations: "Send test webhook" posts a signed test event through the real ingress
// (server side) and shows the outcome under the button.
(function () {
  "use strict";
  document.querySelectorAll("button.test-webhook").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var card = btn.closest('[data-testid="connection-row"]');
      var out = card.querySelector('[data-testid="test-webhook-result"]');
      btn.disabled = true;
      out.className = "result";
      out.textContent = "Sending…";
      fetch("/admin/integrations/" + encodeURIComponent(btn.dataset.connection) + "/test-webhook", {
        method: "POST", credentials: "same-origin", headers: { "X-Vendorhub-Request": "1", Accept: "application/json" }
      })
        .then(function (r) { return r.json(); })
        .then(function (res) {
          out.textContent = res.message;
          out.className = "result " + (res.ok ? "ok" : "bad");
          out.dataset.ok = res.ok ? "true" : "false";
          if (res.inbox_id) { out.dataset.inboxId = res.inbox_id; }
          if (res.ok) {
            var last = card.querySelector('[data-testid="last-webhook"]');
            if (last) { last.textContent = new Date().toISOString().replace(/\.\d+Z$/, "Z").replace("T", " "); }
          }
        })
        .catch(function (err) {
          out.textContent = "Request failed: " + err.message;
          out.className = "result bad";
          out.dataset.ok = "false";
        })
        .finally(function () { btn.disabled = false; });
    });
  });
})();
