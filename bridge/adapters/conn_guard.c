/* SPDX-License-Identifier: MIT
 *
 * conn_guard.c - the lws side of the connection limits and checks.
 *
 * A connection is admitted at accept (FILTER_NETWORK_CONNECTION, before
 * lws gives it a header table), bound to its wsi when lws adopts it, and
 * released at WSI_DESTROY.  Its record hangs on the wsi's opaque user data
 * (the per-session data is freed and reallocated at every keep-alive
 * request) and, for conn_guard_io.c, in a table by socket.
 *
 * Deadlines: lws 4.1 times a request per wait on the socket, and hands out
 * header tables (max_http_header_pool) to waiting connections in turn, so
 * a client that dribbles a header line every few seconds stays forever,
 * and enough of them lock everybody out.  Here one lws timer (a sorted
 * usec list entry) waits for the earliest deadline of conn_limits.c's list
 * and closes every connection past it; the header pool is as large as the
 * number of connections allowed in a request, so that nobody waits for a
 * table behind a slow client.  An HTTP/2 connection (TLS, ALPN h2) is
 * timed until its first request is in; then lws times it, stream by
 * stream.
 *
 * Trusted proxies (listen.trusted_proxies) are exempt from the
 * per-address limits at accept; each WebSocket upgrade they forward is
 * counted under its client's address (X-Forwarded-For) from
 * FILTER_PROTOCOL_CONNECTION on, the entry keeping that address until the
 * release, so that a reload of the proxies never moves a count.
 *
 * Verdicts (wire_check.h) are found inside lws's read (conn_guard_io.c),
 * where nothing may be closed: the read hands lws only the bytes before
 * the offending head or frame, and the connection's timer, set to fire at
 * once, acts from LWS_CALLBACK_TIMER.
 */
#include "conn_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "client_addr.h"
#include "proto_v1.h"
#include "wire_check.h"

/* Open files kept for everything but client connections: the MQTT link,
 * schema and static files, lws's own descriptors. */
#define FD_RESERVE 256
/* Refusals are logged as a count at most this often. */
#define LOG_INTERVAL_MS 10000

struct guard_conn {
	struct sb_conn_entry entry;     /* first: the list hands back entries */
	struct sb_wire_check wire;
	struct lws *wsi;                /* NULL until adopted */
	int fd;
	unsigned websocket : 1, acted : 1;
};

struct sb_conn_guard {
	const struct sb_config *cfg;
	struct sb_conn_limits *limits;
	struct sb_wire_limits wire;
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul;     /* the earliest deadline */
	int armed;
	struct guard_conn *pending;     /* admitted at accept, not adopted yet */
	struct guard_conn **by_fd;      /* the connections conn_guard_io.c checks */
	size_t n_by_fd;
	pthread_t thread;               /* the service thread */
	struct sb_conn_stats logged;    /* the counters at the last log line */
	int64_t logged_ms;
};

/* The guard conn_guard_io.c asks; set once the service thread runs. */
static _Atomic(struct sb_conn_guard *) active;

enum sb_err sb_conn_guard_create(struct sb_conn_guard **out, const struct sb_config *cfg)
{
	struct sb_conn_guard *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return SB_ERR_NOMEM;
	g->cfg = cfg;
	g->wire.max_head_bytes = (size_t)cfg->max_header_bytes;
	g->wire.max_head_lines = SB_CONN_MAX_HEADER_LINES;
	g->wire.max_frame_bytes = (uint64_t)cfg->max_frame_bytes;
	*out = g;
	return SB_OK;
}

void sb_conn_guard_destroy(struct sb_conn_guard *g)
{
	if (!g)
		return;
	if (atomic_load(&active) == g)
		atomic_store(&active, NULL);
	if (g->pending) {
		sb_conn_limits_release(g->limits, &g->pending->entry);
		free(g->pending);
	}
	sb_conn_limits_destroy(g->limits);
	free(g->by_fd);
	free(g);
}

/* Raises the soft open-files limit toward `want` + FD_RESERVE (up to the
 * hard limit) and returns how many client connections fit under it. */
static unsigned fd_budget(unsigned want)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return want;
	if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			rl.rlim_cur = old;
		else
			sb_log(SB_LOG_INFO, "open files limit raised from %llu to %llu",
			       (unsigned long long)old, (unsigned long long)rl.rlim_cur);
	}
	if (rl.rlim_cur <= 2 * FD_RESERVE)
		return rl.rlim_cur > 16 ? (unsigned)(rl.rlim_cur / 2) : 1;
	return rl.rlim_cur - FD_RESERVE < want ? (unsigned)(rl.rlim_cur - FD_RESERVE) : want;
}

enum sb_err sb_conn_guard_context_info(struct sb_conn_guard *g, struct lws_context_creation_info *info)
{
	const struct sb_config *cfg = g->cfg;
	unsigned conns = (unsigned)cfg->max_connections, requests, sockets;
	struct sb_conn_limits_params p;
	struct rlimit rl;

	/* WebSocket clients up to max_connections, and as many again in
	 * their request (lws's header pool is an unsigned short) */
	requests = conns < 65535 ? conns : 65535;
	sockets = fd_budget(conns + requests);
	if (sockets < conns)
		sb_log(SB_LOG_WARN, "the open files limit allows %u connections, fewer than "
		       "limits.max_connections (%u): raise ulimit -n to %u", sockets, conns,
		       conns + requests + FD_RESERVE);
	if (requests > sockets)
		requests = sockets;
	p = (struct sb_conn_limits_params){
		.max_sockets = sockets, .max_requests = requests,
		.per_ip_sockets = (unsigned)cfg->max_connections_per_ip,
		.per_ip_requests = (unsigned)cfg->max_handshakes_per_ip,
		.request_ms = (int64_t)cfg->handshake_timeout_s * 1000,
		.seed = (uint64_t)sb_wall_ms() ^ ((uint64_t)(uintptr_t)g << 16),
	};
	if (sb_conn_limits_create(&g->limits, &p) != SB_OK)
		return SB_ERR_NOMEM;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		g->n_by_fd = (size_t)rl.rlim_cur;
	else
		g->n_by_fd = (size_t)sockets + 2 * FD_RESERVE;
	g->by_fd = calloc(g->n_by_fd, sizeof(*g->by_fd));
	if (!g->by_fd)
		return SB_ERR_NOMEM;
	info->max_http_header_pool = (unsigned short)requests;
	/* lws's own limit on holding a header table comes after the deadline:
	 * the deadline decides, and counts */
	info->timeout_secs_ah_idle = (unsigned)cfg->handshake_timeout_s + 5;
	/* what a head of max_header_bytes takes in lws's table: a header it
	 * does not know costs 8 bytes of bookkeeping more than its text */
	info->max_http_header_data = (unsigned short)(cfg->max_header_bytes +
						      8 * SB_CONN_MAX_HEADER_LINES + 1024);
	sb_log(SB_LOG_INFO, "accepting up to %u connections, %u in their request at once "
	       "(%d s each), per address %d and %d (0: no limit)", sockets, requests,
	       cfg->handshake_timeout_s, cfg->max_connections_per_ip, cfg->max_handshakes_per_ip);
	return SB_OK;
}

void sb_conn_guard_start(struct sb_conn_guard *g, struct lws_context *ctx)
{
	g->ctx = ctx;
	g->thread = pthread_self();
	if (g->limits)
		atomic_store(&active, g);
}

/* ---- logging ----------------------------------------------------------------------------- */

/* Refusals come in floods: they are logged as counts, by the
 * housekeeping timer, at most every LOG_INTERVAL_MS. */
void sb_conn_guard_housekeeping(struct sb_conn_guard *g)
{
	const struct sb_conn_stats *s;
	struct sb_conn_stats *o;
	int64_t now = sb_now_ms();

	if (!g || !g->limits || now - g->logged_ms < LOG_INTERVAL_MS)
		return;
	s = sb_conn_limits_stats(g->limits);
	o = &g->logged;
	if (!memcmp(s, o, sizeof(*s)))
		return;
	sb_log(SB_LOG_INFO, "connections since the last count: %llu refused for their address "
	       "(at accept, or at the upgrade behind a proxy), %llu at max_connections; %llu "
	       "closed past the %d s request deadline; %llu heads over %d bytes answered 431; "
	       "%llu unmasked frames closed 1002, %llu frame headers over max_frame_bytes "
	       "closed 4009",
	       (unsigned long long)(s->refused_per_ip - o->refused_per_ip),
	       (unsigned long long)(s->refused_max - o->refused_max),
	       (unsigned long long)(s->request_timeouts - o->request_timeouts),
	       g->cfg->handshake_timeout_s,
	       (unsigned long long)(s->headers_too_large - o->headers_too_large),
	       g->cfg->max_header_bytes,
	       (unsigned long long)(s->frames_unmasked - o->frames_unmasked),
	       (unsigned long long)(s->frames_too_large - o->frames_too_large));
	*o = *s;
	g->logged_ms = now;
}

/* ---- deadlines ---------------------------------------------------------------------------- */

static void free_conn(struct sb_conn_guard *g, struct guard_conn *c)
{
	if (c->fd >= 0 && (size_t)c->fd < g->n_by_fd && g->by_fd[c->fd] == c)
		g->by_fd[c->fd] = NULL;
	sb_conn_limits_release(g->limits, &c->entry);
	free(c);
}

static void deadline_cb(lws_sorted_usec_list_t *sul);

/* The timer waits for the earliest deadline; deadlines only come later,
 * so it is set when not set (and again each time it fires). */
static void arm(struct sb_conn_guard *g)
{
	int64_t next = sb_conn_limits_next_deadline(g->limits), now = sb_now_ms();

	if (g->armed || next == INT64_MAX || !g->ctx)
		return;
	g->armed = 1;
	lws_sul_schedule(g->ctx, 0, &g->sul, deadline_cb,
			 (lws_usec_t)(next > now ? next - now : 0) * LWS_US_PER_MS);
}

static void deadline_cb(lws_sorted_usec_list_t *sul)
{
	struct sb_conn_guard *g = lws_container_of(sul, struct sb_conn_guard, sul);
	struct sb_conn_entry *e;

	g->armed = 0;
	while ((e = sb_conn_limits_expired(g->limits, sb_now_ms()))) {
		struct guard_conn *c = (struct guard_conn *)e;

		if (!c->wsi) {
			/* admitted, but lws failed to adopt it */
			if (g->pending == c)
				g->pending = NULL;
			free_conn(g, c);
			continue;
		}
		sb_log(SB_LOG_DEBUG, "conn: fd %d: request not in within %d s, closing", c->fd,
		       g->cfg->handshake_timeout_s);
		/* now (c is released at WSI_DESTROY: at once, or once a TLS
		 * shutdown is through) */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	}
	arm(g);
}

/* An HTTP error with the JSON body of every HTTP error (docs/protocol.md
 * §7), written as is, before lws answers anything (a request it has only
 * part of, or an upgrade refused); the connection is closed after it. */
static void answer_raw(struct lws *wsi, const char *status, const char *code,
		       const char *message)
{
	unsigned char buf[LWS_PRE + 640], *start = &buf[LWS_PRE];
	char body[400];
	int blen, n;

	blen = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"code\":\"%s\","
			"\"message\":\"%s\"}", code, code, message);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return;
	n = snprintf((char *)start, sizeof(buf) - LWS_PRE,
		     "HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
		     "cache-control: no-store\r\nconnection: close\r\n\r\n%s", status, blen, body);
	if (n > 0 && (size_t)n < sizeof(buf) - LWS_PRE)
		lws_write(wsi, start, (size_t)n, LWS_WRITE_HTTP_HEADERS);
}

/* ---- the connection's life ----------------------------------------------------------------- */

/* Trusted proxies (listen.trusted_proxies, as configured now) are exempt
 * from the per-address limits at accept: their clients' addresses are in
 * X-Forwarded-For, not theirs; sb_conn_guard_upgrade() counts each of
 * their WebSockets under its client's address once the request is in. */
static int peer_exempt(const struct sb_conn_guard *g, const struct sockaddr *sa, socklen_t len)
{
	const struct sb_config *cfg = g->cfg;
	char addr[INET6_ADDRSTRLEN];
	const void *a;

	if (!cfg->n_trusted_proxies)
		return 0;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		return 0;
	return inet_ntop(sa->sa_family, a, addr, sizeof(addr)) &&
	       sb_forwarded_trusted(cfg->trusted_proxies, cfg->n_trusted_proxies, addr);
}

int sb_conn_guard_accept(struct sb_conn_guard *g, void *in)
{
	const struct lws_filter_network_conn_args *a = in;
	const struct sockaddr *sa = (const struct sockaddr *)&a->cli_addr;
	unsigned char key[SB_CONN_KEY_LEN];
	struct guard_conn *c;
	int exempt;

	if (!g || !g->limits)
		return 0;
	if (g->pending) {
		/* the last one admitted was never adopted: lws closed it */
		free_conn(g, g->pending);
		g->pending = NULL;
	}
	exempt = peer_exempt(g, sa, a->clilen);
	/* no address to count (not IP): only the global limits apply */
	if (sb_conn_key(sa, a->clilen, key) != SB_OK)
		exempt = 1;
	c = calloc(1, sizeof(*c));
	if (!c) {
		sb_conn_limits_stats(g->limits)->refused_max++;
		return 1;
	}
	switch (sb_conn_limits_admit(g->limits, &c->entry, key, exempt, sb_now_ms())) {
	case SB_CONN_ADMITTED:
		break;
	case SB_CONN_REFUSED_PER_IP:
	case SB_CONN_REFUSED_MAX:
		free(c);
		return 1;
	}
	c->fd = a->accept_fd;
	sb_wire_check_init(&c->wire, &g->wire);
	g->pending = c;
	arm(g);
	return 0;
}

void sb_conn_guard_adopted(struct sb_conn_guard *g, struct lws *wsi)
{
	struct guard_conn *c = g ? g->pending : NULL;

	if (!c)
		return;
	g->pending = NULL;
	if (c->fd != lws_get_socket_fd(wsi)) {
		free_conn(g, c);
		return;
	}
	c->wsi = wsi;
	lws_set_opaque_user_data(wsi, c);
	if (c->fd >= 0 && (size_t)c->fd < g->n_by_fd)
		g->by_fd[c->fd] = c;
}

/* The record of wsi's connection: an HTTP/2 stream's is its network
 * connection's. */
static struct guard_conn *record(struct lws *wsi)
{
	struct lws *nwsi = lws_get_network_wsi(wsi);

	return lws_get_opaque_user_data(nwsi ? nwsi : wsi);
}

void sb_conn_guard_request_done(struct sb_conn_guard *g, struct lws *wsi, int websocket)
{
	struct guard_conn *c = record(wsi);

	if (!g || !c)
		return;
	sb_conn_limits_request_done(g->limits, &c->entry);
	if (websocket)
		c->websocket = 1;
}

int sb_conn_guard_upgrade(struct sb_conn_guard *g, struct lws *wsi)
{
	const struct sb_config *cfg;
	struct guard_conn *c = record(wsi);
	unsigned char key[SB_CONN_KEY_LEN];
	char addr[SB_ADDR_MAX], msg[200];

	/* an HTTP/2 stream shares its connection's record: only HTTP/1.1
	 * upgrades own their connection */
	if (!g || !c || !g->limits || lws_get_network_wsi(wsi) != wsi)
		return 0;
	cfg = g->cfg;
	sb_client_addr(cfg, wsi, addr);
	/* a trusted address (no header, or a chain of trusted ones) is not
	 * a client to count; neither is what is no address */
	if (sb_forwarded_trusted(cfg->trusted_proxies, cfg->n_trusted_proxies, addr) ||
	    sb_conn_key_text(addr, key) != SB_OK)
		return 0;
	if (sb_conn_limits_claim(g->limits, &c->entry, key) == SB_CONN_ADMITTED)
		return 0;
	sb_log(SB_LOG_DEBUG, "conn: fd %d: upgrade refused: %d connections from %s already "
	       "(limits.max_connections_per_ip)", c->fd, cfg->max_connections_per_ip, addr);
	snprintf(msg, sizeof(msg), "%d connections from %s already (limits.max_connections_per_ip)",
		 cfg->max_connections_per_ip, addr);
	answer_raw(wsi, "429 Too Many Requests", "rate_limited", msg);
	return 1;
}

void sb_conn_guard_request_next(struct sb_conn_guard *g, struct lws *wsi)
{
	struct guard_conn *c = lws_get_opaque_user_data(wsi);

	/* an HTTP/2 stream's end is not its connection's next request: lws
	 * times an idle HTTP/2 connection itself */
	if (!g || !c || c->websocket || lws_get_network_wsi(wsi) != wsi)
		return;
	sb_conn_limits_request_next(g->limits, &c->entry, sb_now_ms());
	arm(g);
}

void sb_conn_guard_gone(struct sb_conn_guard *g, struct lws *wsi)
{
	struct guard_conn *c = lws_get_opaque_user_data(wsi);

	if (!g || !c)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	free_conn(g, c);
}

const struct sb_conn_stats *sb_conn_guard_stats(const struct sb_conn_guard *g)
{
	static const struct sb_conn_stats none;

	return g && g->limits ? sb_conn_limits_stats(g->limits) : &none;
}

/* ---- verdicts ------------------------------------------------------------------------------ */

/* Drops what the client has sent meanwhile: closing a socket with unread
 * data resets it, and the reset can overtake the answer. */
static void drain(struct lws *wsi)
{
	unsigned char buf[4096];
	int fd = lws_get_socket_fd(wsi);

	if (lws_is_ssl(wsi))
		return;   /* the TLS layer's; conn_guard_io.c drops what it reads */
	/* recvfrom: recv() is conn_guard_io.c's */
	for (int i = 0; i < 64; i++)
		if (recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL) <= 0)
			break;
}

int sb_conn_guard_verdict(struct sb_conn_guard *g, struct lws *wsi, const char **why)
{
	struct guard_conn *c = record(wsi);
	char msg[120];
	int code;

	if (!g || !c || !c->wire.verdict || c->acted)
		return 0;
	c->acted = 1;
	switch (c->wire.verdict) {
	case SB_WIRE_HEAD_TOO_LARGE:
		sb_log(SB_LOG_DEBUG, "conn: fd %d: request head over %d bytes or %d lines: 431",
		       c->fd, g->cfg->max_header_bytes, SB_CONN_MAX_HEADER_LINES);
		snprintf(msg, sizeof(msg), "request head over %d bytes or %d lines",
			 g->cfg->max_header_bytes, SB_CONN_MAX_HEADER_LINES);
		drain(wsi);
		answer_raw(wsi, "431 Request Header Fields Too Large", "bad_request", msg);
		return -1;
	case SB_WIRE_UNMASKED:
		code = 1002;
		*why = "client frames must be masked";
		break;
	case SB_WIRE_FRAME_TOO_LARGE:
	default:
		code = SB_CLOSE_TOO_LARGE;
		*why = "frame too large";
		break;
	}
	sb_log(SB_LOG_DEBUG, "conn: fd %d: %s, closing %d", c->fd, *why, code);
	return c->websocket ? code : -1;
}

/* ---- conn_guard_io.c ------------------------------------------------------------------------ */

static struct guard_conn *watched(int fd)
{
	struct sb_conn_guard *g = atomic_load(&active);

	if (!g || !pthread_equal(pthread_self(), g->thread) || fd < 0 || (size_t)fd >= g->n_by_fd)
		return NULL;
	return g->by_fd[fd];
}

int sb_conn_guard_watching(int fd)
{
	return watched(fd) != NULL;
}

int sb_conn_guard_discarding(int fd)
{
	struct guard_conn *c = watched(fd);

	return c && c->wire.verdict;
}

size_t sb_conn_guard_inbound(int fd, const void *buf, size_t n)
{
	struct guard_conn *c = watched(fd);
	struct sb_conn_stats *st;
	size_t k;

	if (!c || c->wire.verdict)
		return c ? 0 : n;
	k = sb_wire_check_feed(&c->wire, buf, n);
	if (!c->wire.verdict)
		return k;
	st = sb_conn_limits_stats(atomic_load(&active)->limits);
	if (c->wire.verdict == SB_WIRE_HEAD_TOO_LARGE)
		st->headers_too_large++;
	else if (c->wire.verdict == SB_WIRE_UNMASKED)
		st->frames_unmasked++;
	else
		st->frames_too_large++;
	/* acted on from LWS_CALLBACK_TIMER, outside lws's read */
	if (c->wsi)
		lws_set_timer_usecs(c->wsi, 0);
	return k;
}
