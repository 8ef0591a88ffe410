/* SPDX-License-Identifier: MIT
 *
 * http_api.c - the HTTP endpoints of docs/protocol.md §7 on the bridge's
 * port: /healthz, /metrics, /v1/snapshot, /v1/history, and static files
 * from listen.static_dir (no path traversal: ".." segments, NUL and
 * backslashes are refused before the file system is touched).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libwebsockets.h>

#include "http_pss.h"
#include "inbox.h"
#include "metrics_view.h"
#include "sb_version.h"
#include "session_pusher.h"
#include "ws_server.h"

/* A /v1/snapshot or /v1/history request for a channel that is not live yet
 * (the first request for a channel nobody follows): answered when the hub
 * says the broker's retained replay is in, or at its deadline. */
struct sb_http_parked {
	struct sb_hub_waiter w;
	struct sb_hub *hub;
	struct lws *wsi;
	int ready, history;
	long long since;
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

void sb_http_pss_free(struct sb_http_pss *pss)
{
	body_free(pss);
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

static int answer(struct sb_server *srv, struct lws *wsi, struct sb_http_pss *pss,
		  const char *token, const char *channel, int history, long long since,
		  const char *cors, int may_wait);

int sb_http_writeable(struct sb_server *srv, struct lws *wsi, struct sb_http_pss *pss)
{
	int n;

	if (pss->parked) {
		struct sb_http_parked *q = pss->parked;
		if (!q->ready)
			return 0;
		pss->parked = NULL;   /* answered now, live or not */
		n = answer(srv, wsi, pss, q->token, q->channel, q->history, q->since, q->cors, 0);
		free(q->token);
		free(q);
		return n;
	}
	if (!pss->mem)
		return 0;
	n = lws_write(wsi, pss->mem + LWS_PRE, pss->len, LWS_WRITE_HTTP_FINAL);
	body_free(pss);
	if (n < 0)
		return -1;
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

static int json_error(struct lws *wsi, struct sb_http_pss *pss, unsigned int status,
		      const char *code, const char *msg, const char *cors)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"code\":\"%s\",\"message\":\"%s\"}", code, code, msg);

	return respond(wsi, pss, status, "application/json", body, (size_t)n, cors, NULL, NULL);
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

static int serve_static(struct sb_server *srv, struct lws *wsi, struct sb_http_pss *pss,
			const char *path)
{
	char file[1200];
	struct stat st;
	int n;

	if (!srv->cfg->static_dir)
		return json_error(wsi, pss, 404, "not_found", "no such endpoint", NULL);
	if (!safe_path(path))
		return json_error(wsi, pss, 400, "bad_request", "bad path", NULL);
	snprintf(file, sizeof(file), "%s%s%s", srv->cfg->static_dir, path,
		 path[strlen(path) - 1] == '/' ? "index.html" : "");
	if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
		return json_error(wsi, pss, 404, "not_found", "no such file", NULL);
	n = lws_serve_http_file(wsi, file, mime_of(file), NULL, 0);
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

static int query(struct sb_server *srv, struct lws *wsi, struct sb_http_pss *pss, int history,
		 const char *cors)
{
	char chbuf[300], sbuf[300], auth[SB_MAX_TOKEN + 16];
	const char *token = NULL, *channel, *since_s;
	long long since = 0;

	/* lws returns a pointer past "name=" inside the buffer */
	channel = lws_get_urlarg_by_name(wsi, "channel=", chbuf, sizeof(chbuf));
	if (!channel)
		return json_error(wsi, pss, 400, "bad_request", "channel= is required", cors);
	if (history) {
		char *end;
		/* every fragment must fit the buffer for the search to go on */
		since_s = lws_get_urlarg_by_name(wsi, "since=", sbuf, sizeof(sbuf));
		if (!since_s)
			since_s = "0";
		since = strtoll(since_s, &end, 10);
		if (*end || since < 0)
			return json_error(wsi, pss, 400, "bad_request", "since must be a non-negative integer", cors);
	}
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > (int)sizeof(auth) - 1)
		return json_error(wsi, pss, 401, "unauthorized", "token too large", cors);
	if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) > 0) {
		if (strncasecmp(auth, "Bearer ", 7) != 0)
			return json_error(wsi, pss, 401, "unauthorized", "Authorization must be Bearer <token>", cors);
		token = auth + 7;
	}
	return answer(srv, wsi, pss, token, channel, history, since, cors, 1);
}

static void parked_ready(void *arg)
{
	struct sb_http_parked *q = arg;

	q->ready = 1;
	lws_callback_on_writable(q->wsi);
}

/* Asks the hub; a query it must wait for is parked (may_wait) and answered
 * from sb_http_writeable() once parked_ready() says so. */
static int answer(struct sb_server *srv, struct lws *wsi, struct sb_http_pss *pss,
		  const char *token, const char *channel, int history, long long since,
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
	rc = sb_hub_query(srv->hub, token, channel, history, since, &body, &code, q ? &q->w : NULL);
	if (rc == SB_ERR_PENDING && q) {
		q->hub = srv->hub;
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
		sb_hub_waiter_cancel(srv->hub, &q->w);
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

int sb_http_handle(struct sb_server *srv, struct lws *wsi, struct sb_http_pss *pss, const char *path)
{
	char origin[256];
	const char *cors = NULL;
	struct sb_hub_gauges g;
	char *body;
	int rc;

	if (sb_origin_allowed(srv->cfg, wsi, origin, sizeof(origin)) && origin[0])
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
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return json_error(wsi, pss, 405, "bad_request", "only GET", cors);
	if (strcmp(path, "/healthz") == 0) {
		sb_hub_gauges(srv->hub, &g);
		body = sb_metrics_view_health_json(sb_hub_metrics(srv->hub), &g, SB_VERSION,
						   (sb_now_ms() - srv->started_ms) / 1000);
		if (!body)
			return -1;
		rc = respond(wsi, pss, g.mqtt_connected ? 200 : 503, "application/json", body,
			     strlen(body), cors, NULL, NULL);
		free(body);
		return rc;
	}
	if (strcmp(path, "/metrics") == 0) {
		struct sb_inbox_stats in;
		struct sb_metrics m = *sb_hub_metrics(srv->hub);

		sb_hub_gauges(srv->hub, &g);
		/* a copy: Paho's thread keeps updating the inbox meanwhile */
		if (srv->inbox)
			sb_inbox_stats(srv->inbox, &in);
		/* the hub never sees a takeover: the MQTT link counts them */
		if (srv->link)
			m.mqtt_takeovers = sb_mqtt_link_takeovers(srv->link);
		body = sb_metrics_view_prometheus(&m, &g,
						  srv->pusher ? sb_pusher_stats(srv->pusher) : NULL,
						  srv->inbox ? &in : NULL);
		if (!body)
			return -1;
		rc = respond(wsi, pss, 200, "text/plain; version=0.0.4; charset=utf-8", body,
			     strlen(body), NULL, NULL, NULL);
		free(body);
		return rc;
	}
	if (strcmp(path, "/v1/snapshot") == 0)
		return query(srv, wsi, pss, 0, cors);
	if (strcmp(path, "/v1/history") == 0)
		return query(srv, wsi, pss, 1, cors);
	if (strcmp(path, "/v1/ws") == 0)
		return json_error(wsi, pss, 426, "bad_request", "WebSocket upgrade required (subprotocol statusbus.v1)", cors);
	return serve_static(srv, wsi, pss, path);
}
