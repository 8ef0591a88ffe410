/* SPDX-License-Identifier: MIT
 *
 * http_api.c - the HTTP endpoints of docs/protocol.md §7 on the bridge's
 * port: /healthz, /livez, /readyz, /metrics, /v1/snapshot, /v1/history, the Pusher HTTP API
 * under /apps/ (pusher_api.c), and static files
 * from listen.static_dir (no path traversal: ".." segments, NUL and
 * backslashes are refused before the file system is touched).  Every
 * request is answered in full, also one that carries a body (read within
 * the deadline: kept, bounded, for the Pusher API, else dropped), and
 * every number it carries (since, Content-Length) is range-checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libwebsockets.h>

#include "conn_limits.h"
#include "http_api.h"
#include "inbox.h"
#include "metrics_view.h"
#include "ws_deflate.h"
#include "mqtt_link.h"
#include "pusher_api.h"
#include "pusher_http.h"
#include "sb_version.h"
#include "session_pusher.h"

/* A /v1/snapshot or /v1/history request for a channel that is not live yet
 * (the first request for a channel nobody follows): answered when the hub
 * says the broker's retained replay is in, or at its deadline. */
struct sb_http_parked {
	struct sb_hub_waiter w;
	struct sb_hub *hub;
	struct lws *wsi;
	int ready, history;
	int64_t since;
	char *token;          /* NULL = none */
	char channel[300];
	char cors[256];
};

static void parked_free(struct sb_http_pss *pss)
{
	struct sb_http_parked *q = pss->parked;

	if (!q)
		return;
	sb_hub_waiter_cancel(q->hub, &q->w);
	free(q->token);
	free(q);
	pss->parked = NULL;
}

static void body_free(struct sb_http_pss *pss)
{
	free(pss->mem);
	pss->mem = NULL;
	pss->len = 0;
}

static void req_free(struct sb_http_pss *pss)
{
	free(pss->req);
	pss->req = NULL;
	pss->req_len = pss->req_cap = 0;
}

void sb_http_pss_free(struct sb_http_pss *pss)
{
	body_free(pss);
	req_free(pss);
	free(pss->path);
	pss->path = NULL;
	parked_free(pss);
}

int sb_origin_allowed(const struct sb_config *cfg, struct lws *wsi, char *origin, size_t olen)
{
	origin[0] = '\0';
	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
		return 1;   /* not a browser */
	if (lws_hdr_copy(wsi, origin, (int)olen, WSI_TOKEN_ORIGIN) < 0)
		return 0;
	for (size_t i = 0; i < cfg->n_allowed_origins; i++)
		if (strcmp(cfg->allowed_origins[i], "*") == 0 ||
		    strcmp(cfg->allowed_origins[i], origin) == 0)
			return 1;
	return 0;
}

/* Writes the status line and headers, then schedules the body. */
static int respond(struct lws *wsi, struct sb_http_pss *pss, unsigned int status,
		   const char *ctype, const char *body, size_t len, const char *cors_origin,
		   const char *extra_name, const char *extra_value)
{
	unsigned char buf[LWS_PRE + 2048], *start = &buf[LWS_PRE], *p = start,
		      *end = &buf[sizeof(buf) - 1];

	body_free(pss);
	pss->mem = malloc(LWS_PRE + len + 1);
	if (!pss->mem)
		return -1;
	memcpy(pss->mem + LWS_PRE, body, len);
	pss->len = len;
	if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)len, &p, end))
		return -1;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end))
		return -1;
	if (cors_origin && *cors_origin) {
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
						(const unsigned char *)cors_origin,
						(int)strlen(cors_origin), &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"vary:",
						(const unsigned char *)"Origin", 6, &p, end))
			return -1;
	}
	if (extra_name && lws_add_http_header_by_name(wsi, (const unsigned char *)extra_name,
						      (const unsigned char *)extra_value,
						      (int)strlen(extra_value), &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int answer(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
		  const char *token, const char *channel, int history, int64_t since,
		  const char *cors, int may_wait);

int sb_http_writeable(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss)
{
	int n;

	if (pss->parked) {
		struct sb_http_parked *q = pss->parked;
		if (!q->ready)
			return 0;
		pss->parked = NULL;   /* answered now, live or not */
		n = answer(api, wsi, pss, q->token, q->channel, q->history, q->since, q->cors, 0);
		free(q->token);
		free(q);
		return n;
	}
	if (!pss->mem)
		return 0;
	n = lws_write(wsi, pss->mem + LWS_PRE, pss->len, LWS_WRITE_HTTP_FINAL);
	body_free(pss);
	/* a refused body length: where the next request starts is unknown */
	if (n < 0 || pss->close_after)
		return -1;
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

static int json_error_with(struct lws *wsi, struct sb_http_pss *pss, unsigned int status,
			   const char *code, const char *msg, const char *cors,
			   const char *extra_name, const char *extra_value)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"code\":\"%s\",\"message\":\"%s\"}", code, code, msg);

	return respond(wsi, pss, status, "application/json", body, (size_t)n, cors, extra_name,
		       extra_value);
}

static int json_error(struct lws *wsi, struct sb_http_pss *pss, unsigned int status,
		      const char *code, const char *msg, const char *cors)
{
	return json_error_with(wsi, pss, status, code, msg, cors, NULL, NULL);
}

/* The orchestrator probes (docs/protocol.md §7): /livez answers 200 while
 * the process serves at all (a broker outage must not restart it);
 * /readyz 200 only while the broker link is up, what the bridge follows on
 * its own is live (sb_hub_warm: a client moving here with `since` finds
 * the lines) and no SIGTERM drain has begun, else 503, so that a balancer
 * sends new clients elsewhere. */
static int probe(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
		 int readiness, const char *cors)
{
	struct sb_hub_gauges g;
	int draining = api->draining && *api->draining, ready, warm;
	char body[192];
	int n;

	sb_hub_gauges(api->hub, &g);
	warm = sb_hub_warm(api->hub);
	ready = !readiness || (g.mqtt_connected && warm && !draining);
	n = snprintf(body, sizeof(body),
		     "{\"status\":\"%s\",\"mqtt\":\"%s\",\"following\":\"%s\",\"draining\":%s}",
		     readiness ? (ready ? "ready" : "not_ready") : "alive",
		     g.mqtt_connected ? "connected" : "disconnected", warm ? "live" : "settling",
		     draining ? "true" : "false");
	return respond(wsi, pss, ready ? 200 : 503, "application/json", body, (size_t)n, cors,
		       NULL, NULL);
}

static const char *mime_of(const char *path)
{
	static const struct { const char *ext, *mime; } types[] = {
		{ ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
		{ ".json", "application/json" }, { ".svg", "image/svg+xml" },
		{ ".png", "image/png" }, { ".ico", "image/x-icon" }, { ".txt", "text/plain; charset=utf-8" },
		{ ".map", "application/json" }, { ".ts", "text/plain; charset=utf-8" },
		{ ".woff2", "font/woff2" },
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < SB_ARRAY_LEN(types); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].mime;
	return "application/octet-stream";
}

static int safe_path(const char *path)
{
	const char *p = path;

	if (path[0] != '/' || strchr(path, '\\') || strlen(path) > 512)
		return 0;
	while (*p) {
		const char *seg = p + 1, *e = strchr(seg, '/');
		size_t n = e ? (size_t)(e - seg) : strlen(seg);
		if ((n == 2 && seg[0] == '.' && seg[1] == '.') || (n >= 1 && seg[0] == '.' && n != 0 &&
								  !(n == 1)))
			return 0;   /* "..", and hidden files */
		if (!e)
			break;
		p = e;
	}
	return 1;
}

static int serve_static(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
			const char *path)
{
	char file[1200];
	struct stat st;
	int n;

	if (!api->cfg->static_dir)
		return json_error(wsi, pss, 404, "not_found", "no such endpoint", NULL);
	if (!safe_path(path))
		return json_error(wsi, pss, 400, "bad_request", "bad path", NULL);
	snprintf(file, sizeof(file), "%s%s%s", api->cfg->static_dir, path,
		 path[strlen(path) - 1] == '/' ? "index.html" : "");
	if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
		return json_error(wsi, pss, 404, "not_found", "no such file", NULL);
	n = lws_serve_http_file(wsi, file, mime_of(file), NULL, 0);
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

/* 1 and the value of query argument `name` ("since=") in out; 0 when the
 * request has none; -1 when its value does not fit outlen (or no memory
 * for the search).  The buffer
 * holds any argument: lws_get_urlarg_by_name() stops looking at the first
 * argument longer than its buffer, which would make a later since= look
 * absent. */
static int url_arg(struct lws *wsi, const char *name, char *out, size_t outlen)
{
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS), rc = 0;
	const char *v;
	char *buf;

	if (total <= 0)
		return 0;
	buf = malloc((size_t)total + 1);
	if (!buf)
		return -1;
	v = lws_get_urlarg_by_name(wsi, name, buf, total + 1);
	if (v) {
		rc = strlen(v) < outlen ? 1 : -1;
		if (rc > 0)
			memcpy(out, v, strlen(v) + 1);
	}
	free(buf);
	return rc;
}

static int query(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss, int history,
		 const char *cors)
{
	char channel[300], sbuf[32], auth[SB_MAX_TOKEN + 16];
	const char *token = NULL;
	int64_t since = 0;
	int n;

	n = url_arg(wsi, "channel=", channel, sizeof(channel));
	if (n <= 0)
		return json_error(wsi, pss, 400, "bad_request", n ? "channel= is too long" :
				  "channel= is required", cors);
	/* the same range as the WebSocket's since (docs/protocol.md §7): a
	 * larger one would overflow the engine's since + 1 */
	n = history ? url_arg(wsi, "since=", sbuf, sizeof(sbuf)) : 0;
	if (n && (n < 0 || !sb_parse_uint(sbuf, SB_INT_MAX_EXACT, &since)))
		return json_error(wsi, pss, 400, "bad_request",
				  "since must be an integer from 0 to 2^53 - 1", cors);
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > (int)sizeof(auth) - 1)
		return json_error(wsi, pss, 401, "unauthorized", "token too large", cors);
	if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) > 0) {
		if (strncasecmp(auth, "Bearer ", 7) != 0)
			return json_error(wsi, pss, 401, "unauthorized", "Authorization must be Bearer <token>", cors);
		token = auth + 7;
	}
	return answer(api, wsi, pss, token, channel, history, since, cors, 1);
}

static void parked_ready(void *arg)
{
	struct sb_http_parked *q = arg;

	q->ready = 1;
	lws_callback_on_writable(q->wsi);
}

/* Asks the hub; a query it must wait for is parked (may_wait) and answered
 * from sb_http_writeable() once parked_ready() says so. */
static int answer(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
		  const char *token, const char *channel, int history, int64_t since,
		  const char *cors, int may_wait)
{
	struct sb_http_parked *q = may_wait ? calloc(1, sizeof(*q)) : NULL;
	enum sb_code code = SB_CODE_INTERNAL;
	enum sb_err rc;
	char *body = NULL;
	int status;

	if (q) {
		q->w.ready = parked_ready;
		q->w.arg = q;
	}
	rc = sb_hub_query(api->hub, token, channel, history, since, &body, &code, q ? &q->w : NULL);
	if (rc == SB_ERR_PENDING && q) {
		q->hub = api->hub;
		q->wsi = wsi;
		q->history = history;
		q->since = since;
		snprintf(q->channel, sizeof(q->channel), "%s", channel);
		snprintf(q->cors, sizeof(q->cors), "%s", cors ? cors : "");
		q->token = token ? strdup(token) : NULL;
		if (!token || q->token) {
			parked_free(pss);
			pss->parked = q;
			return 0;
		}
		sb_hub_waiter_cancel(api->hub, &q->w);
	}
	free(q);
	status = rc == SB_OK ? 200 : sb_code_http_status(code);
	if (!body)
		return json_error(wsi, pss, 500, "internal", "out of memory", cors);
	status = respond(wsi, pss, (unsigned int)status, "application/json", body, strlen(body), cors,
			 status == 401 ? "www-authenticate:" : NULL, "Bearer");
	free(body);
	return status;
}

static const char *method_of(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
		return "GET";
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
		return "POST";
	return "OTHER";   /* refused with 405 by the API's routing */
}

/* The Pusher HTTP API (pusher_api.c): server to server, no CORS. */
static int pusher(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
		  const char *path)
{
	struct sb_pusher_api_answer a;
	int rc;

	sb_pusher_api_answer(api, wsi, method_of(wsi), path, pss->req, pss->req_len, &a);
	req_free(pss);
	if (!a.body)
		return json_error(wsi, pss, 500, "internal", "out of memory", NULL);
	rc = respond(wsi, pss, a.status, a.ctype, a.body, a.len, NULL,
		     a.status == 405 ? "allow:" : NULL, "GET, POST");
	free(a.body);
	return rc;
}

/* GET /metrics: the hub's counters with those counted elsewhere. */
static int metrics(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss)
{
	struct sb_inbox_stats in;
	struct sb_metrics m = *sb_hub_metrics(api->hub);
	struct sb_hub_gauges g;
	char *body;
	int rc;

	sb_hub_gauges(api->hub, &g);
	/* a copy: Paho's thread keeps updating the inbox meanwhile */
	if (api->inbox)
		sb_inbox_stats(api->inbox, &in);
	/* the hub never sees a takeover: the MQTT link counts them */
	if (api->link)
		m.mqtt_takeovers = sb_mqtt_link_takeovers(api->link);
	/* the door counts refusals before any client exists */
	if (api->conn) {
		m.conn_refused_per_ip = api->conn->refused_per_ip;
		m.conn_refused_max = api->conn->refused_max;
		m.conn_request_timeouts = api->conn->request_timeouts;
		m.conn_headers_too_large = api->conn->headers_too_large;
		m.frames_unmasked = api->conn->frames_unmasked;
		m.frames_too_large = api->conn->frames_too_large;
	}
	if (api->deflate)
		m.deflate = *api->deflate;
	body = sb_metrics_view_prometheus(&m, &g, api->pusher ? sb_pusher_stats(api->pusher) : NULL,
					  api->inbox ? &in : NULL);
	if (!body)
		return -1;
	rc = respond(wsi, pss, 200, "text/plain; version=0.0.4; charset=utf-8", body,
		     strlen(body), NULL, NULL, NULL);
	free(body);
	return rc;
}

int sb_http_handle_metrics_only(const struct sb_http_api *api, struct lws *wsi,
				struct sb_http_pss *pss, const char *path)
{
	/* nothing here reads a body: a request with one is answered, and the
	 * connection closed after it */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
		pss->close_after = 1;
		return json_error_with(wsi, pss, 405, "bad_request", "only GET", NULL, "allow:", "GET");
	}
	if (strcmp(path, "/metrics") != 0)
		return json_error(wsi, pss, 404, "not_found", "only /metrics here", NULL);
	return metrics(api, wsi, pss);
}

static int route(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
		 const char *path)
{
	char origin[256];
	const char *cors = NULL;
	struct sb_hub_gauges g;
	char *body;
	int rc;

	if (sb_origin_allowed(api->cfg, wsi, origin, sizeof(origin)) && origin[0])
		cors = origin;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0) {
		/* CORS preflight for the Authorization header */
		unsigned char buf[LWS_PRE + 1024], *start = &buf[LWS_PRE], *p = start,
			      *end = &buf[sizeof(buf) - 1];
		if (lws_add_http_common_headers(wsi, cors ? 204 : 403, "text/plain", 0, &p, end) ||
		    (cors && (lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
							  (const unsigned char *)cors, (int)strlen(cors), &p, end) ||
			      lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-headers:",
							  (const unsigned char *)"Authorization", 13, &p, end) ||
			      lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-methods:",
							  (const unsigned char *)"GET, OPTIONS", 12, &p, end))) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	if (sb_pusher_http_is_api(path))
		return pusher(api, wsi, pss, path);
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return json_error_with(wsi, pss, 405, "bad_request", "only GET", cors, "allow:",
				       "GET, OPTIONS");
	if (strcmp(path, "/livez") == 0 || strcmp(path, "/readyz") == 0)
		return probe(api, wsi, pss, path[1] == 'r', cors);
	if (strcmp(path, "/healthz") == 0) {
		sb_hub_gauges(api->hub, &g);
		body = sb_metrics_view_health_json(sb_hub_metrics(api->hub), &g, SB_VERSION,
						   (sb_now_ms() - api->started_ms) / 1000);
		if (!body)
			return -1;
		rc = respond(wsi, pss, g.mqtt_connected ? 200 : 503, "application/json", body,
			     strlen(body), cors, NULL, NULL);
		free(body);
		return rc;
	}
	if (strcmp(path, "/metrics") == 0) {
		/* with metrics.listen, only that address serves it */
		if (api->cfg->metrics_port)
			return json_error(wsi, pss, 404, "not_found", "no such endpoint", cors);
		return metrics(api, wsi, pss);
	}
	if (strcmp(path, "/v1/snapshot") == 0)
		return query(api, wsi, pss, 0, cors);
	if (strcmp(path, "/v1/history") == 0)
		return query(api, wsi, pss, 1, cors);
	if (strcmp(path, "/v1/ws") == 0)
		return json_error(wsi, pss, 426, "bad_request", "WebSocket upgrade required (subprotocol statusbus.v1)", cors);
	return serve_static(api, wsi, pss, path);
}

/* ---- request bodies ------------------------------------------------------------------- */

/* Only the Pusher API reads a body (a server SDK POSTs its events, kept up
 * to pusher.max_request_bytes); any other request's is read and dropped,
 * and the request answered at its end, so that the connection stays
 * usable (keep-alive).  lws reads
 * a body when the request has a Content-Length above 0, and gives a POST
 * with Content-Length: 0 the body callbacks too; a POST, PUT or PATCH
 * without one it would read as 100 MiB, and chunked bodies it does not
 * decode: those are refused at once, with the connection. */
enum body { BODY_NONE, BODY_READ, BODY_NO_LENGTH, BODY_BAD_LENGTH, BODY_TOO_LARGE };

static enum body request_body(struct lws *wsi, int64_t *len)
{
	int post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0, put = 0;
	char cl[32];
	const char *p = cl;
	int64_t n = 0;

#if defined(LWS_WITH_HTTP_UNCOMMON_HEADERS)
	/* as lws itself: PUT and PATCH are methods with a body only then */
	put = lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0 ||
	      lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI) > 0;
#endif
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
		return BODY_NO_LENGTH;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return post || put ? BODY_NO_LENGTH : BODY_NONE;
	if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return BODY_BAD_LENGTH;
	/* 1*DIGIT (RFC 9110 §8.6): leading zeros are allowed there */
	while (p[0] == '0' && p[1])
		p++;
	if (!sb_parse_uint(p, SB_HTTP_MAX_BODY, &n))
		return p[strspn(p, "0123456789")] ? BODY_BAD_LENGTH : BODY_TOO_LARGE;
	*len = n;
	return n > 0 || post ? BODY_READ : BODY_NONE;
}

/* Answers now, and closes the connection after the answer.  A Pusher
 * API request is counted there too (its answers are plain text). */
static int refuse_body(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
		       const char *path, unsigned int status, const char *msg)
{
	sb_log(SB_LOG_DEBUG, "http: %u: %s", status, msg);
	pss->close_after = 1;
	if (api->pusher && sb_pusher_http_is_api(path)) {
		char text[160];
		int n = snprintf(text, sizeof(text), "%s\n", msg);

		sb_pusher_count_api(api->pusher, (int)status, 0);
		return respond(wsi, pss, status, "text/plain; charset=utf-8", text, (size_t)n, NULL,
			       "connection:", "close");
	}
	return json_error_with(wsi, pss, status, "bad_request", msg, NULL, "connection:", "close");
}

/* Where a body goes: into memory for a Pusher API POST (bounded by
 * pusher.max_request_bytes: its signature covers the body's MD5), else
 * nowhere. */
static int keep_body(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
		     const char *path, int64_t len)
{
	char msg[96];

	if (!api->pusher || !sb_pusher_http_is_api(path) ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) <= 0)
		return 0;
	if (len > api->cfg->pusher_max_request_bytes) {
		snprintf(msg, sizeof(msg), "Request body over pusher.max_request_bytes (%ld)",
			 api->cfg->pusher_max_request_bytes);
		return refuse_body(api, wsi, pss, path, 413, msg) ? -1 : 1;
	}
	if (!(pss->req = malloc((size_t)len + 1)))
		return -1;
	pss->req_cap = (size_t)len;
	return 0;
}

int sb_http_handle(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss,
		   const char *path)
{
	int64_t len = 0;
	int kept;

	free(pss->path);
	pss->path = NULL;
	pss->close_after = 0;
	req_free(pss);
	switch (request_body(wsi, &len)) {
	case BODY_NONE:
		break;
	case BODY_READ:
		if ((kept = keep_body(api, wsi, pss, path, len)))
			return kept < 0 ? -1 : 0;   /* refused (answered) or no memory */
		/* answered from sb_http_body_done(); the whole body must be in
		 * within the deadline (lws's own timeout is per read) */
		pss->path = strdup(path);
		if (!pss->path)
			return -1;
		lws_set_timer_usecs(wsi, (lws_usec_t)SB_HTTP_DEADLINE_S * LWS_USEC_PER_SEC);
		return 0;
	case BODY_NO_LENGTH:
		return refuse_body(api, wsi, pss, path, 411, "a request body needs a Content-Length");
	case BODY_BAD_LENGTH:
		return refuse_body(api, wsi, pss, path, 400, "Content-Length must be an integer");
	case BODY_TOO_LARGE:
		return refuse_body(api, wsi, pss, path, 413, "request body over 1 MiB");
	}
	return route(api, wsi, pss, path);
}

int sb_http_body(struct sb_http_pss *pss, const void *in, size_t len)
{
	size_t room = pss->req_cap - pss->req_len;

	if (!pss->req)
		return 0;   /* dropped */
	/* lws reads no more than Content-Length: more cannot come */
	memcpy(pss->req + pss->req_len, in, len < room ? len : room);
	pss->req_len += len < room ? len : room;
	pss->req[pss->req_len] = '\0';
	return 0;
}

int sb_http_body_done(const struct sb_http_api *api, struct lws *wsi, struct sb_http_pss *pss)
{
	char *path = pss->path;
	int rc;

	if (!path)
		return 0;   /* answered already: a refused length */
	pss->path = NULL;
	lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
	rc = route(api, wsi, pss, path);
	free(path);
	return rc;
}

int sb_http_timer(struct sb_http_pss *pss)
{
	if (!pss->path)
		return 0;
	sb_log(SB_LOG_INFO, "http: request body not in within %d s, closing", SB_HTTP_DEADLINE_S);
	return -1;
}
