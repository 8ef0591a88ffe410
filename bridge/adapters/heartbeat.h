/* SPDX-License-Identifier: MIT
 *
 * heartbeat.h - keep-alive of the WebSocket connections on one timer wheel
 * of the bridge's own (wheel.c), driven by one lws timer, instead of lws's
 * per-connection validity timers (a sorted insertion into a list of every
 * connection's timer at each re-arm: with 10,000 connections, most of an
 * idle bridge's CPU).
 *
 * Per connection (docs/protocol.md §5.7, §5.11):
 *   - a WebSocket ping after limits.heartbeat_s without anything from the
 *     client, and a drop (no close code, as lws did) after
 *     limits.idle_timeout_s; anything the client sends counts, pongs too;
 *   - on Pusher connections also the session's activity check
 *     (sb_pusher_timer: pusher:ping, then 4201).
 * Receiving only stamps the time; the wheel entry is re-armed when it
 * fires, so the receive path never touches the wheel.
 *
 * Service thread only.
 */
#ifndef SB_HEARTBEAT_H
#define SB_HEARTBEAT_H

#include <stdint.h>

#include "config.h"
#include "wheel.h"

struct lws;
struct lws_context;
struct sb_pusher_conn;
struct sb_heartbeat;

/* Embedded in the connection's session data (zeroed = not started). */
struct sb_heartbeat_conn {
	struct sb_wheel_entry e;          /* first */
	struct lws *wsi;
	struct sb_pusher_conn *pusher;    /* its activity check, or NULL */
	int64_t last_rx_ms;               /* anything from the client */
	int64_t ping_ms;                  /* our ping since last_rx_ms, 0 = none */
	int64_t pusher_at;                /* the next activity check, INT64_MAX = none */
	unsigned char ping_due;           /* a ping waits for the writeable callback */
};

/* Reads limits.heartbeat_s and idle_timeout_s (not reloadable).  Caller
 * frees with sb_heartbeat_destroy(); SB_ERR_NOMEM. */
enum sb_err sb_heartbeat_create(struct sb_heartbeat **out, const struct sb_config *cfg);
/* The lws context whose timer drives the wheel: call once, after it is
 * created. */
void sb_heartbeat_start(struct sb_heartbeat *hb, struct lws_context *ctx);
/* After the context is destroyed (which closes every connection).
 * Accepts NULL. */
void sb_heartbeat_destroy(struct sb_heartbeat *hb);

/* A WebSocket connection is established: starts its checks; `pusher` (may
 * be NULL) adds the Pusher activity check. */
void sb_heartbeat_open(struct sb_heartbeat *hb, struct sb_heartbeat_conn *c, struct lws *wsi,
		       struct sb_pusher_conn *pusher);
/* Something arrived from the client (a frame or a fragment, a pong). */
void sb_heartbeat_rx(struct sb_heartbeat_conn *c);
/* The connection closes: stops its checks.  A no-op when not started. */
void sb_heartbeat_close(struct sb_heartbeat *hb, struct sb_heartbeat_conn *c);
/* In LWS_CALLBACK_SERVER_WRITEABLE, first: writes a due ping (the one
 * lws_write of this callback).  Returns 1 when it wrote (the caller asks
 * for another callback if it has more to write), 0 when nothing was due,
 * -1 when the write failed (close the connection). */
int sb_heartbeat_writeable(struct sb_heartbeat_conn *c);

#endif
