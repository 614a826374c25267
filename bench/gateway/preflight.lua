-- wrk script: a CORS preflight (OPTIONS + Origin + Access-Control-Request-*).
wrk.method = "OPTIONS"
wrk.headers["Origin"] = "https://app.example.com"
wrk.headers["Access-Control-Request-Method"] = "PUT"
wrk.headers["Access-Control-Request-Headers"] = "content-type, authorization"
