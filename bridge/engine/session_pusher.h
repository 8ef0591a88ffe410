/* SPDX-License-Identifier: MIT
 *
 * session_pusher.h - the Pusher Channels protocol 7 session on /app/<key>
 * (docs/pusher.md), so that frontends written for pusher-js and Laravel
 * Echo connect to the bridge unchanged.  The wire format (channel names,
 * socket ids, signatures, frames, close codes) is domain/pusher_codec.h.
 *
 * A Pusher connection is an ordinary hub client (session sb_pusher_session()):
 * channels, queues, slow-consumer policy, limits, ACL and metrics are the
 * hub's.  This module adds what is Pusher's own:
 *   - the handshake (app key, protocol version, socket id,
 *     pusher:connection_established) and Pusher's close codes;
 *   - subscriptions: "private-<c>" and "private-cache-<c>" need a valid
 *     signature and are then trusted for that one subscription only; "<c>"
 *     and "cache-<c>" are subscribed without one (the hub's ACL decides, so
 *     only public channels pass when auth is on).  cache- names get the
 *     last-known status of every topic right after
 *     pusher_internal:subscription_succeeded, or pusher:cache_miss;
 *   - the frame encoders the hub calls, one per name form (one frame per
 *     channel fan-out and form);
 *   - pusher:ping/pong, the server's activity check (pusher:ping after
 *     pusher.activity_timeout_s of silence, close 4201 when no reply comes
 *     within 30 s), client events (refused with 4301 unless
 *     pusher.client_events, then relayed to the other subscribers of that
 *     private channel on this bridge), and a per-connection rate limit.
 *
 * Pure core: no libwebsockets.  ws_server.c creates one struct sb_pusher,
 * one struct sb_pusher_conn per connection on /app/..., feeds it text
 * frames, arms a timer with what sb_pusher_timer() returns and closes with
 * sb_pusher_close_code().  Everything runs on the service thread.
 */
#ifndef SB_PUSHER_H
#define SB_PUSHER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "hub.h"
#include "pusher_codec.h"

struct sb_pusher;
struct sb_pusher_conn;

/* What the HTTP API (adapters/pusher_api.c) answered, by kind. */
enum sb_pusher_api_result {
	SB_PUSHER_API_OK = 0, SB_PUSHER_API_BAD_REQUEST, SB_PUSHER_API_UNAUTHORIZED,
	SB_PUSHER_API_NOT_FOUND, SB_PUSHER_API_TOO_LARGE, SB_PUSHER_API_UNSUPPORTED,
	SB_PUSHER_API_UNAVAILABLE, SB_PUSHER_API_NRESULTS
};

struct sb_pusher_stats {
	uint64_t api_requests[SB_PUSHER_API_NRESULTS];
	uint64_t api_events;                     /* events published (one per channel) */
	uint64_t connections, refused;           /* handshakes accepted / refused */
	uint64_t subscriptions, subscription_errors;
	uint64_t signature_failures;             /* private-* with a bad or no auth */
	uint64_t presence_refused;               /* presence-: bad channel_data, no presence, full */
	uint64_t client_events, client_events_refused;
	uint64_t pings_sent, pong_timeouts, rate_limited;
};

/* Creates the Pusher side of the bridge and registers its frame encoders on
 * the hub.  hub and cfg are borrowed and must outlive it; cfg->pusher_* must
 * be set (cfg->pusher_enabled).  Caller frees with sb_pusher_destroy(), after
 * every connection is gone. */
enum sb_err sb_pusher_create(struct sb_pusher **out, struct sb_hub *hub,
			     const struct sb_config *cfg);
/* Accepts NULL. */
void sb_pusher_destroy(struct sb_pusher *p);
/* Monotonic clock for tests; NULL = sb_now_ms. */
/* The session handle for sb_hub_client_new() of a Pusher connection. */
const struct sb_session *sb_pusher_session(const struct sb_pusher *p);
void sb_pusher_set_clock(struct sb_pusher *p, int64_t (*now_ms)(void));
const struct sb_pusher_stats *sb_pusher_stats(const struct sb_pusher *p);

/* A WebSocket connection on `path` ("/app/<key>") with the query argument
 * protocol=`protocol` (NULL when absent) now has the hub client c.  Queues
 * pusher:connection_established; or, for an unknown key or protocol,
 * pusher:error and marks c for close with 4001, 4006, 4007 or 4008.  Returns
 * the connection (freed by sb_pusher_conn_gone), NULL when out of memory. */
struct sb_pusher_conn *sb_pusher_open(struct sb_pusher *p, struct sb_client *c,
				      const char *path, const char *protocol);
/* The connection closed: forgets it.  Call before sb_hub_client_gone().
 * Accepts NULL. */
void sb_pusher_conn_gone(struct sb_pusher_conn *pc);
/* One text frame from the client (len bytes, NUL-terminated). */
void sb_pusher_frame(struct sb_pusher_conn *pc, const char *data, size_t len);
/* The activity check: call at the deadline it last returned.  Returns the
 * milliseconds until the next call, or -1 when none is needed (closing). */
int64_t sb_pusher_timer(struct sb_pusher_conn *pc, int64_t now_ms);
/* The WebSocket close code (and *reason) for a connection the hub or the
 * adapter closes with `code` (a statusbus close code of proto.h, or 1001):
 * the connection's own Pusher code when this module closed it, otherwise
 * the Pusher equivalent (1001 -> 4200, 4029 -> 4100, 4009 -> 1009, ...).
 * `reason` may be NULL. */
int sb_pusher_close_code(const struct sb_pusher_conn *pc, int code, const char **reason);
const char *sb_pusher_socket_id(const struct sb_pusher_conn *pc);
/* The hub encoder id of a name form (SB_PUSHER_PUBLIC .. SB_PUSHER_PRESENCE),
 * -1 for another: the channel queries count subscribers per form. */
int sb_pusher_encoder(const struct sb_pusher *p, enum sb_pusher_name form);
/* Counts one HTTP API answer with its status and the events it published
 * (a 401 also in statusbus_auth_failures_total). */
void sb_pusher_count_api(struct sb_pusher *p, int status, size_t events);

#endif
