/* SPDX-License-Identifier: MIT
 *
 * drain.h - what SIGTERM does (docs/protocol.md §10): /readyz turns 503
 * at once (http_api.c reads the server's stopping flag), new WebSocket
 * upgrades are answered 503, and the clients are closed with 1001 and a
 * reason telling them to reconnect elsewhere, in slices spread over
 * limits.drain_s (0 = all at once) so that they do not arrive at the
 * other bridges in one burst; each client's pending batch is flushed
 * first and its queue written before the close.  The lws service thread.
 */
#ifndef SB_DRAIN_H
#define SB_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ws_server.h"

/* The close reason of a drained client (statusbus.js waits a random 0-2 s
 * before it reconnects after a 1001). */
#define SB_DRAIN_REASON "bridge draining: reconnect to another bridge"

/* How many of `total` clients are due closed `elapsed_ms` into a drain of
 * `span_ms`: evenly spread, the first at once, all by the end. */
size_t sb_drain_due(size_t total, int64_t elapsed_ms, int64_t span_ms);

/* Runs the drain on srv (srv->stop is set) until every client is gone,
 * or up to 3 s after the drain window.  Returns 0. */
int sb_server_drain(struct sb_server *srv);

/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION while draining: answers the
 * upgrade 503 and returns non-zero (the connection is refused). */
int sb_drain_refuse_upgrade(struct lws *wsi);

#endif
