// <script defer src="https://EYE/eye.js" data-key="eye_pk_…"></script>
(() => {
  try {
    const script = document.currentScript;
    if (!script) return;
    const data = script.dataset;
    window.eye = init({
      key: data.key,
      host: data.api || new URL(script.src).origin,
      auto: data.auto !== "false",
      respectDnt: data.respectDnt === "true",
    });
  } catch {
    // Never throw into the page.
  }
})();
