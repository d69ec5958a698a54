-- Shared by the wrk scripts of bench/load.sh: numbers each thread (`id`),
-- loads the pre-signed requests and prints one RESULT line that the script
-- reads.
local next_id = 0

-- Loads $GLBRIDGE_REQUESTS, one request per line as tab-separated fields,
-- into `lines`; thread t then sends lines t, t+T, t+2T, ... (T =
-- $GLBRIDGE_WRK_THREADS), starting over at the end. Call it from `init`.
function load_requests()
  lines = {}
  for line in io.lines(os.getenv("GLBRIDGE_REQUESTS")) do
    local fields, from = {}, 1
    while true do
      local tab = line:find("\t", from, true)
      if not tab then break end
      fields[#fields + 1] = line:sub(from, tab - 1)
      from = tab + 1
    end
    fields[#fields + 1] = line:sub(from)
    lines[#lines + 1] = fields
  end
  step = tonumber(os.getenv("GLBRIDGE_WRK_THREADS") or "2")
  i = id
end

-- The next line of this thread.
function next_request()
  local l = lines[(i % #lines) + 1]
  i = i + step
  return l
end

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
