/* SPDX-License-Identifier: MIT
 *
 * pusher_http.h - the Pusher HTTP API as its server SDKs speak it
 * (docs/pusher.md): which endpoint a path names, the request's query
 * parameters, its authentication, and the events in a POST body, each
 * refusal with the HTTP status and plain-text message Pusher would give.
 *
 *   POST /apps/<app_id>/events            {"name","data","channel"|"channels","socket_id","info"}
 *   POST /apps/<app_id>/batch_events      {"batch":[{"name","data","channel","socket_id","info"},…]}
 *   GET  /apps/<app_id>/channels          filter_by_prefix, info
 *   GET  /apps/<app_id>/channels/<name>   info
 *   GET  /apps/<app_id>/channels/<name>/users
 *
 * Authentication: auth_key = the app key, auth_timestamp within 600 s of
 * now, auth_version = 1.0, body_md5 = hex MD5 of a non-empty body, and
 * auth_signature = hex HMAC-SHA256(secret, "METHOD\nPATH\nQUERY") where
 * QUERY is every other parameter, keys lower-cased, sorted by key, joined
 * as k=v&k=v, unescaped; compared in constant time.
 *
 * Pure module: no I/O, no clock (now is given), never logs.  The adapter
 * (adapters/pusher_api.c) hands in what libwebsockets parsed.
 */
#ifndef SB_PUSHER_HTTP_H
#define SB_PUSHER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "chanmap.h"
#include "sb_common.h"

#define SB_PUSHER_HTTP_MAX_PARAMS 32
#define SB_PUSHER_HTTP_MAX_PARAM 1024        /* bytes of one key=value */
#define SB_PUSHER_HTTP_WINDOW_S 600          /* auth_timestamp vs. now */
#define SB_PUSHER_HTTP_MAX_CHANNEL 200       /* Pusher's longest channel name */

/* A refusal: the HTTP status and a message for the body (text/plain, as
 * Pusher's API answers). */
struct sb_pusher_http_error {
	int status;
	char message[512];
};

enum sb_pusher_http_route {
	SB_PUSHER_HTTP_NONE = 0,   /* refused: see the error */
	SB_PUSHER_HTTP_EVENTS,
	SB_PUSHER_HTTP_BATCH,
	SB_PUSHER_HTTP_CHANNELS,
	SB_PUSHER_HTTP_CHANNEL,
	SB_PUSHER_HTTP_USERS,
};

/* 1 when path is under /apps/ (the API's, whatever else is wrong). */
int sb_pusher_http_is_api(const char *path);
/* The endpoint path names for `method` ("GET"/"POST"); for the channel
 * endpoints the channel name goes to channel[SB_PUSHER_HTTP_MAX_CHANNEL + 1].
 * SB_PUSHER_HTTP_NONE with 404 (another app id, no such endpoint) or 405
 * (the wrong method) in *e. */
enum sb_pusher_http_route sb_pusher_http_route(const char *method, const char *path,
					       const char *app_id, char *channel,
					       struct sb_pusher_http_error *e);

struct sb_pusher_http_param {
	char *key;     /* lower-cased */
	char *value;
};

/* One request: method, path, query parameters (as lws decoded them) and
 * body.  method, path and body are borrowed. */
struct sb_pusher_http_req {
	const char *method, *path;
	const char *body;
	size_t body_len;
	struct sb_pusher_http_param params[SB_PUSHER_HTTP_MAX_PARAMS];
	size_t nparams;
};

void sb_pusher_http_req_init(struct sb_pusher_http_req *r, const char *method, const char *path,
			     const char *body, size_t body_len);
void sb_pusher_http_req_free(struct sb_pusher_http_req *r);
/* Adds one query argument "key=value" (len bytes, already URL-decoded; a
 * fragment without '=' has an empty value).  400 for more than
 * SB_PUSHER_HTTP_MAX_PARAMS, one longer than SB_PUSHER_HTTP_MAX_PARAM, an
 * empty key, a NUL, or a key given twice. */
enum sb_err sb_pusher_http_add_param(struct sb_pusher_http_req *r, const char *frag, size_t len,
				     struct sb_pusher_http_error *e);
/* The value of query parameter key (lower case), or NULL. */
const char *sb_pusher_http_param(const struct sb_pusher_http_req *r, const char *key);

/* "METHOD\nPATH\nk=v&…" (every parameter but auth_signature, sorted by
 * key), malloc'ed; NULL when out of memory. */
char *sb_pusher_http_string_to_sign(const struct sb_pusher_http_req *r);
/* Checks the request's authentication against the app's key and secret
 * at now_s (Unix seconds).  SB_OK, or SB_ERR_DENIED with 401 and why in
 * *e (a missing parameter, another key, a stale timestamp, another
 * version, a body_md5 that does not match the body, a bad signature). */
enum sb_err sb_pusher_http_authenticate(const struct sb_pusher_http_req *r, const char *key,
					const char *secret, int64_t now_s,
					struct sb_pusher_http_error *e);

/* ---- POST bodies ------------------------------------------------------------------ */

struct sb_pusher_http_limits {
	size_t max_event_bytes;    /* data of one event: 413 over it */
	size_t max_channels;       /* channels of one event */
	size_t max_batch;          /* events of one batch */
};

/* Where one event goes: a statusbus channel, kept as last (cache- names). */
struct sb_pusher_http_target {
	char *name;        /* the Pusher name as given */
	const char *base;  /* the statusbus channel inside it */
	int cached;
};

struct sb_pusher_http_event {
	char *name;
	char *data;        /* NUL-terminated, dlen bytes */
	size_t dlen;
	char *socket_id;   /* NULL = none */
	unsigned info;     /* SB_PUSHER_HTTP_INFO_* asked for */
	struct sb_pusher_http_target *to;
	size_t nto;        /* distinct statusbus channels */
};

#define SB_PUSHER_HTTP_INFO_SUBSCRIPTION_COUNT 1u
#define SB_PUSHER_HTTP_INFO_USER_COUNT 2u

/* Reads an events (batch = 0) or batch_events (batch = 1) body into
 * *out[*n] (free with sb_pusher_http_events_free).  Every channel must be
 * a Pusher name of a channel in `map` (NULL: not checked).  SB_OK, or an
 * error with 400 (not strict JSON in UTF-8, a missing or malformed field, too many
 * channels or events, an unknown or malformed channel, presence and
 * encrypted channels) or 413 (data over max_event_bytes) in *e. */
enum sb_err sb_pusher_http_parse_events(const char *body, size_t len, int batch,
					const struct sb_pusher_http_limits *lim,
					const struct sb_chanmap *map,
					struct sb_pusher_http_event **out, size_t *n,
					struct sb_pusher_http_error *e);
void sb_pusher_http_events_free(struct sb_pusher_http_event *ev, size_t n);

/* Reads an info parameter (NULL = none: 0): a comma-separated list of
 * user_count and subscription_count.  400 for anything else, and for
 * user_count unless `presence` (Pusher counts users of presence channels
 * only). */
enum sb_err sb_pusher_http_info(const char *info, int presence, unsigned *out,
				struct sb_pusher_http_error *e);
/* 1 when name is a Pusher channel name: 1-200 of [-A-Za-z0-9_=@,.;]. */
int sb_pusher_http_channel_valid(const char *name);

#endif
