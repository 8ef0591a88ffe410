/* SPDX-License-Identifier: MIT
 *
 * test_metrics.c - unit tests for the counter registry (domain/metrics.c:
 * labels, HELP and TYPE once per family, escaping, counter vs gauge, values
 * read at render) and for the view built on it (engine/metrics_view.c):
 * GET /metrics is valid Prometheus text (every sample preceded by its HELP
 * and TYPE lines) carrying the counters docs/protocol.md lists, each with
 * the value of the field behind it, the MQTT hand-off's (inbox) back
 * pressure and depth beside its drops; GET /healthz is JSON that parses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "inbox.h"
#include "metrics.h"
#include "metrics_view.h"
#include "session_pusher.h"

/* Distinct values so a swapped field shows. */
static void fill(struct sb_metrics *m, struct sb_hub_gauges *g)
{
	memset(m, 0, sizeof(*m));
	memset(g, 0, sizeof(*g));
	m->connections_total = 101;
	m->connections_rejected = 102;
	m->messages_in = 103;
	m->bytes_in = 104;
	m->events_out = 105;
	m->frames_out = 106;
	m->bytes_out = 107;
	m->writes = 161;
	m->batches = 108;
	m->drop_invalid_json = 109;
	m->drop_schema = 110;
	m->drop_oversize = 111;
	m->drop_unknown_topic = 112;
	m->drop_cache_full = 113;
	m->drop_duplicate = 114;
	m->drop_slow_lines = 115;
	m->drop_nomem = 116;
	m->drop_inbound_overflow = 117;
	m->conflated_queue = 118;
	m->conflated_interval = 119;
	m->gaps = 120;
	m->slow_closes = 121;
	m->auth_failures = 122;
	m->client_errors = 123;
	m->rate_limited = 124;
	m->mqtt_connects = 5;
	m->mqtt_disconnects = 4;
	m->mqtt_sessions_lost = 2;
	m->mqtt_takeovers = 3;
	m->retained_missing = 6;
	m->rejected_published = 125;
	m->retained_replays_skipped = 126;
	m->history_served = 127;
	m->history_gaps = 128;
	m->conn_refused_per_ip = 131;
	m->conn_refused_max = 132;
	m->conn_request_timeouts = 133;
	m->conn_headers_too_large = 134;
	m->frames_unmasked = 135;
	m->frames_too_large = 136;
	g->clients = 7;
	g->channels = 8;
	g->subscriptions = 9;
	g->mqtt_filters = 10;
	g->mqtt_filters_active = 14;
	g->mqtt_filters_active = 14;
	g->cache_topics = 11;
	g->queued_bytes = 12;
	g->history_lines = 13;
	g->mqtt_connected = 1;
}

/* The sample line "<name> <value>" (name may carry {labels}); -1 if absent. */
static long long sample(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	}
	return -1;
}

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

static void expect_metric(const char *text, const char *name, const char *type, long long v)
{
	char line[256];

	snprintf(line, sizeof(line), "# TYPE %s %s", name, type);
	if (!has_line(text, line))
		fail_msg("no line [%s]", line);
	snprintf(line, sizeof(line), "# HELP %s ", name);
	if (!strstr(text, line))
		fail_msg("no HELP for %s", name);
	if (sample(text, name) != v)
		fail_msg("%s = %lld, want %lld", name, sample(text, name), v);
}

static void test_prometheus_values(void **state)
{
	struct sb_metrics m;
	struct sb_hub_gauges g;
	char *t;
	(void)state;

	fill(&m, &g);
	t = sb_metrics_view_prometheus(&m, &g, NULL, NULL);
	assert_non_null(t);
	/* docs/protocol.md: connections, subscriptions, messages in/out, frames
	 * out, batches, drops by reason, queue bytes, MQTT reconnects, auth
	 * failures */
	expect_metric(t, "statusbus_connections", "gauge", 7);
	expect_metric(t, "statusbus_connections_total", "counter", 101);
	expect_metric(t, "statusbus_connections_rejected_total", "counter", 102);
	expect_metric(t, "statusbus_channels", "gauge", 8);
	expect_metric(t, "statusbus_subscriptions", "gauge", 9);
	expect_metric(t, "statusbus_mqtt_subscriptions", "gauge", 10);
	expect_metric(t, "statusbus_mqtt_subscriptions_active", "gauge", 14);
	expect_metric(t, "statusbus_mqtt_subscriptions_active", "gauge", 14);
	expect_metric(t, "statusbus_mqtt_connected", "gauge", 1);
	expect_metric(t, "statusbus_mqtt_connects_total", "counter", 5);
	expect_metric(t, "statusbus_mqtt_reconnects_total", "counter", 4);
	expect_metric(t, "statusbus_mqtt_disconnects_total", "counter", 4);
	expect_metric(t, "statusbus_mqtt_sessions_lost_total", "counter", 2);
	expect_metric(t, "statusbus_mqtt_takeovers_total", "counter", 3);
	expect_metric(t, "statusbus_mqtt_retained_missing_total", "counter", 6);
	expect_metric(t, "statusbus_retained_cache_topics", "gauge", 11);
	expect_metric(t, "statusbus_history_lines", "gauge", 13);
	expect_metric(t, "statusbus_queue_bytes", "gauge", 12);
	expect_metric(t, "statusbus_messages_in_total", "counter", 103);
	expect_metric(t, "statusbus_bytes_in_total", "counter", 104);
	expect_metric(t, "statusbus_messages_out_total", "counter", 105);
	expect_metric(t, "statusbus_frames_out_total", "counter", 106);
	expect_metric(t, "statusbus_bytes_out_total", "counter", 107);
	expect_metric(t, "statusbus_writes_total", "counter", 161);
	expect_metric(t, "statusbus_batches_total", "counter", 108);
	expect_metric(t, "statusbus_conflated_total", "counter", 118 + 119);
	expect_metric(t, "statusbus_gaps_total", "counter", 120 + 128);
	expect_metric(t, "statusbus_slow_client_closes_total", "counter", 121);
	expect_metric(t, "statusbus_auth_failures_total", "counter", 122);
	expect_metric(t, "statusbus_client_errors_total", "counter", 123);
	expect_metric(t, "statusbus_rejected_republished_total", "counter", 125);
	expect_metric(t, "statusbus_retained_replays_skipped_total", "counter", 126);
	expect_metric(t, "statusbus_history_lines_served_total", "counter", 127);
	/* drops by reason: one family, one labelled sample per reason */
	assert_true(has_line(t, "# TYPE statusbus_dropped_total counter"));
	assert_non_null(strstr(t, "# HELP statusbus_dropped_total "));
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"invalid_json\"}"), 109);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"schema\"}"), 110);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"oversize\"}"), 111);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"unknown_topic\"}"), 112);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"cache_full\"}"), 113);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"duplicate\"}"), 114);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"slow_client\"}"), 115);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"out_of_memory\"}"), 116);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"inbound_overflow\"}"), 117);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"rate_limited\"}"), 124);
	/* the door's refusals (docs/protocol.md §5.14): one family too */
	assert_true(has_line(t, "# TYPE statusbus_connections_refused_total counter"));
	assert_int_equal(sample(t, "statusbus_connections_refused_total{reason=\"per_ip\"}"), 131);
	assert_int_equal(sample(t, "statusbus_connections_refused_total{reason=\"max_connections\"}"), 132);
	assert_int_equal(sample(t, "statusbus_connections_refused_total{reason=\"handshake_timeout\"}"), 133);
	assert_int_equal(sample(t, "statusbus_connections_refused_total{reason=\"header_too_large\"}"), 134);
	assert_int_equal(sample(t, "statusbus_connections_refused_total{reason=\"frame_unmasked\"}"), 135);
	assert_int_equal(sample(t, "statusbus_connections_refused_total{reason=\"frame_too_large\"}"), 136);
	free(t);
}

/* Exposition format 0.0.4: every line is a comment or "name[{labels}]
 * value"; each family has one HELP and one TYPE, before its samples; the
 * text ends with a newline. */
static void test_prometheus_format(void **state)
{
	struct sb_metrics m;
	struct sb_hub_gauges g;
	char *t, *copy, *line, *save = NULL;
	struct sb_inbox_stats in = { .backpressure = 3, .queued_msgs = 2, .queued_bytes = 40 };
	char typed[96][80];
	int hist[96] = { 0 };
	size_t ntyped = 0;
	(void)state;

	fill(&m, &g);
	t = sb_metrics_view_prometheus(&m, &g, NULL, &in);
	assert_non_null(t);
	assert_true(strlen(t) > 0);
	assert_int_equal(t[strlen(t) - 1], '\n');
	copy = strdup(t);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[80];
		size_t n = strcspn(line, "{ ");
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char fam[80], type[16];
			assert_int_equal(sscanf(line + 7, "%79s %15s", fam, type), 2);
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
				    strcmp(type, "histogram") == 0);
			for (size_t i = 0; i < ntyped; i++)
				if (strcmp(typed[i], fam) == 0)
					fail_msg("family %s typed twice", fam);
			assert_true(ntyped < 96);
			hist[ntyped] = strcmp(type, "histogram") == 0;
			snprintf(typed[ntyped++], sizeof(typed[0]), "%s", fam);
			continue;
		}
		assert_int_not_equal(line[0], '#');
		assert_true(n > 0 && n < sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		/* metric names: [a-zA-Z_:][a-zA-Z0-9_:]* */
		for (size_t i = 0; i < n; i++)
			assert_true((name[i] >= 'a' && name[i] <= 'z') || name[i] == '_' ||
				    (i && name[i] >= '0' && name[i] <= '9'));
		{
			size_t i, sum = 0;
			for (i = 0; i < ntyped; i++) {
				size_t fl = strlen(typed[i]);
				if (strcmp(typed[i], name) == 0)
					break;
				/* a histogram's samples: _bucket, _sum, _count */
				if (hist[i] && strncmp(name, typed[i], fl) == 0 &&
				    (strcmp(name + fl, "_bucket") == 0 || strcmp(name + fl, "_count") == 0 ||
				     (sum = strcmp(name + fl, "_sum") == 0)))
					break;
			}
			if (i == ntyped)
				fail_msg("sample %s before its TYPE line", name);
			/* value: an unsigned integer after one space (after
			 * labels); a histogram's _sum is a number */
			const char *v = strrchr(line, ' ');
			char *end;
			assert_non_null(v);
			if (sum)
				strtod(v + 1, &end);
			else
				strtoull(v + 1, &end, 10);
			assert_true(end > v + 1 && *end == '\0');
		}
	}
	assert_true(ntyped >= 20);
	free(copy);
	free(t);
}

static void test_reconnects_start_at_zero(void **state)
{
	struct sb_metrics m;
	struct sb_hub_gauges g;
	char *t;
	(void)state;

	memset(&m, 0, sizeof(m));
	memset(&g, 0, sizeof(g));
	t = sb_metrics_view_prometheus(&m, &g, NULL, NULL);
	assert_non_null(t);
	assert_int_equal(sample(t, "statusbus_mqtt_reconnects_total"), 0);   /* not -1 wrapped */
	assert_int_equal(sample(t, "statusbus_mqtt_connected"), 0);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"schema\"}"), 0);
	free(t);
	m.mqtt_connects = 1;
	t = sb_metrics_view_prometheus(&m, &g, NULL, NULL);
	assert_int_equal(sample(t, "statusbus_mqtt_reconnects_total"), 0);   /* first connect */
	free(t);
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v))
		fail_msg("health: %s is not a number", k);
	return v->valuedouble;
}

static void test_health_json(void **state)
{
	struct sb_metrics m;
	struct sb_hub_gauges g;
	char *t;
	cJSON *j;
	(void)state;

	fill(&m, &g);
	t = sb_metrics_view_health_json(&m, &g, "0.1.0", 3600);
	assert_non_null(t);
	j = cJSON_Parse(t);
	if (!cJSON_IsObject(j))
		fail_msg("health is not a JSON object: %s", t);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "mqtt")->valuestring, "connected");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "version")->valuestring, "0.1.0");
	assert_int_equal(num(j, "uptime_s"), 3600);
	assert_int_equal(num(j, "connections"), 7);
	assert_int_equal(num(j, "channels"), 8);
	assert_int_equal(num(j, "subscriptions"), 9);
	assert_int_equal(num(j, "mqtt_subscriptions"), 10);
	assert_int_equal(num(j, "mqtt_subscriptions_active"), 14);
	assert_int_equal(num(j, "mqtt_subscriptions_active"), 14);
	assert_int_equal(num(j, "cache_topics"), 11);
	assert_int_equal(num(j, "queue_bytes"), 12);
	assert_int_equal(num(j, "mqtt_reconnects"), 4);
	assert_int_equal(num(j, "messages_in"), 103);
	assert_int_equal(num(j, "messages_out"), 105);
	assert_int_equal(num(j, "frames_out"), 106);
	assert_int_equal(num(j, "batches"), 108);
	assert_int_equal(num(j, "conflated"), 118 + 119);
	assert_int_equal(num(j, "gaps"), 120 + 128);
	assert_int_equal(num(j, "slow_client_closes"), 121);
	assert_int_equal(num(j, "auth_failures"), 122);
	assert_true(num(j, "dropped") >= 109 + 110 + 111 + 112 + 115 + 116 + 117);
	cJSON_Delete(j);
	free(t);

	/* link down */
	g.mqtt_connected = 0;
	t = sb_metrics_view_health_json(&m, &g, "0.1.0", 0);
	j = cJSON_Parse(t);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "mqtt")->valuestring, "disconnected");
	cJSON_Delete(j);
	free(t);
}

static void test_health_json_escapes_version(void **state)
{
	struct sb_metrics m;
	struct sb_hub_gauges g;
	char *t;
	cJSON *j;
	(void)state;

	fill(&m, &g);
	/* a version string from a build (git describe, a vendor suffix) is data */
	t = sb_metrics_view_health_json(&m, &g, "1.0-rc\"1\\x", 1);
	assert_non_null(t);
	j = cJSON_Parse(t);
	if (!cJSON_IsObject(j))
		fail_msg("health is not a JSON object: %s", t);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "version")->valuestring, "1.0-rc\"1\\x");
	cJSON_Delete(j);
	free(t);
}

/* With a Pusher side, its counters are exported too (HELP and TYPE lines,
 * values as given); without, none of them appear. */
static void test_pusher_counters(void **state)
{
	struct sb_metrics m;
	struct sb_hub_gauges g;
	struct sb_pusher_stats p;
	char *t;
	(void)state;

	memset(&m, 0, sizeof(m));
	memset(&g, 0, sizeof(g));
	memset(&p, 0, sizeof(p));
	p.signature_failures = 7;
	p.connections = 3;
	t = sb_metrics_view_prometheus(&m, &g, &p, NULL);
	assert_non_null(t);
	assert_non_null(strstr(t, "# TYPE statusbus_pusher_signature_failures_total counter\n"
				  "statusbus_pusher_signature_failures_total 7\n"));
	assert_non_null(strstr(t, "statusbus_pusher_connections_total 3\n"));
	free(t);
	t = sb_metrics_view_prometheus(&m, &g, NULL, NULL);
	assert_null(strstr(t, "statusbus_pusher_"));
	free(t);
}

/* The MQTT hand-off (inbox.h): its back pressure and depth come right
 * after the drops they explain; without an inbox they are left out. */
static void test_inbox_series(void **state)
{
	struct sb_metrics m;
	struct sb_hub_gauges g;
	struct sb_inbox_stats in;
	char *t;
	(void)state;

	fill(&m, &g);
	memset(&in, 0, sizeof(in));
	in.backpressure = 41;
	in.queued_msgs = 16;
	in.queued_bytes = 4096;
	in.drop_inbound_overflow = 999;   /* the hub's counter is the one exported */
	t = sb_metrics_view_prometheus(&m, &g, NULL, &in);
	assert_non_null(t);
	expect_metric(t, "statusbus_inbound_backpressure_total", "counter", 41);
	expect_metric(t, "statusbus_inbound_queue_messages", "gauge", 16);
	expect_metric(t, "statusbus_inbound_queue_bytes", "gauge", 4096);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"inbound_overflow\"}"), 117);
	assert_true(strstr(t, "statusbus_dropped_total{reason=\"inbound_overflow\"}") <
		    strstr(t, "# HELP statusbus_inbound_backpressure_total"));
	free(t);
	t = sb_metrics_view_prometheus(&m, &g, NULL, NULL);
	assert_non_null(t);
	assert_null(strstr(t, "statusbus_inbound_"));
	free(t);
}

/* ---- the registry on its own ---- */

static struct sb_metrics_reg *reg_new(void)
{
	struct sb_metrics_reg *r = NULL;

	assert_int_equal(sb_metrics_create(&r), SB_OK);
	assert_non_null(r);
	return r;
}

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Labelled series of one family share one HELP and one TYPE line, come
 * right after them in the order added, and families keep the order of
 * their first series even when a later series joins an earlier family. */
static void test_reg_family_once(void **state)
{
	struct sb_metrics_reg *r = reg_new();
	const struct sb_metrics_label a[] = { { "reason", "a" }, { "side", "in" } };
	const struct sb_metrics_label b[] = { { "reason", "b" }, { "side", "in" } };
	const uint64_t one = 1, two = 2;
	char *t;
	(void)state;

	assert_int_equal(sb_metrics_add(r, &(struct sb_metrics_series){
		.type = SB_METRICS_COUNTER, .name = "x_total", .help = "X.",
		.labels = a, .n_labels = 2, .src = &one }), SB_OK);
	assert_int_equal(sb_metrics_gauge(r, "y", "Y.", 5), SB_OK);
	assert_int_equal(sb_metrics_add(r, &(struct sb_metrics_series){
		.type = SB_METRICS_COUNTER, .name = "x_total", .help = "ignored",
		.labels = b, .n_labels = 2, .src = &two }), SB_OK);
	t = sb_metrics_render_prometheus(r);
	assert_non_null(t);
	assert_string_equal(t,
		"# HELP x_total X.\n"
		"# TYPE x_total counter\n"
		"x_total{reason=\"a\",side=\"in\"} 1\n"
		"x_total{reason=\"b\",side=\"in\"} 2\n"
		"# HELP y Y.\n"
		"# TYPE y gauge\n"
		"y 5\n");
	assert_int_equal(count(t, "# TYPE x_total "), 1);
	free(t);
	sb_metrics_destroy(r);
}

/* Label values and HELP text are data: backslash, double quote (label
 * values only) and newline are escaped, so no value can forge a line. */
static void test_reg_escaping(void **state)
{
	struct sb_metrics_reg *r = reg_new();
	const struct sb_metrics_label l = { "v", "a\"b\\c\nd" };
	char *t;
	(void)state;

	assert_int_equal(sb_metrics_add(r, &(struct sb_metrics_series){
		.type = SB_METRICS_GAUGE, .name = "e", .help = "say \"hi\" \\ then\nx 9",
		.labels = &l, .n_labels = 1, .value = 3 }), SB_OK);
	t = sb_metrics_render_prometheus(r);
	assert_non_null(t);
	assert_string_equal(t,
		"# HELP e say \"hi\" \\\\ then\\nx 9\n"
		"# TYPE e gauge\n"
		"e{v=\"a\\\"b\\\\c\\nd\"} 3\n");
	assert_int_equal(sample(t, "x"), -1);
	free(t);
	sb_metrics_destroy(r);
}

/* A counter is read through its pointer at every render; a gauge given by
 * value keeps that value.  The TYPE line says which is which. */
static void test_reg_counter_vs_gauge(void **state)
{
	struct sb_metrics_reg *r = reg_new();
	uint64_t hits = 1;
	char *t;
	(void)state;

	assert_int_equal(sb_metrics_counter(r, "hits_total", "Hits.", &hits), SB_OK);
	assert_int_equal(sb_metrics_gauge(r, "depth", "Depth.", 4), SB_OK);
	t = sb_metrics_render_prometheus(r);
	assert_true(has_line(t, "# TYPE hits_total counter"));
	assert_true(has_line(t, "# TYPE depth gauge"));
	assert_int_equal(sample(t, "hits_total"), 1);
	free(t);
	hits = 41;
	t = sb_metrics_render_prometheus(r);
	assert_int_equal(sample(t, "hits_total"), 41);
	assert_int_equal(sample(t, "depth"), 4);
	free(t);
	/* one family, one type: a gauge of a counter's name is refused */
	assert_int_equal(sb_metrics_gauge(r, "hits_total", "Hits.", 1), SB_ERR_INVAL);
	sb_metrics_destroy(r);
}

/* A histogram renders cumulative buckets with their bounds, +Inf, _sum and
 * _count; an observation on a bound counts in that bound's bucket; the
 * registry reads the histogram at every render. */
static void test_reg_histogram(void **state)
{
	static const double bounds[] = { 0.001, 0.01, 1 };
	struct sb_metrics_reg *r = reg_new();
	const struct sb_metrics_label l = { "k", "v" };
	struct sb_hist h;
	char *t;
	(void)state;

	sb_hist_init(&h, bounds, 3);
	assert_int_equal(sb_metrics_histogram(r, "lat_seconds", "Latency.", &h), SB_OK);
	sb_hist_observe(&h, 0.0005);
	sb_hist_observe(&h, 0.001);   /* on the bound: le="0.001" */
	sb_hist_observe(&h, 0.5);
	sb_hist_observe(&h, 7);       /* above every bound: +Inf only */
	t = sb_metrics_render_prometheus(r);
	assert_non_null(t);
	assert_true(has_line(t, "# TYPE lat_seconds histogram"));
	assert_true(has_line(t, "lat_seconds_bucket{le=\"0.001\"} 2"));
	assert_true(has_line(t, "lat_seconds_bucket{le=\"0.01\"} 2"));
	assert_true(has_line(t, "lat_seconds_bucket{le=\"1\"} 3"));
	assert_true(has_line(t, "lat_seconds_bucket{le=\"+Inf\"} 4"));
	assert_true(has_line(t, "lat_seconds_sum 7.5015"));
	assert_true(has_line(t, "lat_seconds_count 4"));
	free(t);
	sb_hist_observe(&h, 0.002);
	t = sb_metrics_render_prometheus(r);
	assert_true(has_line(t, "lat_seconds_bucket{le=\"0.01\"} 3"));
	assert_true(has_line(t, "lat_seconds_count 5"));
	free(t);
	sb_metrics_destroy(r);
	/* a histogram without its data, or with labels, is refused */
	r = reg_new();
	assert_int_equal(sb_metrics_histogram(r, "x_seconds", "X.", NULL), SB_ERR_INVAL);
	sb_metrics_destroy(r);
	r = reg_new();
	assert_int_equal(sb_metrics_add(r, &(struct sb_metrics_series){
		.type = SB_METRICS_HISTOGRAM, .name = "y_seconds", .help = "Y.", .hist = &h,
		.labels = &l, .n_labels = 1 }), SB_ERR_INVAL);
	sb_metrics_destroy(r);
}

/* Names the exposition format would not parse, a reserved label name and a
 * series registered twice are refused; the first failure sticks, so a view
 * that adds unchecked gets NULL at render instead of a partial page. */
static void test_reg_refusals(void **state)
{
	const struct sb_metrics_label reserved = { "__name__", "x" }, colon = { "a:b", "x" };
	const struct sb_metrics_label same = { "k", "v" };
	const char *bad_names[] = { "", "1abc", "a-b", "a b", "a{b}" };
	struct sb_metrics_reg *r;
	(void)state;

	for (size_t i = 0; i < SB_ARRAY_LEN(bad_names); i++) {
		r = reg_new();
		assert_int_equal(sb_metrics_gauge(r, bad_names[i], "h", 1), SB_ERR_INVAL);
		sb_metrics_destroy(r);
	}
	r = reg_new();
	assert_int_equal(sb_metrics_gauge(r, "ns:ok_1", "h", 1), SB_OK);
	assert_int_equal(sb_metrics_add(r, &(struct sb_metrics_series){
		.type = SB_METRICS_GAUGE, .name = "g", .labels = &reserved, .n_labels = 1 }), SB_ERR_INVAL);
	sb_metrics_destroy(r);
	r = reg_new();
	assert_int_equal(sb_metrics_add(r, &(struct sb_metrics_series){
		.type = SB_METRICS_GAUGE, .name = "g", .labels = &colon, .n_labels = 1 }), SB_ERR_INVAL);
	sb_metrics_destroy(r);

	r = reg_new();
	assert_int_equal(sb_metrics_add(r, &(struct sb_metrics_series){
		.type = SB_METRICS_GAUGE, .name = "g", .labels = &same, .n_labels = 1 }), SB_OK);
	assert_int_equal(sb_metrics_add(r, &(struct sb_metrics_series){
		.type = SB_METRICS_GAUGE, .name = "g", .labels = &same, .n_labels = 1 }), SB_ERR_INVAL);
	/* sticky: a valid add after the failure reports it and adds nothing */
	assert_int_equal(sb_metrics_gauge(r, "h", "h", 1), SB_ERR_INVAL);
	assert_null(sb_metrics_render_prometheus(r));
	sb_metrics_destroy(r);

	r = reg_new();
	assert_int_equal(sb_metrics_gauge(r, "u", "h", 1), SB_OK);
	assert_int_equal(sb_metrics_gauge(r, "u", "h", 2), SB_ERR_INVAL);   /* unlabelled twice */
	sb_metrics_destroy(r);
	sb_metrics_destroy(NULL);
}

/* An empty registry renders as an empty page, not NULL. */
static void test_reg_empty(void **state)
{
	struct sb_metrics_reg *r = reg_new();
	char *t;
	(void)state;

	t = sb_metrics_render_prometheus(r);
	assert_non_null(t);
	assert_string_equal(t, "");
	free(t);
	sb_metrics_destroy(r);
}

/* The view's registration into a registry the caller keeps: hub counters
 * are read live at each render (a later increment shows), gauges are the
 * values at registration. */
static void test_view_register_live(void **state)
{
	struct sb_metrics m;
	struct sb_hub_gauges g;
	struct sb_metrics_reg *r = reg_new();
	char *t;
	(void)state;

	fill(&m, &g);
	sb_metrics_view_register(r, &m, &g, NULL, NULL);
	m.messages_in++;
	m.drop_schema++;
	g.clients++;
	t = sb_metrics_render_prometheus(r);
	assert_non_null(t);
	assert_int_equal(sample(t, "statusbus_messages_in_total"), 104);
	assert_int_equal(sample(t, "statusbus_dropped_total{reason=\"schema\"}"), 111);
	assert_int_equal(sample(t, "statusbus_connections"), 7);
	assert_int_equal(count(t, "# TYPE statusbus_dropped_total "), 1);
	free(t);
	sb_metrics_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reg_family_once),
		cmocka_unit_test(test_reg_escaping),
		cmocka_unit_test(test_reg_counter_vs_gauge),
		cmocka_unit_test(test_reg_histogram),
		cmocka_unit_test(test_reg_refusals),
		cmocka_unit_test(test_reg_empty),
		cmocka_unit_test(test_view_register_live),
		cmocka_unit_test(test_pusher_counters),
		cmocka_unit_test(test_inbox_series),
		cmocka_unit_test(test_prometheus_values),
		cmocka_unit_test(test_prometheus_format),
		cmocka_unit_test(test_reconnects_start_at_zero),
		cmocka_unit_test(test_health_json),
		cmocka_unit_test(test_health_json_escapes_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
