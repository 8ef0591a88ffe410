/* SPDX-License-Identifier: MIT
 *
 * http_api.h - the HTTP endpoints on the bridge's port (docs/protocol.md
 * §7): /healthz, /metrics, /v1/snapshot, /v1/history and static files.
 * ws_server.c routes HTTP callbacks here; this module knows the hub and
 * the counters it reports, not the WebSocket side.
 */
#ifndef SB_HTTP_API_H
#define SB_HTTP_API_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "hub.h"

struct lws;
struct sb_inbox;
struct sb_pusher;
struct sb_http_parked;

/* What the endpoints read; filled by the server at start. */
struct sb_http_api {
	const struct sb_config *cfg;
	struct sb_hub *hub;
	struct sb_pusher *pusher;     /* NULL without Pusher */
	struct sb_inbox *inbox;       /* NULL in tests */
	int64_t started_ms;
};

/* Per-request state of a response being written, embedded in the
 * server's per-session data. */
struct sb_http_pss {
	unsigned char *mem;   /* LWS_PRE headroom + body */
	size_t len;
	struct sb_http_parked *parked;   /* a query waiting for its channel */
};

/* Answers an HTTP GET; returns 0 when handled (response written or
 * scheduled), -1 to close the connection. */
int sb_http_handle(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
		   const char *path);
int sb_http_writeable(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss);
void sb_http_pss_free(struct sb_http_pss *pss);
/* 1 when the request's Origin header (if any) is allowed. */
int sb_origin_allowed(const struct sb_config *cfg, struct lws *wsi, char *origin,
		      size_t originlen);

#endif
