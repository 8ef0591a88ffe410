/* SPDX-License-Identifier: MIT
 *
 * pusher_codec.h - the Pusher Channels protocol 7 codec (docs/pusher.md):
 * what a Pusher frame, channel name, socket id and auth signature look like
 * on the wire, with no connection, hub or clock behind it.
 *
 *   - channel names: "private-<c>" and "private-cache-<c>" are authorized by
 *     the app backend's HMAC-SHA256 of "<socket_id>:<name>"; "<c>" and
 *     "cache-<c>" need no signature; "presence-<c>" is signed over
 *     "<socket_id>:<name>:<channel_data>" (pusher_presence.h).  <c> is a
 *     statusbus channel name; private-encrypted- names are recognised only
 *     to be refused;
 *   - socket ids ("<digits>.<digits>") made from a hub session id;
 *   - the signature and its constant-time check;
 *   - client frames parsed into struct sb_pusher_msg;
 *   - server frames: {"event":E[,"channel":NAME],"data":"<JSON string>"}
 *     (pusher:error alone carries its data as an object).
 *
 * Pure module: no state, no I/O, never logs (failures come back as a
 * reason for the client).  The session on top of it is engine/pusher.c.
 */
#ifndef SB_PUSHER_CODEC_H
#define SB_PUSHER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "sb_common.h"

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

/* ---- channel names ------------------------------------------------------------ */

/* The forms of a Pusher channel name. */
enum sb_pusher_name {
	SB_PUSHER_PUBLIC = 0,        /* "<c>": no signature */
	SB_PUSHER_PRIVATE,           /* "private-<c>" */
	SB_PUSHER_PRIVATE_CACHE,     /* "private-cache-<c>" */
	SB_PUSHER_CACHE,             /* "cache-<c>": no signature, snapshot */
	SB_PUSHER_PRESENCE,          /* "presence-<c>": signed with channel_data */
	SB_PUSHER_UNSUPPORTED,       /* private-encrypted- */
};

/* The form of `name` and, through *base, the statusbus channel inside it
 * (a pointer into name). */
enum sb_pusher_name sb_pusher_name_parse(const char *name, const char **base);
/* "private-" etc.; "" for SB_PUSHER_PUBLIC. */
const char *sb_pusher_name_prefix(enum sb_pusher_name form);
/* 1 for the forms that need a signature (private-, private-cache-,
 * presence-). */
int sb_pusher_name_is_private(enum sb_pusher_name form);
/* 1 for the forms that get the channel's snapshot (cache-, private-cache-). */
int sb_pusher_name_is_cache(enum sb_pusher_name form);

/* ---- socket ids and signatures -------------------------------------------------- */

/* "<digits>.<digits>" from a hub session id (32 hex digits): the socket id
 * is as unguessable as the session.  out gets SB_PUSHER_SOCKET_ID_MAX. */
void sb_pusher_make_socket_id(const char *session, char *out, size_t outlen);
/* 1 when s is "<1-20 digits>.<1-20 digits>". */
int sb_pusher_socket_id_valid(const char *s);

/* hex(HMAC-SHA256(secret, msg[0..len))) into hex[65], lower case. */
enum sb_err sb_pusher_hmac_hex(const char *secret, const void *msg, size_t len, char hex[65]);
/* hex(HMAC-SHA256(secret, "<socket_id>:<channel>")) into hex[65]. */
enum sb_err sb_pusher_sign(const char *secret, const char *socket_id,
			   const char *channel, char hex[65]);
/* Checks a pusher:subscribe `auth` ("<key>:<hex signature>") for channel on
 * socket_id.  The signature is compared in constant time (CRYPTO_memcmp,
 * always over 64 bytes).  SB_OK, or SB_ERR_DENIED with a reason. */
enum sb_err sb_pusher_verify(const char *key, const char *secret, const char *socket_id,
			     const char *channel, const char *auth,
			     char *reason, size_t reasonlen);
/* The same for a presence channel: the signature covers
 * "<socket_id>:<channel>:<channel_data>" (channel_data NULL: as above). */
enum sb_err sb_pusher_verify_data(const char *key, const char *secret, const char *socket_id,
				  const char *channel, const char *channel_data, const char *auth,
				  char *reason, size_t reasonlen);

/* ---- client frames ---------------------------------------------------------------- */

enum sb_pusher_op {
	SB_PUSHER_OP_SUBSCRIBE = 0, SB_PUSHER_OP_UNSUBSCRIBE, SB_PUSHER_OP_PING,
	SB_PUSHER_OP_PONG, SB_PUSHER_OP_CLIENT_EVENT, SB_PUSHER_OP_OTHER,
};
struct sb_pusher_msg {
	enum sb_pusher_op op;
	const char *event;      /* points into root */
	const char *channel;    /* subscribe/unsubscribe: data.channel; client event: channel */
	const char *auth;       /* subscribe: data.auth, or NULL */
	const char *channel_data; /* subscribe: data.channel_data (a string), or NULL */
	const cJSON *data;      /* client event: its data (any JSON), or NULL */
	cJSON *root, *data_doc; /* owned */
};
/* Parses one client frame: a JSON object with a string "event"; "data" an
 * object or a string holding JSON (both are sent by Pusher clients).  On
 * failure returns SB_ERR_INVAL with a reason for the client and nothing to
 * free.  On success free with sb_pusher_msg_free(). */
enum sb_err sb_pusher_parse(const char *data, size_t len, struct sb_pusher_msg *out,
			    char *reason, size_t reasonlen);
void sb_pusher_msg_free(struct sb_pusher_msg *m);

/* ---- server frames ------------------------------------------------------------------ */

/* Every builder returns a frame the caller owns (refs = 1), or NULL when out
 * of memory.  `channel` is the statusbus name; the frame carries
 * sb_pusher_name_prefix(form) + channel.
 *
 * An event's data is the JSON string of {"topic":T,"retained":R,"data":PAYLOAD}
 * (PAYLOAD null when data is NULL: "deleted"); a batch is one event
 * "<event>.batch" whose data is the JSON string of the array of payloads; a
 * gap is "statusbus:gap" with {"from","to","lines"}. */
struct sb_frame *sb_pusher_event_frame(enum sb_pusher_name form, const char *channel,
				       const char *event, const char *topic, int retained,
				       const char *data, size_t len);
struct sb_frame *sb_pusher_batch_frame(enum sb_pusher_name form, const char *channel,
				       const char *event, struct sb_msg *const *items,
				       size_t n);
struct sb_frame *sb_pusher_gap_frame(enum sb_pusher_name form, const char *channel,
				     int64_t from, int64_t to, size_t lines);

/* pusher:error {"code":code,"message":message}; code < 0 writes null (an
 * error that does not close, as Pusher sends it). */
struct sb_frame *sb_pusher_error_frame(int code, const char *message);
/* pusher:connection_established {"socket_id","activity_timeout"}. */
struct sb_frame *sb_pusher_connection_established_frame(const char *socket_id,
							int activity_timeout_s);
/* pusher_internal:subscription_succeeded with data "{}". */
struct sb_frame *sb_pusher_subscription_succeeded_frame(enum sb_pusher_name form,
							const char *channel);
/* pusher:subscription_error on `name`, the Pusher name as the client sent
 * it, with {"type","error","status"} (status is an HTTP status). */
struct sb_frame *sb_pusher_subscription_error_frame(const char *name, const char *type,
						    const char *error, int status);
/* pusher:cache_miss (no data): a cache- subscription found nothing known. */
struct sb_frame *sb_pusher_cache_miss_frame(enum sb_pusher_name form, const char *channel);
/* pusher:ping and pusher:pong with data "{}". */
struct sb_frame *sb_pusher_ping_frame(void);
struct sb_frame *sb_pusher_pong_frame(void);
/* A client event relayed to the other subscribers of `name` (the Pusher
 * name as the sender sent it): its data goes out as a string of JSON, as
 * every server event's does (a string as is, other JSON printed, NULL as
 * null). */
struct sb_frame *sb_pusher_client_event_frame(const char *event, const char *name,
					      const cJSON *data);

#endif
