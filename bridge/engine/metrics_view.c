/* SPDX-License-Identifier: MIT
 *
 * metrics_view.c - the list of what /metrics exports: one line per series
 * (name, help, where its value comes from), in the order of the output.
 * A new counter in struct sb_metrics, struct sb_pusher_stats or struct
 * sb_inbox_stats is exported by one more line here.  Sums shared with
 * /healthz are computed once, below, so both endpoints agree.
 */
#include "metrics_view.h"

#include "inbox.h"
#include "session_pusher.h"

#include <stdlib.h>

/* Reconnections are connections after the first. */
static uint64_t reconnects(const struct sb_metrics *m)
{
	return m->mqtt_connects ? m->mqtt_connects - 1 : 0;
}

static uint64_t conflated(const struct sb_metrics *m)
{
	return m->conflated_queue + m->conflated_interval;
}

/* Gap notices: live (lines dropped for a slow client, or a jump in a
 * stream's seq) and on resume (what history lacks). */
static uint64_t gaps(const struct sb_metrics *m)
{
	return m->gaps + m->history_gaps + m->seq_gaps;
}

/* A counter whose value is computed now rather than read at render. */
static void sum(struct sb_metrics_reg *r, const char *name, const char *help, uint64_t v)
{
	sb_metrics_add(r, &(struct sb_metrics_series){
		.type = SB_METRICS_COUNTER, .name = name, .help = help, .value = v });
}

/* One series of a counter with one label (key="value"). */
static void labelled(struct sb_metrics_reg *r, const char *name, const char *help,
		     const char *key, const char *value, const uint64_t *src)
{
	const struct sb_metrics_label l = { key, value };

	sb_metrics_add(r, &(struct sb_metrics_series){
		.type = SB_METRICS_COUNTER, .name = name, .help = help,
		.labels = &l, .n_labels = 1, .src = src });
}

/* One series of statusbus_dropped_total{reason=...}. */
static void dropped(struct sb_metrics_reg *r, const char *reason, const uint64_t *src)
{
	labelled(r, "statusbus_dropped_total", "Messages or lines not delivered, by reason.",
		 "reason", reason, src);
}

/* Counted by the adapter's door (docs/protocol.md §5.14). */
static void refused(struct sb_metrics_reg *r, const char *reason, const uint64_t *src)
{
	labelled(r, "statusbus_connections_refused_total",
		 "Connections refused at accept (per_ip, max_connections), closed past "
		 "limits.handshake_timeout_s (handshake_timeout), answered 431 "
		 "(header_too_large), or closed for a frame header (frame_unmasked 1002, "
		 "frame_too_large 4009).", "reason", reason, src);
}

/* permessage-deflate (listen.compression, docs/protocol.md §5.7). */
static void deflate(struct sb_metrics_reg *r, const struct sb_deflate_stats *d)
{
	sb_metrics_gauge(r, "statusbus_ws_compressed_connections",
			 "Open connections that negotiated permessage-deflate.", d->connections);
	sb_metrics_counter(r, "statusbus_ws_deflate_frames_total",
			   "Frames compressed, once each, for every compressed connection.",
			   &d->messages);
	sb_metrics_counter(r, "statusbus_ws_deflate_input_bytes_total",
			   "Bytes of those frames before compression.", &d->bytes_in);
	sb_metrics_counter(r, "statusbus_ws_deflate_output_bytes_total",
			   "Bytes of those frames after compression (headers included).",
			   &d->bytes_out);
	sb_metrics_counter(r, "statusbus_ws_deflate_skipped_total",
			   "Frames that would have been compressed but did not shrink; sent as they are.",
			   &d->skipped);
	sb_metrics_counter(r, "statusbus_ws_deflate_frames_sent_total",
			   "Compressed frames written to connections.", &d->frames_sent);
}

/* SIGHUP (docs/protocol.md §11), as Prometheus and Mosquitto operators
 * alert on it: a failed reload leaves the old config running. */
static void reloads(struct sb_metrics_reg *r, const struct sb_metrics *m)
{
	static const struct sb_metrics_label ok = { "result", "ok" }, failed = { "result", "failed" };
	const char *help = "SIGHUP config reloads, applied (ok) or refused, the running config "
			   "kept (failed).";

	sb_metrics_add(r, &(struct sb_metrics_series){ .type = SB_METRICS_COUNTER,
		.name = "statusbus_config_reloads_total", .help = help, .labels = &ok,
		.n_labels = 1, .src = &m->config_reloads });
	sb_metrics_add(r, &(struct sb_metrics_series){ .type = SB_METRICS_COUNTER,
		.name = "statusbus_config_reloads_total", .help = help, .labels = &failed,
		.n_labels = 1, .src = &m->config_reload_failures });
	sb_metrics_gauge(r, "statusbus_config_last_reload_successful",
			 "1 unless the last SIGHUP reload was refused.", m->config_last_reload_ok);
}

/* The MQTT hand-off, next to its drops (inbound_overflow, counted by the
 * hub from the inbox's reports). */
static void inbox_view(struct sb_metrics_reg *r, const struct sb_inbox_stats *in)
{
	sb_metrics_counter(r, "statusbus_inbound_backpressure_total",
			   "MQTT messages that found the inbound queue full and waited for room "
			   "(then got in, or were dropped as inbound_overflow).", &in->backpressure);
	sb_metrics_gauge(r, "statusbus_inbound_queue_messages",
			 "MQTT messages waiting in the inbound queue for the service thread.",
			 in->queued_msgs);
	sb_metrics_gauge(r, "statusbus_inbound_queue_bytes",
			 "Topic and payload bytes waiting in the inbound queue.", in->queued_bytes);
}

static void pusher_api_view(struct sb_metrics_reg *r, const struct sb_pusher_stats *p)
{
	static const char *const names[SB_PUSHER_API_NRESULTS] = {
		"ok", "bad_request", "unauthorized", "not_found", "too_large", "unsupported",
		"unavailable",
	};

	for (int i = 0; i < SB_PUSHER_API_NRESULTS; i++)
		labelled(r, "statusbus_pusher_api_requests_total",
			 "Pusher HTTP API requests (POST /apps/<id>/events, ...), by answer.",
			 "result", names[i], &p->api_requests[i]);
	sb_metrics_counter(r, "statusbus_pusher_api_events_total",
			   "Events the Pusher HTTP API published to the broker (one per channel).",
			   &p->api_events);
}

static void pusher_view(struct sb_metrics_reg *r, const struct sb_pusher_stats *p)
{
	sb_metrics_counter(r, "statusbus_pusher_connections_total", "Pusher handshakes accepted.",
			   &p->connections);
	sb_metrics_counter(r, "statusbus_pusher_connections_refused_total",
			   "Pusher handshakes refused (unknown key or protocol).", &p->refused);
	sb_metrics_counter(r, "statusbus_pusher_subscriptions_total", "Pusher subscriptions granted.",
			   &p->subscriptions);
	sb_metrics_counter(r, "statusbus_pusher_subscription_errors_total",
			   "Pusher subscriptions refused.", &p->subscription_errors);
	sb_metrics_counter(r, "statusbus_pusher_signature_failures_total",
			   "private- and presence- channels with a bad or missing signature.",
			   &p->signature_failures);
	sb_metrics_counter(r, "statusbus_pusher_presence_refused_total",
			   "presence- subscriptions refused: bad channel_data, not a presence "
			   "channel, or full.", &p->presence_refused);
	sb_metrics_counter(r, "statusbus_pusher_client_events_total", "client- events relayed.",
			   &p->client_events);
	sb_metrics_counter(r, "statusbus_pusher_client_events_refused_total", "client- events refused.",
			   &p->client_events_refused);
	sb_metrics_counter(r, "statusbus_pusher_pings_total", "pusher:ping sent after activity_timeout.",
			   &p->pings_sent);
	sb_metrics_counter(r, "statusbus_pusher_pong_timeouts_total", "Pusher clients closed 4201.",
			   &p->pong_timeouts);
	sb_metrics_counter(r, "statusbus_pusher_rate_limited_total", "Pusher frames over the rate limit.",
			   &p->rate_limited);
}

void sb_metrics_view_register(struct sb_metrics_reg *r, const struct sb_metrics *m,
			      const struct sb_hub_gauges *g, const struct sb_pusher_stats *pusher,
			      const struct sb_inbox_stats *inbox)
{
	sb_metrics_gauge(r, "statusbus_connections", "Open client connections.", g->clients);
	sb_metrics_counter(r, "statusbus_connections_total", "Client connections accepted.",
			   &m->connections_total);
	sb_metrics_counter(r, "statusbus_connections_rejected_total",
			   "Connections refused at max_connections.", &m->connections_rejected);
	refused(r, "per_ip", &m->conn_refused_per_ip);
	refused(r, "max_connections", &m->conn_refused_max);
	refused(r, "handshake_timeout", &m->conn_request_timeouts);
	refused(r, "header_too_large", &m->conn_headers_too_large);
	refused(r, "frame_unmasked", &m->frames_unmasked);
	refused(r, "frame_too_large", &m->frames_too_large);
	deflate(r, &m->deflate);
	sb_metrics_gauge(r, "statusbus_channels", "Channels with subscribers (or lingering history).",
			 g->channels);
	sb_metrics_gauge(r, "statusbus_subscriptions", "Client subscriptions to channels.",
			 g->subscriptions);
	sb_metrics_gauge(r, "statusbus_mqtt_subscriptions",
			 "MQTT topic filters the bridge is subscribed to.", g->mqtt_filters);
	sb_metrics_gauge(r, "statusbus_mqtt_subscriptions_active",
			 "MQTT topic filters the broker has acknowledged (SUBACK).", g->mqtt_filters_active);
	sb_metrics_gauge(r, "statusbus_mqtt_subscriptions_carried",
			 "Topic filters in use that a wider subscription of the bridge already brings "
			 "(not subscribed at the broker).", g->mqtt_filters_carried);
	sb_metrics_gauge(r, "statusbus_mqtt_connected", "1 while the broker link is up.",
			 g->mqtt_connected ? 1 : 0);
	sb_metrics_counter(r, "statusbus_mqtt_connects_total", "Successful connections to the broker.",
			   &m->mqtt_connects);
	sum(r, "statusbus_mqtt_reconnects_total", "Reconnections after a lost broker link.",
	    reconnects(m));
	sb_metrics_counter(r, "statusbus_mqtt_disconnects_total", "Broker link losses.",
			   &m->mqtt_disconnects);
	sb_metrics_counter(r, "statusbus_mqtt_sessions_lost_total",
			   "Reconnections the broker answered without the bridge's session "
			   "(what was published meanwhile is lost).", &m->mqtt_sessions_lost);
	sb_metrics_counter(r, "statusbus_mqtt_takeovers_total",
			   "Times another process connected with the bridge's MQTT client id.",
			   &m->mqtt_takeovers);
	sb_metrics_counter(r, "statusbus_reconciled_deletes_total",
			   "Cached statuses found deleted after a lost session (sent as deleted).",
			   &m->reconciled_deletes);
	sb_metrics_counter(r, "statusbus_mqtt_retained_missing_total",
			   "Wildcard subscriptions whose replay had no retained message although "
			   "the cache knew statuses under them (a broker like RabbitMQ).",
			   &m->retained_missing);
	sb_metrics_gauge(r, "statusbus_retained_cache_topics", "Retained topics in the bridge's cache.",
			 g->cache_topics);
	sb_metrics_gauge(r, "statusbus_history_lines", "Log lines held for resume.", g->history_lines);
	sb_metrics_gauge(r, "statusbus_logs_followed",
			 "Log channels followed for active deploys (logs.follow).", g->logs_followed);
	sb_metrics_counter(r, "statusbus_logs_follow_refused_total",
			   "Active deploy statuses whose logs found logs.max_followed reached.",
			   &m->follow_refused);
	sb_metrics_counter(r, "statusbus_owner_contested_total",
			   "Deploys or resources with a status under a second team's prefix: "
			   "closed to every team until one claim is left.", &m->owner_contested);
	sb_metrics_gauge(r, "statusbus_presence_channels",
			 "Presence channels with members (on any bridge).", g->presence_channels);
	sb_metrics_gauge(r, "statusbus_presence_members",
			 "Members of presence channels (users, cluster-wide).", g->presence_members);
	sb_metrics_counter(r, "statusbus_presence_joins_total",
			   "Presence members that joined (told to subscribers).", &m->presence_joins);
	sb_metrics_counter(r, "statusbus_presence_leaves_total",
			   "Presence members that left (told to subscribers).", &m->presence_leaves);
	sb_metrics_counter(r, "statusbus_presence_refused_total",
			   "Presence joins refused: the channel had limits.presence_max_members.",
			   &m->presence_refused);
	sb_metrics_counter(r, "statusbus_presence_remote_updates_total",
			   "Member lists read from other bridges.", &m->presence_remote_updates);
	sb_metrics_counter(r, "statusbus_presence_remote_invalid_total",
			   "Presence messages from the broker that were not valid.",
			   &m->presence_remote_invalid);
	sb_metrics_counter(r, "statusbus_presence_bridges_gone_total",
			   "Bridges seen offline (a clean stop or their MQTT will).",
			   &m->presence_bridges_gone);
	sb_metrics_gauge(r, "statusbus_queue_bytes", "Bytes queued to clients.", g->queued_bytes);
	sb_metrics_counter(r, "statusbus_messages_in_total", "MQTT messages received.", &m->messages_in);
	sb_metrics_counter(r, "statusbus_bytes_in_total", "MQTT payload bytes received.", &m->bytes_in);
	sb_metrics_counter(r, "statusbus_messages_out_total", "Events placed in client queues.",
			   &m->events_out);
	sb_metrics_counter(r, "statusbus_frames_out_total", "WebSocket frames written to clients.",
			   &m->frames_out);
	sb_metrics_counter(r, "statusbus_bytes_out_total", "WebSocket payload bytes written to clients.",
			   &m->bytes_out);
	sb_metrics_counter(r, "statusbus_writes_total",
			   "Socket writes of WebSocket frames (a client's queued frames gathered "
			   "into one write).", &m->writes);
	sb_metrics_counter(r, "statusbus_batches_total", "Batch frames built.", &m->batches);
	sb_metrics_counter(r, "statusbus_coalesced_total",
			   "Queued batch frames merged into the frame before them.", &m->coalesced);
	sb_metrics_counter(r, "statusbus_barriers_sent_total",
			   "Replay barriers published after a SUBACK (acks wait for them).",
			   &m->barriers_sent);
	sb_metrics_counter(r, "statusbus_subscribe_timeouts_total",
			   "Subscriptions the broker did not confirm in time (unavailable).",
			   &m->subscribe_timeouts);
	sum(r, "statusbus_conflated_total", "Events replaced by a newer one for the same topic.",
	    conflated(m));
	sum(r, "statusbus_gaps_total", "Gap notices sent to clients (dropped or unrecoverable lines).",
	    gaps(m));
	/* not a drop of the bridge's: lines that never reached it (or that its
	 * inbox dropped, counted there as inbound_overflow) */
	sb_metrics_counter(r, "statusbus_seq_gap_lines_total",
			   "Log lines missing from a stream's seq, reported to clients as gaps.",
			   &m->drop_seq_gap);
	sb_metrics_counter(r, "statusbus_slow_client_closes_total",
			   "Clients closed with 4029 (queue overflow).", &m->slow_closes);
	sb_metrics_counter(r, "statusbus_auth_failures_total", "Refused tokens.", &m->auth_failures);
	reloads(r, m);
	sb_metrics_counter(r, "statusbus_client_errors_total", "Error frames sent to clients.",
			   &m->client_errors);
	sb_metrics_counter(r, "statusbus_rejected_republished_total",
			   "Rejected payloads republished to $statusbus/rejected/.", &m->rejected_published);
	sb_metrics_counter(r, "statusbus_retained_replays_skipped_total",
			   "Broker retained replays identical to the cache, not sent again.",
			   &m->retained_replays_skipped);
	sb_metrics_counter(r, "statusbus_history_lines_served_total",
			   "Log lines replayed from history on resume.", &m->history_served);
	dropped(r, "invalid_json", &m->drop_invalid_json);
	dropped(r, "schema", &m->drop_schema);
	dropped(r, "oversize", &m->drop_oversize);
	dropped(r, "unknown_topic", &m->drop_unknown_topic);
	dropped(r, "duplicate", &m->drop_duplicate);
	dropped(r, "slow_client", &m->drop_slow_lines);
	dropped(r, "out_of_memory", &m->drop_nomem);
	dropped(r, "cache_full", &m->drop_cache_full);
	dropped(r, "rate_limited", &m->rate_limited);
	dropped(r, "inbound_overflow", &m->drop_inbound_overflow);
	dropped(r, "out_of_order", &m->drop_out_of_order);
	dropped(r, "foreign_owner", &m->drop_foreign_owner);
	sb_metrics_histogram(r, "statusbus_mqtt_ingest_seconds",
			     "From a message's arrival on the MQTT thread to the service thread "
			     "taking it from the hand-off queue.", &m->ingest_latency);
	sb_metrics_histogram(r, "statusbus_delivery_latency_seconds",
			     "From a message's arrival on the MQTT thread to the frame carrying it "
			     "handed to a client's socket (live deliveries; a batch counts from "
			     "its oldest line).", &m->delivery_latency);
	sb_metrics_histogram(r, "statusbus_batch_lines", "Log lines per batch frame built.",
			     &m->batch_lines);
	if (inbox)
		inbox_view(r, inbox);
	if (pusher) {
		pusher_view(r, pusher);
		pusher_api_view(r, pusher);
	}
}

char *sb_metrics_view_prometheus(const struct sb_metrics *m, const struct sb_hub_gauges *g,
				 const struct sb_pusher_stats *pusher,
				 const struct sb_inbox_stats *inbox)
{
	struct sb_metrics_reg *reg;
	char *text;

	if (sb_metrics_create(&reg) != SB_OK)
		return NULL;
	sb_metrics_view_register(reg, m, g, pusher, inbox);
	text = sb_metrics_render_prometheus(reg);
	sb_metrics_destroy(reg);
	return text;
}

char *sb_metrics_view_health_json(const struct sb_metrics *m, const struct sb_hub_gauges *g,
				  const char *version, int64_t uptime_s)
{
	/* "dropped" sums the reasons it always has (not duplicate, cache_full,
	 * rate_limited, seq_gap or out_of_order); /metrics has every reason on
	 * its own */
	const struct sb_metrics_health h = {
		.mqtt_connected = g->mqtt_connected,
		.version = version,
		.uptime_s = uptime_s,
		.connections = g->clients,
		.channels = g->channels,
		.subscriptions = g->subscriptions,
		.mqtt_subscriptions = g->mqtt_filters,
		.mqtt_subscriptions_active = g->mqtt_filters_active,
		.cache_topics = g->cache_topics,
		.queue_bytes = g->queued_bytes,
		.mqtt_reconnects = reconnects(m),
		.messages_in = m->messages_in,
		.messages_out = m->events_out,
		.frames_out = m->frames_out,
		.batches = m->batches,
		.conflated = conflated(m),
		.gaps = gaps(m),
		.slow_client_closes = m->slow_closes,
		.dropped = m->drop_invalid_json + m->drop_schema + m->drop_oversize +
			   m->drop_unknown_topic + m->drop_slow_lines + m->drop_nomem +
			   m->drop_inbound_overflow,
		.auth_failures = m->auth_failures,
	};

	return sb_metrics_health_json(&h);
}
