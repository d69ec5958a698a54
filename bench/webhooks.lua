-- wrk script: POSTs the pre-signed webhooks of $GLBRIDGE_REQUESTS (one
-- "<signature>\t<body>" per line, see cli/examples/webhook_requests.rs),
-- thread t sending lines t, t+T, t+2T, ... and starting over at the end.
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  lines = {}
  for line in io.lines(os.getenv("GLBRIDGE_REQUESTS")) do
    local tab = line:find("\t", 1, true)
    lines[#lines + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
  end
  step = tonumber(os.getenv("GLBRIDGE_WRK_THREADS") or "2")
  i = id
end

function request()
  local l = lines[(i % #lines) + 1]
  i = i + step
  return wrk.format("POST", "/webhooks/gradient-labs",
    { ["Content-Type"] = "application/json", ["X-GradientLabs-Signature"] = l[1] }, l[2])
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
