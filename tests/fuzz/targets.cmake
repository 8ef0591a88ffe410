# SPDX-License-Identifier: MIT
#
# The fuzz targets: tests/fuzz/fuzz_<name>.c each, with its seed corpus in
# corpus/<name>/ and its crash regressions in regressions/<name>/.  Read by
# tests/fuzz/CMakeLists.txt (the binaries) and tests/fuzz/fuzz.cmake (the
# ctest pairs).  SB_FUZZ_EXTRA_<name>: more sources of that harness.
set(SB_FUZZ_TARGETS
  proto_v1          # statusbus.v1 client frames (sb_proto_parse) and the v1 encoders
  pusher            # Pusher client frames, channel names, signatures, Pusher encoders
  pusher_http       # the Pusher HTTP API: routes, query, signature, event bodies, relay payloads
  jwt               # HS256/RS256/ES256 verification, claims, PEM keys
  schema_validate   # random documents against the shipped schemas; ingest's verdict
  schema_compile    # random schema documents compiled, then used
  chanmap           # channel map parsing, channel names, routing both ways
  config            # the config loader
  hub               # the engine driven by a script: MQTT, clients, clock
  wire_check        # raw client bytes: request heads, bodies, WebSocket frame headers
)
set(SB_FUZZ_EXTRA_hub hub_model.c hub_broker.c)
