// Exports from Explore: the file streams to the browser's own download, while this line
// says how far it has got. The link gets a fresh progress token; the export records its
// row count under it, and this polls that every second until the last row has gone.
"use strict";

(function () {
  const POLL_MS = 1000;
  // Before the first rows, the export counts them; give up saying anything after this.
  const GIVE_UP_MS = 60000;

  function token() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function number(n) {
    return Number(n).toLocaleString("en-US");
  }

  document.addEventListener("DOMContentLoaded", function () {
    const line = document.querySelector("[data-export-progress]");
    if (!line) return;
    let timer = null;

    function follow(source, key, started) {
      fetch(source + "?token=" + key, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (progress) {
          if (!progress.started) {
            if (Date.now() - started < GIVE_UP_MS) timer = window.setTimeout(follow, POLL_MS, source, key, started);
            return;
          }
          if (progress.done) {
            line.textContent = "Export finished: " + number(progress.rows) + " events written.";
            return;
          }
          if (progress.stopped) {
            line.textContent = "The export stopped after " + number(progress.rows) +
              " events: the download was cancelled or cut off. Start it again for the whole file.";
            return;
          }
          let text = "Exporting: " + number(progress.rows);
          if (progress.total) {
            const share = Math.min(99, Math.floor((progress.rows * 100) / progress.total));
            text += " of " + number(progress.total) + " events (" + share + "%)";
          } else {
            text += " events so far";
          }
          line.textContent = text + "…";
          timer = window.setTimeout(follow, POLL_MS, source, key, started);
        })
        .catch(function () {
          line.textContent = "The export goes on in your browser's downloads.";
        });
    }

    document.querySelectorAll("a[data-export]").forEach(function (link) {
      link.addEventListener("click", function () {
        const key = token();
        const url = new URL(link.href, window.location.href);
        url.searchParams.set("progress", key);
        // The browser follows the href as it stands once this handler returns.
        link.href = url.toString();
        window.clearTimeout(timer);
        line.hidden = false;
        line.textContent = "Export starting…";
        follow(line.dataset.exportSource, key, Date.now());
      });
    });
  });
})();
