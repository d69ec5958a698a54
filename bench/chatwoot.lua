-- wrk script: POSTs the pre-signed Chatwoot events of $GLBRIDGE_REQUESTS (one
-- "<timestamp>\t<signature>\t<body>" per line, see
-- cli/examples/chatwoot_requests.rs), thread t sending lines t, t+T, ...
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./") .. "common.lua")

function init(args)
  lines = {}
  for line in io.lines(os.getenv("GLBRIDGE_REQUESTS")) do
    local a = line:find("\t", 1, true)
    local b = line:find("\t", a + 1, true)
    lines[#lines + 1] = { line:sub(1, a - 1), line:sub(a + 1, b - 1), line:sub(b + 1) }
  end
  step = tonumber(os.getenv("GLBRIDGE_WRK_THREADS") or "2")
  i = id
end

function request()
  local l = lines[(i % #lines) + 1]
  i = i + step
  return wrk.format("POST", "/chatwoot/webhook",
    { ["Content-Type"] = "application/json", ["X-Chatwoot-Timestamp"] = l[1],
      ["X-Chatwoot-Signature"] = l[2] }, l[3])
end
