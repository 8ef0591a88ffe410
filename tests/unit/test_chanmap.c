/* SPDX-License-Identifier: MIT
 *
 * test_chanmap.c - unit tests for chanmap.c: the built-in map
 * equals "channels" of the shipped examples/bridge.json; channel names map
 * to MQTT filters and topics route back to channel names (docs/protocol.md
 * §3); channel parameters are validated before they come near a
 * topic; config errors name the entry and key; schemas/topics.json loads
 * and covers every topic of the default map.
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
#include "topic.h"

#define UUID "0b8f7c1e-1111-2222-3333-444455556666"
#define UUID2 "9f0e1d2c-aaaa-bbbb-cccc-ddddeeeeffff"

static struct sb_chanmap *defmap;

static int group_setup(void **state)
{
	char err[256] = "";
	(void)state;

	if (sb_chanmap_default(&defmap, err, sizeof(err)) != SB_OK) {
		fprintf(stderr, "default map: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sb_chanmap_destroy(defmap);
	return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static cJSON *load_json(const char *path)
{
	char *text;
	cJSON *j;

	assert_int_equal(sb_read_file(path, 1 << 20, 0, &text, NULL), SB_OK);
	j = cJSON_Parse(text);
	free(text);
	assert_non_null(j);
	return j;
}

/* Builds a map from JSON text; returns the error code, map in *out. */
static enum sb_err map_from(const char *json, struct sb_chanmap **out, char *err, size_t errlen)
{
	cJSON *j = cJSON_Parse(json);
	enum sb_err rc;

	if (!j)
		fail_msg("test JSON does not parse: %s", json);
	err[0] = '\0';
	rc = sb_chanmap_from_json(out, j, err, errlen);
	cJSON_Delete(j);
	return rc;
}

/* Expects the map in `json` to be refused with SB_ERR_INVAL and an error
 * containing `want`. */
static void expect_map_error(const char *json, const char *want)
{
	struct sb_chanmap *m = (struct sb_chanmap *)1;
	char err[512];
	enum sb_err rc = map_from(json, &m, err, sizeof(err));

	if (rc != SB_ERR_INVAL)
		fail_msg("map %s: rc %d, want SB_ERR_INVAL", json, rc);
	assert_null(m);
	if (!strstr(err, want))
		fail_msg("map %s: error [%s] does not contain [%s]", json, err, want);
}

static enum sb_err parse(const struct sb_chanmap *m, const char *name, size_t len,
			 struct sb_chan_ref *ref)
{
	char reason[256] = "";
	enum sb_err rc = sb_chanmap_parse(m, name, len, ref, reason, sizeof(reason));

	if (rc != SB_OK && !reason[0])
		fail_msg("parse \"%s\" failed without a reason", name);
	return rc;
}

static enum sb_err parse_s(const char *name, struct sb_chan_ref *ref)
{
	return parse(defmap, name, strlen(name), ref);
}

/* Parses `name`, expects success and exactly the filters given. */
static void expect_filters(const char *name, const char *tmpl_name, const char *const *want,
			   size_t nwant)
{
	struct sb_chan_ref ref;
	char **f;
	size_t n;
	char back[SB_CHAN_MAX_NAME + 1];

	if (parse_s(name, &ref) != SB_OK)
		fail_msg("parse \"%s\" failed", name);
	assert_string_equal(ref.tmpl->name, tmpl_name);
	assert_int_equal(sb_chanmap_filters(&ref, &f, &n), SB_OK);
	if (n != nwant)
		fail_msg("%s: %zu filters, want %zu", name, n, nwant);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i], want[i]) != 0)
			fail_msg("%s: filter %zu is %s, want %s", name, i, f[i], want[i]);
		assert_true(sb_topic_filter_valid(f[i]));
	}
	sb_chanmap_free_filters(f, n);
	/* and the name comes back the same */
	sb_chanmap_name(&ref, back, sizeof(back));
	assert_string_equal(back, name);
}

#define MAXROUTES 8
struct routes {
	size_t n;
	char names[MAXROUTES][SB_CHAN_MAX_NAME + 1];
	const struct sb_chan_tmpl *tmpls[MAXROUTES];
};

static void collect(const char *chan, const struct sb_chan_tmpl *t, void *user)
{
	struct routes *r = user;

	if (r->n == MAXROUTES)
		fail_msg("too many routes");
	snprintf(r->names[r->n], sizeof(r->names[0]), "%s", chan);
	r->tmpls[r->n++] = t;
}

/* Routes topic through map m; expects exactly the channels in want (any
 * order), each once. */
static void expect_route_m(const struct sb_chanmap *m, const char *topic,
			   const char *const *want, size_t nwant)
{
	struct routes r = { 0 };

	sb_chanmap_route(m, topic, collect, &r);
	if (r.n != nwant) {
		fail_msg("route %s: %zu channels (first: %s), want %zu", topic, r.n,
			 r.n ? r.names[0] : "-", nwant);
	}
	for (size_t i = 0; i < nwant; i++) {
		size_t hits = 0;
		for (size_t j = 0; j < r.n; j++)
			hits += strcmp(r.names[j], want[i]) == 0;
		if (hits != 1)
			fail_msg("route %s: channel %s seen %zu times", topic, want[i], hits);
	}
}

#define ROUTE(topic, ...) do { \
	static const char *const w_[] = { __VA_ARGS__ }; \
	expect_route_m(defmap, topic, w_, sizeof(w_) / sizeof(w_[0])); \
} while (0)
#define NO_ROUTE(topic) expect_route_m(defmap, topic, NULL, 0)

/* ---- the default map is the shipped one -------------------------------------- */

static void compare_tmpl(const struct sb_chan_tmpl *a, const struct sb_chan_tmpl *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->nsegs, b->nsegs);
	assert_int_equal(a->nparams, b->nparams);
	for (int i = 0; i < a->nparams; i++) {
		assert_string_equal(a->param_names[i], b->param_names[i]);
		assert_int_equal(a->param_types[i], b->param_types[i]);
	}
	assert_int_equal(a->ntopics, b->ntopics);
	for (size_t i = 0; i < a->ntopics; i++)
		assert_string_equal(a->topics[i], b->topics[i]);
	assert_int_equal(a->acl, b->acl);
	assert_int_equal(a->acl_param, b->acl_param);
	assert_int_equal(a->delivery.mode, b->delivery.mode);
	assert_int_equal(a->delivery.max_events, b->delivery.max_events);
	assert_int_equal(a->delivery.max_delay_ms, b->delivery.max_delay_ms);
	assert_int_equal(a->delivery.interval_ms, b->delivery.interval_ms);
	assert_int_equal(a->delivery.history_lines, b->delivery.history_lines);
	assert_int_equal(a->delivery.history_bytes, b->delivery.history_bytes);
}

static void test_default_equals_example(void **state)
{
	cJSON *cfg = load_json(SB_SOURCE_DIR "/examples/bridge.json");
	struct sb_chanmap *ex = NULL;
	char err[256] = "";
	(void)state;

	if (sb_chanmap_from_json(&ex, cJSON_GetObjectItemCaseSensitive(cfg, "channels"), err,
				 sizeof(err)) != SB_OK)
		fail_msg("examples/bridge.json channels: %s", err);
	assert_int_equal(sb_chanmap_count(ex), sb_chanmap_count(defmap));
	for (size_t i = 0; i < sb_chanmap_count(ex); i++) {
		compare_tmpl(sb_chanmap_at(ex, i), sb_chanmap_at(defmap, i));
		assert_int_equal(sb_chanmap_at(defmap, i)->index, i);
	}
	assert_null(sb_chanmap_at(defmap, sb_chanmap_count(defmap)));
	sb_chanmap_destroy(ex);
	cJSON_Delete(cfg);
}

static void test_default_matches_design(void **state)
{
	/* docs/protocol.md §3, row by row */
	static const struct {
		const char *name;
		enum sb_acl_rule acl;
		enum sb_delivery_mode mode;
	} rows[] = {
		{ "team.{team}", SB_ACL_TEAM, SB_DELIVER_IMMEDIATE },
		{ "team.{team}.stats", SB_ACL_TEAM, SB_DELIVER_CONFLATE },
		{ "deploy.{deploy:uuid}.logs", SB_ACL_DEPLOY, SB_DELIVER_BATCH },
		{ "deploy.{deploy:uuid}", SB_ACL_DEPLOY, SB_DELIVER_IMMEDIATE },
		{ "app.{app:uuid}.logs", SB_ACL_APP, SB_DELIVER_BATCH },
		{ "db.{db:uuid}.logs", SB_ACL_DB, SB_DELIVER_BATCH },
		{ "service.{service:uuid}.logs", SB_ACL_SERVICE, SB_DELIVER_BATCH },
		{ "user.{user}", SB_ACL_USER, SB_DELIVER_IMMEDIATE },
		{ "public.{page}", SB_ACL_PUBLIC, SB_DELIVER_IMMEDIATE },
	};
	const struct sb_chan_tmpl *t;
	(void)state;

	assert_int_equal(sb_chanmap_count(defmap), sizeof(rows) / sizeof(rows[0]));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		t = sb_chanmap_at(defmap, i);
		assert_string_equal(t->name, rows[i].name);
		assert_int_equal(t->acl, rows[i].acl);
		assert_int_equal(t->delivery.mode, rows[i].mode);
	}
	t = sb_chanmap_at(defmap, 1);
	assert_int_equal(t->delivery.interval_ms, 250);
	t = sb_chanmap_at(defmap, 2);
	assert_int_equal(t->delivery.max_events, 10);
	assert_int_equal(t->delivery.max_delay_ms, 100);
	assert_int_equal(t->delivery.history_lines, 1000);
	assert_int_equal(t->param_types[0], SB_PARAM_UUID);
	/* runtime logs: batched and resumable like a deploy's, each authorized
	 * by its resource's owner */
	for (size_t i = 4; i < 7; i++) {
		t = sb_chanmap_at(defmap, i);
		assert_int_equal(t->delivery.max_events, 10);
		assert_int_equal(t->delivery.max_delay_ms, 100);
		assert_int_equal(t->delivery.history_lines, 1000);
		assert_int_equal(t->delivery.history_bytes, 1048576);
		assert_int_equal(t->param_types[0], SB_PARAM_UUID);
		assert_int_equal(t->acl_param, 0);
		assert_string_equal(sb_acl_owned_kind(t->acl), t->param_names[0]);
	}
	assert_int_equal(sb_chanmap_at(defmap, 8)->acl_param, -1);
	assert_string_equal(sb_acl_owned_kind(SB_ACL_DEPLOY), "deploy");
	assert_null(sb_acl_owned_kind(SB_ACL_TEAM));
	assert_null(sb_acl_owned_kind(SB_ACL_USER));
	assert_null(sb_acl_owned_kind(SB_ACL_PUBLIC));
	assert_null(sb_acl_owned_kind(SB_ACL_CLAIMS));
}

/* ---- channel -> filters ------------------------------------------------------- */

static void test_filters_of_channels(void **state)
{
	static const char *const team[] = {
		"team/42/app/+/status", "team/42/db/+/status", "team/42/service/+/status",
		"team/42/server/+/reachability", "team/42/deploy/+/status",
		"team/42/incident/+", "team/42/maintenance/+",
	};
	static const char *const stats[] = { "team/42/app/+/stats" };
	static const char *const logs[] = { "deploy/" UUID "/logs" };
	static const char *const deploy[] = { "team/+/deploy/" UUID "/status" };
	static const char *const user[] = { "user/u-1/notify" };
	static const char *const pub[] = { "public/main_page/status" };
	(void)state;

	expect_filters("team.42", "team.{team}", team, 7);
	expect_filters("team.42.stats", "team.{team}.stats", stats, 1);
	expect_filters("deploy." UUID ".logs", "deploy.{deploy:uuid}.logs", logs, 1);
	expect_filters("deploy." UUID, "deploy.{deploy:uuid}", deploy, 1);
	expect_filters("user.u-1", "user.{user}", user, 1);
	expect_filters("public.main_page", "public.{page}", pub, 1);
}

static void test_chan_param(void **state)
{
	struct sb_chan_ref ref;
	(void)state;

	assert_int_equal(parse_s("deploy." UUID ".logs", &ref), SB_OK);
	assert_string_equal(sb_chan_param(&ref, "deploy"), UUID);
	assert_null(sb_chan_param(&ref, "team"));
	assert_int_equal(parse_s("team.A_b-9", &ref), SB_OK);
	assert_string_equal(sb_chan_param(&ref, "team"), "A_b-9");
	assert_string_equal(ref.params[ref.tmpl->acl_param], "A_b-9");
	/* the length given is the name: trailing bytes are not part of it */
	assert_int_equal(parse(defmap, "team.42.stats", 7, &ref), SB_OK);
	assert_string_equal(ref.tmpl->name, "team.{team}");
	assert_string_equal(sb_chan_param(&ref, "team"), "42");
}

/* ---- topic -> channels ---------------------------------------------------------- */

static void test_route_default(void **state)
{
	(void)state;
	ROUTE("team/42/app/" UUID "/status", "team.42");
	ROUTE("team/42/db/" UUID "/status", "team.42");
	ROUTE("team/42/service/" UUID "/status", "team.42");
	ROUTE("team/42/server/" UUID "/reachability", "team.42");
	ROUTE("team/42/incident/7", "team.42");
	ROUTE("team/42/maintenance/m1", "team.42");
	ROUTE("team/42/app/" UUID "/stats", "team.42.stats");
	ROUTE("deploy/" UUID "/logs", "deploy." UUID ".logs");
	ROUTE("team/42/deploy/" UUID "/status", "team.42", "deploy." UUID);
	/* runtime logs: any team's prefix routes, the owner check is the hub's */
	ROUTE("team/42/app/" UUID "/logs", "app." UUID ".logs");
	ROUTE("team/7/db/" UUID "/logs", "db." UUID ".logs");
	ROUTE("team/42/service/" UUID "/logs", "service." UUID ".logs");
	ROUTE("user/u1/notify", "user.u1");
	ROUTE("public/status-page/status", "public.status-page");
	/* not a channel's topic, or a parameter that could not be a channel */
	NO_ROUTE("team/42/app/" UUID "/other");
	NO_ROUTE("team/42/app/" UUID "/status/extra");
	NO_ROUTE("team/42");
	NO_ROUTE("team//app/" UUID "/status");            /* empty team */
	NO_ROUTE("team/4.2/app/" UUID "/status");         /* '.' would split the name */
	NO_ROUTE("deploy/not-a-uuid/logs");
	NO_ROUTE("deploy/" UUID "/logs/more");
	NO_ROUTE("team/42/app/not-a-uuid/logs");
	NO_ROUTE("team/42/app/" UUID "/logs/more");
	NO_ROUTE("team/42/server/" UUID "/logs");
	NO_ROUTE("user/u1/notify/x");
	NO_ROUTE("$SYS/broker/uptime");
	NO_ROUTE("$statusbus/rejected/team/42/app/" UUID "/status");
	NO_ROUTE("");
}

static void test_route_deploy_for_any_team(void **state)
{
	(void)state;
	ROUTE("team/7/deploy/" UUID2 "/status", "team.7", "deploy." UUID2);
	/* an uppercase uuid is a uuid too; the channel carries it as published */
	ROUTE("team/7/deploy/9F0E1D2C-AAAA-BBBB-CCCC-DDDDEEEEFFFF/status", "team.7",
	      "deploy.9F0E1D2C-AAAA-BBBB-CCCC-DDDDEEEEFFFF");
}

static void test_route_custom_map(void **state)
{
	struct sb_chanmap *m = NULL;
	char err[256];
	(void)state;

	/* one channel with two overlapping topic templates is reported once;
	 * a '#' template matches its parent level */
	assert_int_equal(map_from("[{\"name\":\"x.{a}\",\"topics\":[\"x/{a}/#\",\"x/{a}/+\"]},"
				  "{\"name\":\"y.{a}.{b:uuid}\",\"topics\":[\"y/{b}/{a}\"]}]",
				  &m, err, sizeof(err)), SB_OK);
	{
		static const char *const w1[] = { "x.1" };
		static const char *const w2[] = { "y.k." UUID };
		expect_route_m(m, "x/1/y", w1, 1);
		expect_route_m(m, "x/1", w1, 1);
		expect_route_m(m, "x/1/y/z", w1, 1);
		expect_route_m(m, "y/" UUID "/k", w2, 1);
		expect_route_m(m, "y/k/" UUID, NULL, 0);     /* params in the wrong places */
		expect_route_m(m, "x", NULL, 0);
	}
	sb_chanmap_destroy(m);
	/* two topic templates that bind other values: a/x/y is in both c.x
	 * and c.y (the first match alone lost c.y's message; tests/fuzz) */
	assert_int_equal(map_from("[{\"name\":\"c.{t}\",\"topics\":[\"a/{t}/+\",\"a/+/{t}\"]}]",
				  &m, err, sizeof(err)), SB_OK);
	{
		static const char *const w[] = { "c.x", "c.y" };
		static const char *const w1[] = { "c.x" };
		expect_route_m(m, "a/x/y", w, 2);
		expect_route_m(m, "a/x/x", w1, 1);
	}
	sb_chanmap_destroy(m);
	/* a name past SB_CHAN_MAX_NAME is no channel: cut short it was
	 * another channel's, a.P.Q.R.<part of S> (tests/fuzz) */
	assert_int_equal(map_from("[{\"name\":\"a.{p}.{q}.{r}.{s}\",\"topics\":[\"t/{p}/{q}/{r}/{s}\"]}]",
				  &m, err, sizeof(err)), SB_OK);
	{
		char topic[400], p64[65];
		static const char *const w[] = { "a.1.2.3.4" };

		memset(p64, 'p', 64);
		p64[64] = '\0';
		snprintf(topic, sizeof(topic), "t/%s/%s/%s/%s", p64, p64, p64, p64);
		expect_route_m(m, topic, NULL, 0);
		expect_route_m(m, "t/1/2/3/4", w, 1);
	}
	sb_chanmap_destroy(m);
}

/* ---- parameter validation ----------------------------------------------------- */

static void test_parse_rejects_malformed(void **state)
{
#define B(lit) { lit, sizeof(lit) - 1 }
	static const struct { const char *name; size_t len; } bad[] = {
		B("team.+"), B("team.#"), B("team.4+2"), B("team.4#2"),
		B("team.a/b"), B("team/42"), B("team.4\0" "2"), B("team.42\0"),
		B("team.\x01"), B("team.4\n"), B("team.\x7f"),
		B(""), B("."), B("team..42"), B(".team.42"), B("team.42."),
		B("team."), B(".."),
		B("team.a b"), B("team.caf\xc3\xa9"), B("team.4,2"),
		/* a uuid parameter must be a uuid */
		B("deploy.123.logs"), B("deploy.123"),
		B("deploy.0b8f7c1e-1111-2222-3333-44445555666.logs"),
		B("deploy." UUID "0.logs"),
		B("deploy.0b8f7c1e_1111_2222_3333_444455556666"),
	};
	struct sb_chan_ref ref;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum sb_err rc = parse(defmap, bad[i].name, bad[i].len, &ref);
		if (rc != SB_ERR_INVAL)
			fail_msg("parse #%zu \"%s\": rc %d, want SB_ERR_INVAL", i, bad[i].name, rc);
	}
#undef B
}

static void test_parse_id_length(void **state)
{
	char name[128], id[70];
	struct sb_chan_ref ref;
	(void)state;

	memset(id, 'a', 64);
	id[64] = '\0';
	snprintf(name, sizeof(name), "team.%s", id);
	assert_int_equal(parse_s(name, &ref), SB_OK);
	assert_string_equal(sb_chan_param(&ref, "team"), id);
	snprintf(name, sizeof(name), "team.%s.stats", id);
	assert_int_equal(parse_s(name, &ref), SB_OK);
	id[64] = 'a';
	id[65] = '\0';
	snprintf(name, sizeof(name), "team.%s", id);
	assert_int_equal(parse_s(name, &ref), SB_ERR_INVAL);
	snprintf(name, sizeof(name), "user.%s", id);
	assert_int_equal(parse_s(name, &ref), SB_ERR_INVAL);
}

static void test_parse_name_length(void **state)
{
	char name[300];
	struct sb_chan_ref ref;
	(void)state;

	/* 257 bytes: refused before any template is tried */
	memset(name, 'a', 257);
	name[257] = '\0';
	assert_int_equal(parse(defmap, name, 257, &ref), SB_ERR_INVAL);
	/* 256 bytes of well-formed segments: not a channel, but not malformed */
	for (int i = 0; i < 256; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[255] = 'a';
	name[256] = '\0';
	assert_int_equal(parse(defmap, name, 256, &ref), SB_ERR_NOTFOUND);
}

static void test_parse_unknown_is_notfound(void **state)
{
	static const char *const unknown[] = {
		"team", "foo.bar", "team.42.logs", "team.42.stats.x", "TEAM.42", "Team.42",
		"deploy", "deploy." UUID ".stats", "users.u1", "public", "a.b.c.d.e",
	};
	struct sb_chan_ref ref;
	(void)state;

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		enum sb_err rc = parse_s(unknown[i], &ref);
		if (rc != SB_ERR_NOTFOUND)
			fail_msg("parse \"%s\": rc %d, want SB_ERR_NOTFOUND", unknown[i], rc);
	}
}

/* ---- config errors -------------------------------------------------------------- */

static void test_config_errors(void **state)
{
	(void)state;
	expect_map_error("{}", "non-empty array");
	expect_map_error("[]", "non-empty array");
	expect_map_error("[1]", "channels[0] must be an object");
	expect_map_error("[{\"topics\":[\"a\"]}]", "channels[0].name must be a string");
	expect_map_error("[{\"name\":7,\"topics\":[\"a\"]}]", "name must be a string");
	expect_map_error("[{\"name\":\"a\",\"topics\":[\"a\"],\"acls\":\"public\"}]",
			 "unknown key \"acls\"");
	expect_map_error("[{\"name\":\"a\",\"topics\":[\"a\"],\"presence\":1}]",
			 "channels[a].presence must be true or false");
	/* bad name templates */
	expect_map_error("[{\"name\":\"\",\"topics\":[\"a\"]}]", "empty channel name");
	expect_map_error("[{\"name\":\"a..b\",\"topics\":[\"a\"]}]", "empty segment");
	expect_map_error("[{\"name\":\".a\",\"topics\":[\"a\"]}]", "empty segment");
	expect_map_error("[{\"name\":\"a.\",\"topics\":[\"a\"]}]", "ends with '.'");
	expect_map_error("[{\"name\":\"a.b c\",\"topics\":[\"a\"]}]", "bad literal segment");
	expect_map_error("[{\"name\":\"a.b/c\",\"topics\":[\"a\"]}]", "bad literal segment");
	expect_map_error("[{\"name\":\"a.{x\",\"topics\":[\"a\"]}]", "bad literal segment");
	expect_map_error("[{\"name\":\"a.{}\",\"topics\":[\"a\"]}]", "bad or repeated parameter");
	expect_map_error("[{\"name\":\"a.{x.y}\",\"topics\":[\"a\"]}]", "a.{x.y}");
	expect_map_error("[{\"name\":\"a.{x:int}\",\"topics\":[\"a/{x}\"]}]", "unknown parameter type");
	expect_map_error("[{\"name\":\"a.{x}.{x}\",\"topics\":[\"a/{x}\"]}]", "bad or repeated parameter");
	expect_map_error("[{\"name\":\"{a}.{b}.{c}.{d}.{e}\",\"topics\":[\"{a}/{b}/{c}/{d}/{e}\"]}]",
			 "bad or repeated parameter");
	/* topics */
	expect_map_error("[{\"name\":\"a.{x}\"}]", "topics must be a non-empty array");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[]}]", "topics must be a non-empty array");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[1]}]", "topics must hold strings");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{y}\"]}]",
			 "uses a parameter the channel \"a.{x}\" does not have");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/b\"]}]",
			 "does not use parameter {x}");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\",\"a/b\"]}]",
			 "does not use parameter {x}");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/p{x}\"]}]", "bad parameter in topic");
	/* routing "a/1/2" would name a.2, whose filter a/2/2 does not take it
	 * (tests/fuzz, chanmap) */
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}/{x}\"]}]",
			 "uses parameter {x} twice");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/#/{x}\"]}]", "not a valid MQTT filter");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a+/{x}\"]}]", "not a valid MQTT filter");
	/* acl */
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"acl\":\"root\"}]",
			 "acl must be one of");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"acl\":1}]", "acl must be one of");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"acl\":\"team\"}]",
			 "needs a parameter {team}");
	/* delivery */
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"delivery\":{\"mode\":\"batch\","
			 "\"max_event\":3}}]", "channels[a.{x}].delivery: unknown key \"max_event\"");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"delivery\":\"batch\"}]",
			 "delivery must be an object");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"delivery\":{\"mode\":\"later\"}}]",
			 "mode must be immediate, batch or conflate");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"delivery\":{\"mode\":1}}]",
			 "mode must be a string");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"delivery\":{\"max_events\":0}}]",
			 "max_events must be an integer in [1, 10000]");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"delivery\":{\"max_events\":2.5}}]",
			 "max_events must be an integer");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"delivery\":{\"max_events\":\"10\"}}]",
			 "max_events must be an integer");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"delivery\":{\"max_events\":1e300}}]",
			 "max_events must be an integer");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"delivery\":{\"interval_ms\":5}}]",
			 "interval_ms must be an integer in [10, 60000]");
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"],\"delivery\":{\"history_lines\":-1}}]",
			 "history_lines");
	/* an error in a later entry frees the earlier ones (ASan checks) */
	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"]},{\"name\":\"b\",\"topics\":[]}]",
			 "channels[b].topics");
}

static void test_config_ambiguous(void **state)
{
	struct sb_chanmap *m = NULL;
	char err[256];
	(void)state;

	expect_map_error("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"]},"
			 "{\"name\":\"{y}.b\",\"topics\":[\"b/{y}\"]}]",
			 "channels \"a.{x}\" and \"{y}.b\" can match the same names");
	expect_map_error("[{\"name\":\"team.{team}\",\"topics\":[\"t/{team}\"]},"
			 "{\"name\":\"team.{t2}\",\"topics\":[\"u/{t2}\"]}]", "can match the same names");
	expect_map_error("[{\"name\":\"a.b\",\"topics\":[\"a\"]},"
			 "{\"name\":\"a.b\",\"topics\":[\"b\"]}]", "can match the same names");
	/* different literals or different lengths are fine */
	assert_int_equal(map_from("[{\"name\":\"a.{x}\",\"topics\":[\"a/{x}\"]},"
				  "{\"name\":\"b.{x}\",\"topics\":[\"b/{x}\"]},"
				  "{\"name\":\"a.{x}.c\",\"topics\":[\"c/{x}\"]}]", &m, err, sizeof(err)),
			 SB_OK);
	assert_int_equal(sb_chanmap_count(m), 3);
	sb_chanmap_destroy(m);
}

static void test_config_defaults(void **state)
{
	struct sb_chanmap *m = NULL;
	const struct sb_chan_tmpl *t;
	char err[256];
	(void)state;

	assert_int_equal(map_from("[{\"name\":\"ops.{x:id}\",\"topics\":[\"ops/{x}/#\"]}]", &m, err,
				  sizeof(err)), SB_OK);
	t = sb_chanmap_at(m, 0);
	assert_int_equal(t->acl, SB_ACL_CLAIMS);          /* no acl: the claims decide */
	assert_int_equal(t->acl_param, -1);
	assert_int_equal(t->param_types[0], SB_PARAM_ID);
	assert_int_equal(t->delivery.mode, SB_DELIVER_IMMEDIATE);
	assert_int_equal(t->delivery.max_events, 10);
	assert_int_equal(t->delivery.max_delay_ms, 100);
	assert_int_equal(t->delivery.interval_ms, 250);
	assert_int_equal(t->delivery.history_lines, 0);
	assert_int_equal(t->delivery.history_bytes, 1 << 20);
	sb_chanmap_destroy(m);
}

/* ---- topic kinds ------------------------------------------------------------------ */

static void test_kinds_load(void **state)
{
	struct sb_kinds *k = NULL;
	char err[256] = "";
	static const struct { const char *topic, *event, *schema; int retained; } rows[] = {
		{ "team/42/app/" UUID "/status", "app.status", "app-status.json", 1 },
		{ "team/42/db/" UUID "/status", "db.status", "db-status.json", 1 },
		{ "team/42/service/" UUID "/status", "service.status", "service-status.json", 1 },
		{ "team/42/server/" UUID "/reachability", "server.reachability",
		  "server-reachability.json", 1 },
		{ "team/42/deploy/" UUID "/status", "deploy.status", "deploy-status.json", 1 },
		{ "team/42/app/" UUID "/stats", "app.stats", "stats.json", 0 },
		{ "team/42/incident/i1", "incident", "incident.json", 1 },
		{ "team/42/maintenance/m1", "maintenance", "maintenance.json", 1 },
		{ "deploy/" UUID "/logs", "deploy.log", "log-line.json", 0 },
		{ "team/42/app/" UUID "/logs", "app.log", "log-line.json", 0 },
		{ "team/42/db/" UUID "/logs", "db.log", "log-line.json", 0 },
		{ "team/42/service/" UUID "/logs", "service.log", "log-line.json", 0 },
		{ "user/u1/notify", "notify", "notification.json", 0 },
		{ "public/p/status", "public.status", "public-status.json", 1 },
		{ "pusher/team.42/order.shipped", "pusher", "pusher-event.json", 0 },
	};
	(void)state;

	if (sb_kinds_load(&k, SB_SOURCE_DIR "/schemas/topics.json", err, sizeof(err)) != SB_OK)
		fail_msg("topics.json: %s", err);
	assert_int_equal(sb_kinds_count(k), sizeof(rows) / sizeof(rows[0]));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct sb_kind *kd = sb_kinds_lookup(k, rows[i].topic);
		if (!kd)
			fail_msg("no kind for %s", rows[i].topic);
		assert_string_equal(kd->event, rows[i].event);
		assert_string_equal(kd->schema, rows[i].schema);
		assert_int_equal(kd->retained, rows[i].retained);
		/* the Pusher API's relay names its events by the topic */
		assert_int_equal(kd->relay, !strncmp(rows[i].topic, "pusher/", 7));
	}
	assert_null(sb_kinds_lookup(k, "team/42/other"));
	assert_null(sb_kinds_lookup(k, "$SYS/broker"));
	assert_non_null(sb_kinds_at(k, 0));
	assert_null(sb_kinds_at(k, sb_kinds_count(k)));
	sb_kinds_destroy(k);
	sb_kinds_destroy(NULL);
}

/* Every topic a default channel subscribes to has a kind, and the team
 * channel carries only retained kinds (its snapshot is its recovery). */
static void test_kinds_cover_default_map(void **state)
{
	struct sb_kinds *k = NULL;
	char err[256] = "";
	(void)state;

	assert_int_equal(sb_kinds_load(&k, SB_SOURCE_DIR "/schemas/topics.json", err, sizeof(err)),
			 SB_OK);
	for (size_t i = 0; i < sb_chanmap_count(defmap); i++) {
		const struct sb_chan_tmpl *t = sb_chanmap_at(defmap, i);
		for (size_t j = 0; j < t->ntopics; j++) {
			/* instantiate: parameters and '+' become sample levels */
			char topic[256], *o = topic;
			const char *p = t->topics[j];
			const struct sb_kind *kd;
			while (*p) {
				if (*p == '{') {
					const char *e = strchr(p, '}');
					int uuid = strncmp(p, "{deploy}", 8) == 0;
					o += sprintf(o, "%s", uuid ? UUID : "s1");
					p = e + 1;
				} else if (*p == '+') {
					o += sprintf(o, "%s", UUID);
					p++;
				} else {
					*o++ = *p++;
				}
			}
			*o = '\0';
			kd = sb_kinds_lookup(k, topic);
			if (!kd)
				fail_msg("channel %s topic %s has no kind in topics.json", t->name, topic);
			if (t->delivery.mode == SB_DELIVER_IMMEDIATE && strcmp(t->name, "user.{user}") &&
			    !kd->retained)
				fail_msg("%s: %s is not retained", t->name, topic);
		}
	}
	sb_kinds_destroy(k);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_kinds_errors(void **state)
{
	struct sb_kinds *k = (struct sb_kinds *)1;
	char err[512];
	const char *path = SB_BINARY_DIR "/test_chanmap_kinds.json";
	(void)state;

	assert_int_equal(sb_kinds_load(&k, SB_BINARY_DIR "/no/such/topics.json", err, sizeof(err)),
			 SB_ERR_IO);
	assert_null(k);
	assert_non_null(strstr(err, "no/such/topics.json"));

	write_file(path, "not json");
	assert_int_equal(sb_kinds_load(&k, path, err, sizeof(err)), SB_ERR_INVAL);
	assert_non_null(strstr(err, path));
	write_file(path, "{\"topics\":{}}");
	assert_int_equal(sb_kinds_load(&k, path, err, sizeof(err)), SB_ERR_INVAL);
	write_file(path, "{\"topics\":[{\"filter\":\"a/#/b\",\"event\":\"x\",\"retained\":true}]}");
	assert_int_equal(sb_kinds_load(&k, path, err, sizeof(err)), SB_ERR_INVAL);
	assert_non_null(strstr(err, "topics[0]"));
	write_file(path, "{\"topics\":[{\"filter\":\"a\",\"event\":\"x\",\"retained\":true},"
		   "{\"filter\":\"b\",\"event\":\"y\"}]}");
	assert_int_equal(sb_kinds_load(&k, path, err, sizeof(err)), SB_ERR_INVAL);
	assert_non_null(strstr(err, "topics[1]"));
	assert_null(k);
	write_file(path, "{\"topics\":[{\"filter\":\"a\",\"event\":\"x\",\"retained\":1}]}");
	assert_int_equal(sb_kinds_load(&k, path, err, sizeof(err)), SB_ERR_INVAL);
	write_file(path, "{\"topics\":[{\"filter\":\"a\",\"event\":\"x\",\"retained\":false,\"schema\":3}]}");
	assert_int_equal(sb_kinds_load(&k, path, err, sizeof(err)), SB_ERR_INVAL);

	/* schema may be null or absent; first match wins */
	write_file(path, "{\"topics\":[{\"filter\":\"a/+\",\"event\":\"first\",\"retained\":false,"
		   "\"schema\":null},{\"filter\":\"a/#\",\"event\":\"second\",\"retained\":true}]}");
	assert_int_equal(sb_kinds_load(&k, path, err, sizeof(err)), SB_OK);
	assert_int_equal(sb_kinds_count(k), 2);
	assert_string_equal(sb_kinds_lookup(k, "a/b")->event, "first");
	assert_null(sb_kinds_lookup(k, "a/b")->schema);
	assert_string_equal(sb_kinds_lookup(k, "a/b/c")->event, "second");
	assert_int_equal(sb_kinds_lookup(k, "a")->retained, 1);
	sb_kinds_destroy(k);
	remove(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_equals_example),
		cmocka_unit_test(test_default_matches_design),
		cmocka_unit_test(test_filters_of_channels),
		cmocka_unit_test(test_chan_param),
		cmocka_unit_test(test_route_default),
		cmocka_unit_test(test_route_deploy_for_any_team),
		cmocka_unit_test(test_route_custom_map),
		cmocka_unit_test(test_parse_rejects_malformed),
		cmocka_unit_test(test_parse_id_length),
		cmocka_unit_test(test_parse_name_length),
		cmocka_unit_test(test_parse_unknown_is_notfound),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_ambiguous),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_kinds_load),
		cmocka_unit_test(test_kinds_cover_default_map),
		cmocka_unit_test(test_kinds_errors),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
