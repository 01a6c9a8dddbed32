-- wrk script for bench/load.sh: replays the requests of a file, one per line, tab-separated:
--   method  host  path  cookie  csrf  body
-- Each connection starts at a different line and walks the list in order, so every kind of
-- request is in flight at once. With `-- nginx`, line n becomes `GET /r/<n>.html` (the same
-- bytes, saved beforehand), for the reference run.
local lines = {}
local nginx = false
local counter = 0

function init(args)
  nginx = os.getenv("PARVIS_MIX_NGINX") ~= nil
  local file = os.getenv("PARVIS_MIX")
  for line in io.lines(file) do
    local f = {}
    for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
    lines[#lines + 1] = f
  end
  counter = math.random(#lines)
end

function request()
  counter = counter % #lines + 1
  local f = lines[counter]
  if nginx then
    return wrk.format("GET", "/r/" .. counter .. ".html")
  end
  local headers = { ["Host"] = f[2] }
  if f[4] ~= "" then headers["Cookie"] = f[4] end
  if f[1] == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["X-CSRF-Token"] = f[5]
    return wrk.format("POST", f[3], headers, f[6])
  end
  return wrk.format("GET", f[3], headers)
end
