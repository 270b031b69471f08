-- wrk script of bench/intake.py: POST one report per request, form-encoded as the mobile app
-- sends it without photos, each with its own Idempotency-Key and one of several citizens' API
-- tokens. Bodies (already URL-encoded, one per line) come from the file in WRK_BODIES, tokens
-- (one per line) from WRK_TOKENS. At the end it prints one line "RESULT {json}" with the
-- throughput, latency percentiles in microseconds and the count of non-2xx answers.

local threads = {}
local counter = 0
non2xx = 0  -- globals: done() reads them from each thread with thread:get
statuses = {}
local bodies = {}
local tokens = {}
local tag = ""

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  return lines
end

function setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  bodies = read_lines(os.getenv("WRK_BODIES"))
  tokens = read_lines(os.getenv("WRK_TOKENS"))
  -- A per-process random tag keeps keys unique across runs against the same database.
  math.randomseed(os.time() + id * 7919)
  tag = string.format("%08x%04x", math.random(0, 0x7fffffff), id)
  counter = math.random(0, #bodies - 1)
end

function request()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8",
    ["Accept"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1],
    ["Idempotency-Key"] = "bench-" .. tag .. "-" .. counter,
  }
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  local totals = {}
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    for code, n in pairs(thread:get("statuses")) do totals[code] = (totals[code] or 0) + n end
  end
  local codes = {}
  for code, n in pairs(totals) do codes[#codes + 1] = string.format('"%d": %d', code, n) end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "statuses": {%s}, ' ..
    '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, bad, table.concat(codes, ", "),
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
