/* SPDX-License-Identifier: MIT
 *
 * test_config.c - unit tests for config.c (docs/protocol.md §11
 * and STYLE "table-driven config"): the defaults, one error per mistake
 * naming the file and the key (the text --check-config prints), unknown
 * keys at every level, the open development mode refused on a non-loopback
 * listen.host, the auth section's rules, the expansion of mqtt.client_id
 * templates, and the shipped examples/bridge.json.
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

#include "chanmap.h"
#include "config.h"

#define AUTH_OK "\"auth\":{\"jwt_secret\":\"0123456789abcdef\"}"

static struct sb_config *parse_ok(const char *text)
{
	struct sb_config *cfg = NULL;
	char err[512] = "";

	if (sb_config_parse(&cfg, text, "x.json", err, sizeof(err)) != SB_OK)
		fail_msg("config %s refused: %s", text, err);
	assert_non_null(cfg);
	return cfg;
}

/* The config is refused with `rc` and exactly the message `want`. */
static void expect_error_rc(const char *text, enum sb_err want_rc, const char *want)
{
	struct sb_config *cfg = (struct sb_config *)1;
	char err[512] = "";
	enum sb_err rc = sb_config_parse(&cfg, text, "x.json", err, sizeof(err));

	if (rc != want_rc)
		fail_msg("config %s: rc %d (%s), want %d", text, rc, err, want_rc);
	assert_null(cfg);
	if (strcmp(err, want) != 0)
		fail_msg("config %s:\n  error [%s]\n  want  [%s]", text, err, want);
}

static void expect_error(const char *text, const char *want)
{
	expect_error_rc(text, SB_ERR_INVAL, want);
}

/* ---- defaults ------------------------------------------------------------------ */

static void test_defaults(void **state)
{
	struct sb_config *c = parse_ok("{}");
	(void)state;

	assert_string_equal(c->mqtt_uri, "tcp://127.0.0.1:1883");
	assert_string_equal(c->mqtt_client_id, "statusbus-{hostname}");   /* a template */
	assert_null(c->mqtt_username);
	assert_null(c->mqtt_password);
	assert_null(c->mqtt_password_file);
	assert_null(c->mqtt_ca_file);
	assert_null(c->mqtt_cert_file);
	assert_null(c->mqtt_key_file);
	assert_int_equal(c->mqtt_keepalive_s, 30);
	assert_int_equal(c->mqtt_reconnect_min_s, 1);
	assert_int_equal(c->mqtt_reconnect_max_s, 30);
	assert_string_equal(c->listen_host, "127.0.0.1");
	assert_int_equal(c->listen_port, 8080);
	assert_null(c->listen_cert_file);
	assert_null(c->static_dir);
	assert_int_equal(c->n_allowed_origins, 1);
	assert_string_equal(c->allowed_origins[0], "*");
	assert_int_equal(c->auth_enabled, 0);            /* no auth section: open mode */
	assert_int_equal(c->token_leeway_s, 30);         /* docs/protocol.md: 30 s leeway */
	assert_int_equal(c->pusher_enabled, 0);
	assert_int_equal(c->pusher_activity_timeout_s, 120);
	assert_string_equal(c->schemas_dir, "schemas");
	assert_int_equal(c->validate_payloads, 1);
	assert_int_equal(c->reject_unknown_topics, 0);
	assert_int_equal(c->republish_rejected, 0);
	assert_int_equal(c->reject_log_interval_s, 60);
	/* docs/protocol.md §11 */
	assert_int_equal(c->max_connections, 50000);
	assert_int_equal(c->max_subscriptions, 128);
	assert_int_equal(c->max_frame_bytes, 65536);
	assert_int_equal(c->send_queue_soft_bytes, 1048576);
	assert_int_equal(c->send_queue_hard_bytes, 4 * 1048576);   /* 0 = 4x soft */
	assert_int_equal(c->send_queue_frames, 10000);
	assert_int_equal(c->max_payload_bytes, 65536);
	assert_int_equal(c->inbound_queue_msgs, 100000);
	assert_int_equal(c->inbound_queue_bytes, 64L << 20);
	assert_int_equal(c->inbound_wait_ms, 100);
	assert_int_equal(c->hello_timeout_s, 10);                  /* docs/protocol.md: within 10 s */
	assert_int_equal(c->heartbeat_s, 25);
	assert_true(c->idle_timeout_s > c->heartbeat_s);
	/* docs/protocol.md §5.14 */
	assert_int_equal(c->handshake_timeout_s, 5);
	assert_int_equal(c->max_connections_per_ip, 1024);
	assert_int_equal(c->max_handshakes_per_ip, 256);
	assert_int_equal(c->max_header_bytes, 16384);
	assert_string_equal(c->log_level, "info");
	assert_null(c->channels);                                  /* the default map */
	/* docs/protocol.md §3.4: logs of active deploys are followed */
	assert_string_equal(c->logs_follow, "active");
	assert_int_equal(c->logs_follow_active, 1);
	assert_int_equal(c->logs_max_followed, 1000);
	sb_config_destroy(c);
	sb_config_destroy(NULL);
}

static void test_values_set(void **state)
{
	struct sb_config *c = parse_ok(
		"{\"mqtt\":{\"uri\":\"ssl://broker:8883\",\"client_id\":\"b-2\",\"username\":\"bridge\","
		"\"password\":\"pw\",\"cert_file\":\"c.pem\",\"key_file\":\"k.pem\",\"keepalive_s\":60},"
		"\"listen\":{\"host\":\"::1\",\"port\":0,\"allowed_origins\":[\"https://a\",\"https://b\"]},"
		"\"pusher\":{\"app_id\":\"1\",\"key\":\"k\",\"secret\":\"s\"},"
		"\"validation\":{\"enabled\":false,\"republish_rejected\":true},"
		"\"limits\":{\"max_subscriptions\":5,\"send_queue_soft_bytes\":2048,"
		"\"send_queue_hard_bytes\":4096,\"max_payload_bytes\":64},"
		"\"schemas_dir\":\"/usr/share/statusbus/schemas\",\"log_level\":\"debug\","
		"\"channels\":[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"]}]}");
	(void)state;

	assert_string_equal(c->mqtt_uri, "ssl://broker:8883");
	assert_string_equal(c->mqtt_client_id, "b-2");
	assert_string_equal(c->mqtt_password, "pw");
	assert_string_equal(c->mqtt_key_file, "k.pem");
	assert_int_equal(c->mqtt_keepalive_s, 60);
	assert_string_equal(c->listen_host, "::1");
	assert_int_equal(c->listen_port, 0);
	assert_int_equal(c->n_allowed_origins, 2);
	assert_string_equal(c->allowed_origins[1], "https://b");
	assert_null(c->allowed_origins[2]);
	assert_int_equal(c->pusher_enabled, 1);
	assert_int_equal(c->validate_payloads, 0);
	assert_int_equal(c->republish_rejected, 1);
	assert_int_equal(c->max_subscriptions, 5);
	assert_int_equal(c->send_queue_soft_bytes, 2048);
	assert_int_equal(c->send_queue_hard_bytes, 4096);
	assert_int_equal(c->max_payload_bytes, 64);
	assert_string_equal(c->schemas_dir, "/usr/share/statusbus/schemas");
	assert_string_equal(c->log_level, "debug");
	assert_true(cJSON_IsArray(c->channels));
	assert_int_equal(cJSON_GetArraySize(c->channels), 1);
	sb_config_destroy(c);
}

/* logs.follow: "active" (default) or "watched"; logs.max_followed bounds the
 * deploys followed at once. */
static void test_logs_section(void **state)
{
	struct sb_config *c = parse_ok("{\"logs\":{\"follow\":\"watched\",\"max_followed\":5}}");
	(void)state;

	assert_string_equal(c->logs_follow, "watched");
	assert_int_equal(c->logs_follow_active, 0);
	assert_int_equal(c->logs_max_followed, 5);
	sb_config_destroy(c);
	c = parse_ok("{\"logs\":{\"follow\":\"active\"}}");
	assert_int_equal(c->logs_follow_active, 1);
	sb_config_destroy(c);
	expect_error("{\"logs\":{\"follow\":\"always\"}}",
		     "x.json: logs.follow: must be active or watched");
	expect_error("{\"logs\":{\"follow\":null}}",
		     "x.json: logs.follow: must be active or watched");
	expect_error("{\"logs\":{\"follow\":true}}",
		     "x.json: logs.follow: must be a string or null");
	expect_error("{\"logs\":{\"max_followed\":0}}",
		     "x.json: logs.max_followed: must be an integer from 1 to 1000000");
	expect_error("{\"logs\":{\"followed\":1}}",
		     "x.json: logs.followed: unknown key (did you mean logs.max_followed?)");
	expect_error("{\"logs\":\"active\"}", "x.json: logs: must be an object");
}

/* metrics.listen: /metrics on an address of its own (docs/metrics.md). */
static void test_metrics_listen(void **state)
{
	static const char *const bad[] = { "9100", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
		"127.0.0.1:65536", "127.0.0.1:91x", ":9100", "::1:9100", "[::1]9100", "[::1:9100",
		"[127.0.0.1]:9100", "example.com:9100", "127.0.0.1:-1", "[]:9100" };
	char text[256], want[256];
	struct sb_config *c = parse_ok("{}");
	(void)state;

	assert_null(c->metrics_listen);
	assert_int_equal(c->metrics_port, 0);
	sb_config_destroy(c);
	c = parse_ok("{\"metrics\":{\"listen\":\"127.0.0.1:9100\"}}");
	assert_string_equal(c->metrics_host, "127.0.0.1");
	assert_int_equal(c->metrics_port, 9100);
	sb_config_destroy(c);
	c = parse_ok("{\"metrics\":{\"listen\":\"[::1]:65535\"}}");
	assert_string_equal(c->metrics_host, "::1");
	assert_int_equal(c->metrics_port, 65535);
	sb_config_destroy(c);
	c = parse_ok("{\"metrics\":{\"listen\":\"localhost:1\"}}");
	assert_string_equal(c->metrics_host, "127.0.0.1");
	assert_int_equal(c->metrics_port, 1);
	sb_config_destroy(c);
	for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
		snprintf(text, sizeof(text), "{\"metrics\":{\"listen\":\"%s\"}}", bad[i]);
		snprintf(want, sizeof(want), "x.json: metrics.listen: \"%s\" is not <IPv4 address>:"
			 "<port>, [<IPv6 address>]:<port> or localhost:<port>", bad[i]);
		expect_error(text, want);
	}
	expect_error("{\"listen\":{\"port\":9100},\"metrics\":{\"listen\":\"127.0.0.1:9100\"}}",
		     "x.json: metrics.listen: port 9100 is listen.port's; /metrics needs a port of its own");
	expect_error("{\"metrics\":{\"port\":9100}}",
		     "x.json: metrics.port: unknown key (did you mean listen.port?)");
}

static void test_null_resets_optional_strings(void **state)
{
	struct sb_config *c = parse_ok("{\"mqtt\":{\"username\":null,\"ca_file\":null},"
				       "\"listen\":{\"static_dir\":null},\"channels\":null,"
				       "\"auth\":null,\"mqtt\":null}");
	(void)state;

	assert_null(c->mqtt_username);
	assert_null(c->static_dir);
	assert_null(c->channels);
	assert_int_equal(c->auth_enabled, 0);
	sb_config_destroy(c);
}

/* ---- type errors name file and key ------------------------------------------------- */

static void test_type_errors(void **state)
{
	(void)state;
	expect_error("{\"limits\":{\"max_subscriptions\":0}}",
		     "x.json: limits.max_subscriptions: must be an integer from 1 to 100000");
	expect_error("{\"limits\":{\"max_subscriptions\":100001}}",
		     "x.json: limits.max_subscriptions: must be an integer from 1 to 100000");
	expect_error("{\"limits\":{\"max_subscriptions\":1.5}}",
		     "x.json: limits.max_subscriptions: must be an integer from 1 to 100000");
	expect_error("{\"limits\":{\"max_subscriptions\":\"10\"}}",
		     "x.json: limits.max_subscriptions: must be an integer from 1 to 100000");
	expect_error("{\"limits\":{\"max_subscriptions\":true}}",
		     "x.json: limits.max_subscriptions: must be an integer from 1 to 100000");
	expect_error("{\"limits\":{\"max_subscriptions\":null}}",
		     "x.json: limits.max_subscriptions: must be an integer from 1 to 100000");
	expect_error("{\"limits\":{\"max_subscriptions\":1e300}}",
		     "x.json: limits.max_subscriptions: must be an integer from 1 to 100000");
	expect_error("{\"limits\":{\"max_subscriptions\":-1e300}}",
		     "x.json: limits.max_subscriptions: must be an integer from 1 to 100000");
	expect_error("{\"listen\":{\"port\":65536}}",
		     "x.json: listen.port: must be an integer from 0 to 65535");
	expect_error("{\"listen\":{\"port\":-1}}",
		     "x.json: listen.port: must be an integer from 0 to 65535");
	expect_error("{\"limits\":{\"send_queue_bytes\":1023}}",
		     "x.json: limits.send_queue_bytes: must be an integer from 1024 to 4294967296");
	expect_error("{\"mqtt\":{\"uri\":5}}",
		     "x.json: mqtt.uri: must be a string or an array of 1 to 16 strings");
	expect_error("{\"mqtt\":{\"username\":[\"a\"]}}",
		     "x.json: mqtt.username: must be a string or null");
	expect_error("{\"schemas_dir\":3}", "x.json: schemas_dir: must be a string or null");
	expect_error("{\"validation\":{\"enabled\":\"yes\"}}",
		     "x.json: validation.enabled: must be true or false");
	expect_error("{\"validation\":{\"enabled\":1}}",
		     "x.json: validation.enabled: must be true or false");
	expect_error("{\"pusher\":{\"app_id\":\"1\",\"key\":\"k\",\"secret\":\"s\",\"client_events\":null}}",
		     "x.json: pusher.client_events: must be true or false");
	expect_error("{\"listen\":{\"allowed_origins\":\"*\"}}",
		     "x.json: listen.allowed_origins: must be an array of at most 256 strings");
	expect_error("{\"listen\":{\"allowed_origins\":[\"a\",1]}}",
		     "x.json: listen.allowed_origins: must hold strings");
	expect_error("{\"mqtt\":[]}", "x.json: mqtt: must be an object");
	expect_error("{\"limits\":5}", "x.json: limits: must be an object");
	expect_error("{\"log_level\":\"loud\"}",
		     "x.json: log_level: must be debug, info, warn or error");
}

static void test_long_string_refused(void **state)
{
	char *text = malloc(5000);
	(void)state;

	assert_non_null(text);
	strcpy(text, "{\"mqtt\":{\"username\":\"");
	memset(text + strlen(text), 'u', 4097);
	strcpy(text + strlen("{\"mqtt\":{\"username\":\"") + 4097, "\"}}");
	expect_error(text, "x.json: mqtt.username: must be a string or null");
	free(text);
}

static void test_not_an_object(void **state)
{
	(void)state;
	expect_error("", "x.json: not a JSON object (syntax error near line 1)");
	expect_error("[]", "x.json: not a JSON object (syntax error near line 1)");
	expect_error("{\n  \"mqtt\": {\n    \"uri\": \n  }\n}",
		     "x.json: not a JSON object (syntax error near line 4)");
}

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_error("{\"nope\":1}", "x.json: nope: unknown key");
	expect_error("{\"limits\":{\"max_subs\":1}}", "x.json: limits.max_subs: unknown key");
	expect_error("{\"mqtt\":{\"port\":1883}}",
		     "x.json: mqtt.port: unknown key (did you mean listen.port?)");
	expect_error("{\"auth\":{\"secret\":\"x\"}}",
		     "x.json: auth.secret: unknown key (did you mean auth.jwt_secret?)");
	expect_error("{\"validation\":{\"enable\":true}}",
		     "x.json: validation.enable: unknown key (did you mean validation.enabled?)");
	/* keys are not found at the wrong level, and are case-sensitive (the
	 * suggestion says where they are) */
	expect_error("{\"uri\":\"tcp://x\"}", "x.json: uri: unknown key (did you mean mqtt.uri?)");
	expect_error("{\"limits\":{\"limits\":{}}}", "x.json: limits.limits: unknown key");
	expect_error("{\"listen\":{\"schemas_dir\":\"s\"}}",
		     "x.json: listen.schemas_dir: unknown key (did you mean schemas_dir?)");
	expect_error("{\"MQTT\":{}}", "x.json: MQTT: unknown key (did you mean mqtt?)");
	expect_error("{\"limits\":{\"Max_Subscriptions\":1}}",
		     "x.json: limits.Max_Subscriptions: unknown key (did you mean "
		     "limits.max_subscriptions?)");
}

static void test_cross_checks(void **state)
{
	(void)state;
	expect_error("{\"mqtt\":{\"password\":\"a\",\"password_file\":\"f\"}}",
		     "x.json: mqtt.password_file: give password or password_file, not both");
	expect_error("{\"mqtt\":{\"uri\":\"http://broker\"}}",
		     "x.json: mqtt.uri: \"http://broker\" must start with tcp://, ssl://, mqtt://, "
		     "mqtts://, ws:// or wss://");
	expect_error("{\"mqtt\":{\"uri\":null}}",
		     "x.json: mqtt.uri: must be a string or an array of 1 to 16 strings");
	expect_error("{\"mqtt\":{\"client_id\":\"\"}}", "x.json: mqtt.client_id: must not be empty");
	expect_error("{\"mqtt\":{\"client_id\":null}}", "x.json: mqtt.client_id: required");
	/* it names the topic $statusbus/sync/<id> */
	expect_error("{\"mqtt\":{\"client_id\":\"a/b\"}}",
		     "x.json: mqtt.client_id: may hold letters, digits, '-', '_', '.', {hostname} and {pid} only");
	expect_error("{\"mqtt\":{\"client_id\":\"b-{host}\"}}",
		     "x.json: mqtt.client_id: the only placeholders are {hostname} and {pid}");
	expect_error("{\"mqtt\":{\"reconnect_min_s\":10,\"reconnect_max_s\":5}}",
		     "x.json: mqtt.reconnect_min_s: greater than reconnect_max_s");
	expect_error("{\"mqtt\":{\"cert_file\":\"c\"}}",
		     "x.json: mqtt.key_file: cert_file and key_file go together");
	expect_error("{\"listen\":{\"key_file\":\"k\"}}",
		     "x.json: listen.key_file: cert_file and key_file go together");
	expect_error("{\"listen\":{\"host\":\"\"}}", "x.json: listen.host: required");
	expect_error("{\"listen\":{\"host\":null}}", "x.json: listen.host: required");
	expect_error("{\"pusher\":{\"app_id\":\"1\",\"key\":\"k\"}}",
		     "x.json: pusher: app_id, key and secret are required");
	expect_error("{\"limits\":{\"send_queue_bytes\":8192,\"send_queue_hard_bytes\":4096}}",
		     "x.json: limits.send_queue_hard_bytes: smaller than send_queue_soft_bytes");
	expect_error("{\"limits\":{\"heartbeat_s\":30,\"idle_timeout_s\":30}}",
		     "x.json: limits.idle_timeout_s: must exceed heartbeat_s");
	/* the error is about the first mistake */
	expect_error("{\"nope\":1,\"limits\":{\"max_subscriptions\":0}}", "x.json: nope: unknown key");
}

static void test_required_strings_not_null(void **state)
{
	(void)state;
	/* null for a key the bridge cannot do without is a config error, not a
	 * crash at start-up */
	expect_error("{\"log_level\":null}",
		     "x.json: log_level: must be debug, info, warn or error");
	expect_error("{\"schemas_dir\":null}", "x.json: schemas_dir: required");
	expect_error("{\"schemas_dir\":\"\"}", "x.json: schemas_dir: required");
}

/* limits.send_queue_soft_bytes is the documented name (docs/protocol.md §6);
 * send_queue_bytes, its earlier name, stays accepted. */
static void test_send_queue_soft_bytes_alias(void **state)
{
	struct sb_config *c;
	(void)state;

	c = parse_ok("{\"limits\":{\"send_queue_soft_bytes\":4096}}");
	assert_int_equal(c->send_queue_soft_bytes, 4096);
	assert_int_equal(c->send_queue_hard_bytes, 4 * 4096);
	sb_config_destroy(c);
	c = parse_ok("{\"limits\":{\"send_queue_bytes\":4096}}");
	assert_int_equal(c->send_queue_soft_bytes, 4096);
	sb_config_destroy(c);
	/* both names with one value: fine, in either order */
	c = parse_ok("{\"limits\":{\"send_queue_bytes\":4096,\"send_queue_soft_bytes\":4096}}");
	assert_int_equal(c->send_queue_soft_bytes, 4096);
	sb_config_destroy(c);
	c = parse_ok("{\"limits\":{\"send_queue_soft_bytes\":4096,\"send_queue_bytes\":4096}}");
	assert_int_equal(c->send_queue_soft_bytes, 4096);
	sb_config_destroy(c);
	/* with two values it is not known which one was meant */
	expect_error("{\"limits\":{\"send_queue_soft_bytes\":4096,\"send_queue_bytes\":8192}}",
		     "x.json: limits.send_queue_bytes: given as send_queue_soft_bytes too, with another value");
	expect_error("{\"limits\":{\"send_queue_bytes\":8192,\"send_queue_soft_bytes\":4096}}",
		     "x.json: limits.send_queue_soft_bytes: given as send_queue_bytes too, with another value");
	/* each name has the range of the key */
	expect_error("{\"limits\":{\"send_queue_soft_bytes\":1023}}",
		     "x.json: limits.send_queue_soft_bytes: must be an integer from 1024 to 4294967296");
}

static void test_duplicate_origins_key(void **state)
{
	struct sb_config *c;
	(void)state;

	/* a repeated key: the last one wins (and the first list is not leaked) */
	c = parse_ok("{\"listen\":{\"allowed_origins\":[\"https://a\"],\"allowed_origins\":[\"https://b\"]}}");
	assert_int_equal(c->n_allowed_origins, 1);
	assert_string_equal(c->allowed_origins[0], "https://b");
	sb_config_destroy(c);
}

/* ---- open development mode ------------------------------------------------------------ */

static void test_open_mode_needs_loopback(void **state)
{
	static const char *const refused[] = {
		"0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "128.0.0.1",
		"localhost.example.com", "eth0",
	};
	static const char *const allowed[] = {
		"127.0.0.1", "127.1.2.3", "::1", "localhost", "0:0:0:0:0:0:0:1",
	};
	char text[256], want[512];
	struct sb_config *c;
	(void)state;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(text, sizeof(text), "{\"listen\":{\"host\":\"%s\"}}", refused[i]);
		snprintf(want, sizeof(want), "x.json: auth: open development mode (no auth section) "
			 "refuses listen.host \"%s\", which is not a loopback address", refused[i]);
		expect_error_rc(text, SB_ERR_DENIED, want);
		assert_int_equal(sb_host_is_loopback(refused[i]), 0);
		/* with an auth section the same host is fine */
		snprintf(text, sizeof(text), "{\"listen\":{\"host\":\"%s\"}," AUTH_OK "}", refused[i]);
		c = parse_ok(text);
		assert_int_equal(c->auth_enabled, 1);
		sb_config_destroy(c);
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		snprintf(text, sizeof(text), "{\"listen\":{\"host\":\"%s\"}}", allowed[i]);
		c = parse_ok(text);
		assert_int_equal(c->auth_enabled, 0);
		assert_string_equal(c->listen_host, allowed[i]);
		sb_config_destroy(c);
		assert_int_equal(sb_host_is_loopback(allowed[i]), 1);
	}
	/* "auth": null is no auth section */
	expect_error_rc("{\"auth\":null,\"listen\":{\"host\":\"0.0.0.0\"}}", SB_ERR_DENIED,
			"x.json: auth: open development mode (no auth section) refuses "
			"listen.host \"0.0.0.0\", which is not a loopback address");
}

/* ---- auth section ----------------------------------------------------------------------- */

static void test_auth_rules(void **state)
{
	struct sb_config *c;
	(void)state;

	expect_error("{\"auth\":{}}",
		     "x.json: auth.jwt_secret: HS256 needs exactly one of jwt_secret, jwt_secret_file");
	expect_error("{\"auth\":{\"jwt_secret\":\"0123456789abcdef\",\"jwt_secret_file\":\"f\"}}",
		     "x.json: auth.jwt_secret: HS256 needs exactly one of jwt_secret, jwt_secret_file");
	expect_error("{\"auth\":{\"jwt_secret\":\"short\"}}",
		     "x.json: auth.jwt_secret: must be at least 16 characters");
	expect_error("{\"auth\":{\"jwt_alg\":\"RS256\"}}",
		     "x.json: auth.jwt_public_key_file: required for RS256");
	expect_error("{\"auth\":{\"jwt_alg\":\"ES256\",\"jwt_secret\":\"0123456789abcdef\"}}",
		     "x.json: auth.jwt_public_key_file: required for ES256");
	expect_error("{\"auth\":{\"jwt_alg\":\"none\"}}",
		     "x.json: auth.jwt_alg: must be HS256, RS256 or ES256");
	expect_error("{\"auth\":{\"jwt_alg\":\"hs256\",\"jwt_secret\":\"0123456789abcdef\"}}",
		     "x.json: auth.jwt_alg: must be HS256, RS256 or ES256");
	expect_error("{\"auth\":{\"jwt_alg\":null}}",
		     "x.json: auth.jwt_alg: must be HS256, RS256 or ES256");
	expect_error("{\"auth\":{\"leeway_s\":301," "\"jwt_secret\":\"0123456789abcdef\"}}",
		     "x.json: auth.leeway_s: must be an integer from 0 to 300");

	c = parse_ok("{" AUTH_OK "}");
	assert_int_equal(c->auth_enabled, 1);
	assert_string_equal(c->jwt_alg, "HS256");
	assert_string_equal(c->jwt_secret, "0123456789abcdef");
	sb_config_destroy(c);
	c = parse_ok("{\"auth\":{\"jwt_secret_file\":\"run/jwt.secret\",\"issuer\":\"i\","
		     "\"audience\":\"a\",\"leeway_s\":0}}");
	assert_null(c->jwt_secret);
	assert_string_equal(c->jwt_secret_file, "run/jwt.secret");
	assert_string_equal(c->issuer, "i");
	assert_string_equal(c->audience, "a");
	assert_int_equal(c->token_leeway_s, 0);
	sb_config_destroy(c);
	c = parse_ok("{\"auth\":{\"jwt_alg\":\"RS256\",\"jwt_public_key_file\":\"pub.pem\"}}");
	assert_string_equal(c->jwt_alg, "RS256");
	sb_config_destroy(c);
	c = parse_ok("{\"auth\":{\"jwt_alg\":\"ES256\",\"jwt_public_key_file\":\"pub.pem\"}}");
	assert_string_equal(c->jwt_public_key_file, "pub.pem");
	sb_config_destroy(c);
}

/* auth.max_ttl_s walked over its range, and allow_wildcard_first_segment. */
/* The accept and request limits (docs/protocol.md §5.14), each walked
 * through min-1, min, max, max+1 and values that are no integers. */
static void test_connection_limits(void **state)
{
	static const struct {
		const char *key;
		long min, max;
		size_t off;
	} keys[] = {
		{ "handshake_timeout_s", 1, 300, offsetof(struct sb_config, handshake_timeout_s) },
		{ "max_connections_per_ip", 0, 1000000, offsetof(struct sb_config, max_connections_per_ip) },
		{ "max_handshakes_per_ip", 0, 65535, offsetof(struct sb_config, max_handshakes_per_ip) },
		{ "max_header_bytes", 1024, 57344, offsetof(struct sb_config, max_header_bytes) },
	};
	char text[256], want[256];
	(void)state;

	for (size_t i = 0; i < SB_ARRAY_LEN(keys); i++) {
		const char *bad[] = { "1e300", "2.5", "\"5\"", "null", "true" };

		for (long v = keys[i].min; ; v = keys[i].max) {
			struct sb_config *c;

			snprintf(text, sizeof(text), "{\"limits\":{\"%s\":%ld}}", keys[i].key, v);
			c = parse_ok(text);
			assert_int_equal(*(int *)((char *)c + keys[i].off), v);
			sb_config_destroy(c);
			if (v == keys[i].max)
				break;
		}
		snprintf(want, sizeof(want), "x.json: limits.%s: must be an integer from %ld to %ld",
			 keys[i].key, keys[i].min, keys[i].max);
		snprintf(text, sizeof(text), "{\"limits\":{\"%s\":%ld}}", keys[i].key, keys[i].min - 1);
		expect_error(text, want);
		snprintf(text, sizeof(text), "{\"limits\":{\"%s\":%ld}}", keys[i].key, keys[i].max + 1);
		expect_error(text, want);
		for (size_t k = 0; k < SB_ARRAY_LEN(bad); k++) {
			snprintf(text, sizeof(text), "{\"limits\":{\"%s\":%s}}", keys[i].key, bad[k]);
			expect_error(text, want);
		}
	}
}

static void test_token_limits(void **state)
{
	static const char *const bad_ttl[] = {
		"59", "315360001", "0", "-1", "1e300", "60.5", "\"86400\"", "null", "true",
	};
	struct sb_config *c;
	char text[256];
	(void)state;

	c = parse_ok("{" AUTH_OK "}");
	assert_int_equal(c->token_max_ttl_s, 86400);   /* a day */
	assert_int_equal(c->allow_wildcard_first_segment, 0);
	sb_config_destroy(c);
	for (size_t i = 0; i < SB_ARRAY_LEN(bad_ttl); i++) {
		snprintf(text, sizeof(text), "{\"auth\":{\"jwt_secret\":\"0123456789abcdef\","
			 "\"max_ttl_s\":%s}}", bad_ttl[i]);
		expect_error(text, "x.json: auth.max_ttl_s: must be an integer from 60 to 315360000");
	}
	c = parse_ok("{\"auth\":{\"jwt_secret\":\"0123456789abcdef\",\"max_ttl_s\":60}}");
	assert_int_equal(c->token_max_ttl_s, 60);
	sb_config_destroy(c);
	c = parse_ok("{\"auth\":{\"jwt_secret\":\"0123456789abcdef\",\"max_ttl_s\":315360000,"
		     "\"allow_wildcard_first_segment\":true}}");
	assert_int_equal(c->token_max_ttl_s, 315360000);
	assert_int_equal(c->allow_wildcard_first_segment, 1);
	sb_config_destroy(c);
	expect_error("{\"auth\":{\"jwt_secret\":\"0123456789abcdef\","
		     "\"allow_wildcard_first_segment\":1}}",
		     "x.json: auth.allow_wildcard_first_segment: must be true or false");
}

/* ---- mqtt.client_id templates (docs/protocol.md §10) -------------------------------- */

/* The expansion of tmpl with hostname and pid, which must succeed. */
static void expect_id(const char *tmpl, const char *host, long pid, const char *want)
{
	char id[SB_CONFIG_CLIENT_ID_MAX + 1];
	const char *why = NULL;

	if (sb_config_expand_client_id(tmpl, host, pid, id, sizeof(id), &why) != SB_OK)
		fail_msg("%s with host %s: refused: %s", tmpl, host ? host : "(null)", why);
	assert_string_equal(id, want);
}

static void expect_id_error(const char *tmpl, const char *host, enum sb_err want_rc,
			    const char *want)
{
	char id[SB_CONFIG_CLIENT_ID_MAX + 1];
	const char *why = NULL;

	assert_int_equal(sb_config_expand_client_id(tmpl, host, 7, id, sizeof(id), &why), want_rc);
	assert_string_equal(why, want);
}

static void test_client_id_expansion(void **state)
{
	char big[300], want[302], id[8];
	const char *why = NULL;
	(void)state;

	expect_id("statusbus-{hostname}", "web-1", 42, "statusbus-web-1");
	expect_id("sb-{hostname}-{pid}", "web_1", 4242, "sb-web_1-4242");
	expect_id("{pid}{pid}", "h", 7, "77");
	expect_id("literal.id_1", "h", 1, "literal.id_1");
	/* a host name's dots and anything outside [A-Za-z0-9_-] become '-', so
	 * the id stays a valid client id and a valid topic level */
	expect_id("statusbus-{hostname}", "node-3.eu.example.com", 1, "statusbus-node-3-eu-example-com");
	expect_id("{hostname}", "a+b#c/d e\xc3\xa9", 1, "a-b-c-d-e--");
	expect_id("x{hostname}", NULL, 1, "x");

	expect_id_error("{hostname}", "", SB_ERR_INVAL, "must not be empty");
	expect_id_error("", "h", SB_ERR_INVAL, "must not be empty");
	expect_id_error("a+b", "h", SB_ERR_INVAL,
			"may hold letters, digits, '-', '_', '.', {hostname} and {pid} only");
	expect_id_error("a#", "h", SB_ERR_INVAL,
			"may hold letters, digits, '-', '_', '.', {hostname} and {pid} only");
	expect_id_error("{HOSTNAME}", "h", SB_ERR_INVAL, "the only placeholders are {hostname} and {pid}");
	expect_id_error("{hostname", "h", SB_ERR_INVAL, "the only placeholders are {hostname} and {pid}");

	/* 128 bytes once expanded at most: a long host name can push it over */
	memset(big, 'a', 128);
	big[128] = '\0';
	expect_id(big, "h", 1, big);
	big[127] = '\0';
	snprintf(want, sizeof(want), "%sx", big);
	expect_id("{hostname}x", big, 1, want);
	expect_id_error("{hostname}xy", big, SB_ERR_LIMIT, "longer than 128 characters once expanded");
	memset(big, 'h', 200);
	big[200] = '\0';
	expect_id_error("sb-{hostname}", big, SB_ERR_LIMIT, "longer than 128 characters once expanded");
	/* and never more than the buffer holds */
	assert_int_equal(sb_config_expand_client_id("statusbus-1", "h", 1, id, sizeof(id), &why),
			 SB_ERR_LIMIT);
	assert_int_equal(sb_config_expand_client_id("1234567", "h", 1, id, sizeof(id), &why), SB_OK);
	assert_string_equal(id, "1234567");
}

/* ---- files --------------------------------------------------------------------------------- */

static void test_example_config(void **state)
{
	struct sb_config *c = NULL;
	struct sb_chanmap *map = NULL;
	char err[512] = "";
	(void)state;

	if (sb_config_load(&c, SB_SOURCE_DIR "/examples/bridge.json", err, sizeof(err)) != SB_OK)
		fail_msg("examples/bridge.json: %s", err);
	assert_int_equal(c->auth_enabled, 1);
	assert_string_equal(c->jwt_alg, "HS256");
	/* secrets come from files, never from the shipped config itself */
	assert_non_null(c->jwt_secret_file);
	assert_null(c->jwt_secret);
	assert_string_equal(c->mqtt_username, "bridge");
	assert_string_equal(c->mqtt_client_id, "statusbus-{hostname}");   /* one per host */
	assert_non_null(c->mqtt_password_file);
	assert_null(c->mqtt_password);
	assert_string_equal(c->listen_host, "127.0.0.1");
	assert_int_equal(c->listen_port, 8080);
	assert_string_equal(c->static_dir, "examples/dashboard");
	assert_int_equal(c->max_subscriptions, 128);
	assert_int_equal(c->send_queue_soft_bytes, 1048576);
	assert_true(cJSON_IsArray(c->channels));
	assert_int_equal(sb_chanmap_from_json(&map, c->channels, err, sizeof(err)), SB_OK);
	assert_int_equal(sb_chanmap_count(map), 9);
	sb_chanmap_destroy(map);
	sb_config_destroy(c);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_load_errors(void **state)
{
	struct sb_config *c = (struct sb_config *)1;
	char err[512] = "";
	const char *path = SB_BINARY_DIR "/test_config_bad.json";
	(void)state;

	assert_int_equal(sb_config_load(&c, SB_BINARY_DIR "/no/such.json", err, sizeof(err)),
			 SB_ERR_NOTFOUND);
	assert_null(c);
	assert_string_equal(err, SB_BINARY_DIR "/no/such.json: cannot read: "
			    "not found");
	write_file(path, "{\"limits\":{\"max_connections\":0}}",
		   strlen("{\"limits\":{\"max_connections\":0}}"));
	assert_int_equal(sb_config_load(&c, path, err, sizeof(err)), SB_ERR_INVAL);
	assert_null(c);
	assert_string_equal(err, SB_BINARY_DIR "/test_config_bad.json: limits.max_connections: "
			    "must be an integer from 1 to 1000000");
	remove(path);
}

static void test_read_file(void **state)
{
	const char *path = SB_BINARY_DIR "/test_config_secret";
	char *buf;
	size_t len;
	(void)state;

	write_file(path, "s3cret\n", 7);
	assert_int_equal(sb_read_file(path, 100, 1, &buf, &len), SB_OK);
	assert_string_equal(buf, "s3cret");
	assert_int_equal(len, 6);
	free(buf);
	assert_int_equal(sb_read_file(path, 100, 0, &buf, &len), SB_OK);
	assert_string_equal(buf, "s3cret\n");
	assert_int_equal(len, 7);
	free(buf);
	write_file(path, "s3cret\r\n", 8);
	assert_int_equal(sb_read_file(path, 100, 1, &buf, NULL), SB_OK);
	assert_string_equal(buf, "s3cret");
	free(buf);
	/* only one newline is stripped */
	write_file(path, "s\n\n", 3);
	assert_int_equal(sb_read_file(path, 100, 1, &buf, &len), SB_OK);
	assert_int_equal(len, 2);
	free(buf);
	/* exactly max is fine, one more is SB_ERR_LIMIT */
	write_file(path, "0123456789", 10);
	assert_int_equal(sb_read_file(path, 10, 0, &buf, &len), SB_OK);
	assert_int_equal(len, 10);
	free(buf);
	buf = (char *)1;
	assert_int_equal(sb_read_file(path, 9, 0, &buf, &len), SB_ERR_LIMIT);
	assert_null(buf);
	/* empty file */
	write_file(path, "", 0);
	assert_int_equal(sb_read_file(path, 10, 1, &buf, &len), SB_OK);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	remove(path);
	assert_int_equal(sb_read_file(path, 10, 0, &buf, &len), SB_ERR_NOTFOUND);
	assert_null(buf);
}

/* mqtt.uri: a string is a list of one; a list names a cluster's nodes */
static void test_mqtt_uri_list(void **state)
{
	struct sb_config *c;

	(void)state;
	c = parse_ok("{\"mqtt\":{\"uri\":\"tcp://a:1\"}}");
	assert_int_equal(c->n_mqtt_uris, 1);
	assert_string_equal(c->mqtt_uris[0], "tcp://a:1");
	assert_ptr_equal(c->mqtt_uri, c->mqtt_uris[0]);
	sb_config_destroy(c);
	c = parse_ok("{\"mqtt\":{\"uri\":[\"tcp://a:1\",\"mqtt://b:2\",\"tcp://c:3\"]}}");
	assert_int_equal(c->n_mqtt_uris, 3);
	assert_string_equal(c->mqtt_uri, "tcp://a:1");
	assert_string_equal(c->mqtt_uris[1], "mqtt://b:2");
	assert_string_equal(c->mqtt_uris[2], "tcp://c:3");
	sb_config_destroy(c);
	c = parse_ok("{\"mqtt\":{\"uri\":[\"ssl://a:8883\",\"mqtts://b:8883\"]}}");
	assert_int_equal(c->n_mqtt_uris, 2);
	sb_config_destroy(c);
	expect_error("{\"mqtt\":{\"uri\":[]}}",
		     "x.json: mqtt.uri: must be a string or an array of 1 to 16 strings");
	expect_error("{\"mqtt\":{\"uri\":[\"tcp://a:1\",5]}}", "x.json: mqtt.uri: must hold strings");
	expect_error("{\"mqtt\":{\"uri\":[\"tcp://a:1\",\"http://b\"]}}",
		     "x.json: mqtt.uri: \"http://b\" must start with tcp://, ssl://, mqtt://, "
		     "mqtts://, ws:// or wss://");
	expect_error("{\"mqtt\":{\"uri\":[\"tcp://a:1\",\"ssl://b:8883\"]}}",
		     "x.json: mqtt.uri: mixes TLS and plain-text URIs");
	expect_error("{\"mqtt\":{\"uri\":\"tcp://\"}}",
		     "x.json: mqtt.uri: \"tcp://\" must start with tcp://, ssl://, mqtt://, "
		     "mqtts://, ws:// or wss://");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_set),
		cmocka_unit_test(test_logs_section),
		cmocka_unit_test(test_metrics_listen),
		cmocka_unit_test(test_null_resets_optional_strings),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_mqtt_uri_list),
		cmocka_unit_test(test_long_string_refused),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_cross_checks),
		cmocka_unit_test(test_required_strings_not_null),
		cmocka_unit_test(test_send_queue_soft_bytes_alias),
		cmocka_unit_test(test_duplicate_origins_key),
		cmocka_unit_test(test_open_mode_needs_loopback),
		cmocka_unit_test(test_auth_rules),
		cmocka_unit_test(test_connection_limits),
		cmocka_unit_test(test_token_limits),
		cmocka_unit_test(test_client_id_expansion),
		cmocka_unit_test(test_example_config),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_read_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
