/* SPDX-License-Identifier: MIT
 *
 * test_config_reload.c - unit tests for what SIGHUP does with a config
 * (config_reload.c: which keys move into the running config, which are
 * reported as needing a restart, a section that comes or goes) and for the
 * help given to the person writing one (config_lint.c: "did you mean" for
 * an unknown key, warnings for keys that do nothing where they are), and
 * the keys that came with them: "_comment" keys, log_format,
 * listen.trusted_proxies.
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

#include "config.h"

#define AUTH "\"auth\":{\"jwt_secret\":\"0123456789abcdef\"}"

static struct sb_config *parse_ok(const char *text)
{
	struct sb_config *cfg = NULL;
	char err[512] = "";

	if (sb_config_parse(&cfg, text, "x.json", err, sizeof(err)) != SB_OK)
		fail_msg("config %s refused: %s", text, err);
	return cfg;
}

static void expect_error(const char *text, const char *want)
{
	struct sb_config *cfg = NULL;
	char err[512] = "";

	if (sb_config_parse(&cfg, text, "x.json", err, sizeof(err)) == SB_OK)
		fail_msg("config %s accepted", text);
	assert_null(cfg);
	if (strcmp(err, want) != 0)
		fail_msg("config %s:\n  error [%s]\n  want  [%s]", text, err, want);
}

/* ---- did you mean ------------------------------------------------------------ */

static void test_did_you_mean(void **state)
{
	(void)state;
	expect_error("{\"listen\":{\"prot\":1}}",
		     "x.json: listen.prot: unknown key (did you mean listen.port?)");
	expect_error("{\"listne\":{}}", "x.json: listne: unknown key (did you mean listen?)");
	expect_error("{\"limits\":{\"max_conections\":1}}",
		     "x.json: limits.max_conections: unknown key (did you mean limits.max_connections?)");
	expect_error("{\"jwt_secret\":\"x\"}",
		     "x.json: jwt_secret: unknown key (did you mean auth.jwt_secret?)");
	expect_error("{\"log_formt\":\"json\"}",
		     "x.json: log_formt: unknown key (did you mean log_format?)");
	expect_error("{\"auth\":{\"jwt_secert_file\":\"f\"}}",
		     "x.json: auth.jwt_secert_file: unknown key (did you mean auth.jwt_secret_file?)");
	/* far from every key: no guess */
	expect_error("{\"listen\":{\"banana\":1}}", "x.json: listen.banana: unknown key");
	expect_error("{\"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\":1}",
		     "x.json: zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz: "
		     "unknown key");
}

/* ---- keys of this change --------------------------------------------------------- */

static void test_comment_keys(void **state)
{
	struct sb_config *c;
	(void)state;

	c = parse_ok("{\"_comment\":\"a starting config\",\"listen\":{\"_comment\":\"x\",\"port\":9},"
		     "\"_\":[1,2],\"limits\":{\"_why\":{\"nested\":true}}}");
	assert_int_equal(c->listen_port, 9);
	sb_config_destroy(c);
	/* only a leading '_' makes a comment */
	expect_error("{\"comment_\":1}", "x.json: comment_: unknown key");
}

static void test_log_format(void **state)
{
	struct sb_config *c = parse_ok("{}");
	(void)state;

	assert_string_equal(c->log_format, "text");
	sb_config_destroy(c);
	c = parse_ok("{\"log_format\":\"json\"}");
	assert_string_equal(c->log_format, "json");
	sb_config_destroy(c);
	expect_error("{\"log_format\":\"xml\"}", "x.json: log_format: must be text or json");
	expect_error("{\"log_format\":null}", "x.json: log_format: must be text or json");
}

static void test_trusted_proxies(void **state)
{
	struct sb_config *c = parse_ok("{}");
	(void)state;

	assert_int_equal(c->n_trusted_proxies, 0);
	sb_config_destroy(c);
	c = parse_ok("{\"listen\":{\"trusted_proxies\":[\"127.0.0.1\",\"10.0.0.0/8\",\"::1\"]}}");
	assert_int_equal(c->n_trusted_proxies, 3);
	assert_string_equal(c->trusted_proxies[1], "10.0.0.0/8");
	/* the other list keeps its own default */
	assert_int_equal(c->n_allowed_origins, 1);
	sb_config_destroy(c);
	expect_error("{\"listen\":{\"trusted_proxies\":\"127.0.0.1\"}}",
		     "x.json: listen.trusted_proxies: must be an array of at most 64 strings");
}

/* ---- SIGHUP --------------------------------------------------------------------- */

struct seen {
	char keys[2048];
	size_t n;
};

static void record(void *arg, const char *key, int reloadable)
{
	struct seen *s = arg;
	size_t len = strlen(s->keys);

	snprintf(s->keys + len, sizeof(s->keys) - len, "%s%s%s", len ? " " : "", key,
		 reloadable ? "" : "!");
	s->n++;
}

/* Reloads `after` over `before`; checks the keys reported ("key!" for a
 * restart) and the restart count.  Returns the running config. */
static struct sb_config *reload(const char *before, const char *after, int apply,
				const char *want, size_t want_restart)
{
	struct sb_config *live = parse_ok(before), *next = parse_ok(after);
	struct seen s = { "", 0 };
	size_t restart = sb_config_reload(live, next, apply, record, &s);

	if (strcmp(s.keys, want) != 0)
		fail_msg("reload %s -> %s:\n  reported [%s]\n  want     [%s]", before, after, s.keys,
			 want);
	assert_int_equal(restart, want_restart);
	sb_config_destroy(next);
	return live;
}

static void test_reload_nothing_changed(void **state)
{
	(void)state;
	sb_config_destroy(reload("{" AUTH "}", "{" AUTH ",\"_comment\":\"only this\"}", 1, "", 0));
	/* one key under two names (an alias) is one key */
	sb_config_destroy(reload("{\"limits\":{\"send_queue_bytes\":4096}}",
				 "{\"limits\":{\"send_queue_soft_bytes\":4096}}", 1, "", 0));
}

static void test_reload_moves_live_keys_only(void **state)
{
	struct sb_config *c;
	(void)state;

	c = reload("{" AUTH ",\"listen\":{\"port\":1},\"limits\":{\"max_connections\":5}}",
		   "{\"auth\":{\"jwt_secret_file\":\"/s\",\"issuer\":\"i\"},\"listen\":{\"port\":2,"
		   "\"allowed_origins\":[\"https://a\"]},\"limits\":{\"max_connections\":6,"
		   "\"heartbeat_s\":20},\"log_level\":\"debug\",\"log_format\":\"json\"}", 1,
		   "listen.port! listen.allowed_origins auth.jwt_secret auth.jwt_secret_file "
		   "auth.issuer limits.max_connections limits.heartbeat_s! log_level log_format", 2);
	/* moved */
	assert_null(c->jwt_secret);
	assert_string_equal(c->jwt_secret_file, "/s");
	assert_string_equal(c->issuer, "i");
	assert_int_equal(c->max_connections, 6);
	assert_string_equal(c->log_level, "debug");
	assert_string_equal(c->log_format, "json");
	assert_int_equal(c->n_allowed_origins, 1);
	assert_string_equal(c->allowed_origins[0], "https://a");
	/* running as before */
	assert_int_equal(c->listen_port, 1);
	assert_int_equal(c->heartbeat_s, 25);
	sb_config_destroy(c);
}

static void test_reload_dry_run(void **state)
{
	struct sb_config *c;
	(void)state;

	c = reload("{\"limits\":{\"max_connections\":5}}", "{\"limits\":{\"max_connections\":6}}", 0,
		   "limits.max_connections", 0);
	assert_int_equal(c->max_connections, 5);
	sb_config_destroy(c);
}

static void test_reload_section_toggled(void **state)
{
	struct sb_config *c;
	(void)state;

	/* leaving or entering open mode is a restart, and none of the
	 * section's keys move (the running auth stays whole) */
	c = reload("{" AUTH "}", "{}", 1, "auth!", 1);
	assert_int_equal(c->auth_enabled, 1);
	assert_string_equal(c->jwt_secret, "0123456789abcdef");
	sb_config_destroy(c);
	sb_config_destroy(reload("{}", "{" AUTH "}", 1, "auth!", 1));
	sb_config_destroy(reload("{}", "{\"pusher\":{\"app_id\":\"1\",\"key\":\"k\",\"secret\":\"s\"}}",
				 1, "pusher!", 1));
	/* Pusher credentials themselves move */
	c = reload("{\"pusher\":{\"app_id\":\"1\",\"key\":\"k\",\"secret\":\"s\"},"
		   "\"limits\":{\"max_msgs_per_s\":10}}",
		   "{\"pusher\":{\"app_id\":\"1\",\"key\":\"k2\",\"secret\":\"s2\","
		   "\"client_events\":true},\"limits\":{\"max_msgs_per_s\":20}}", 1,
		   "pusher.key pusher.secret pusher.client_events limits.max_msgs_per_s", 0);
	assert_string_equal(c->pusher_key, "k2");
	assert_int_equal(c->pusher_client_events, 1);
	assert_int_equal(c->max_msgs_per_s, 20);
	sb_config_destroy(c);
}

static void test_reload_channels_and_mqtt_need_a_restart(void **state)
{
	struct sb_config *c;
	(void)state;

	c = reload("{\"mqtt\":{\"uri\":\"tcp://a:1\"},\"channels\":[{\"name\":\"a\"}]}",
		   "{\"mqtt\":{\"uri\":\"tcp://b:1\"},\"channels\":[{\"name\":\"b\"}],"
		   "\"schemas_dir\":\"other\",\"validation\":{\"enabled\":false}}", 1,
		   "mqtt.uri! validation.enabled schemas_dir! channels!", 3);
	assert_string_equal(c->mqtt_uri, "tcp://a:1");
	assert_int_equal(c->validate_payloads, 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(c->channels, 0), "name")->valuestring,
			    "a");
	sb_config_destroy(c);
}

/* ---- keys that do nothing ---------------------------------------------------------- */

static void warned(void *arg, const char *key, const char *why)
{
	struct seen *s = arg;
	size_t len = strlen(s->keys);

	snprintf(s->keys + len, sizeof(s->keys) - len, "%s%s", len ? " | " : "", key);
	assert_non_null(strstr(why, "does nothing"));
	s->n++;
}

static void lint(const char *text, const char *want)
{
	struct sb_config *c = parse_ok(text);
	struct seen s = { "", 0 };

	sb_config_lint(c, warned, &s);
	if (strcmp(s.keys, want) != 0)
		fail_msg("lint %s:\n  warned [%s]\n  want   [%s]", text, s.keys, want);
	sb_config_destroy(c);
}

static void test_lint(void **state)
{
	(void)state;
	lint("{}", "");
	lint("{\"channels\":[{\"name\":\"a.{x}\",\"delivery\":{\"mode\":\"immediate\","
	     "\"max_delay_ms\":5}},{\"name\":\"b.{x}\",\"delivery\":{\"max_events\":3}},"
	     "{\"name\":\"c.{x}\",\"delivery\":{\"mode\":\"batch\",\"max_events\":3,"
	     "\"interval_ms\":100,\"history_bytes\":10}},{\"name\":\"d.{x}\",\"delivery\":"
	     "{\"mode\":\"conflate\",\"interval_ms\":100,\"history_lines\":5,\"history_bytes\":9}}]}",
	     "channels[a.{x}].delivery.max_delay_ms | channels[b.{x}].delivery.max_events | "
	     "channels[c.{x}].delivery.interval_ms | channels[c.{x}].delivery.history_bytes");
	lint("{\"auth\":{\"jwt_secret\":\"0123456789abcdef\",\"jwt_public_key_file\":\"k.pem\"}}",
	     "auth.jwt_public_key_file");
	lint("{\"auth\":{\"jwt_alg\":\"RS256\",\"jwt_secret_file\":\"s\",\"jwt_public_key_file\":\"k\"}}",
	     "auth.jwt_secret_file");
	lint("{\"mqtt\":{\"uri\":\"tcp://b:1883\",\"ca_file\":\"ca.crt\"}}", "mqtt.ca_file");
	lint("{\"mqtt\":{\"uri\":\"ssl://b:8883\",\"ca_file\":\"ca.crt\"}}", "");
}

static void test_shipped_config_is_clean(void **state)
{
	struct sb_config *c = NULL;
	struct seen s = { "", 0 };
	char err[512];
	(void)state;

	if (sb_config_load(&c, SB_SOURCE_DIR "/examples/bridge.json", err, sizeof(err)) != SB_OK)
		fail_msg("%s", err);
	sb_config_lint(c, warned, &s);
	assert_string_equal(s.keys, "");
	sb_config_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_comment_keys),
		cmocka_unit_test(test_log_format),
		cmocka_unit_test(test_trusted_proxies),
		cmocka_unit_test(test_reload_nothing_changed),
		cmocka_unit_test(test_reload_moves_live_keys_only),
		cmocka_unit_test(test_reload_dry_run),
		cmocka_unit_test(test_reload_section_toggled),
		cmocka_unit_test(test_reload_channels_and_mqtt_need_a_restart),
		cmocka_unit_test(test_lint),
		cmocka_unit_test(test_shipped_config_is_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
