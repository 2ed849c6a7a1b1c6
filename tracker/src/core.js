// The tracker's logic, with everything it needs from the browser passed in, so that the
// same code runs in a page and under Node's test runner.
export const VERSION = "1.0.0";

export const DEFAULTS = {
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

export function uuid4(random) {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = Math.floor(random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// The delay before retry number `attempt` (1, 2, ...): exponential, capped, with jitter
// so that many tabs that lost the server at once do not come back at once.
export function backoffDelay(attempt, { baseDelayMs, maxDelayMs }, random) {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

// What the snippet's stub queued before the script loaded: [method, args] pairs, as
// `window.eye.q`. The app's own session id goes first (posthog-js does the same with
// identify), so that the first pageview carries it too; then the rest in the order made.
// Anything else in the queue is not a call the tracker knows, and is left out.
const QUEUEABLE = new Set(["track", "session", "pageview"]);

export function queuedCalls(queued) {
  const calls = Array.isArray(queued)
    ? queued.filter((c) => Array.isArray(c) && QUEUEABLE.has(c[0]))
    : [];
  return {
    before: calls.filter((c) => c[0] === "session"),
    after: calls.filter((c) => c[0] !== "session"),
  };
}

export function replay(calls, api) {
  for (const [method, args] of calls) {
    try {
      api[method](...Array.from(args || []));
    } catch {
      // Never throw into the page.
    }
  }
}

// env: { endpoint, key, fetch, sendBeacon, storage, now, setTimeout, clearTimeout,
//        random, uuid } and any of DEFAULTS to override.
export function createTracker(env) {
  const o = { ...DEFAULTS, ...env };
  const newId = o.uuid || (() => uuid4(o.random));
  let queue = [];
  let timer = null;
  let sending = false;
  // Events of a keepalive fetch under way: it outlives the page, so a beacon leaves them out.
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
      // Storage may be full or forbidden; the session then lives in memory only.
    }
  }

  // The tab's session: kept in sessionStorage and renewed after sessionMs without activity.
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
      // A full batch goes at once, unless the server is being given time to recover.
      if (queue.length >= o.batchSize && attempt === 0) flush();
      else if (timer === null) schedule(o.flushMs);
    } catch {
      // Never throw into the page.
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
        // text/plain keeps the request "simple": no CORS preflight.
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
      // Anything else is final: a 2xx was accepted, and another 4xx never will be.
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

  // The page is going away (or hidden, which may be the last chance): everything still
  // queued goes by sendBeacon, in pieces small enough for it, except what a keepalive
  // fetch is already carrying.
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
      // Never throw into the page.
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
