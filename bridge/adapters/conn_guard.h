/* SPDX-License-Identifier: MIT
 *
 * conn_guard.h - the door of the bridge's port (docs/protocol.md §5.14):
 * who is accepted (conn_limits.h: per-address and global limits), how long
 * a request may take (the handshake deadline: the whole request head from
 * accept, not one line at a time), and what a client may send before lws
 * parses it (wire_check.h: 431 for an over-long request head, 1002 for an
 * unmasked frame, 4009 for a frame header announcing too much).  The lws
 * side: ws_server.c calls these from its callbacks; conn_guard_io.c hands
 * over the bytes lws reads.  Everything runs on the lws service thread.
 */
#ifndef SB_CONN_GUARD_H
#define SB_CONN_GUARD_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "conn_limits.h"

struct lws;
struct lws_context;
struct lws_context_creation_info;
struct sb_conn_guard;

/* The most header lines a request may have besides its request line (then
 * 431): below lws 4.1's table of header fragments (95), which it would
 * fill and then close the connection silently. */
#define SB_CONN_MAX_HEADER_LINES 64

/* Reads the limits of cfg (borrowed: outlives the guard).  Caller frees
 * with sb_conn_guard_destroy() after the lws context is destroyed. */
enum sb_err sb_conn_guard_create(struct sb_conn_guard **out, const struct sb_config *cfg);
/* Accepts NULL. */
void sb_conn_guard_destroy(struct sb_conn_guard *g);

/* Before lws_create_context(): raises the open-files limit toward what
 * max_connections needs (logging when it cannot), sizes the accept limits
 * to it, and fills info's header pool and table sizes and lws's own limit
 * on holding a header table.  SB_ERR_NOMEM when out of memory. */
enum sb_err sb_conn_guard_context_info(struct sb_conn_guard *g,
				       struct lws_context_creation_info *info);
/* After: the context, and the calling thread as the service thread. */
void sb_conn_guard_start(struct sb_conn_guard *g, struct lws_context *ctx);

/* LWS_CALLBACK_FILTER_NETWORK_CONNECTION (`in`: lws's
 * struct lws_filter_network_conn_args): 0 admits, 1 refuses (counted). */
int sb_conn_guard_accept(struct sb_conn_guard *g, void *in);
/* LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED: binds the admission to wsi. */
void sb_conn_guard_adopted(struct sb_conn_guard *g, struct lws *wsi);
/* The request head is in: LWS_CALLBACK_HTTP, or LWS_CALLBACK_ESTABLISHED
 * (websocket = 1). */
void sb_conn_guard_request_done(struct sb_conn_guard *g, struct lws *wsi, int websocket);
/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION, the request head in: a
 * WebSocket upgrade from a trusted proxy (exempt at accept) is counted
 * under its client's address (X-Forwarded-For, client_addr.h) against
 * limits.max_connections_per_ip until the connection is gone.  0: go on;
 * 1: refused (counted, a 429 answer written): return nonzero. */
int sb_conn_guard_upgrade(struct sb_conn_guard *g, struct lws *wsi);
/* LWS_CALLBACK_HTTP_BIND_PROTOCOL: a keep-alive connection done with a
 * request waits for the next one, under a fresh deadline. */
void sb_conn_guard_request_next(struct sb_conn_guard *g, struct lws *wsi);
/* LWS_CALLBACK_TIMER (and RECEIVE): what to do about a verdict on the
 * bytes wsi sent.  0: none.  -1: close the connection (a 431 answer is on
 * its way, or it is no WebSocket).  Else the WebSocket close code (1002,
 * 4009) with *why. */
int sb_conn_guard_verdict(struct sb_conn_guard *g, struct lws *wsi, const char **why);
/* LWS_CALLBACK_WSI_DESTROY: the connection is gone. */
void sb_conn_guard_gone(struct sb_conn_guard *g, struct lws *wsi);

/* Every few hundred ms (ws_server.c's housekeeping): logs what was
 * refused since the last line, at most every 10 s. */
void sb_conn_guard_housekeeping(struct sb_conn_guard *g);

/* The refusal counters for /metrics (updated on the service thread). */
const struct sb_conn_stats *sb_conn_guard_stats(const struct sb_conn_guard *g);

/* ---- for conn_guard_io.c: bytes as lws reads them ---------------------------- */

/* 1 when fd is a connection the guard checks and the caller is the
 * service thread (any thread may ask). */
int sb_conn_guard_watching(int fd);
/* 1 when fd has a verdict: what arrives is read and dropped. */
int sb_conn_guard_discarding(int fd);
/* The n bytes just read from fd: how many of them lws may have (n, or
 * fewer once a verdict is found; the verdict is then acted on from the
 * connection's timer). */
size_t sb_conn_guard_inbound(int fd, const void *buf, size_t n);

#endif
