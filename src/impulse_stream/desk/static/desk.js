// The desktop's live feed: new opportunities of the open customer arrive as
// server-sent events; each one refreshes the actions from the desk.
"use strict";
(function () {
  const customer = document.body.dataset.customer;
  const panel = document.getElementById("panel");
  const feed = document.getElementById("feed");
  if (!customer || !panel || !feed || !window.EventSource) return;
  const label = (code) => String(code || "").replaceAll("_", " ");
  let refreshing = null;

  function refresh() {
    if (refreshing) return;
    // The worker writes its state before it publishes: the panel already shows the change.
    refreshing = fetch(panel.dataset.panelUrl, { headers: { Accept: "text/html" } })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => { panel.innerHTML = html; })
      .catch(() => {})
      .finally(() => { refreshing = null; });
  }

  const source = new EventSource("/customers/" + encodeURIComponent(customer) + "/feed");
  // (Re)connected: catch up with whatever was published while the page was loading.
  source.onopen = () => { document.body.classList.add("live"); refresh(); };
  source.onerror = () => document.body.classList.remove("live");
  source.addEventListener("opportunity", (event) => {
    const o = JSON.parse(event.data);
    const item = document.createElement("li");
    const time = new Date().toISOString().slice(11, 16);
    const what = o.status === "open"
      ? (o.revision === 0 ? "new" : (o.snoozed_until ? "snoozed" : "back"))
      : o.status + (o.closed_reason ? " (" + label(o.closed_reason) + ")" : "");
    item.className = "feed-" + o.status;
    item.dataset.actionId = o.action_id;
    item.textContent = time + " UTC  " + what + ": " + label(o.action_id) + ". " + (o.explanation || "");
    feed.prepend(item);
    while (feed.children.length > 20) feed.lastChild.remove();
    refresh();
  });
})();
