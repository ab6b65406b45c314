// Live collection progress: opens /ws/collection/<id> and pushes what arrives into the page
// with dash_clientside.set_props (no server round trip per message). Shows an error when the
// socket cannot connect or drops before the run ends; pings every 30 s to keep proxies open.
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.collection = (function () {
  var current = null;

  function logLine(message, level) {
    var cls = level === "error" ? "text-danger" : level === "warning" ? "text-warning-emphasis" : "";
    return {
      type: "Div",
      namespace: "dash_html_components",
      props: { children: message, className: "collection-log-line " + cls },
    };
  }

  function statusText(data) {
    var d = data.details || {};
    var parts = [window.statusLabel ? window.statusLabel(data.status) : data.status];
    if (d.total_instances !== undefined) {
      parts.push((d.processed_instances || 0) + "/" + d.total_instances + " instances");
    }
    if (d.total_queries !== undefined) {
      parts.push((d.total_queries || 0).toLocaleString() + " queries");
    }
    if (d.warnings && d.warnings.length) {
      parts.push(d.warnings.length + (d.warnings.length === 1 ? " warning" : " warnings"));
    }
    if (d.error) { parts.push("error: " + d.error); }
    return parts.join(" · ");
  }

  function watch(runId) {
    var set = window.dash_clientside.set_props;
    if (!runId) { return window.dash_clientside.no_update; }
    if (current) { current.closedOnPurpose = true; current.socket.close(); }
    var lines = [];
    var finished = false;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + window.location.host + "/ws/collection/" + encodeURIComponent(runId);
    set("collection-ws-error", { is_open: false });
    set("collection-log", { children: [] });
    set("collection-progress", { value: 0, label: "0 %", color: "primary", animated: true });
    set("collection-status", { children: "connecting…" });
    var socket;
    try {
      socket = new WebSocket(url);
    } catch (err) {
      set("collection-ws-error", { is_open: true, children: "Cannot open live progress: " + err });
      return window.dash_clientside.no_update;
    }
    var state = { socket: socket, closedOnPurpose: false };
    current = state;
    var pinger = setInterval(function () {
      if (socket.readyState === WebSocket.OPEN) { socket.send("ping"); }
    }, 30000);

    socket.onmessage = function (event) {
      if (event.data === "pong") { return; }
      var msg;
      try { msg = JSON.parse(event.data); } catch (err) { return; }
      if (msg.type === "log") {
        lines.push(logLine(msg.message, msg.level));
        if (lines.length > 500) { lines = lines.slice(-500); }
        set("collection-log", { children: lines.slice() });
      } else if (msg.type === "status") {
        var d = msg.data.details || {};
        var progress = Math.round(d.progress || 0);
        var done = msg.data.status === "completed" || msg.data.status === "error";
        var warned = d.warnings && d.warnings.length > 0;
        set("collection-progress", {
          value: progress, label: progress + " %", animated: !done, striped: !done,
          color: msg.data.status === "error" ? "danger" : done ? (warned ? "warning" : "success")
            : "primary",
        });
        set("collection-status", { children: statusText(msg.data) });
        if (done) {
          finished = true;
          set("collection-finished", { data: { id: runId, status: msg.data.status } });
        }
      }
    };
    socket.onerror = function () {
      if (!finished && !state.closedOnPurpose) {
        set("collection-ws-error", {
          is_open: true,
          children: "Cannot connect to live progress (" + url + "). The run goes on; " +
            "reload the page or pick the run in the history to follow it.",
        });
      }
    };
    socket.onclose = function () {
      clearInterval(pinger);
      if (!finished && !state.closedOnPurpose) {
        set("collection-ws-error", {
          is_open: true,
          children: "Live progress was interrupted before the run ended; pick the run in " +
            "the history to reconnect.",
        });
      }
    };
    return window.dash_clientside.no_update;
  }

  return { watch: watch };
})();
