-- wrk script: POST one prebuilt body with fixed headers, optionally paced, and print a JSON summary.
-- Environment: BENCH_BODY (file holding the body), BENCH_AUTH (Authorization header, may be empty),
-- BENCH_DELAY_MS (pause before each request on a connection; 0 = as fast as possible),
-- BENCH_RATE (requests a second for each wrk thread, on a fixed schedule; overrides BENCH_DELAY_MS),
-- BENCH_TARGETS (optional "host:port,host:port,...": wrk thread i connects to target i mod n, so one
-- wrk spreads its connections over several gateway hosts, as a load balancer would; the URL's path is
-- the same on each).

local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0") or 0
local rate = tonumber(os.getenv("BENCH_RATE") or "0") or 0
if rate > 0 then
  -- An open loop: request k of the thread is due at start + k / rate, whenever the answers come.
  -- A pause after each answer (BENCH_DELAY_MS) lets a slow answer lower the rate offered, so a
  -- server under strain would be measured at less than it was asked to take. wrk asks delay()
  -- before each request of any connection; a slot already past is sent at once (the schedule
  -- catches up), so a server that cannot keep up shows as an achieved rate below the offered one.
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clk_id, bench_timespec *tp);
  ]]
  local clock = ffi.new("bench_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
    return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
  end
  local interval, due = 1000 / rate, nil
  function delay()
    local now = now_ms()
    due = due and due + interval or now
    return math.max(0, math.floor(due - now + 0.5))
  end
elseif pause > 0 then
  function delay()
    return pause
  end
end

local targets = {}
for target in string.gmatch(os.getenv("BENCH_TARGETS") or "", "[^,]+") do
  table.insert(targets, target)
end
if #targets > 0 then
  local next_target = 0
  function setup(thread)
    local host, port = string.match(targets[next_target % #targets + 1], "^(.+):(%d+)$")
    thread.addr = wrk.lookup(host, port)[1]
    next_target = next_target + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
