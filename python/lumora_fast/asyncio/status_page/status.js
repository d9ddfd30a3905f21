// The status page's live view: one WebSocket on /ws?status=1 (the devices' path), which
// sends a snapshot of /status.json (plus the QR code as SVG) on every change. No polling,
// no framework; every value is written with textContent, except the QR code's SVG,
// which the server renders from the device URL.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const session = params.get("session");
  let data = null;
  let shownQr = null;
  let retry = 500;

  const bytes = (n) => {
    if (n == null) return "–";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  };
  const ms = (n) => (n == null ? "–" : `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`);
  const ago = (t) => {
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  };
  const until = (t) => {
    const m = Math.max(0, Math.round((t - Date.now()) / 60000));
    return m < 60 ? `in ${m} min` : `in ${Math.floor(m / 60)} h ${m % 60} min`;
  };
  const cell = (row, text, cls) => {
    const td = row.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  };

  function renderSession(s) {
    $("version").textContent = data.version || "";
    if (!s) {
      $("url").textContent = "no live session";
      return;
    }
    $("url").textContent = s.url;
    $("session").textContent = s.id;
    $("expires").textContent = until(s.expires_at);
    const size = s.schema_bytes == null ? "no schema yet" : bytes(s.schema_bytes);
    const checksum = s.checksum ? ` · checksum ${s.checksum.slice(0, 16)}…` : "";
    $("schema").textContent = `${size}${checksum} · update #${s.sequence}`;
    const others = $("urls");
    others.replaceChildren(
      ...s.urls.slice(1).map((u) => {
        const li = document.createElement("li");
        const code = document.createElement("code");
        code.textContent = u;
        li.append(code);
        return li;
      }),
    );
    if (data.qr_svg && data.qr_svg !== shownQr) {
      const template = document.createElement("template");
      template.innerHTML = data.qr_svg;
      $("qr").replaceChildren(template.content);
      shownQr = data.qr_svg;
    }
  }

  function renderDevices(devices) {
    $("device-count").textContent = String(devices.length);
    $("no-devices").hidden = devices.length > 0;
    const body = $("devices").tBodies[0];
    body.replaceChildren();
    for (const d of devices) {
      const row = body.insertRow();
      row.dataset.device = d.connection_id;
      cell(row, d.name ? `${d.name} (${d.device_id})` : d.device_id);
      cell(row, d.platform);
      cell(row, ago(d.connected_since)).dataset.since = d.connected_since;
      cell(row, d.last_ack == null ? "–" : `#${d.last_ack}`, "num");
      cell(row, ms(d.last_latency_ms), "num");
      cell(row, d.pending.length ? d.pending.map((p) => `#${p}`).join(" ") : "none", "num");
      cell(row, d.update_type ? `${d.update_type} (of ${d.update_types.join(", ")})` : d.update_types.join(", "));
    }
  }

  function renderUpdates(updates) {
    $("no-updates").hidden = updates.length > 0;
    const body = $("updates").tBodies[0];
    body.replaceChildren();
    for (const u of updates) {
      const row = body.insertRow();
      row.dataset.sequence = u.sequence;
      cell(row, `#${u.sequence}`, "num");
      const kind = u.reason === "edit" ? u.type : `${u.type} (${u.reason === "push" ? "pushed" : "pushed, state reset"})`;
      cell(row, u.edits > 1 ? `${kind}, ${u.edits} edits` : kind);
      cell(row, bytes(u.bytes), "num");
      cell(row, `${u.sent_to} device${u.sent_to === 1 ? "" : "s"}`, "num");
      const acked = `${u.acked}/${u.sent_to}${u.failed ? `, ${u.failed} failed` : ""}`;
      cell(row, acked, "num " + (u.failed ? "bad" : u.waiting ? "" : "good"));
      cell(row, ms(u.latency_ms), "num");
      cell(row, ago(u.time)).dataset.since = u.time;
    }
  }

  function renderErrors(errors) {
    $("no-errors").hidden = errors.length > 0;
    $("errors").replaceChildren(
      ...errors.map((e) => {
        const li = document.createElement("li");
        const time = document.createElement("time");
        time.textContent = new Date(e.time).toLocaleTimeString();
        li.append(time, e.message);
        if (e.resolved_by !== null && e.resolved_by !== undefined) {
          li.classList.add("resolved");
          li.append(` (fixed: update #${e.resolved_by})`);
        }
        return li;
      }),
    );
  }

  function render(snapshot) {
    data = snapshot;
    renderSession(snapshot.session);
    renderDevices(snapshot.devices);
    renderUpdates(snapshot.updates);
    renderErrors(snapshot.errors);
  }

  // Relative times move on by themselves; this reads nothing from the server.
  setInterval(() => {
    for (const td of document.querySelectorAll("td[data-since]")) {
      td.textContent = ago(Number(td.dataset.since));
    }
    if (data && data.session) $("expires").textContent = until(data.session.expires_at);
  }, 1000);

  $("copy").addEventListener("click", async () => {
    const url = $("url").textContent;
    try {
      await navigator.clipboard.writeText(url);
    } catch {
      // Not a secure context (a LAN address over http): select it for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents($("url"));
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
    }
    $("copy").textContent = "Copied";
    setTimeout(() => ($("copy").textContent = "Copy"), 1500);
  });

  async function explainRefusal() {
    const response = await fetch(`/status.json${location.search}`);
    if (response.status === 403) {
      $("denied").textContent = await response.text();
      $("denied").hidden = false;
      $("main").hidden = true;
      return true;
    }
    return false;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = session ? `?session=${encodeURIComponent(session)}&status=1` : "?status=1";
    const ws = new WebSocket(`${scheme}//${location.host}/ws${query}`);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      retry = 500;
      $("live").textContent = "live";
      $("live").className = "badge live";
    };
    ws.onmessage = (event) => render(JSON.parse(event.data));
    ws.onclose = async () => {
      $("live").textContent = "reconnecting…";
      $("live").className = "badge";
      if (!opened && (await explainRefusal().catch(() => false))) return;
      // The server restarted or the network dropped: come back when it does.
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }
  connect();
})();
