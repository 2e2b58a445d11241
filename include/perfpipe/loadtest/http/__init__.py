"""HTTP/1.1 on the wire, for whichever client sends: the connection (llhttp framing, kept bodies, cookies,
redirect locations), the timestamped transport, request headers and credentials, redirects, cookie jars,
body decoding and the target (URL split, allowlist, probe). Nothing here knows a spec, a VU or the engine."""
