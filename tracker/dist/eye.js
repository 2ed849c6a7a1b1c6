/*! The Eye tracker 1.0.0 */
(() => {
"use strict";
const VERSION = "1.0.0";
const DEFAULTS = {
  batchSize: 20, // events per request at most
  flushMs: 1000, // and at most this long in the queue before a send
  maxQueue: 500, // events kept while the server cannot be reached; the oldest go first
  maxAttempts: 8, // sends of one batch before it is given up
  baseDelayMs: 1000, // first retry after about this long, doubling up to maxDelayMs
  maxDelayMs: 60000,
  sessionMs: 30 * 60 * 1000, // a session ends after this long without an event
  beaconBytes: 60000, // under the 64 KB that browsers allow beacons and keepalive fetches
};
const SESSION_KEY = "eye.session";
function uuid4(random) {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = Math.floor(random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
function backoffDelay(attempt, { baseDelayMs, maxDelayMs }, random) {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}
const QUEUEABLE = new Set(["track", "session", "pageview"]);
function queuedCalls(queued) {
  const calls = Array.isArray(queued)
    ? queued.filter((c) => Array.isArray(c) && QUEUEABLE.has(c[0]))
    : [];
  return {
    before: calls.filter((c) => c[0] === "session"),
    after: calls.filter((c) => c[0] !== "session"),
  };
}
function replay(calls, api) {
  for (const [method, args] of calls) {
    try {
      api[method](...Array.from(args || []));
    } catch {
    }
  }
}
function createTracker(env) {
  const o = { ...DEFAULTS, ...env };
  const newId = o.uuid || (() => uuid4(o.random));
  let queue = [];
  let timer = null;
  let sending = false;
  let inFlight = new Set();
  let attempt = 0;
  let ownSession = null;
  let memorySession = null;
  function readSession() {
    try {
      return JSON.parse(o.storage.getItem(SESSION_KEY));
    } catch {
      return memorySession;
    }
  }
  function writeSession(value) {
    memorySession = value;
    try {
      o.storage.setItem(SESSION_KEY, JSON.stringify(value));
    } catch {
    }
  }
  function sessionId() {
    if (ownSession) return ownSession;
    const t = o.now();
    let s = readSession();
    if (!s || typeof s.id !== "string" || !(t - s.last <= o.sessionMs)) s = { id: newId() };
    s.last = t;
    writeSession(s);
    return s.id;
  }
  function schedule(ms) {
    if (timer !== null) o.clearTimeout(timer);
    timer = o.setTimeout(() => {
      timer = null;
      flush();
    }, ms);
  }
  function url() {
    return `${o.endpoint}?key=${encodeURIComponent(o.key)}&sent_at=${encodeURIComponent(
      new Date(o.now()).toISOString(),
    )}`;
  }
  function track(category, name, data) {
    try {
      queue.push({
        event_id: newId(),
        session_id: sessionId(),
        category: String(category),
        name: String(name),
        data: data && typeof data === "object" && !Array.isArray(data) ? data : {},
        timestamp: new Date(o.now()).toISOString(),
      });
      if (queue.length > o.maxQueue) queue = queue.slice(queue.length - o.maxQueue);
      if (sending) return;
      if (queue.length >= o.batchSize && attempt === 0) flush();
      else if (timer === null) schedule(o.flushMs);
    } catch {
    }
  }
  function settle(batch) {
    const sent = new Set(batch.map((e) => e.event_id));
    queue = queue.filter((e) => !sent.has(e.event_id));
  }
  async function flush() {
    if (sending || !queue.length) return;
    if (timer !== null) {
      o.clearTimeout(timer);
      timer = null;
    }
    sending = true;
    const batch = queue.slice(0, o.batchSize);
    let retryIn = -1;
    try {
      const body = JSON.stringify(batch);
      const keepalive = body.length < o.beaconBytes;
      if (keepalive) inFlight = new Set(batch.map((e) => e.event_id));
      const response = await o.fetch(url(), {
        method: "POST",
        body,
        headers: { "Content-Type": "text/plain" },
        keepalive,
        credentials: "omit",
        mode: "cors",
      });
      const status = response.status;
      if (status === 429 || status >= 500) {
        const after = Number(response.headers && response.headers.get("Retry-After"));
        retryIn = after > 0 ? after * 1000 : 0;
      }
    } catch {
      retryIn = 0; // a network error (or a refused CORS answer): try again later
    }
    sending = false;
    inFlight = new Set();
    if (retryIn >= 0) {
      attempt += 1;
      if (attempt < o.maxAttempts) {
        schedule(Math.max(retryIn, backoffDelay(attempt, o, o.random)));
        return;
      }
    }
    attempt = 0;
    settle(batch);
    if (queue.length) schedule(queue.length >= o.batchSize ? 0 : o.flushMs);
  }
  function flushBeacon() {
    try {
      const waiting = queue.filter((e) => !inFlight.has(e.event_id));
      if (!waiting.length || !o.sendBeacon) return;
      if (timer !== null) {
        o.clearTimeout(timer);
        timer = null;
      }
      let piece = [];
      let size = 2;
      const pieces = [];
      for (const event of waiting) {
        const length = JSON.stringify(event).length + 1;
        if (piece.length && (size + length > o.beaconBytes || piece.length >= o.batchSize * 5)) {
          pieces.push(piece);
          piece = [];
          size = 2;
        }
        piece.push(event);
        size += length;
      }
      pieces.push(piece);
      for (const p of pieces) {
        if (!o.sendBeacon(url(), JSON.stringify(p))) break; // over the quota: keep the rest
        settle(p);
      }
    } catch {
    }
  }
  function session(id) {
    ownSession = id ? String(id) : null;
  }
  return {
    track,
    flush,
    flushBeacon,
    session,
    sessionId,
    get queued() {
      return queue.length;
    },
  };
}
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
function init(options) {
  try {
    if (!options || !options.key) return inert;
    if (options.respectDnt && doNotTrack()) return inert;
    let storage = null;
    try {
      storage = window.sessionStorage;
    } catch {
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
    const track = (category, name, data) => {
      try {
        const where = { host: location.host, path: location.pathname };
        const own = data && typeof data === "object" && !Array.isArray(data) ? data : {};
        tracker.track(category, name, { ...where, ...own });
      } catch {
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
(() => {
  try {
    const script = document.currentScript;
    if (!script) return;
    const data = script.dataset;
    const stub = window.eye;
    window.eye = init({
      key: data.key,
      host: data.api || new URL(script.src).origin,
      auto: data.auto !== "false",
      respectDnt: data.respectDnt === "true",
      queued: stub && stub.q,
    });
  } catch {
  }
})();

})();
