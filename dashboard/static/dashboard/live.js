// Live: ask the server every few seconds for the rows newer than the newest shown and put
// them on top. Paused by the button, and while the tab is hidden (no one is looking).
"use strict";

(function () {
  const MAX_ROWS = 500;

  document.addEventListener("DOMContentLoaded", function () {
    const table = document.querySelector("[data-live]");
    if (!table) return;
    const body = table.querySelector("[data-live-rows]");
    const toggle = document.querySelector("[data-live-toggle]");
    const status = document.querySelector("[data-live-status]");
    const announce = document.querySelector("[data-live-announce]");
    const empty = document.querySelector("[data-live-empty]");
    const controls = toggle.closest(".live-controls");
    const interval = Number(table.dataset.liveInterval || 2) * 1000;
    let newest = table.dataset.liveNewest || "";
    let paused = false;
    let timer = null;
    let busy = false;

    function rowsUrl() {
      const params = new URLSearchParams(table.dataset.liveQuery || "");
      params.delete("after");
      if (newest) params.set("after", newest);
      return table.dataset.liveSource + "?" + params.toString();
    }

    function stamp() {
      return new Date().toISOString().slice(11, 19) + " UTC";
    }

    function insert(html) {
      const template = document.createElement("template");
      template.innerHTML = html.trim();
      const rows = Array.from(template.content.querySelectorAll("tr"));
      if (!rows.length) return 0;
      body.querySelectorAll("tr.is-new").forEach(function (row) { row.classList.remove("is-new"); });
      const fragment = document.createDocumentFragment();
      let added = 0;
      rows.forEach(function (row) {
        // A poll reaches a few seconds behind the newest row shown, to catch events that
        // were stored after later arrivals; those already on the page are skipped.
        const id = row.dataset.eventId;
        if (id && body.querySelector('tr[data-event-id="' + id + '"]')) return;
        if (row.classList.contains("event-row")) {
          row.classList.add("is-new");
          added += 1;
        }
        fragment.appendChild(row);
      });
      body.insertBefore(fragment, body.firstChild);
      while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
      return added;
    }

    function poll() {
      if (paused || busy || document.hidden) return schedule();
      busy = true;
      fetch(rowsUrl(), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) {
          if (response.redirected || response.status === 401 || response.status === 403) {
            status.textContent = "Signed out: reload the page to sign in again";
            paused = true;
            return null;
          }
          if (!response.ok) throw new Error("HTTP " + response.status);
          const next = response.headers.get("X-Eye-Newest");
          return response.text().then(function (html) {
            if (next) newest = next;
            const added = insert(html);
            if (empty && body.rows.length) empty.hidden = true;
            status.textContent = "Updated " + stamp() + (added ? " · " + added + " new" : "");
          });
        })
        .catch(function () {
          status.textContent = "Cannot reach The Eye; retrying";
        })
        .finally(function () {
          busy = false;
          schedule();
        });
    }

    function schedule() {
      window.clearTimeout(timer);
      if (!paused) timer = window.setTimeout(poll, interval);
    }

    toggle.addEventListener("click", function () {
      paused = !paused;
      toggle.setAttribute("aria-pressed", String(paused));
      toggle.textContent = paused ? "Resume" : "Pause";
      controls.classList.toggle("is-paused", paused);
      status.textContent = paused ? "Paused" : "Updating every " + interval / 1000 + " s";
      announce.textContent = paused ? "Live updates paused" : "Live updates resumed";
      if (!paused) poll();
      else window.clearTimeout(timer);
    });

    schedule();
  });
})();
