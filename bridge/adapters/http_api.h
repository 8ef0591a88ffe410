/* SPDX-License-Identifier: MIT
 *
 * http_api.h - the HTTP endpoints on the bridge's port (docs/protocol.md
 * §7): /healthz, /livez, /readyz, /metrics, /v1/snapshot, /v1/history, the Pusher HTTP API
 * under /apps/ (pusher_api.h) and static files.
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
struct sb_mqtt_link;
struct sb_pusher;
struct sb_http_parked;
struct sb_conn_stats;
struct sb_deflate_stats;

/* What the endpoints read; filled by the server at start. */
struct sb_http_api {
	const struct sb_config *cfg;
	struct sb_hub *hub;
	struct sb_pusher *pusher;     /* NULL without Pusher */
	struct sb_inbox *inbox;       /* NULL in tests */
	struct sb_mqtt_link *link;    /* its takeover count; NULL in tests */
	int64_t started_ms;
	const struct sb_conn_stats *conn;   /* conn_guard.c's refusals; NULL in tests */
	const struct sb_deflate_stats *deflate;   /* ws_compress.c's; NULL in tests */
	const int *draining;          /* the server's SIGTERM drain flag; NULL = never */
};

/* Headers, and then a request's body, must be in within this many
 * seconds; also lws's timeout for each wait on the socket. */
#define SB_HTTP_DEADLINE_S 10
/* A request body over this is refused (413) unread, with the connection. */
#define SB_HTTP_MAX_BODY (1 << 20)

/* Per-request state of a response being written, embedded in the
 * server's per-session data. */
struct sb_http_pss {
	unsigned char *mem;   /* LWS_PRE headroom + body */
	size_t len;
	struct sb_http_parked *parked;   /* a query waiting for its channel */
	char *path;           /* a request whose body is being read */
	int close_after;      /* close the connection once the answer is out */
	/* the body of a Pusher API POST (pusher_api.h), read into memory up to
	 * pusher.max_request_bytes; other bodies are dropped */
	char *req;
	size_t req_len, req_cap;
};

/* Answers an HTTP request (LWS_CALLBACK_HTTP) now, or at the end of its
 * body (sb_http_body_done()); returns 0 when handled (response written or
 * scheduled), -1 to close the connection.  Every request gets a complete
 * answer, whatever it carries. */
int sb_http_handle(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
		   const char *path);
/* The same on the metrics.listen address (metrics_listen.c): GET /metrics,
 * 404 for any other path, 405 (closing) for any other method. */
int sb_http_handle_metrics_only(const struct sb_http_api *api, struct lws *wsi,
				struct sb_http_pss *pss, const char *path);
/* LWS_CALLBACK_HTTP_BODY: a piece of the body (kept for the Pusher API,
 * else dropped).  Returns 0. */
int sb_http_body(struct sb_http_pss *pss, const void *in, size_t len);
/* LWS_CALLBACK_HTTP_BODY_COMPLETION: the body is read; answers. */
int sb_http_body_done(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss);
/* LWS_CALLBACK_TIMER: -1 (close) when the body is still not in. */
int sb_http_timer(struct sb_http_pss *pss);
int sb_http_writeable(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss);
void sb_http_pss_free(struct sb_http_pss *pss);
/* 1 when the request's Origin header (if any) is allowed. */
int sb_origin_allowed(const struct sb_config *cfg, struct lws *wsi, char *origin,
		      size_t originlen);

#endif
