// Warden approval console: live updates of the pending list (progressive
// enhancement; the page works without it). Served from /static: the CSP
// allows no inline script. Everything from the server is set as text
// (textContent), never parsed as HTML.
"use strict";
(function () {
  const table = document.getElementById("pending");
  if (!table || !window.EventSource) return;
  const body = table.querySelector("tbody");
  const count = document.getElementById("pending-count");
  const status = document.getElementById("live");

  function cell(cls, text) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (text !== undefined) td.textContent = text;
    return td;
  }

  // The same shape as the server-rendered rows (console/src/pages.rs).
  function row(a) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(a.id);
    const link = document.createElement("a");
    link.className = "plan-link";
    link.href = "/approvals/" + encodeURIComponent(String(a.id));
    link.textContent = String(a.plan);
    const first = cell(null);
    first.appendChild(link);
    tr.appendChild(first);
    tr.appendChild(cell("agent", String(a.agent)));
    tr.appendChild(cell("spec", String(a.spec)));
    tr.appendChild(cell("created", String(a.created)));
    const reasons = cell("reasons");
    const ul = document.createElement("ul");
    for (const r of Array.isArray(a.reasons) ? a.reasons : []) {
      const li = document.createElement("li");
      li.textContent = String(r);
      ul.appendChild(li);
    }
    reasons.appendChild(ul);
    tr.appendChild(reasons);
    return tr;
  }

  const source = new EventSource("/events");
  source.addEventListener("pending", function (ev) {
    let items;
    try {
      items = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    if (!Array.isArray(items)) return;
    body.replaceChildren.apply(body, items.map(row));
    if (count) count.textContent = String(items.length);
    if (status) status.textContent = "Live: updated " + new Date().toLocaleTimeString();
  });
  source.onerror = function () {
    if (status) status.textContent = "Live updates interrupted; reconnecting…";
  };
})();
