/* SPDX-License-Identifier: MIT
 *
 * ws_server.c - libwebsockets adapter: statusbus.v1 over WebSocket, HTTP
 * routing to http_api.c, timers and graceful shutdown.
 *
 * Write rule: frames go out pre-framed (sb_frame_ws: the WebSocket header
 * is the same for every subscriber) as LWS_WRITE_RAW, the frames a client
 * has queued gathered into one write of up to WS_GATHER bytes (the
 * protocols' tx_packet_size: one send()).  As Redis writes its clients'
 * replies before it sleeps (networking.c, handleClientsWithPendingWrites),
 * a client woken by the hub goes on a pending list and is written
 * directly after the event-loop pass that queued its frames, without
 * asking the kernel whether its socket is writeable: the common case
 * costs one send() and no poll change.  Only when lws holds part of a
 * write (the socket took less) does the client wait for
 * LWS_CALLBACK_SERVER_WRITEABLE, which then writes one lws_write per
 * callback, as do an HTTP/2 stream, a client being closed and a
 * connection not yet established.  A spurious writeable callback with
 * nothing queued is normal.
 */
#include "ws_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "client_addr.h"
#include "conn_guard.h"
#include "drain.h"
#include "evloop.h"
#include "heartbeat.h"
#include "mqtt_events.h"
#include "session_pusher.h"
#include "ws_compress.h"

_Static_assert(LWS_PRE + SB_WS_HDR_MAX <= SB_FRAME_PRE,
	       "frame headroom must fit LWS_PRE and a WebSocket header");

#define WS_GATHER 65536   /* bytes per gathered write; tx_packet_size */

enum conn_kind { CONN_HTTP = 0, CONN_V1, CONN_PUSHER };

struct pss {
	struct sb_http_pss http;    /* first: HTTP callbacks use it */
	enum conn_kind kind;
	struct sb_client *client;
	struct sb_pusher_conn *pusher;   /* CONN_PUSHER: its Pusher side */
	/* the message being received: only while one is, and only as large
	 * as it is so far (an idle connection holds none) */
	struct sb_buf rx;
	unsigned char rx_binary;
	int deflate;   /* negotiated permessage-deflate (ws_compress.h) */
	struct sb_heartbeat_conn hb;     /* pings, idle drop, Pusher activity */
	struct lws *wsi;                 /* while on the pending list */
	struct lws_dll2 pending;         /* on srv->pending: write after this pass */
};

static struct sb_server *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* ---- hub ops (the socket side; main.c wires the MQTT side) ------------------ */

static void op_wake(void *ctx, struct sb_client *c)
{
	struct sb_server *srv = ctx;
	struct lws *wsi = sb_client_transport(c);
	struct pss *pss = lws_wsi_user(wsi);

	if (sb_client_close_code(c, NULL)) {
		lws_callback_on_writable(wsi);
		/* a client that stopped reading never becomes writeable */
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 5);
		return;
	}
	if (pss && srv->pending && lws_dll2_is_detached(&pss->pending)) {
		pss->wsi = wsi;
		lws_dll2_add_tail(&pss->pending, srv->pending);
	} else if (!pss || !srv->pending) {
		lws_callback_on_writable(wsi);
	}
}

static void hub_timer_cb(lws_sorted_usec_list_t *sul);

static void op_timer(void *ctx, int64_t deadline)
{
	struct sb_server *srv = ctx;
	lws_sorted_usec_list_t *sul = srv->timer;
	int64_t now = sb_now_ms();

	if (!srv->ctx)
		return;
	if (deadline == INT64_MAX) {
		lws_sul_cancel(sul);
		return;
	}
	lws_sul_schedule(srv->ctx, 0, sul, hub_timer_cb,
			 (lws_usec_t)(deadline > now ? deadline - now : 0) * LWS_US_PER_MS);
}

struct timer_sul {
	lws_sorted_usec_list_t sul;   /* first */
	struct sb_server *srv;
};

static void hub_timer_cb(lws_sorted_usec_list_t *sul)
{
	struct timer_sul *t = (struct timer_sul *)sul;

	sb_hub_tick(t->srv->hub);
}

void sb_server_hub_ops(struct sb_server *srv, struct sb_hub_ops *ops)
{
	ops->ctx = srv;
	ops->wake = op_wake;
	ops->timer = op_timer;
}

void sb_server_wakeup(void *p)
{
	struct sb_server *srv = p;

	if (srv->ctx)
		lws_cancel_service(srv->ctx);
}

/* ---- WebSocket ------------------------------------------------------------------ */

static int path_kind(struct sb_server *srv, struct lws *wsi, enum conn_kind *kind)
{
	char uri[512];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		return -1;
	if (strcmp(uri, "/v1/ws") == 0) {
		*kind = CONN_V1;
		return 0;
	}
	if (srv->cfg->pusher_enabled && strncmp(uri, "/app/", 5) == 0) {
		*kind = CONN_PUSHER;
		return 0;
	}
	return -1;
}

static void close_with(struct lws *wsi, int code, const char *reason)
{
	lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
}

/* A verdict of this adapter (frame too large, binary frame): the client's
 * session maps it to its protocol's close code (Pusher: 1009, 1003...). */
static void close_verdict(struct sb_server *srv, struct lws *wsi, struct pss *pss, int code,
			  const char *why)
{
	const char *reason = why;

	sb_hub_client_close(srv->hub, pss->client, code, why);
	code = sb_client_close_code(pss->client, &reason);
	close_with(wsi, code, reason);
}

/* ---- Pusher on /app/<key> (session_pusher.c decides; this only carries) ----- */

/* Checks the key and ?protocol=, queues connection_established or
 * pusher:error (pusher.c), and starts the activity check. */
static int pusher_established(struct sb_server *srv, struct lws *wsi, struct pss *pss)
{
	char uri[512], args[128];
	const char *protocol;
	struct sb_pusher_conn *pc;

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		uri[0] = '\0';
	protocol = lws_get_urlarg_by_name(wsi, "protocol=", args, sizeof(args));
	pc = srv->pusher ? sb_pusher_open(srv->pusher, pss->client, uri, protocol) : NULL;
	if (!pc) {
		sb_hub_client_gone(srv->hub, pss->client);
		pss->client = NULL;
		close_with(wsi, SB_PUSHER_CLOSE_OVER_CAPACITY, "out of memory");
		return -1;
	}
	pss->pusher = pc;
	return 0;
}

/* A verdict of conn_guard.c on what the client sent (an unmasked frame, a
 * frame header announcing too much): closes with its code. */
static int guard_close(struct sb_server *srv, struct lws *wsi, struct pss *pss)
{
	const char *why = NULL;
	int code = sb_conn_guard_verdict(srv->guard, wsi, &why);

	if (code <= 0)
		return code;
	sb_log(SB_LOG_INFO, "client %s: %s, closing %d",
	       pss->client ? sb_client_session(pss->client) : "-", why, code);
	if (pss->client)
		close_verdict(srv, wsi, pss, code, why);
	else
		close_with(wsi, code, why);
	return -1;
}

static int ws_receive(struct sb_server *srv, struct lws *wsi, struct pss *pss, void *in, size_t len)
{
	size_t max = (size_t)srv->cfg->max_frame_bytes;
	const char *text;

	if (guard_close(srv, wsi, pss))
		return -1;
	if (lws_is_first_fragment(wsi)) {
		pss->rx.len = 0;
		pss->rx_binary = (unsigned char)lws_frame_is_binary(wsi);
	}
	/* the rest of the frame counts too: a frame announcing more than
	 * the limit is closed at its first bytes, not after max of them */
	if (pss->rx.len + len > max || lws_remaining_packet_payload(wsi) > max - pss->rx.len - len) {
		sb_log(SB_LOG_INFO, "client %s: frame over %zu bytes, closing 4009",
		       sb_client_session(pss->client), max);
		close_verdict(srv, wsi, pss, SB_CLOSE_TOO_LARGE, "frame too large");
		return -1;
	}
	/* grows by doubling, within max_frame_bytes (checked above) */
	sb_buf_append(&pss->rx, in, len);
	if (pss->rx.failed) {
		sb_buf_free(&pss->rx);
		return -1;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	if (pss->rx_binary) {
		close_verdict(srv, wsi, pss, SB_CLOSE_PROTOCOL,
			      "binary frames are not part of statusbus.v1");
		return -1;
	}
	/* to the client's session: statusbus.v1 or Pusher (NUL-terminated) */
	text = sb_buf_str(&pss->rx);
	if (text)
		sb_hub_client_frame(srv->hub, pss->client, text, pss->rx.len);
	sb_buf_free(&pss->rx);
	return text ? 0 : -1;
}

/* Writes what c has queued in one lws_write: a single message straight
 * from its shared frame, several gathered into one buffer up to WS_GATHER
 * bytes.  An HTTP/2 stream (WebSocket over h2) is framed by lws: one TEXT
 * message per call.  Returns 0 when nothing was queued, 1 when written,
 * -1 on a write error. */
/* The bytes of f on the wire: its shared compressed copy on a connection
 * that negotiated permessage-deflate (z), when there is one; else the
 * frame as it is.  Never longer than sb_ws_wire_len(f->len). */
static unsigned char *wire(struct sb_ws_compress *z, struct sb_frame *f, size_t *wl)
{
	return z ? sb_ws_compress_wire(z, f, wl) : sb_frame_ws(f, wl);
}

static int ws_write_queued(struct sb_hub *hub, struct lws *wsi, struct sb_client *c,
			   struct sb_ws_compress *z)
{
	/* the service thread's: a gathered write is copied out by lws
	 * when the socket takes only part of it */
	static unsigned char gather[LWS_PRE + WS_GATHER];
	size_t next = sb_hub_client_next_len(hub, c), wl, used = 0;
	struct sb_frame *f;
	unsigned char *w;
	int n;

	if (!next)
		return 0;
	f = sb_hub_client_next(hub, c);
	if (lws_get_network_wsi(wsi) != wsi) {
		n = lws_write(wsi, sb_frame_data(f), f->len, LWS_WRITE_TEXT);
		sb_frame_unref(f);
		goto written;
	}
	w = wire(z, f, &wl);
	next = sb_hub_client_next_len(hub, c);
	if (!next || wl + sb_ws_wire_len(next) > WS_GATHER) {
		n = lws_write(wsi, w, wl, LWS_WRITE_RAW);
		sb_frame_unref(f);
		goto written;
	}
	for (;;) {
		memcpy(gather + LWS_PRE + used, w, wl);
		used += wl;
		sb_frame_unref(f);
		if (!next || used + sb_ws_wire_len(next) > WS_GATHER)
			break;
		f = sb_hub_client_next(hub, c);
		w = wire(z, f, &wl);
		next = sb_hub_client_next_len(hub, c);
	}
	n = lws_write(wsi, gather + LWS_PRE, used, LWS_WRITE_RAW);
written:
	if (n < 0)
		return -1;
	sb_hub_count_write(hub);
	return 1;
}

/* Something is left for a writeable callback: the rest of a write lws
 * holds, queued frames, or a close code to send. */
static int want_writeable(struct sb_server *srv, struct lws *wsi, struct pss *pss)
{
	return lws_partial_buffered(wsi) ||
	       (pss->client && (sb_hub_client_next_len(srv->hub, pss->client) ||
				sb_client_close_code(pss->client, NULL)));
}

static int ws_writeable(struct sb_server *srv, struct lws *wsi, struct pss *pss)
{
	const char *reason;
	int code, n;

	if (!pss->client)
		return 0;
	/* writeable again: no longer behind on the socket's account */
	sb_hub_client_choked(srv->hub, pss->client, 0);
	n = ws_write_queued(srv->hub, wsi, pss->client, pss->deflate ? srv->compress : NULL);
	if (n) {
		if (n < 0)
			return -1;
		/* lws holds the rest of the write (the socket took less): the
		 * client is behind until the next writeable callback, and
		 * statuses queued meanwhile conflate (docs/protocol.md §6) */
		sb_hub_client_choked(srv->hub, pss->client, lws_partial_buffered(wsi));
		/* another round only for what is left (a close code too) */
		if (want_writeable(srv, wsi, pss))
			lws_callback_on_writable(wsi);
		return 0;
	}
	code = sb_client_close_code(pss->client, &reason);   /* the session's code */
	if (code) {
		close_with(wsi, code, reason);
		return -1;
	}
	return 0;
}

/* Writes a pending client's queued frames now, outside any callback, as
 * long as the socket takes them whole; what it cannot write this way
 * waits for LWS_CALLBACK_SERVER_WRITEABLE. */
static void write_direct(struct sb_server *srv, struct pss *pss)
{
	struct lws *wsi = pss->wsi;
	int n = 1;

	if (!pss->client || lws_get_network_wsi(wsi) != wsi || lws_partial_buffered(wsi) ||
	    sb_client_close_code(pss->client, NULL)) {
		lws_callback_on_writable(wsi);
		return;
	}
	while (n > 0 && !lws_partial_buffered(wsi))
		n = ws_write_queued(srv->hub, wsi, pss->client,
				    pss->deflate ? srv->compress : NULL);
	if (n < 0) {
		/* the socket failed: lws closes it on its next pass */
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	sb_hub_client_choked(srv->hub, pss->client, lws_partial_buffered(wsi));
	if (lws_partial_buffered(wsi))
		lws_callback_on_writable(wsi);
}

/* Before the loop waits again: every client the last pass queued frames
 * for, written (Redis's beforeSleep). */
static void write_pending(struct sb_server *srv)
{
	struct lws_dll2 *d;

	while (srv->pending && (d = lws_dll2_get_head(srv->pending)) != NULL) {
		struct pss *pss = lws_container_of(d, struct pss, pending);

		lws_dll2_remove(d);
		write_direct(srv, pss);
	}
}

int sb_server_service(struct sb_server *srv)
{
	write_pending(srv);
	return sb_evloop_service(srv->evloop, srv->ctx);
}

/* One line per connection, as Mosquitto logs them, with the client's
 * address (X-Forwarded-For behind listen.trusted_proxies). */
static void log_connected(struct sb_server *srv, struct lws *wsi, const struct pss *pss)
{
	char addr[SB_ADDR_MAX];
	const char *id = sb_client_session(pss->client);

	sb_client_addr(srv->cfg, wsi, addr);
	sb_log_kv(SB_LOG_INFO, (const struct sb_log_field[]){ { "client", id }, { "addr", addr } },
		  2, "client %s: connected from %s (%s)", id, addr,
		  pss->kind == CONN_PUSHER ? "Pusher" : "statusbus.v1");
}

/* A SIGHUP the handler flagged: reloaded here, on the service thread. */
static void take_reload(struct sb_server *srv)
{
	if (srv->reload && srv->reload_cb) {
		srv->reload = 0;
		srv->reload_cb(srv->reload_arg);
	}
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		    void *in, size_t len)
{
	struct sb_server *srv = server_of(wsi);
	struct pss *pss = user;
	enum conn_kind kind;
	char origin[256];

	switch (reason) {
	/* the door (conn_guard.c): limits at accept, the request deadline */
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return sb_conn_guard_accept(srv->guard, user);

	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		sb_conn_guard_adopted(srv->guard, wsi);
		return 0;

	case LWS_CALLBACK_WSI_DESTROY:
		sb_conn_guard_gone(srv->guard, wsi);
		return 0;

	case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
		/* also lws's start of a keep-alive connection's next request */
		sb_conn_guard_request_next(srv->guard, wsi);
		break;

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (path_kind(srv, wsi, &kind) != 0) {
			sb_log(SB_LOG_INFO, "ws: upgrade refused: unknown path");
			return 1;
		}
		if (!sb_origin_allowed(srv->cfg, wsi, origin, sizeof(origin))) {
			char addr[SB_ADDR_MAX];

			sb_client_addr(srv->cfg, wsi, addr);
			sb_log(SB_LOG_INFO, "ws: upgrade refused: origin \"%s\" not allowed (from %s)",
			       origin, addr);
			return 1;
		}
		if (srv->stopping)
			return sb_drain_refuse_upgrade(wsi);
		/* a trusted proxy's client counted by its address (429 past it) */
		return sb_conn_guard_upgrade(srv->guard, wsi);

	case LWS_CALLBACK_ESTABLISHED:
		sb_conn_guard_request_done(srv->guard, wsi, 1);
		if (path_kind(srv, wsi, &kind) != 0)
			kind = CONN_V1;
		pss->kind = kind;
		pss->client = sb_hub_client_new(srv->hub, kind == CONN_PUSHER ?
						sb_pusher_session(srv->pusher) : srv->v1, wsi);
		if (!pss->client) {
			close_with(wsi, kind == CONN_PUSHER ? SB_PUSHER_CLOSE_OVER_CAPACITY : SB_CLOSE_LIMIT,
				   "too many connections");
			return -1;
		}
		pss->deflate = sb_ws_compress_established(srv->compress, wsi);
		log_connected(srv, wsi, pss);
		if (kind == CONN_PUSHER && pusher_established(srv, wsi, pss))
			return -1;
		sb_heartbeat_open(srv->heartbeat, &pss->hb, wsi, pss->pusher);
		return 0;

	case LWS_CALLBACK_RECEIVE:
		if (!pss->client)
			return -1;
		sb_heartbeat_rx(&pss->hb);
		return ws_receive(srv, wsi, pss, in, len);

	case LWS_CALLBACK_RECEIVE_PONG:   /* with a payload: heartbeat.c's pings have one */
		if (pss)
			sb_heartbeat_rx(&pss->hb);
		return 0;

	case LWS_CALLBACK_SERVER_WRITEABLE: {
		int hb = sb_heartbeat_writeable(&pss->hb);

		if (hb < 0)
			return -1;
		if (hb) {
			/* what the session queued meanwhile goes next */
			if (want_writeable(srv, wsi, pss))
				lws_callback_on_writable(wsi);
			return 0;
		}
		return ws_writeable(srv, wsi, pss);
	}

	case LWS_CALLBACK_CLOSED:
		if (!pss)
			return 0;
		sb_heartbeat_close(srv->heartbeat, &pss->hb);
		if (pss->kind == CONN_PUSHER) {
			sb_pusher_conn_gone(pss->pusher);
			pss->pusher = NULL;
		}
		if (pss->client) {
			sb_hub_client_gone(srv->hub, pss->client);
			pss->client = NULL;
		}
		if (pss->deflate)
			sb_ws_compress_gone(srv->compress);
		pss->deflate = 0;
		sb_buf_free(&pss->rx);
		lws_dll2_remove(&pss->pending);   /* its memory goes with the wsi */
		return 0;

	case LWS_CALLBACK_TIMER:
		/* conn_guard.c's verdict on what the client sent: 431 (HTTP),
		 * or a close code (WebSocket) */
		if (!pss || pss->kind == CONN_HTTP) {
			if (sb_conn_guard_verdict(srv->guard, wsi, &(const char *){ NULL }))
				return -1;
		} else if (guard_close(srv, wsi, pss)) {
			return -1;
		}
		/* an HTTP request body's deadline */
		if (pss && pss->kind == CONN_HTTP)
			return sb_http_timer(&pss->http);
		return 0;

	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* MQTT messages (or a signal) are waiting */
		if (srv && srv->link && srv->hub)
			sb_mqtt_events_drain(srv->inbox, srv->link, srv->hub, 100000);
		if (srv)
			take_reload(srv);
		return 0;

	case LWS_CALLBACK_HTTP:
		sb_conn_guard_request_done(srv->guard, wsi, 0);
		return sb_http_handle(&srv->http, wsi, &pss->http, in);

	case LWS_CALLBACK_HTTP_BODY:
		return sb_http_body(&pss->http, in, len);

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		/* not lws's default, which ends the transaction before the
		 * answer is written */
		return sb_http_body_done(&srv->http, wsi, &pss->http);

	case LWS_CALLBACK_HTTP_WRITEABLE:
		return sb_http_writeable(&srv->http, wsi, &pss->http);

	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		/* no session data when the peer closed before a request */
		if (pss)
			sb_http_pss_free(&pss->http);
		return 0;

	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	/* rx_buffer_size: what lws allocates per WebSocket for reading; a
	 * bigger message arrives in pieces and ws_receive() assembles it */
	{ "http", callback, sizeof(struct pss), 512, 0, NULL, WS_GATHER },
	{ "statusbus.v1", callback, sizeof(struct pss), 512, 0, NULL, WS_GATHER },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void lws_logger(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	sb_log(level & LLL_ERR ? SB_LOG_ERR : level & LLL_WARN ? SB_LOG_WARN : SB_LOG_DEBUG,
	       "lws: %.*s", (int)n, line);
}

struct housekeeping_sul {
	lws_sorted_usec_list_t sul;
	struct sb_server *srv;
};

static void housekeeping_cb(lws_sorted_usec_list_t *sul)
{
	struct housekeeping_sul *h = (struct housekeeping_sul *)sul;
	struct sb_server *srv = h->srv;

	/* MQTT first-connect retries and the stop flag */
	sb_mqtt_events_drain(srv->inbox, srv->link, srv->hub, 100000);
	/* a SIGHUP taken before the context could be woken */
	take_reload(srv);
	sb_conn_guard_housekeeping(srv->guard);
	lws_sul_schedule(srv->ctx, 0, sul, housekeeping_cb, 200 * LWS_US_PER_MS);
}

/* lws's validity timers off (no hangup time): heartbeat.c keeps the
 * connections alive on one wheel instead of a sorted timer each */
static const lws_retry_bo_t no_validity = { 0 };

enum sb_err sb_server_create(struct sb_server *srv, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	const struct sb_config *cfg = srv->cfg;
	static char iface[64];
	struct timer_sul *t;
	struct housekeeping_sul *hk;

	lws_set_log_level(LLL_ERR | LLL_WARN | (sb_log_get_level() == SB_LOG_DEBUG ? LLL_NOTICE : 0),
			  lws_logger);

	memset(&info, 0, sizeof(info));
	info.port = cfg->listen_port;
	snprintf(iface, sizeof(iface), "%s", strcmp(cfg->listen_host, "localhost") == 0 ?
		 "127.0.0.1" : cfg->listen_host);
	info.iface = iface;
	info.protocols = protocols;
	if (sb_ws_compress_create(&srv->compress, cfg) != SB_OK) {
		snprintf(err, errlen, "listen.compression: out of memory");
		return SB_ERR_NOMEM;
	}
	info.extensions = sb_ws_compress_extensions(srv->compress);
	info.user = srv;
	info.retry_and_idle_policy = &no_validity;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	/* an IPv4 address binds only there when IPv6 is off; otherwise lws
	 * listens on every interface (STYLE.md) */
	if (strchr(iface, ':') == NULL)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	if (cfg->listen_cert_file) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->listen_cert_file;
		info.ssl_private_key_filepath = cfg->listen_key_file;
		/* TLS 1.2 and 1.3 only, whatever the system's OpenSSL config
		 * would allow (docs/protocol.md §5.1) */
		info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
	}
	info.timeout_secs = SB_HTTP_DEADLINE_S;
	/* the header pool and table, and the open files limit, sized for
	 * limits.max_connections and max_header_bytes */
	if (sb_conn_guard_create(&srv->guard, cfg) != SB_OK ||
	    sb_conn_guard_context_info(srv->guard, &info) != SB_OK) {
		snprintf(err, errlen, "listen: out of memory for the connection limits");
		return SB_ERR_NOMEM;
	}
	srv->timer = t = calloc(1, sizeof(*t));
	srv->housekeeping = hk = calloc(1, sizeof(*hk));
	srv->pending = calloc(1, sizeof(struct lws_dll2_owner));
	if (!t || !hk || !srv->pending || sb_heartbeat_create(&srv->heartbeat, cfg) != SB_OK ||
	    sb_evloop_create(&srv->evloop, &info) != SB_OK)
		return SB_ERR_NOMEM;
	t->srv = srv;
	hk->srv = srv;
	srv->ctx = lws_create_context(&info);
	if (!srv->ctx && sb_evloop_fallback(srv->evloop, &info))
		srv->ctx = lws_create_context(&info);
	if (!srv->ctx) {
		snprintf(err, errlen, "listen: cannot listen on %s:%d (in use, or bad TLS files?)",
			 cfg->listen_host, cfg->listen_port);
		return SB_ERR_IO;
	}
	sb_conn_guard_start(srv->guard, srv->ctx);
	sb_heartbeat_start(srv->heartbeat, srv->ctx);
	sb_log(SB_LOG_DEBUG, "event loop: %s", sb_evloop_name(srv->evloop));
	lws_sul_schedule(srv->ctx, 0, &hk->sul, housekeeping_cb, 200 * LWS_US_PER_MS);
	srv->started_ms = sb_now_ms();
	srv->http = (struct sb_http_api){ cfg, srv->hub, srv->pusher, srv->inbox, srv->link,
					  srv->started_ms, sb_conn_guard_stats(srv->guard),
					  sb_ws_compress_stats(srv->compress), &srv->stopping };
	sb_log(SB_LOG_INFO, "listening on %s://%s:%d (WebSocket /v1/ws, HTTP /healthz /livez /readyz /metrics /v1/snapshot /v1/history%s)",
	       cfg->listen_cert_file ? "https" : "http", cfg->listen_host, cfg->listen_port,
	       cfg->static_dir ? ", static files" : "");
	return SB_OK;
}

int sb_server_run(struct sb_server *srv)
{
	while (!srv->stop)
		if (sb_server_service(srv) < 0)
			break;
	return sb_server_drain(srv);
}

void sb_server_destroy(struct sb_server *srv)
{
	if (srv->ctx)
		lws_context_destroy(srv->ctx);
	srv->ctx = NULL;
	/* after the context: its destruction closes every connection */
	sb_heartbeat_destroy(srv->heartbeat);
	srv->heartbeat = NULL;
	sb_evloop_destroy(srv->evloop);
	srv->evloop = NULL;
	/* after the context: its destruction reports every connection gone */
	sb_conn_guard_destroy(srv->guard);
	srv->guard = NULL;
	sb_ws_compress_destroy(srv->compress);
	srv->compress = NULL;
	free(srv->timer);
	free(srv->housekeeping);
	free(srv->pending);
	srv->timer = srv->housekeeping = srv->pending = NULL;
}
