// <script defer src="https://EYE/eye.js" data-key="eye_pk_…"></script>, after the optional stub
// <script>window.eye = window.eye || { q: [], track() { eye.q.push(["track", arguments]) } };</script>
(() => {
  try {
    const script = document.currentScript;
    if (!script) return;
    const data = script.dataset;
    // The snippet's stub, if the page defined one, holds the calls made until now.
    const stub = window.eye;
    window.eye = init({
      key: data.key,
      host: data.api || new URL(script.src).origin,
      auto: data.auto !== "false",
      respectDnt: data.respectDnt === "true",
      queued: stub && stub.q,
    });
  } catch {
    // Never throw into the page.
  }
})();
