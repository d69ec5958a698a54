-- wrk script: POSTs the pre-signed webhooks of $GLBRIDGE_REQUESTS (one
-- "<signature>\t<body>" per line, see cli/examples/webhook_requests.rs),
-- thread t sending lines t, t+T, t+2T, ... and starting over at the end.
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./") .. "common.lua")

function init(args)
  load_requests()
end

function request()
  local l = next_request()
  return wrk.format("POST", "/webhooks/gradient-labs",
    { ["Content-Type"] = "application/json", ["X-GradientLabs-Signature"] = l[1] }, l[2])
end
