// The Eye's dashboard: draw the charts, copy payloads, show the custom range fields only
// when they are wanted, and refresh rows that are still changing. Plain JavaScript,
// served by The Eye itself; every page works without it except for drawing charts.
"use strict";

(function () {
  document.documentElement.classList.add("js");

  // Charts: each figure was built in Python and placed in a JSON script element by
  // Django's json_script (templates/includes/chart.html).
  function drawCharts() {
    const charts = document.querySelectorAll("[data-figure]");
    if (!charts.length) return;
    if (typeof window.Plotly === "undefined") {
      charts.forEach(function (element) {
        element.textContent = "The chart library did not load.";
      });
      return;
    }
    charts.forEach(function (element) {
      const source = document.getElementById(element.dataset.figure);
      if (!source) return;
      const figure = JSON.parse(source.textContent);
      window.Plotly.newPlot(element, figure.data, figure.layout, {
        displayModeBar: false,
        responsive: true,
      });
    });
  }

  // Copy buttons: data-copy names the element whose text is copied.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP deployments on a closed network have no Clipboard API.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
    } finally {
      document.body.removeChild(area);
    }
    return Promise.resolve();
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const target = document.getElementById(button.dataset.copy);
    if (!target) return;
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    copyText(target.textContent).then(
      function () { button.textContent = "Copied"; },
      function () { button.textContent = "Copy failed"; }
    );
    window.setTimeout(function () { button.textContent = label; }, 1500);
  });

  // From/To matter only for a custom range; hide them otherwise.
  function wireRangeFields() {
    document.querySelectorAll("form.filterbar").forEach(function (form) {
      const range = form.querySelector("select[name=range]");
      if (!range) return;
      const custom = form.querySelectorAll(".custom-range");
      function sync() {
        const show = range.value === "custom";
        // A field with an error stays in sight, whatever the range, so that it can be fixed.
        custom.forEach(function (field) {
          field.hidden = !show && !field.classList.contains("has-error");
        });
      }
      range.addEventListener("change", function () {
        sync();
        if (range.value === "custom") {
          const first = form.querySelector(".custom-range input");
          if (first) first.focus();
        }
      });
      sync();
    });
  }

  // A select marked data-autosubmit applies at once (the button stays for keyboards).
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-autosubmit]")) {
      event.target.form.submit();
    }
  });

  // Rows that are still changing (deletion requests under way): a table body marked
  // data-poll-source asks for its rows again every few seconds and swaps them in, until
  // the server's X-Eye-Active header says nothing is under way any more.
  function pollRows() {
    document.querySelectorAll("tbody[data-poll-source]").forEach(function (body) {
      const interval = Number(body.dataset.pollInterval || 2) * 1000;
      function poll() {
        if (document.hidden) {
          window.setTimeout(poll, interval);
          return;
        }
        fetch(body.dataset.pollSource, {
          credentials: "same-origin",
          headers: { "X-Requested-With": "fetch" },
        })
          .then(function (response) {
            // Signed out (sent to the login page) or no longer staff: stop asking.
            if (response.redirected || response.status === 403) return;
            if (!response.ok) throw new Error("HTTP " + response.status);
            const active = response.headers.get("X-Eye-Active") === "1";
            return response.text().then(function (html) {
              body.innerHTML = html;
              if (active) window.setTimeout(poll, interval);
            });
          })
          .catch(function () {
            // The server is restarting or the network dropped: try again, less often.
            window.setTimeout(poll, interval * 5);
          });
      }
      window.setTimeout(poll, interval);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireRangeFields();
    drawCharts();
    pollRows();
  });
})();
