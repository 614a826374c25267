-- wrk script for the soak: valid and denied CORS traffic, in rotation.
-- (A headers table given to wrk.format replaces wrk.headers, Host included.)
local reqs = {
  wrk.format("GET", "/api/items", {["Host"] = "gateway", ["Origin"] = "https://app.example.com"}),
  wrk.format("GET", "/api/items", {["Host"] = "gateway", ["Origin"] = "https://evil.example"}),
  wrk.format("OPTIONS", "/api/items", {["Host"] = "gateway", ["Origin"] = "https://app.example.com", ["Access-Control-Request-Method"] = "PUT"}),
  wrk.format("OPTIONS", "/api/items", {["Host"] = "gateway", ["Origin"] = "https://app.example.com", ["Access-Control-Request-Method"] = "PATCH"}),
  wrk.format("POST", "/api/items", {["Host"] = "gateway", ["Origin"] = "https://app.example.com", ["Content-Type"] = "application/json"}, '{"a":1}'),
  wrk.format("GET", "/public/x", {["Host"] = "gateway", ["Origin"] = "null"}),
  wrk.format("GET", "/api/items", {["Host"] = "gateway"}),
}
local i = 0
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
