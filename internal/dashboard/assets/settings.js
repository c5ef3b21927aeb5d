// /demo/settings/notifications: the signed-in user's preferences, quiet hours, time zone and
// push registration, written with supabase-js rpc() through PostgREST's contract.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("demo-config").textContent);
  var statusEl = document.getElementById("settings-status");
  function say(text, ok) {
    statusEl.textContent = text;
    statusEl.className = "status " + (ok ? "ok" : "bad");
    statusEl.dataset.ok = ok ? "true" : "false";
    statusEl.dataset.seq = String(Number(statusEl.dataset.seq || 0) + 1);
  }
  if (typeof supabase === "undefined") { say("supabase-js did not load", false); return; }
  var client = supabase.createClient(location.origin, cfg.anonKey, {
    accessToken: function () { return Promise.resolve(cfg.token); }
  });
  function failed(res) {
    if (!res.error) { return false; }
    say("Not saved: " + res.error.message + (res.error.code ? " (" + res.error.code + ")" : ""), false);
    return true;
  }
  function savePrefs(prefs, done) {
    client.rpc("set_notification_preferences", { prefs: prefs }).then(function (res) {
      if (failed(res)) { done(false); return; }
      say("Saved " + prefs.length + " preference" + (prefs.length === 1 ? "" : "s"), true);
      done(true);
    });
  }

  document.querySelectorAll("input.pref").forEach(function (box) {
    box.addEventListener("change", function () {
      var want = box.checked;
      box.disabled = true;
      savePrefs([{ category: box.dataset.category, channel: box.dataset.channel, enabled: want }], function (ok) {
        box.disabled = false;
        if (!ok) { box.checked = !want; }
      });
    });
  });

  var vendor = document.getElementById("vendor-toggle");
  vendor.addEventListener("change", function () {
    var want = vendor.checked;
    var cats = JSON.parse(vendor.dataset.categories);
    var chans = JSON.parse(vendor.dataset.channels);
    var prefs = [];
    cats.forEach(function (c) { chans.forEach(function (ch) { prefs.push({ category: c, channel: ch, enabled: want }); }); });
    vendor.disabled = true;
    savePrefs(prefs, function (ok) {
      vendor.disabled = false;
      if (!ok) { vendor.checked = !want; return; }
      prefs.forEach(function (p) {
        var box = document.querySelector('input.pref[data-category="' + p.category + '"][data-channel="' + p.channel + '"]');
        if (box) { box.checked = want; }
      });
    });
  });

  document.getElementById("push-enable").addEventListener("click", function (ev) {
    var btn = ev.currentTarget;
    // A real app asks FCM for this browser's registration token; the demo makes a stable one.
    var token = localStorage.getItem("vendorhub-demo-push-" + cfg.userId);
    if (!token) {
      var bytes = new Uint8Array(24);
      crypto.getRandomValues(bytes);
      token = "web-demo:" + Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
      localStorage.setItem("vendorhub-demo-push-" + cfg.userId, token);
    }
    btn.disabled = true;
    client.rpc("register_device", { platform: "web", token: token }).then(function (res) {
      btn.disabled = false;
      if (failed(res)) { return; }
      say("Push notifications enabled on this browser", true);
      btn.dataset.deviceId = res.data.id;
      btn.textContent = "Push enabled";
      var n = document.getElementById("device-count");
      if (n && !btn.dataset.counted) { n.textContent = String(Number(n.textContent) + 1); btn.dataset.counted = "1"; }
    });
  });

  document.getElementById("quiet-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var start = document.getElementById("quiet-start").value || null;
    var end = document.getElementById("quiet-end").value || null;
    client.rpc("set_notification_settings", {
      timezone: document.getElementById("tz").value, quiet_hours_start: start, quiet_hours_end: end
    }).then(function (res) {
      if (failed(res)) { return; }
      say("Quiet hours and time zone saved", true);
    });
  });
})();
