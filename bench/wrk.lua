-- wrk script of The Eye's benchmark (bench/ingest.py runs it).
--
-- BENCH_BATCH=0 sends plain GETs to the URL given to wrk; 1 POSTs one seed-shaped event
-- object per request; N > 1 POSTs a JSON array of N such events. Every event carries an
-- event_id unique within the run (run tag, thread, counter), so none is a duplicate, and
-- a new session_id every 20 events. response() counts every status exactly, and done()
-- prints one line, "BENCH_JSON {...}", with the counts and latency percentiles.

local batch = tonumber(os.getenv("BENCH_BATCH") or "0")
local key = os.getenv("BENCH_KEY") or ""
local run = os.getenv("BENCH_RUN") or "00000000" -- 8 hex digits, new for every phase
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  counter = 0
  session = 0
  post_headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }
end

local function event()
  counter = counter + 1
  if counter % 20 == 1 then
    session = session + 1
  end
  return string.format(
    '{"event_id":"%s-%04x-4000-8000-%012x","session_id":"%s-%04x-4000-9000-%012x",'
      .. '"category":"page interaction","name":"cta click",'
      .. '"data":{"host":"www.xxxxx.com","path":"/","element":"chat bubble"},'
      .. '"timestamp":"%s.%06d"}',
    run, tid, counter, run, tid, session, os.date("!%Y-%m-%d %H:%M:%S"), counter % 1000000
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
