/* SPDX-License-Identifier: MIT
 *
 * pusher.h - Pusher Channels protocol 7 on /app/<key> (DESIGN.md section 9),
 * so that frontends written for pusher-js and Laravel Echo connect to the
 * bridge unchanged.
 *
 * A Pusher connection is an ordinary hub client (protocol SB_PROTO_PUSHER):
 * channels, queues, slow-consumer policy, limits, ACL and metrics are the
 * hub's.  This module adds what is Pusher's own:
 *   - the handshake (app key, protocol version, socket id,
 *     pusher:connection_established) and Pusher's close codes;
 *   - channel names: "private-<c>" and "private-cache-<c>" are authorized by
 *     the app backend's HMAC-SHA256 of "<socket_id>:<name>" and are then
 *     trusted for that one subscription only; "<c>" and "cache-<c>" are
 *     subscribed without a signature (the hub's ACL decides, so only public
 *     channels pass when auth is on).  <c> is a statusbus channel name.
 *     cache- names get the last-known status of every topic right after
 *     pusher_internal:subscription_succeeded, or pusher:cache_miss;
 *   - the frame encoders the hub calls (one frame per channel fan-out and
 *     name form): {"event":E,"channel":NAME,"data":"<JSON string>"};
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

#include <cjson/cJSON.h>

#include "config.h"
#include "frame.h"
#include "hub.h"

#define SB_PUSHER_PROTOCOL 7
#define SB_PUSHER_PONG_TIMEOUT_MS 30000
#define SB_PUSHER_CLIENT_EVENTS_PER_S 10   /* Pusher's own per-connection limit */
#define SB_PUSHER_MAX_EVENT_NAME 200
#define SB_PUSHER_SOCKET_ID_MAX 24

/* Pusher close codes (https://pusher.com/docs/channels/library_auth_reference/pusher-websockets-protocol/):
 * 4000-4099 the client must not reconnect with the same parameters,
 * 4100-4199 reconnect after backing off, 4200-4299 reconnect now. */
#define SB_PUSHER_CLOSE_APP_UNKNOWN 4001
#define SB_PUSHER_CLOSE_BAD_VERSION 4006
#define SB_PUSHER_CLOSE_UNSUPPORTED_PROTOCOL 4007
#define SB_PUSHER_CLOSE_NO_PROTOCOL 4008
#define SB_PUSHER_CLOSE_UNAUTHORIZED 4009
#define SB_PUSHER_CLOSE_OVER_CAPACITY 4100
#define SB_PUSHER_CLOSE_RECONNECT 4200
#define SB_PUSHER_CLOSE_PONG_TIMEOUT 4201
#define SB_PUSHER_CLOSE_RATE_LIMIT 4301
/* pusher:error code for a refused client event */
#define SB_PUSHER_ERR_CLIENT_EVENT 4301

/* The forms of a Pusher channel name. */
enum sb_pusher_name {
	SB_PUSHER_PUBLIC = 0,        /* "<c>": no signature */
	SB_PUSHER_PRIVATE,           /* "private-<c>" */
	SB_PUSHER_PRIVATE_CACHE,     /* "private-cache-<c>" */
	SB_PUSHER_CACHE,             /* "cache-<c>": no signature, snapshot */
	SB_PUSHER_UNSUPPORTED,       /* presence-, private-encrypted- */
};

struct sb_pusher;
struct sb_pusher_conn;

struct sb_pusher_stats {
	uint64_t connections, refused;           /* handshakes accepted / refused */
	uint64_t subscriptions, subscription_errors;
	uint64_t signature_failures;             /* private-* with a bad or no auth */
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

/* ---- pure helpers (exported for the unit tests) --------------------------- */

/* The form of `name` and, through *base, the statusbus channel inside it. */
enum sb_pusher_name sb_pusher_name_parse(const char *name, const char **base);
/* "private-" etc.; "" for SB_PUSHER_PUBLIC. */
const char *sb_pusher_name_prefix(enum sb_pusher_name form);

/* "<digits>.<digits>" from a hub session id (32 hex digits): the socket id
 * is as unguessable as the session.  out gets SB_PUSHER_SOCKET_ID_MAX. */
void sb_pusher_make_socket_id(const char *session, char *out, size_t outlen);
/* 1 when s is "<1-20 digits>.<1-20 digits>". */
int sb_pusher_socket_id_valid(const char *s);

/* hex(HMAC-SHA256(secret, "<socket_id>:<channel>")) into hex[65]. */
enum sb_err sb_pusher_sign(const char *secret, const char *socket_id,
			   const char *channel, char hex[65]);
/* Checks a pusher:subscribe `auth` ("<key>:<hex signature>") for channel on
 * socket_id.  The signature is compared in constant time (CRYPTO_memcmp,
 * always over 64 bytes).  SB_OK, or SB_ERR_DENIED with a reason. */
enum sb_err sb_pusher_verify(const char *key, const char *secret, const char *socket_id,
			     const char *channel, const char *auth,
			     char *reason, size_t reasonlen);

/* A parsed client frame. */
enum sb_pusher_op {
	SB_PUSHER_OP_SUBSCRIBE = 0, SB_PUSHER_OP_UNSUBSCRIBE, SB_PUSHER_OP_PING,
	SB_PUSHER_OP_PONG, SB_PUSHER_OP_CLIENT_EVENT, SB_PUSHER_OP_OTHER,
};
struct sb_pusher_msg {
	enum sb_pusher_op op;
	const char *event;      /* points into root */
	const char *channel;    /* subscribe/unsubscribe: data.channel; client event: channel */
	const char *auth;       /* subscribe: data.auth, or NULL */
	const cJSON *data;      /* client event: its data (any JSON), or NULL */
	cJSON *root, *data_doc; /* owned */
};
/* Parses one client frame: a JSON object with a string "event"; "data" an
 * object or a string holding JSON (both are sent by Pusher clients).  On
 * failure returns SB_ERR_INVAL with a reason for the client.  Free with
 * sb_pusher_msg_free(). */
enum sb_err sb_pusher_parse(const char *data, size_t len, struct sb_pusher_msg *out,
			    char *reason, size_t reasonlen);
void sb_pusher_msg_free(struct sb_pusher_msg *m);

/* Frame builders (refs = 1; NULL when out of memory).  `channel` is the
 * statusbus name; the frame carries sb_pusher_name_prefix(form) + channel.
 * An event's data is the JSON string of
 * {"topic":T,"retained":R,"data":PAYLOAD} (PAYLOAD null for "deleted"); a
 * batch is one event "<event>.batch" whose data is the JSON string of the
 * array of payloads; a gap is "statusbus:gap" with {"from","to","lines"}. */
struct sb_frame *sb_pusher_event_frame(enum sb_pusher_name form, const char *channel,
				       const char *event, const char *topic, int retained,
				       const char *data, size_t len);
struct sb_frame *sb_pusher_batch_frame(enum sb_pusher_name form, const char *channel,
				       const char *event, struct sb_msg *const *items,
				       size_t n);
struct sb_frame *sb_pusher_gap_frame(enum sb_pusher_name form, const char *channel,
				     int64_t from, int64_t to, size_t lines);

#endif
