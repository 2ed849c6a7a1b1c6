import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { DEFAULTS, backoffDelay, createTracker, queuedCalls, replay, uuid4 } from "../src/core.js";

// A clock and timers that the test moves by hand, and a server whose answers it scripts.
function harness({ answers = [], ...overrides } = {}) {
  let now = Date.UTC(2026, 0, 1, 12);
  let timers = [];
  let nextTimer = 1;
  const requests = [];
  const beacons = [];
  const store = new Map();
  let counter = 0;
  const env = {
    endpoint: "https://eye.test/api/event/",
    key: "eye_pk_test",
    now: () => now,
    random: () => 0.5,
    uuid: () => `00000000-0000-4000-8000-${String(++counter).padStart(12, "0")}`,
    setTimeout: (f, ms) => {
      const id = nextTimer++;
      timers.push({ id, at: now + ms, f });
      return id;
    },
    clearTimeout: (id) => {
      timers = timers.filter((t) => t.id !== id);
    },
    storage: {
      getItem: (k) => (store.has(k) ? store.get(k) : null),
      setItem: (k, v) => store.set(k, v),
    },
    fetch: async (url, init) => {
      requests.push({ url, init, events: JSON.parse(init.body), at: now });
      const answer = answers.length ? answers.shift() : 202;
      if (answer === "network") throw new TypeError("Failed to fetch");
      const [status, retryAfter] = Array.isArray(answer) ? answer : [answer, null];
      return { status, headers: { get: (h) => (h === "Retry-After" ? retryAfter : null) } };
    },
    sendBeacon: (url, body) => {
      beacons.push({ url, events: JSON.parse(body) });
      return true;
    },
    ...overrides,
  };
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const advance = async (ms) => {
    const end = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const due = timers[0];
      if (!due || due.at > end) break;
      timers.shift();
      now = due.at;
      due.f();
      await settle();
    }
    now = end;
    await settle();
  };
  return { tracker: createTracker(env), requests, beacons, advance, settle, store, env };
}

describe("batching", () => {
  it("sends what was tracked within a second, in one request", async () => {
    const h = harness();
    h.tracker.track("page interaction", "cta click", { element: "chat" });
    h.tracker.track("page interaction", "scroll");
    await h.advance(999);
    assert.equal(h.requests.length, 0);
    await h.advance(1);
    assert.equal(h.requests.length, 1);
    assert.deepEqual(
      h.requests[0].events.map((e) => e.name),
      ["cta click", "scroll"],
    );
    assert.deepEqual(h.requests[0].events[0].data, { element: "chat" });
  });

  it("sends at once when 20 events are waiting, and never more than 20 in a request", async () => {
    const h = harness();
    for (let i = 0; i < 45; i++) h.tracker.track("c", `n${i}`);
    await h.settle();
    assert.equal(h.requests.length, 1);
    await h.advance(1000);
    assert.deepEqual(
      h.requests.map((r) => r.events.length),
      [20, 20, 5],
    );
    const ids = h.requests.flatMap((r) => r.events.map((e) => e.event_id));
    assert.equal(new Set(ids).size, 45);
  });

  it("sends text/plain with the key and sent_at in the URL", async () => {
    const h = harness();
    h.tracker.track("c", "n");
    await h.advance(1000);
    const { url, init } = h.requests[0];
    assert.equal(init.headers["Content-Type"], "text/plain");
    assert.equal(init.credentials, "omit");
    const query = new URL(url).searchParams;
    assert.equal(query.get("key"), "eye_pk_test");
    assert.equal(query.get("sent_at"), new Date(h.requests[0].at).toISOString());
  });

  it("gives every event its own event_id and a timestamp", async () => {
    const h = harness({ uuid: undefined, random: Math.random });
    h.tracker.track("c", "a");
    h.tracker.track("c", "b", ["not", "an", "object"]);
    await h.advance(1000);
    const [a, b] = h.requests[0].events;
    assert.match(a.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a.event_id, b.event_id);
    assert.equal(a.timestamp, "2026-01-01T12:00:00.000Z");
    assert.deepEqual(b.data, {});
  });
});

describe("retry", () => {
  it("retries a network error, a 429 and a 5xx with the same events", async () => {
    const h = harness({ answers: ["network", 503, [429, "5"], 202] });
    h.tracker.track("c", "n");
    await h.advance(1000);
    await h.advance(120_000);
    assert.equal(h.requests.length, 4);
    const ids = h.requests.map((r) => r.events[0].event_id);
    assert.equal(new Set(ids).size, 1);
    assert.equal(h.tracker.queued, 0);
  });

  it("never retries a 4xx other than 429", async () => {
    for (const status of [400, 401, 403, 413, 422]) {
      const h = harness({ answers: [status] });
      h.tracker.track("c", "n");
      await h.advance(1000);
      await h.advance(600_000);
      assert.equal(h.requests.length, 1, `status ${status}`);
      assert.equal(h.tracker.queued, 0);
    }
  });

  it("backs off exponentially up to a ceiling, and honours Retry-After", async () => {
    const h = harness({ answers: ["network", "network", "network", [503, "30"], 202] });
    h.tracker.track("c", "n");
    await h.advance(1000);
    await h.advance(600_000);
    const gaps = h.requests.slice(1).map((r, i) => r.at - h.requests[i].at);
    // random() is 0.5, so each delay is three quarters of its ceiling.
    assert.deepEqual(gaps, [750, 1500, 3000, 30_000]);
    assert.equal(backoffDelay(30, DEFAULTS, () => 1), DEFAULTS.maxDelayMs);
  });

  it("waits out the backoff even when a full batch is waiting", async () => {
    const h = harness({ answers: ["network", 202, 202] });
    h.tracker.track("c", "first");
    await h.advance(1000);
    for (let i = 0; i < 25; i++) h.tracker.track("c", `n${i}`);
    await h.settle();
    assert.equal(h.requests.length, 1);
    await h.advance(750);
    assert.equal(h.requests.length, 2);
    assert.equal(h.requests[1].events[0].name, "first");
  });

  it("gives a batch up after maxAttempts sends, and goes on with the next", async () => {
    const h = harness({ answers: Array(8).fill("network") });
    h.tracker.track("c", "lost");
    await h.advance(1000);
    await h.advance(3_600_000);
    assert.equal(h.requests.length, 8);
    h.tracker.track("c", "next");
    await h.advance(1000);
    assert.equal(h.requests.at(-1).events[0].name, "next");
  });

  it("never throws, whatever fetch does", async () => {
    const h = harness({
      fetch: () => {
        throw new Error("boom");
      },
    });
    assert.doesNotThrow(() => h.tracker.track("c", "n"));
    await h.advance(1000);
    assert.equal(h.tracker.queued, 1);
  });
});

describe("queue", () => {
  it("keeps at most maxQueue events, dropping the oldest", async () => {
    const h = harness({ answers: Array(100).fill("network"), maxQueue: 30 });
    for (let i = 0; i < 100; i++) h.tracker.track("c", `n${i}`);
    assert.equal(h.tracker.queued, 30);
  });

  it("hands what is left to sendBeacon when the page goes away", async () => {
    const h = harness();
    h.tracker.track("c", "last click");
    h.tracker.flushBeacon();
    assert.equal(h.beacons.length, 1);
    assert.equal(h.beacons[0].events[0].name, "last click");
    assert.equal(new URL(h.beacons[0].url).searchParams.get("key"), "eye_pk_test");
    assert.ok(new URL(h.beacons[0].url).searchParams.get("sent_at"));
    assert.equal(h.tracker.queued, 0);
    await h.advance(5000);
    assert.equal(h.requests.length, 0);
  });

  it("leaves out of the beacon what a keepalive fetch is already carrying", async () => {
    let answer;
    const h = harness({
      fetch: (url, init) =>
        new Promise((resolve) => {
          answer = () => resolve({ status: 202, headers: { get: () => null } });
          h.requests.push({ events: JSON.parse(init.body), init });
        }),
    });
    h.tracker.track("c", "in flight");
    await h.advance(1000);
    assert.equal(h.requests[0].init.keepalive, true);
    h.tracker.track("c", "waiting");
    h.tracker.flushBeacon();
    assert.deepEqual(
      h.beacons.map((b) => b.events.map((e) => e.name)),
      [["waiting"]],
    );
    answer();
    await h.settle();
    assert.equal(h.tracker.queued, 0);
  });

  it("splits a large queue into beacons under 64 KB and keeps what the browser refused", () => {
    let accepted = 0;
    const h = harness({
      sendBeacon: (url, body) => {
        assert.ok(body.length < 64 * 1024);
        return ++accepted <= 2;
      },
    });
    for (let i = 0; i < 300; i++) h.tracker.track("c", "n", { pad: "x".repeat(500) });
    h.tracker.flushBeacon();
    assert.ok(h.tracker.queued > 0 && h.tracker.queued < 300);
  });
});

describe("session", () => {
  it("keeps one session per tab, renewed after 30 minutes without activity", async () => {
    const h = harness();
    h.tracker.track("c", "a");
    await h.advance(29 * 60 * 1000);
    h.tracker.track("c", "b");
    await h.advance(30 * 60 * 1000 + 1);
    h.tracker.track("c", "c");
    await h.advance(1000);
    const sessions = h.requests.flatMap((r) => r.events.map((e) => e.session_id));
    assert.equal(sessions[0], sessions[1]);
    assert.notEqual(sessions[1], sessions[2]);
    assert.equal(JSON.parse(h.store.get("eye.session")).id, sessions[2]);
  });

  it("uses the app's own session id when it sets one", async () => {
    const h = harness();
    h.tracker.session("e2085be5-9137-4e4e-80b5-f1ffddc25423");
    h.tracker.track("c", "a");
    await h.advance(1000);
    assert.equal(h.requests[0].events[0].session_id, "e2085be5-9137-4e4e-80b5-f1ffddc25423");
  });

  it("works without storage", async () => {
    const broken = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
    };
    const h = harness({ storage: broken });
    h.tracker.track("c", "a");
    h.tracker.track("c", "b");
    await h.advance(1000);
    const [a, b] = h.requests[0].events;
    assert.equal(a.session_id, b.session_id);
  });
});

describe("calls made before the script loaded", () => {
  // What the README's stub leaves in window.eye.q: [method, arguments] pairs.
  function stub() {
    const eye = { q: [] };
    for (const method of ["track", "session"]) {
      eye[method] = function () {
        eye.q.push([method, arguments]);
      };
    }
    return eye;
  }

  it("replays them once, in order, with the app's session id set before the first event", async () => {
    const h = harness();
    const eye = stub();
    eye.track("page interaction", "cta click", { element: "buy" });
    eye.session("0f0e0d0c-0b0a-4908-8706-050403020100");
    eye.track("page interaction", "scroll");
    eye.q.push(["flush", []], "junk");
    const queued = queuedCalls(eye.q);
    replay(queued.before, h.tracker);
    h.tracker.track("page interaction", "pageview");
    replay(queued.after, h.tracker);
    await h.advance(1000);
    assert.equal(h.requests.length, 1);
    const events = h.requests[0].events;
    assert.deepEqual(
      events.map((e) => e.name),
      ["pageview", "cta click", "scroll"],
    );
    assert.deepEqual(events[1].data, { element: "buy" });
    assert.deepEqual(new Set(events.map((e) => e.session_id)), new Set(["0f0e0d0c-0b0a-4908-8706-050403020100"]));
  });

  it("takes no queue, or a queue that is not one, as nothing queued", () => {
    for (const q of [undefined, null, "track", { length: 1, 0: ["track", []] }]) {
      assert.deepEqual(queuedCalls(q), { before: [], after: [] });
    }
  });

  it("never throws, whatever a queued call does", () => {
    const api = {
      track() {
        throw new Error("boom");
      },
    };
    assert.doesNotThrow(() => replay([["track", ["a", "b"]], ["track", null]], api));
  });
});

describe("uuid4", () => {
  it("makes version 4 UUIDs", () => {
    assert.match(uuid4(Math.random), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
