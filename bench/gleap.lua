-- wrk script: Gleap custom-action calls, each a new conversation asking a
-- question the sandbox's agent answers from an article.
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  n = 0
  run = os.getenv("GLBRIDGE_RUN") or "0"
end

function request()
  n = n + 1
  local body = string.format(
    '{"conversation":{"id":"load-%s-%d-%d"},"session":{"userId":"u-%d"},"comments":[{"id":"c1","comment":"How long does delivery take?"}]}',
    run, id, n, id)
  return wrk.format("POST", "/gleap/action",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer load" }, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
