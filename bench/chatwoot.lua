-- wrk script: POSTs the pre-signed Chatwoot events of $GLBRIDGE_REQUESTS (one
-- "<timestamp>\t<signature>\t<body>" per line, see
-- cli/examples/chatwoot_requests.rs), thread t sending lines t, t+T, ...
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./") .. "common.lua")

function init(args)
  load_requests()
end

function request()
  local l = next_request()
  return wrk.format("POST", "/chatwoot/webhook",
    { ["Content-Type"] = "application/json", ["X-Chatwoot-Timestamp"] = l[1],
      ["X-Chatwoot-Signature"] = l[2] }, l[3])
end
