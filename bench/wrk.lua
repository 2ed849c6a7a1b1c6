-- wrk script of The Eye's benchmark (bench/ingest.py runs it).
--
-- BENCH_BATCH=0 sends plain GETs to the URL given to wrk; 1 POSTs one event object per
-- request; N > 1 POSTs a JSON array of N events. The events look like real traffic:
-- - event_id and session_id are random UUIDv4s, as our client and every SDK send them;
-- - sessions come from a pool of BENCH_SESSIONS live sessions (5,000) per thread, picked
--   at random for each event, so sessions interleave as real visitors do; each session
--   sends a few to a few dozen events, then a new one takes its place;
-- - categories, names and data follow events.demo's journeys (pageviews, scrolls, clicks,
--   forms, purchases) with its payload keys (host, path, browser, country, referrer, ...);
-- - BENCH_PROFILE=live stamps events within the last minute; backfill spreads session
--   starts over the last 30 days (an app sending its offline queue, an import), each
--   session's events some 25 s apart, as a visit.
-- response() counts every status exactly, and done() prints one line,
-- "BENCH_JSON {...}", with the counts and latency percentiles.

local batch = tonumber(os.getenv("BENCH_BATCH") or "0")
local key = os.getenv("BENCH_KEY") or ""
local run = os.getenv("BENCH_RUN") or "00000000" -- 8 hex digits, new for every phase
local profile = os.getenv("BENCH_PROFILE") or "live"
local pool_size = tonumber(os.getenv("BENCH_SESSIONS") or "5000")
local threads = {}

local HOSTS = { "www.shop.example", "app.shop.example" }
local PATHS = { "/", "/pricing", "/products", "/products/lamp", "/products/chair",
  "/blog/launch", "/about", "/checkout", "/account" }
local ELEMENTS = { "chat bubble", "sign up button", "hero cta", "pricing toggle",
  "add to cart", "newsletter" }
local BROWSERS = { "Chrome", "Safari", "Firefox", "Edge" }
local COUNTRIES = { "US", "DE", "FR", "GB", "IN", "BR", "JP", "NL" }
local REFERRERS = { "google", "direct", "newsletter", "twitter", "partner" }
local PRODUCTS = { "lamp", "chair", "desk", "rug" }
-- (weight, category, name, extra data) in about the shares of events.demo.
local KINDS = {
  { 44, "page interaction", "pageview", function() return "" end },
  { 22, "page interaction", "scroll", function()
    return string.format(',"depth":%d', 25 * math.random(1, 4))
  end },
  { 13, "page interaction", "cta click", function()
    return string.format(',"element":"%s"', ELEMENTS[math.random(#ELEMENTS)])
  end },
  { 5, "account", "log in", function() return "" end },
  { 4, "form interaction", "form start", function() return ',"form":"signup"' end },
  { 1, "form interaction", "validation error", function()
    return ',"form":"signup","field":"email"'
  end },
  { 3, "form interaction", "submit", function()
    return ',"form":"signup","fields":["first_name","last_name","email"]'
  end },
  { 2, "account", "sign up", function() return ',"plan":"free"' end },
  { 3, "commerce", "add to cart", function()
    return string.format(',"product":"%s","price":%d.0', PRODUCTS[math.random(#PRODUCTS)],
      ({ 19, 49, 129, 349 })[math.random(4)])
  end },
  { 1, "commerce", "checkout", function() return ',"items":1' end },
  { 1, "commerce", "purchase", function()
    return string.format(',"product":"%s","price":49.0,"currency":"EUR"',
      PRODUCTS[math.random(#PRODUCTS)])
  end },
  { 1, "errors", "js error", function() return ',"message":"TypeError: x is undefined"' end },
}
local total_weight = 0
for _, kind in ipairs(KINDS) do total_weight = total_weight + kind[1] end

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function hex(digits)
  local parts = {}
  for i = 1, digits / 4 do parts[i] = string.format("%04x", math.random(0, 0xffff)) end
  return table.concat(parts)
end

local function uuid4()
  return string.format("%s-%s-4%s-%x%s-%s", hex(8), hex(4), hex(4):sub(2),
    math.random(8, 11), hex(4):sub(2), hex(12))
end

local function new_session()
  local started = os.time() - 60
  if profile == "backfill" then
    started = os.time() - math.random(3600, 30 * 86400)
  end
  return {
    id = uuid4(),
    left = math.random(3, 30),
    at = started + math.random(),
    context = string.format('"host":"%s","browser":"%s","country":"%s","referrer":"%s"',
      HOSTS[math.random(#HOSTS)], BROWSERS[math.random(#BROWSERS)],
      COUNTRIES[math.random(#COUNTRIES)], REFERRERS[math.random(#REFERRERS)]),
  }
end

function init(args)
  statuses = {}
  math.randomseed(tonumber(run, 16) + 7919 * tid + os.time())
  pool = {}
  for i = 1, pool_size do pool[i] = new_session() end
  post_headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }
end

local function timestamp(session)
  local at
  if profile == "backfill" then
    session.at = session.at + 1 + math.random() * 48
    at = session.at
  else
    at = os.time() - math.random() * 60
  end
  local whole = math.floor(at)
  return string.format("%s.%06d", os.date("!%Y-%m-%d %H:%M:%S", whole),
    math.floor((at - whole) * 1000000))
end

local function event()
  local slot = math.random(pool_size)
  local session = pool[slot]
  session.left = session.left - 1
  if session.left <= 0 then pool[slot] = new_session() end
  local pick = math.random() * total_weight
  local kind = KINDS[#KINDS]
  for _, candidate in ipairs(KINDS) do
    pick = pick - candidate[1]
    if pick <= 0 then kind = candidate; break end
  end
  return string.format(
    '{"event_id":"%s","session_id":"%s","category":"%s","name":"%s",'
      .. '"data":{%s,"path":"%s"%s},"timestamp":"%s"}',
    uuid4(), session.id, kind[2], kind[3], session.context, PATHS[math.random(#PATHS)],
    kind[4](), timestamp(session)
  )
end

function request()
  if batch == 0 then
    return wrk.format("GET")
  end
  if batch == 1 then
    return wrk.format("POST", nil, post_headers, event())
  end
  local events = {}
  for i = 1, batch do
    events[i] = event()
  end
  return wrk.format("POST", nil, post_headers, "[" .. table.concat(events, ",") .. "]")
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      counts[code] = (counts[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%d,"requests":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"statuses":{%s}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(parts, ",")
  ))
end
