/* SPDX-License-Identifier: MIT
 *
 * hub.h - the bridge's engine, as the adapters and the protocol sessions
 * see it: one registry of clients, channels, MQTT filters and the retained
 * cache, and the orchestration between them (docs/architecture.md walks a
 * message through it).
 *
 * The hub names no protocol.  Protocols plug in through two const tables
 * registered at run time (like Redis's pubSubType and lws's role ops):
 *   - struct sb_encoder: how an event, a batch and a gap look on the wire;
 *     a channel fan-out builds one frame per encoder in use (serialize
 *     once, fan out by reference);
 *   - struct sb_session_ops: what a connection's text frames mean, and how
 *     the engine's close verdicts map to the protocol's close codes.
 * statusbus.v1 (session_v1.c) and Pusher (session_pusher.c) are two such
 * sessions, on equal footing: the same subscribe call with options, the
 * same snapshot cache per encoder, the same queue charging, one rate
 * limiter.
 *
 * Pure core: no libwebsockets, no Paho, no threads.  Everything runs on
 * the service thread: the adapters hand in messages and frames, pull
 * frames to write when a socket is writeable (sb_hub_client_next), and call
 * sb_hub_tick at sb_hub_next_deadline.  The hub calls back through struct
 * sb_hub_ops.
 */
#ifndef SB_HUB_H
#define SB_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "chanmap.h"
#include "config.h"
#include "frame.h"
#include "jwt.h"
#include "metrics.h"
#include "list.h"
#include "proto_v1.h"
#include "queue.h"
#include "ws_deflate.h"

#ifndef SB_HUB_MAX_ENCODERS
#define SB_HUB_MAX_ENCODERS 8
#endif

struct sb_hub;
struct sb_client;
struct sb_schema_set;
struct sb_sub_result;

struct sb_hub_ops {
	void *ctx;
	void (*mqtt_subscribe)(void *ctx, const char *filter);
	void (*mqtt_unsubscribe)(void *ctx, const char *filter);
	/* the client has something to write (or must be closed) */
	void (*wake)(void *ctx, struct sb_client *c);
	/* republish to $statusbus/rejected/...; may be NULL */
	void (*publish)(void *ctx, const char *topic, const void *payload, size_t len);
	/* the earliest deadline changed: call sb_hub_tick then */
	void (*timer)(void *ctx, int64_t deadline_ms);
	/* QoS 1, retained (presence, engine/presence.c); may be NULL */
	void (*publish_retained)(void *ctx, const char *topic, const void *payload, size_t len);
};

/* One wire encoding of channel traffic.  Frames are returned with one
 * reference (NULL when out of memory).  `channel` is the statusbus name. */
struct sb_encoder {
	struct sb_frame *(*event)(const char *channel, const char *event,
				  const char *topic, int retained,
				  const char *data, size_t len);
	/* items: payloads of one event kind, in order */
	struct sb_frame *(*batch)(const char *channel, const char *event,
				  struct sb_msg *const *items, size_t n);
	struct sb_frame *(*gap)(const char *channel, int64_t from, int64_t to,
				size_t lines);
	/* Optional: the byte range [start, end) of a batch frame's item list,
	 * so that queued batches of one channel can be merged into one frame
	 * (0 when f is not such a frame).  NULL = never merged. */
	int (*batch_items)(const struct sb_frame *f, size_t *start, size_t *end);
	/* Optional: a member of a presence channel joined (join = 1) or left;
	 * info is its JSON or NULL.  NULL = such subscribers are not told. */
	struct sb_frame *(*presence)(const char *channel, int join, const char *id,
				     const char *info);
};

/* A protocol's handling of its connections.  `self` is the protocol's own
 * state, given at sb_hub_add_session. */
struct sb_session_ops {
	const char *name;
	/* One text frame from the client (NUL-terminated, len bytes), after
	 * the engine's checks (the client is not closing). */
	void (*frame)(void *self, struct sb_hub *hub, struct sb_client *c,
		      const char *data, size_t len);
	/* An error the engine tells the client about on its own (token expiry,
	 * a subscription a refreshed token no longer allows); may be NULL. */
	void (*error)(void *self, struct sb_hub *hub, struct sb_client *c,
		      enum sb_code code, const char *channel, const char *message);
	/* The WebSocket close code for the engine's verdict `code` (an
	 * SB_CLOSE_* of proto_v1.h, or 1001), and *reason; NULL = as is. */
	int (*close_code)(void *self, const struct sb_client *c, int code, const char **reason);
	/* A subscription sb_hub_subscribe() left pending (res->pending) is
	 * settled: rc == SB_OK, it is live now (acknowledge it, then call
	 * sb_hub_send_initial(res->name)); otherwise it is gone and res->code,
	 * res->reason say why (unavailable, not_found).  `tag` is the one given
	 * in struct sb_sub_opts. */
	void (*sub_ready)(void *self, struct sb_hub *hub, struct sb_client *c, int64_t tag,
			  enum sb_err rc, const struct sb_sub_result *res);
	/* The connection of this protocol whose id is `id` (a Pusher socket
	 * id), or NULL: a relayed Pusher event names its sender so that it is
	 * not sent back (docs/pusher.md).  May be NULL. */
	const struct sb_client *(*origin)(void *self, const char *id);
};

struct sb_session;   /* a registered protocol: ops + self + default encoder */

struct sb_metrics {
	/* histograms (docs/metrics.md): arrival on the MQTT thread to the
	 * service thread taking the message; arrival to the frame handed to
	 * a client's socket (live deliveries); lines per batch frame */
	struct sb_hist ingest_latency, delivery_latency, batch_lines;
	uint64_t connections_total, connections_rejected;
	uint64_t messages_in, bytes_in;
	uint64_t events_out;         /* events placed in client queues */
	uint64_t frames_out, bytes_out;
	uint64_t writes;             /* socket writes of frames (gathered) */
	uint64_t batches;            /* batch frames built */
	uint64_t drop_invalid_json, drop_schema, drop_oversize, drop_unknown_topic;
	uint64_t drop_cache_full, drop_duplicate, drop_slow_lines, drop_nomem;
	uint64_t drop_inbound_overflow;
	uint64_t drop_seq_gap;       /* lines a seq jump skipped: never received */
	uint64_t drop_out_of_order;  /* late lines inside a hole already reported */
	uint64_t conflated_queue, conflated_interval, gaps;
	uint64_t slow_closes, auth_failures, client_errors, rate_limited;
	/* SIGHUP: reloads applied and refused, and whether the last one was
	 * applied (1 until one fails) */
	uint64_t config_reloads, config_reload_failures, config_last_reload_ok;
	uint64_t mqtt_connects, mqtt_disconnects;
	uint64_t rejected_published, retained_replays_skipped;
	uint64_t history_served, history_gaps;
	uint64_t seq_gaps;           /* gap notices sent live for a seq jump */
	uint64_t coalesced;          /* queued batches merged into one frame */
	uint64_t barriers_sent;      /* replay barriers published */
	uint64_t subscribe_timeouts; /* subscriptions never live: unavailable */
	uint64_t mqtt_sessions_lost; /* reconnects without the broker's session */
	uint64_t mqtt_takeovers;     /* another client took the bridge's client id */
	uint64_t reconciled_deletes; /* cached statuses gone after a lost session */
	uint64_t retained_missing;   /* wildcard replays empty though statuses were cached */
	uint64_t follow_refused;     /* active deploy statuses past logs.max_followed */
	uint64_t drop_foreign_owner; /* a resource's topic under another team's prefix */
	uint64_t owner_contested;    /* resources claimed under two teams (owners.h) */
	/* counted by the adapter's door (conn_guard.c), copied in for /metrics */
	uint64_t conn_refused_per_ip, conn_refused_max, conn_request_timeouts;
	uint64_t conn_headers_too_large, frames_unmasked, frames_too_large;
	/* presence (engine/presence.c) */
	uint64_t presence_joins, presence_leaves;   /* members told joined / left */
	uint64_t presence_refused;                  /* joins past presence_max_members */
	uint64_t presence_remote_updates;           /* member lists read from other bridges */
	uint64_t presence_remote_invalid;           /* presence messages that were not valid */
	uint64_t presence_bridges_gone;             /* bridges seen offline (their will) */
	/* permessage-deflate, counted by the adapter (ws_compress.c) */
	struct sb_deflate_stats deflate;
};

struct sb_hub_params {
	const struct sb_config *cfg;          /* borrowed, outlives the hub */
	const struct sb_chanmap *map;         /* borrowed */
	const struct sb_kinds *kinds;         /* borrowed */
	const struct sb_schema_set *schemas;  /* borrowed; NULL = no validation */
	const struct sb_jwt_key *jwt_key;     /* borrowed; NULL = open mode */
	const char *bridge_id;                /* names $statusbus/sync/<id>; NULL = "statusbus" */
	int64_t (*now_ms)(void);              /* monotonic; NULL = sb_now_ms */
	int64_t (*wall_s)(void);              /* for token expiry; NULL = time() */
};

/* Creates the hub and subscribes the always-on status filters of the owned
 * resources (team/+/deploy/+/status, and those of the other kinds the
 * map's templates are authorized by: app, db, service).
 * Caller frees with sb_hub_destroy(). */
enum sb_err sb_hub_create(struct sb_hub **out, const struct sb_hub_params *p,
			  const struct sb_hub_ops *ops);
/* Frees every client, channel and cached message.  Accepts NULL. */
void sb_hub_destroy(struct sb_hub *hub);

/* Registers an encoder (borrowed, static); returns its id, or -1 when
 * SB_HUB_MAX_ENCODERS are registered. */
int sb_hub_add_encoder(struct sb_hub *hub, const struct sb_encoder *enc);
/* Registers a protocol whose subscriptions use encoder `enc` unless the
 * subscribe call names another.  ops borrowed (static); the hub owns the
 * returned handle.  NULL when out of memory. */
const struct sb_session *sb_hub_add_session(struct sb_hub *hub, const struct sb_session_ops *ops,
					    void *self, int enc);

/* ---- MQTT side ---- */
/* The link came up (resubscribes every live filter) or went down. */
void sb_hub_mqtt_state(struct sb_hub *hub, int connected);
int sb_hub_mqtt_connected(const struct sb_hub *hub);
/* The link came up without the broker's session (CONNACK session present
 * = 0) after the bridge had one: what was published while it was down is
 * gone.  Call right after sb_hub_mqtt_state(hub, 1).  Every followed log
 * stream is marked possibly broken (a resume gets recovered: false until
 * the next line shows whether lines were lost), and once the replay of
 * each filter is in, cached statuses the broker did not replay become
 * `deleted` events. */
void sb_hub_mqtt_session_lost(struct sb_hub *hub);
/* The broker acknowledged the subscription to `filter`: from now on
 * nothing published on it is missed (shown as mqtt_filters_active). */
void sb_hub_mqtt_suback(struct sb_hub *hub, const char *filter);
/* A message from the broker; the hub takes its own references. */
void sb_hub_on_message(struct sb_hub *hub, struct sb_msg *m);
/* Every live filter (for the adapter's own use); borrowed strings. */
size_t sb_hub_filters(const struct sb_hub *hub, const char **out, size_t max);

/* ---- clients ---- */
/* A new connection speaking `sess`.  `transport` is the adapter's handle.
 * NULL when max_connections is reached or memory ran out. */
struct sb_client *sb_hub_client_new(struct sb_hub *hub, const struct sb_session *sess,
				    void *transport);
void *sb_client_transport(const struct sb_client *c);
const char *sb_client_session(const struct sb_client *c);
/* The protocol's per-connection state (owned by the protocol). */
void *sb_client_data(const struct sb_client *c);
void sb_client_set_data(struct sb_client *c, void *data);
/* Non-zero once the hub wants the connection closed: the protocol's close
 * code for it.  The adapter closes after sb_hub_client_next() returns NULL. */
int sb_client_close_code(const struct sb_client *c, const char **reason);
/* The connection is gone: unsubscribes and frees c. */
void sb_hub_client_gone(struct sb_hub *hub, struct sb_client *c);
/* A verdict from the adapter or a session (frame too big, binary frame,
 * rate, a protocol's own close code): marks c for close with code after
 * what is queued. */
void sb_hub_client_close(struct sb_hub *hub, struct sb_client *c, int code,
			 const char *reason);
/* One text frame from the client: handed to its session. */
void sb_hub_client_frame(struct sb_hub *hub, struct sb_client *c,
			 const char *data, size_t len);
/* The next frame to write (the caller owns the returned reference), or
 * NULL when the queue is empty. */
struct sb_frame *sb_hub_client_next(struct sb_hub *hub, struct sb_client *c);
/* The length of the frame sb_hub_client_next will return, 0 when none: it
 * is taken from the queue now (a gap's frame built, log batches merged),
 * so that the adapter can size a gathered write exactly. */
size_t sb_hub_client_next_len(struct sb_hub *hub, struct sb_client *c);
/* The adapter's view of c's socket after a write: choked (the socket took
 * no more, or holds part of a frame) until the next writeable callback.  A
 * choked client is behind (docs/protocol.md §6): its queued statuses are
 * conflated per topic until it is writeable again. */
void sb_hub_client_choked(struct sb_hub *hub, struct sb_client *c, int choked);
size_t sb_client_queued_bytes(const struct sb_client *c);
/* hello done, or a protocol that needs none (Pusher): requests are served. */
void sb_hub_client_set_ready(struct sb_hub *hub, struct sb_client *c);
int sb_client_ready(const struct sb_client *c);
/* The token's claims (NULL in open mode or before hello); borrowed. */
const struct sb_jwt_claims *sb_client_claims(const struct sb_client *c);

/* ---- operations shared by the protocols ---- */
struct sb_sub_opts {
	const char *channel;   /* statusbus name, len bytes */
	size_t len;
	int has_since;
	int64_t since;
	int enc;               /* encoder id for its frames; -1 = the session's */
	int trusted;           /* the protocol authorized this channel itself */
	int64_t tag;           /* the session's own, given back to sub_ready */
};
struct sb_sub_result {
	enum sb_code code;     /* on failure */
	int pending;           /* SB_OK but not live yet: sub_ready follows */
	int recovered;         /* -1 = no since; else 0/1 */
	char name[SB_CHAN_MAX_NAME + 1];   /* canonical channel name */
	char reason[256];      /* on failure */
};
/* Authorizes and subscribes.  On failure returns the error with code and
 * reason in *res; SB_ERR_EXISTS when already subscribed.
 *
 * An acknowledgement means live (docs/protocol.md §5): when the channel's
 * MQTT filters are not all granted and synced yet, or the channel names a
 * resource (a deploy, an app, ...) the bridge has not heard of, SB_OK
 * comes with res->pending set and the session's sub_ready settles it later
 * (within limits.subscribe_timeout_ms).  Otherwise the caller acknowledges
 * now. */
enum sb_err sb_hub_subscribe(struct sb_hub *hub, struct sb_client *c,
			     const struct sb_sub_opts *o, struct sb_sub_result *res);
/* After a successful subscribe and its acknowledgement: queues the
 * snapshot (from the channel's per-encoder frame cache) and the history
 * replay.  Returns how many snapshot events were queued. */
size_t sb_hub_send_initial(struct sb_hub *hub, struct sb_client *c, const char *channel);
enum sb_err sb_hub_unsubscribe(struct sb_hub *hub, struct sb_client *c,
			       const char *channel);
/* Queues a control frame (the queue takes its own reference). */
void sb_hub_client_send(struct sb_hub *hub, struct sb_client *c, struct sb_frame *f);
/* Queues a control frame and drops the caller's reference; a NULL frame
 * (out of memory) is counted. */
void sb_hub_client_send_owned(struct sb_hub *hub, struct sb_client *c, struct sb_frame *f);
/* Verifies a token (counted as an auth failure when refused). */
enum sb_err sb_hub_verify_token(struct sb_hub *hub, const char *token, size_t len,
				struct sb_jwt_claims **out, enum sb_code *code,
				char *reason, size_t rlen);
/* Replaces c's claims (taking ownership), re-checks every subscription and
 * drops (telling the client through its session) those no longer allowed. */
void sb_hub_client_set_claims(struct sb_hub *hub, struct sb_client *c,
			      struct sb_jwt_claims *claims);
/* The shared token bucket of a client's requests: 1 when one more request
 * fits in per_s with `burst`.  *debt gets how far below zero it is. */
int sb_hub_client_rate(struct sb_hub *hub, struct sb_client *c, double per_s, double burst,
		       double *debt);

/* ---- time ---- */
/* Flushes due batches and conflation windows, expires lingering channels,
 * closes clients whose hello or token timed out. */
void sb_hub_tick(struct sb_hub *hub);
/* Earliest time sb_hub_tick has work, or INT64_MAX. */
int64_t sb_hub_next_deadline(const struct sb_hub *hub);
/* SIGTERM: flush every pending batch and conflation window now. */
void sb_hub_flush_all(struct sb_hub *hub);
/* Marks every client for close with `code` (after its queue drains). */
void sb_hub_close_all(struct sb_hub *hub, int code, const char *reason);
/* A drain's slice: marks up to n clients not yet closing for close with
 * `code` (after each one's queue drains); returns how many
 * it marked (0: none left open). */
size_t sb_hub_close_some(struct sb_hub *hub, size_t n, int code, const char *reason);
const struct sb_config *sb_hub_config(const struct sb_hub *hub);
int sb_hub_open_mode(const struct sb_hub *hub);

/* ---- introspection ---- */
const struct sb_metrics *sb_hub_metrics(const struct sb_hub *hub);
struct sb_hub_gauges {
	size_t clients, channels, subscriptions, mqtt_filters, mqtt_filters_active, cache_topics;
	size_t mqtt_filters_carried;   /* in use, riding on a wider one (filters.h) */
	size_t queued_bytes, history_lines;
	size_t logs_followed;        /* log channels held for active deploys */
	size_t presence_channels, presence_members;   /* cluster-wide members */
	int mqtt_connected;
};
void sb_hub_gauges(const struct sb_hub *hub, struct sb_hub_gauges *g);
/* 1 once, since the broker link last came up, what the bridge follows on
 * its own has been live (granted and its retained replay in the cache):
 * the owners' subscriptions and the logs of every active deploy it
 * follows (docs/protocol.md §3.4).  Until then a client that moves here
 * from another bridge could miss lines this one has not heard: /readyz
 * waits for it.  Latched until the link drops, so that a deploy that
 * starts later (its log subscription pending for a moment) does not take
 * the bridge out of a balancer. */
int sb_hub_warm(struct sb_hub *hub);
/* A credential refused outside the hub (a Pusher channel signature). */
void sb_hub_count_auth_failure(struct sb_hub *hub);
/* An error frame a session sent its client. */
void sb_hub_count_client_error(struct sb_hub *hub);
/* An inbound-queue overflow counted by the MQTT adapter. */
void sb_hub_count_inbound_drop(struct sb_hub *hub, uint64_t n);
/* A write of one or more frames to a client's socket (ws_server.c). */
void sb_hub_count_write(struct sb_hub *hub);

/* SIGHUP (docs/protocol.md §11), after the adapter moved the reloadable
 * values into the config the hub borrows (same object): the hub re-reads
 * what it copied at create (validation rules, max_payload_bytes) and
 * borrows `key` and `schemas` from now on (the caller frees the ones they
 * replace once this returns; NULL key keeps open mode as it is, since
 * leaving or entering it needs a restart).  Tokens already verified stay
 * valid for their connections: the next hello, token refresh or HTTP
 * query meets the new key. */
void sb_hub_reload(struct sb_hub *hub, const struct sb_jwt_key *key,
		   const struct sb_schema_set *schemas);
/* A SIGHUP reload applied (ok = 1) or refused, for /metrics. */
void sb_hub_count_reload(struct sb_hub *hub, int ok);
/* ---- channels, for the Pusher HTTP API's queries (docs/pusher.md) ---- */
/* The channel map the hub routes with (borrowed). */
const struct sb_chanmap *sb_hub_chanmap(const struct sb_hub *hub);
/* Subscribers of channel `name` on this bridge, per encoder id, into
 * counts[SB_HUB_MAX_ENCODERS]; returns their total (0 and zeros when no
 * such channel is live). */
size_t sb_hub_chan_subscribers(const struct sb_hub *hub, const char *name,
			       size_t counts[SB_HUB_MAX_ENCODERS]);
/* Calls cb for every channel that has subscribers, with the same counts. */
typedef void (*sb_hub_chan_fn)(const char *name, const size_t *counts, void *user);
void sb_hub_foreach_chan(const struct sb_hub *hub, sb_hub_chan_fn cb, void *user);

/* ---- presence (docs/protocol.md §5.12, §9; engine/presence.c) ---- */
struct sb_presence_set;
/* 1 when channel `name` is a presence channel (its template says so). */
int sb_hub_presence_enabled(const struct sb_hub *hub, const char *name);
/* c, subscribed to presence channel `name`, joins it as user id (info: a
 * JSON text or NULL).  The other subscribers are told when id was not a
 * member yet.  SB_ERR_LIMIT when the channel has limits.presence_max_members
 * users already; SB_ERR_NOTFOUND when c is not subscribed to a presence
 * channel of that name; SB_ERR_EXISTS when c joined it already. */
enum sb_err sb_hub_presence_join(struct sb_hub *hub, struct sb_client *c, const char *name,
				 const char *id, const char *info);
/* 1 when c holds a live (acknowledged) subscription to channel `name`. */
int sb_client_subscribed(const struct sb_client *c, const char *name);
/* The members of channel `name`, cluster-wide (NULL: none known). */
const struct sb_presence_set *sb_hub_presence(const struct sb_hub *hub, const char *name);
/* Calls cb for every presence channel with members, with its member count. */
typedef void (*sb_hub_presence_fn)(const char *name, size_t members, void *user);
void sb_hub_foreach_presence(const struct sb_hub *hub, sb_hub_presence_fn cb, void *user);

/* ---- queries (docs/protocol.md §7) ---- */
/* Authorizes a bearer token (NULL = none) for `channel` and writes the JSON
 * body of a snapshot (history=0) or of the history after `since`
 * (history=1) into *body (malloc'ed, caller frees; NULL when out of
 * memory).  On refusal, *code says why and *body is the error object; the
 * HTTP adapter maps the code with sb_code_http_status(). */
struct sb_hub_waiter {
	void (*ready)(void *arg);   /* the answer is ready: query again */
	void *arg;
	/* the engine's */
	struct sb_list_node node;
	const void *chan;
	int64_t deadline;
};
/* With a waiter, a query for a channel that is not live yet (its MQTT
 * filters not granted and synced: the first request for a channel nobody
 * follows) returns SB_ERR_PENDING and no body, and w->ready is called once
 * it is live or limits.subscribe_timeout_ms passed; then query again
 * without a waiter (the answer says "live": false if it still is not).
 * The caller owns w and cancels it with sb_hub_waiter_cancel() when it
 * goes away first. */
enum sb_err sb_hub_query(struct sb_hub *hub, const char *token, const char *channel,
			 int history, int64_t since, char **body, enum sb_code *code,
			 struct sb_hub_waiter *w);
void sb_hub_waiter_cancel(struct sb_hub *hub, struct sb_hub_waiter *w);

#endif
