-- wrk script: Gleap custom-action calls, each a new conversation asking a
-- question the sandbox's agent answers from an article.
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./") .. "common.lua")

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

