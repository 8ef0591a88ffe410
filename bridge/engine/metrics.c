/* SPDX-License-Identifier: MIT
 *
 * metrics.c - Prometheus exposition format 0.0.4 and the health document.
 */
#include "metrics.h"

#include "pusher.h"

#include <stdlib.h>
#include <string.h>

static void metric(struct sb_buf *b, const char *type, const char *name, const char *help,
		   uint64_t v)
{
	sb_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
		      (unsigned long long)v);
}

static void counter(struct sb_buf *b, const char *name, const char *help, uint64_t v)
{
	metric(b, "counter", name, help, v);
}

static void gauge(struct sb_buf *b, const char *name, const char *help, uint64_t v)
{
	metric(b, "gauge", name, help, v);
}

static char *finish(struct sb_buf *b)
{
	char *s = sb_buf_str(b) ? strdup(sb_buf_str(b)) : NULL;

	sb_buf_free(b);
	return s;
}

char *sb_metrics_prometheus(const struct sb_metrics *m, const struct sb_hub_gauges *g,
			    const struct sb_pusher_stats *pusher)
{
	struct sb_buf b;
	static const char *drop_help = "# HELP statusbus_dropped_total Messages or lines not delivered, by reason.\n"
				       "# TYPE statusbus_dropped_total counter\n";

	sb_buf_init(&b);
	gauge(&b, "statusbus_connections", "Open client connections.", g->clients);
	counter(&b, "statusbus_connections_total", "Client connections accepted.", m->connections_total);
	counter(&b, "statusbus_connections_rejected_total", "Connections refused at max_connections.",
		m->connections_rejected);
	gauge(&b, "statusbus_channels", "Channels with subscribers (or lingering history).", g->channels);
	gauge(&b, "statusbus_subscriptions", "Client subscriptions to channels.", g->subscriptions);
	gauge(&b, "statusbus_mqtt_subscriptions", "MQTT topic filters the bridge is subscribed to.",
	      g->mqtt_filters);
	gauge(&b, "statusbus_mqtt_subscriptions_active",
	      "MQTT topic filters the broker has acknowledged (SUBACK).", g->mqtt_filters_active);
	gauge(&b, "statusbus_mqtt_connected", "1 while the broker link is up.", (uint64_t)g->mqtt_connected);
	counter(&b, "statusbus_mqtt_connects_total", "Successful connections to the broker.", m->mqtt_connects);
	counter(&b, "statusbus_mqtt_reconnects_total", "Reconnections after a lost broker link.",
		m->mqtt_connects ? m->mqtt_connects - 1 : 0);
	counter(&b, "statusbus_mqtt_disconnects_total", "Broker link losses.", m->mqtt_disconnects);
	gauge(&b, "statusbus_retained_cache_topics", "Retained topics in the bridge's cache.", g->cache_topics);
	gauge(&b, "statusbus_history_lines", "Log lines held for resume.", g->history_lines);
	gauge(&b, "statusbus_queue_bytes", "Bytes queued to clients.", g->queued_bytes);
	counter(&b, "statusbus_messages_in_total", "MQTT messages received.", m->messages_in);
	counter(&b, "statusbus_bytes_in_total", "MQTT payload bytes received.", m->bytes_in);
	counter(&b, "statusbus_messages_out_total", "Events placed in client queues.", m->events_out);
	counter(&b, "statusbus_frames_out_total", "WebSocket frames written to clients.", m->frames_out);
	counter(&b, "statusbus_bytes_out_total", "WebSocket payload bytes written to clients.", m->bytes_out);
	counter(&b, "statusbus_batches_total", "Batch frames built.", m->batches);
	counter(&b, "statusbus_coalesced_total", "Queued batch frames merged into the frame before them.",
		m->coalesced);
	counter(&b, "statusbus_conflated_total", "Events replaced by a newer one for the same topic.",
		m->conflated_queue + m->conflated_interval);
	counter(&b, "statusbus_gaps_total", "Gap notices sent to clients (dropped or unrecoverable lines).",
		m->gaps + m->history_gaps);
	counter(&b, "statusbus_slow_client_closes_total", "Clients closed with 4029 (queue overflow).",
		m->slow_closes);
	counter(&b, "statusbus_auth_failures_total", "Refused tokens.", m->auth_failures);
	counter(&b, "statusbus_client_errors_total", "Error frames sent to clients.", m->client_errors);
	counter(&b, "statusbus_rejected_republished_total", "Rejected payloads republished to $statusbus/rejected/.",
		m->rejected_published);
	counter(&b, "statusbus_retained_replays_skipped_total",
		"Broker retained replays identical to the cache, not sent again.", m->retained_replays_skipped);
	counter(&b, "statusbus_history_lines_served_total", "Log lines replayed from history on resume.",
		m->history_served);
	sb_buf_puts(&b, drop_help);
	{
		const struct { const char *reason; uint64_t v; } drops[] = {
			{ "invalid_json", m->drop_invalid_json }, { "schema", m->drop_schema },
			{ "oversize", m->drop_oversize }, { "unknown_topic", m->drop_unknown_topic },
			{ "duplicate", m->drop_duplicate }, { "slow_client", m->drop_slow_lines },
			{ "out_of_memory", m->drop_nomem }, { "cache_full", m->drop_cache_full },
			{ "rate_limited", m->rate_limited }, { "inbound_overflow", m->drop_inbound_overflow },
		};
		for (size_t i = 0; i < SB_ARRAY_LEN(drops); i++)
			sb_buf_printf(&b, "statusbus_dropped_total{reason=\"%s\"} %llu\n", drops[i].reason,
				      (unsigned long long)drops[i].v);
	}
	if (pusher) {
		counter(&b, "statusbus_pusher_connections_total", "Pusher handshakes accepted.",
			pusher->connections);
		counter(&b, "statusbus_pusher_connections_refused_total",
			"Pusher handshakes refused (unknown key or protocol).", pusher->refused);
		counter(&b, "statusbus_pusher_subscriptions_total", "Pusher subscriptions granted.",
			pusher->subscriptions);
		counter(&b, "statusbus_pusher_subscription_errors_total",
			"Pusher subscriptions refused.", pusher->subscription_errors);
		counter(&b, "statusbus_pusher_signature_failures_total",
			"private- channels with a bad or missing signature.", pusher->signature_failures);
		counter(&b, "statusbus_pusher_client_events_total", "client- events relayed.",
			pusher->client_events);
		counter(&b, "statusbus_pusher_client_events_refused_total", "client- events refused.",
			pusher->client_events_refused);
		counter(&b, "statusbus_pusher_pings_total", "pusher:ping sent after activity_timeout.",
			pusher->pings_sent);
		counter(&b, "statusbus_pusher_pong_timeouts_total", "Pusher clients closed 4201.",
			pusher->pong_timeouts);
		counter(&b, "statusbus_pusher_rate_limited_total", "Pusher frames over the rate limit.",
			pusher->rate_limited);
	}
	return finish(&b);
}

char *sb_metrics_health_json(const struct sb_metrics *m, const struct sb_hub_gauges *g,
			     const char *version, int64_t uptime_s)
{
	struct sb_buf b;

	sb_buf_init(&b);
	sb_buf_printf(&b, "{\"mqtt\":\"%s\",\"version\":",
		      g->mqtt_connected ? "connected" : "disconnected");
	/* the version is build data (git describe, a vendor suffix): escape it */
	sb_buf_json_str(&b, version, strlen(version));
	sb_buf_printf(&b, ",\"uptime_s\":%lld,"
		      "\"connections\":%zu,\"channels\":%zu,\"subscriptions\":%zu,"
		      "\"mqtt_subscriptions\":%zu,\"mqtt_subscriptions_active\":%zu,\"cache_topics\":%zu,\"queue_bytes\":%zu,"
		      "\"mqtt_reconnects\":%llu,\"messages_in\":%llu,\"messages_out\":%llu,"
		      "\"frames_out\":%llu,\"batches\":%llu,\"conflated\":%llu,\"gaps\":%llu,"
		      "\"slow_client_closes\":%llu,\"dropped\":%llu,\"auth_failures\":%llu}",
		      (long long)uptime_s,
		      g->clients, g->channels, g->subscriptions, g->mqtt_filters,
		      g->mqtt_filters_active, g->cache_topics,
		      g->queued_bytes,
		      (unsigned long long)(m->mqtt_connects ? m->mqtt_connects - 1 : 0),
		      (unsigned long long)m->messages_in, (unsigned long long)m->events_out,
		      (unsigned long long)m->frames_out, (unsigned long long)m->batches,
		      (unsigned long long)(m->conflated_queue + m->conflated_interval),
		      (unsigned long long)(m->gaps + m->history_gaps),
		      (unsigned long long)m->slow_closes,
		      (unsigned long long)(m->drop_invalid_json + m->drop_schema + m->drop_oversize +
					   m->drop_unknown_topic + m->drop_slow_lines + m->drop_nomem +
					   m->drop_inbound_overflow),
		      (unsigned long long)m->auth_failures);
	return finish(&b);
}
