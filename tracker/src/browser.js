// The tracker in a page: `init()` for single-page apps that bundle it as an ES module, and
// what the <script> tag (dist/eye.js) calls with its data- attributes.
import { VERSION, createTracker, queuedCalls, replay } from "./core.js";

export { VERSION };

function noop() {}

const inert = { track: noop, session: noop, pageview: noop, flush: noop, version: VERSION };

function randomUUID() {
  return crypto.randomUUID
    ? crypto.randomUUID()
    : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) =>
        (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16),
      );
}

function doNotTrack() {
  const n = navigator;
  return n.doNotTrack === "1" || window.doNotTrack === "1" || n.globalPrivacyControl === true;
}

// options: { key, host (The Eye's origin, e.g. "https://eye.example.com"), auto (pageviews,
// default true), respectDnt (default false), queued (the stub's calls made before the script
// loaded, see queuedCalls) } and any of the tracker's DEFAULTS.
export function init(options) {
  try {
    if (!options || !options.key) return inert;
    if (options.respectDnt && doNotTrack()) return inert;
    let storage = null;
    try {
      storage = window.sessionStorage;
    } catch {
      // Forbidden in some embedded contexts; the session then lives in memory.
    }
    const host = String(options.host || location.origin).replace(/\/+$/, "");
    const tracker = createTracker({
      ...options,
      endpoint: `${host}/api/event/`,
      fetch: (url, init) => fetch(url, init),
      sendBeacon: navigator.sendBeacon
        ? (url, body) => navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))
        : null,
      storage,
      now: () => Date.now(),
      setTimeout: (f, ms) => setTimeout(f, ms),
      clearTimeout: (t) => clearTimeout(t),
      random: Math.random,
      uuid: randomUUID,
    });
    let lastUrl = null;
    let referrer = document.referrer;
    const pageview = () => {
      // A replaceState that keeps the address, or a jump to an anchor, is no navigation.
      const here = location.origin + location.pathname + location.search;
      if (here === lastUrl) return;
      if (lastUrl !== null) referrer = lastUrl;
      lastUrl = here;
      tracker.track("page interaction", "pageview", {
        host: location.host,
        path: location.pathname,
        search: location.search,
        referrer,
        title: document.title,
      });
    };
    const hidden = () => tracker.flushBeacon();
    addEventListener("pagehide", hidden);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") hidden();
    });
    // Every event says where in the site it happened, unless its data says otherwise.
    const track = (category, name, data) => {
      try {
        const where = { host: location.host, path: location.pathname };
        const own = data && typeof data === "object" && !Array.isArray(data) ? data : {};
        tracker.track(category, name, { ...where, ...own });
      } catch {
        // Never throw into the page.
      }
    };
    const api = {
      track,
      session: tracker.session,
      pageview,
      flush: () => {
        tracker.flush();
      },
      version: VERSION,
    };
    const queued = queuedCalls(options.queued);
    replay(queued.before, api);
    if (options.auto !== false) {
      for (const method of ["pushState", "replaceState"]) {
        const original = history[method];
        history[method] = function (...args) {
          const result = original.apply(this, args);
          // After the app's own handlers, so that the title has a chance to change too.
          setTimeout(pageview, 0);
          return result;
        };
      }
      addEventListener("popstate", () => setTimeout(pageview, 0));
      pageview();
    }
    replay(queued.after, api);
    return api;
  } catch {
    return inert;
  }
}
