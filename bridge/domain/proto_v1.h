/* SPDX-License-Identifier: MIT
 *
 * proto_v1.h - the statusbus.v1 WebSocket protocol codec (docs/protocol.md
 * §5): parsing client frames into requests and building server frames.
 * Pure module: no I/O, no state.
 */
#ifndef SB_PROTO_H
#define SB_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "frame.h"

enum sb_op { SB_OP_HELLO = 0, SB_OP_SUB, SB_OP_UNSUB, SB_OP_REFRESH, SB_OP_PING, SB_OP_PRESENCE };

enum sb_code {
	SB_CODE_BAD_REQUEST = 0, SB_CODE_UNAUTHORIZED, SB_CODE_FORBIDDEN,
	SB_CODE_NOT_FOUND, SB_CODE_TOO_MANY_SUBSCRIPTIONS, SB_CODE_RATE_LIMITED,
	SB_CODE_TOKEN_EXPIRED, SB_CODE_INTERNAL, SB_CODE_UNAVAILABLE,
};

/* WebSocket close codes of docs/protocol.md §5. */
#define SB_CLOSE_PROTOCOL 4000
#define SB_CLOSE_UNAUTHORIZED 4001
#define SB_CLOSE_LIMIT 4008
#define SB_CLOSE_TOO_LARGE 4009
#define SB_CLOSE_SLOW 4029
#define SB_CLOSE_GOING_AWAY 1001

#define SB_MAX_TOKEN 8192

struct sb_req {
	enum sb_op op;
	int has_id;
	int64_t id;
	const char *channel;    /* sub, unsub, presence (points into root) */
	size_t channel_len;
	const char *token;      /* hello (optional), refresh */
	size_t token_len;
	int has_since;
	int64_t since;
	cJSON *root;            /* owned */
};

/* Parses one client text frame.  On failure returns SB_ERR_INVAL with a
 * message for the client in `reason`, and *id_out/has_id_out set when the
 * frame had a usable id (so the error can carry it); SB_ERR_LIMIT when a
 * field is over its bound (token > SB_MAX_TOKEN).  On success the caller
 * frees with sb_req_free(). */
enum sb_err sb_proto_parse(const char *data, size_t len, struct sb_req *out,
			   int *has_id_out, int64_t *id_out,
			   char *reason, size_t reasonlen);
void sb_req_free(struct sb_req *req);

/* 1 when the JSON text d[0..len) holds the escape \u0000, or a \u whose
 * four characters are not all hex digits, which cJSON decodes as NUL too
 * (a backslash-escaped backslash before the "u" does not count).  cJSON
 * cuts strings at an escaped NUL, so "team.42\u0000x" would silently
 * become "team.42": every protocol refuses such frames. */
int sb_json_has_escaped_nul(const char *d, size_t len);

const char *sb_code_name(enum sb_code code);
/* The HTTP status of an error code (docs/protocol.md §7): 400, 401, 403,
 * 404, 429, 503 or 500. */
int sb_code_http_status(enum sb_code code);

/* Builders: NULL on out of memory.  Caller owns the frame (refs = 1). */
struct sb_frame *sb_proto_welcome(const char *session, int heartbeat_s,
				  int max_subscriptions, int max_frame_bytes,
				  int auth);
struct sb_frame *sb_proto_ack(int64_t id, const char *channel, int recovered);
/* recovered: -1 = omit, 0 = false, 1 = true */
struct sb_frame *sb_proto_error(int has_id, int64_t id, enum sb_code code,
				const char *channel, const char *message);
struct sb_frame *sb_proto_pong(int has_id, int64_t id);
/* `data` is spliced in raw and must be valid JSON; NULL writes null (the
 * `deleted` event). */
struct sb_frame *sb_proto_event(const char *channel, const char *event,
				const char *topic, int retained,
				const char *data, size_t data_len);
struct sb_frame *sb_proto_gap(const char *channel, int64_t from, int64_t to,
			      size_t lines);

/* A batch frame is built incrementally. */
void sb_proto_batch_begin(struct sb_buf *b, const char *channel, const char *event);
void sb_proto_batch_add(struct sb_buf *b, int first, const char *data, size_t len);
struct sb_frame *sb_proto_batch_end(struct sb_buf *b);

#endif
