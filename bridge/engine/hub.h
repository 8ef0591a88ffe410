/* SPDX-License-Identifier: MIT
 *
 * hub.h - the bridge's engine: clients, channels, reference-counted MQTT
 * subscriptions, the retained cache, payload validation, delivery modes
 * (immediate, batch, conflate), log history and resume, ACL, and metrics.
 *
 * Pure core: it includes neither MQTTAsync.h nor libwebsockets.h.  The
 * adapters drive it, all on the one service thread:
 *   - mqtt_link.c hands over messages (sb_hub_on_message) and link state;
 *   - ws_server.c creates clients, feeds their text frames, pulls frames to
 *     write when the socket is writeable (sb_hub_client_next) and closes
 *     them when the hub asks (close_code);
 *   - a timer calls sb_hub_tick at sb_hub_next_deadline.
 * The hub calls back through struct sb_hub_ops to (un)subscribe MQTT
 * filters, ask for a writeable callback, re-arm the timer and publish
 * rejected payloads.
 *
 * Protocols: statusbus.v1 is built in; other protocols (Pusher) register a
 * struct sb_proto_ops and share channels, queues, ACL and metrics.
 */
#ifndef SB_HUB_H
#define SB_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "chanmap.h"
#include "config.h"
#include "frame.h"
#include "jwt.h"
#include "proto_v1.h"
#include "queue.h"

struct sb_hub;
struct sb_client;
struct sb_schema_set;

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
};

/* Per-protocol frame encoding, so one channel fan-out serves every protocol
 * with one frame each (serialize once per protocol, not per client).
 *
 * A subscription is encoded by its client's protocol unless the client
 * chose another encoder first (sb_hub_client_set_encoding): Pusher names one
 * statusbus channel four ways ("public.acme", "private-team.42",
 * "private-cache-team.42", "cache-public.acme") and every subscriber must
 * see the name it subscribed with, so each Pusher name form is an encoder
 * of its own.  A fan-out builds one frame per encoder in use on the
 * channel. */
enum sb_proto_id {
	SB_PROTO_V1 = 0,
	SB_PROTO_PUSHER,                /* plain (public) Pusher channel names */
	SB_PROTO_PUSHER_PRIVATE,        /* "private-<channel>" */
	SB_PROTO_PUSHER_PRIVATE_CACHE,  /* "private-cache-<channel>" */
	SB_PROTO_PUSHER_CACHE,          /* "cache-<channel>" */
	SB_PROTO_COUNT
};

struct sb_proto_ops {
	struct sb_frame *(*event)(const char *channel, const char *event,
				  const char *topic, int retained,
				  const char *data, size_t len);
	/* items: payloads of one event kind, in order */
	struct sb_frame *(*batch)(const char *channel, const char *event,
				  struct sb_msg *const *items, size_t n);
	struct sb_frame *(*gap)(const char *channel, int64_t from, int64_t to,
				size_t lines);
};

struct sb_metrics {
	uint64_t connections_total, connections_rejected;
	uint64_t messages_in, bytes_in;
	uint64_t events_out;         /* events placed in client queues */
	uint64_t frames_out, bytes_out;
	uint64_t batches;            /* batch frames built */
	uint64_t drop_invalid_json, drop_schema, drop_oversize, drop_unknown_topic;
	uint64_t drop_cache_full, drop_duplicate, drop_slow_lines, drop_nomem;
	uint64_t drop_inbound_overflow;
	uint64_t conflated_queue, conflated_interval, gaps;
	uint64_t slow_closes, auth_failures, client_errors, rate_limited;
	uint64_t mqtt_connects, mqtt_disconnects;
	uint64_t rejected_published, retained_replays_skipped;
	uint64_t history_served, history_gaps;
	uint64_t coalesced;          /* queued batches merged into one frame */
};

struct sb_hub_params {
	const struct sb_config *cfg;          /* borrowed, outlives the hub */
	const struct sb_chanmap *map;         /* borrowed */
	const struct sb_kinds *kinds;         /* borrowed */
	const struct sb_schema_set *schemas;  /* borrowed; NULL = no validation */
	const struct sb_jwt_key *jwt_key;     /* borrowed; NULL = open mode */
	int64_t (*now_ms)(void);              /* monotonic; NULL = sb_now_ms */
	int64_t (*wall_s)(void);              /* for token expiry; NULL = time() */
};

/* Creates the hub and subscribes the always-on deploy status filter.
 * Caller frees with sb_hub_destroy(). */
enum sb_err sb_hub_create(struct sb_hub **out, const struct sb_hub_params *p,
			  const struct sb_hub_ops *ops);
/* Frees every client, channel and cached message.  Accepts NULL. */
void sb_hub_destroy(struct sb_hub *hub);

void sb_hub_register_proto(struct sb_hub *hub, enum sb_proto_id id,
			   const struct sb_proto_ops *ops);

/* ---- MQTT side ---- */
/* The link came up (resubscribes every live filter) or went down. */
void sb_hub_mqtt_state(struct sb_hub *hub, int connected);
int sb_hub_mqtt_connected(const struct sb_hub *hub);
/* The broker acknowledged the subscription to `filter`: from now on
 * nothing published on it is missed (shown as mqtt_filters_active). */
void sb_hub_mqtt_suback(struct sb_hub *hub, const char *filter);
/* A message from the broker; the hub takes its own references. */
void sb_hub_on_message(struct sb_hub *hub, struct sb_msg *m);
/* Every live filter (for the adapter's own use); borrowed strings. */
size_t sb_hub_filters(const struct sb_hub *hub, const char **out, size_t max);

/* ---- clients ---- */
/* A new connection.  `transport` is the adapter's handle.  NULL when
 * max_connections is reached or memory ran out. */
struct sb_client *sb_hub_client_new(struct sb_hub *hub, enum sb_proto_id proto,
				    void *transport);
void *sb_client_transport(const struct sb_client *c);
const char *sb_client_session(const struct sb_client *c);
/* Non-zero once the hub wants the connection closed with that code; the
 * adapter closes after sb_hub_client_next() returns NULL. */
int sb_client_close_code(const struct sb_client *c, const char **reason);
/* The connection is gone: unsubscribes and frees c. */
void sb_hub_client_gone(struct sb_hub *hub, struct sb_client *c);
/* The adapter's own verdict (frame too big, binary frame, rate): queues
 * nothing, marks c for close with code. */
void sb_hub_client_close(struct sb_hub *hub, struct sb_client *c, int code,
			 const char *reason);
/* One statusbus.v1 text frame from the client. */
void sb_hub_client_frame(struct sb_hub *hub, struct sb_client *c,
			 const char *data, size_t len);
/* The next frame to write (the caller owns the returned reference), or
 * NULL when the queue is empty. */
struct sb_frame *sb_hub_client_next(struct sb_hub *hub, struct sb_client *c);
size_t sb_client_queued_bytes(const struct sb_client *c);

/* ---- operations shared by protocols (used by the Pusher adapter) ---- */
/* Authorizes and subscribes.  On failure returns the error code for the
 * client and writes a message into reason. */
enum sb_err sb_hub_subscribe(struct sb_hub *hub, struct sb_client *c,
			     const char *channel, size_t len, int has_since,
			     int64_t since, enum sb_code *code_out, int *recovered_out,
			     char *reason, size_t reasonlen);
/* After a successful subscribe: queue the snapshot / history replay. */
void sb_hub_send_initial(struct sb_hub *hub, struct sb_client *c, const char *channel);
enum sb_err sb_hub_unsubscribe(struct sb_hub *hub, struct sb_client *c,
			       const char *channel);
/* Queues a control frame (the queue takes its own reference). */
void sb_hub_client_send(struct sb_hub *hub, struct sb_client *c, struct sb_frame *f);
/* The encoder (a registered protocol) of c's subscriptions made from now
 * on; a new client's is its own protocol. */
void sb_hub_client_set_encoding(struct sb_hub *hub, struct sb_client *c,
				enum sb_proto_id enc);
/* Marks the client authorized without a token (Pusher: the app backend's
 * signature authorizes each private channel). */
void sb_hub_client_set_ready(struct sb_hub *hub, struct sb_client *c, int trusted);

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

/* ---- introspection ---- */
const struct sb_metrics *sb_hub_metrics(const struct sb_hub *hub);
struct sb_hub_gauges {
	size_t clients, channels, subscriptions, mqtt_filters, mqtt_filters_active, cache_topics;
	size_t queued_bytes, history_lines;
	int mqtt_connected;
};
void sb_hub_gauges(const struct sb_hub *hub, struct sb_hub_gauges *g);
/* A credential refused outside the hub (a Pusher channel signature). */
void sb_hub_count_auth_failure(struct sb_hub *hub);
/* An inbound-queue overflow counted by the MQTT adapter. */
void sb_hub_count_inbound_drop(struct sb_hub *hub, uint64_t n);

/* ---- HTTP fallbacks (docs/protocol.md §7) ---- */
/* Authorizes a bearer token (NULL = none) for `channel` and writes the JSON
 * body of /v1/snapshot (history=0) or /v1/history (history=1, since) into
 * *body (malloc'ed, caller frees).  Returns the HTTP status. */
int sb_hub_http_query(struct sb_hub *hub, const char *token, const char *channel,
		      int history, int64_t since, char **body);

#endif
