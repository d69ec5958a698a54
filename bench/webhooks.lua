-- wrk script: POSTs the pre-signed webhooks of $GLBRIDGE_REQUESTS (one
-- "<signature>\t<body>" per line, see cli/examples/webhook_requests.rs),
-- thread t sending lines t, t+T, t+2T, ... and starting over at the end.
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./") .. "common.lua")

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

