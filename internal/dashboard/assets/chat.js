// /demo/vendor-connections: a conversation through the browser build of supabase-js, exactly as
// the Next.js frontend does it against hosted Supabase: the conversation's private server topic
// (authorized by RLS; only the server broadcasts there) for "message.created", its chatter
// topic "conversation:<id>:chatter" (the one topic clients may broadcast on) for presence and
// typing indicators, and rpc('send_message') to post.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("demo-config").textContent);
  var list = document.getElementById("messages");
  var statusEl = document.getElementById("channel-status");
  var presenceEl = document.getElementById("presence");
  var form = document.getElementById("send-form");
  var input = document.getElementById("message-input");
  var errEl = document.getElementById("send-error");
  var names = cfg.names || {};

  function stamp(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toISOString().replace(/\.\d+Z$/, "Z").replace("T", " ");
  }
  function add(id, senderId, body, createdAt) {
    if (id && list.querySelector('[data-message-id="' + id + '"]')) { return null; } // already shown
    var li = document.createElement("li");
    li.dataset.testid = "message-item";
    li.setAttribute("data-testid", "message-item");
    if (id) { li.dataset.messageId = id; }
    if (senderId === cfg.userId) { li.className = "mine"; }
    var who = document.createElement("span");
    who.className = "sender";
    who.textContent = names[senderId] || "someone";
    var text = document.createElement("span");
    text.className = "body";
    text.textContent = body;
    var t = document.createElement("time");
    t.textContent = stamp(createdAt);
    li.append(who, text, t);
    list.append(li);
    list.scrollTop = list.scrollHeight;
    return li;
  }
  function setStatus(s, detail) {
    statusEl.textContent = s.toLowerCase().replace(/_/g, " ");
    statusEl.dataset.status = s;
    statusEl.title = detail || "";
  }

  if (typeof supabase === "undefined") {
    setStatus("NO_CLIENT", "supabase-js did not load");
    return;
  }
  var client = supabase.createClient(location.origin, cfg.anonKey, {
    accessToken: function () { return Promise.resolve(cfg.token); }
  });
  if (!cfg.conversationId) {
    setStatus("NO_CONVERSATION");
    return;
  }
  // Missed messages come back: every (re)join asks for the broadcasts stored since the last
  // event this tab saw (broadcast.replay), and events are shown once by their key.
  var seenKeys = {};
  var lastSeen = Date.now();
  var REPLAY_MARGIN_MS = 2000; // clock skew between this device and the database
  function joinConfig() {
    return {
      broadcast: { ack: false, self: false, replay: { since: lastSeen - REPLAY_MARGIN_MS, limit: 25 } },
      presence: { enabled: false }, // presence lives on the chatter topic
      postgres_changes: [],
      private: true
    };
  }
  var channel = client.channel("conversation:" + cfg.conversationId, { config: joinConfig() });
  channel
    .on("broadcast", { event: "message.created" }, function (msg) {
      var p = msg.payload || {};
      lastSeen = Math.max(lastSeen, Date.now());
      channel.updateJoinPayload({ config: joinConfig() }); // what the next rejoin asks for
      if (p.key && seenKeys[p.key]) { return; }
      if (p.key) { seenKeys[p.key] = true; }
      var d = p.data || {};
      var li = add(d.message_id, d.sender_id, d.body_preview || "", d.created_at);
      if (li && msg.meta && msg.meta.replayed) { li.dataset.replayed = "true"; }
      setTyping(d.sender_id, false);
    })
    .subscribe(function (status, err) {
      setStatus(status, err && err.message);
    });

  var typingEl = document.getElementById("typing");
  var chatterStatusEl = document.getElementById("chatter-status");
  var typing = {}; // user id → time of their last "typing" broadcast
  function renderTyping() {
    var who = Object.keys(typing).filter(function (id) { return Date.now() - typing[id] < 5000; });
    typingEl.textContent = who.length ? who.map(function (id) { return names[id] || "someone"; }).join(", ") + " typing…" : "";
  }
  function setTyping(userId, on) {
    if (!userId || userId === cfg.userId) { return; }
    if (on) { typing[userId] = Date.now(); } else { delete typing[userId]; }
    renderTyping();
  }
  setInterval(renderTyping, 1000);

  var chatter = client.channel("conversation:" + cfg.conversationId + ":chatter", {
    config: { private: true, presence: { key: cfg.userId } }
  });
  chatter
    .on("broadcast", { event: "typing" }, function (msg) {
      var p = msg.payload || {};
      setTyping(p.user_id, p.typing !== false);
    })
    .on("presence", { event: "sync" }, function () {
      var state = chatter.presenceState();
      presenceEl.textContent = "";
      Object.keys(state).sort().forEach(function (key) {
        var meta = state[key][0] || {};
        var chip = document.createElement("span");
        chip.className = "chip ok";
        chip.setAttribute("data-testid", "presence-user");
        chip.dataset.userId = key;
        chip.textContent = (meta.name || names[key] || key) + " online";
        presenceEl.append(chip);
      });
    })
    .subscribe(function (status, err) {
      chatterStatusEl.textContent = status.toLowerCase().replace(/_/g, " ");
      chatterStatusEl.dataset.status = status;
      chatterStatusEl.title = (err && err.message) || "";
      if (status === "SUBSCRIBED") {
        chatter.track({ user_id: cfg.userId, name: cfg.userName, online_at: new Date().toISOString() });
      }
    });

  // Typing indicator: at most one broadcast every 2 s while typing.
  var lastTyping = 0;
  input.addEventListener("input", function () {
    if (Date.now() - lastTyping < 2000 || !input.value.trim()) { return; }
    lastTyping = Date.now();
    chatter.send({ type: "broadcast", event: "typing", payload: { user_id: cfg.userId, typing: true } });
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = input.value.trim();
    if (!body) { return; }
    errEl.textContent = "";
    input.disabled = true;
    client.rpc("send_message", { conversation_id: cfg.conversationId, body: body }).then(function (res) {
      input.disabled = false;
      if (res.error) {
        errEl.textContent = res.error.message + (res.error.code ? " (" + res.error.code + ")" : "");
        return;
      }
      var m = res.data;
      add(m.id, m.sender_id, m.body, m.created_at);
      lastTyping = 0;
      chatter.send({ type: "broadcast", event: "typing", payload: { user_id: cfg.userId, typing: false } });
      input.value = "";
      input.focus();
    });
  });
})();
