/* SPDX-License-Identifier: MIT
 *
 * test_runtime_logs.c - unit tests for the runtime logs of apps, databases
 * and services in the engine (docs/protocol.md §3.1, §4.2): app.<uuid>.logs,
 * db.<uuid>.logs and service.<uuid>.logs are authorized by the resource's
 * owner, learned from its retained status like a deploy's; a channel
 * carries its owner's lines only (team/+/app/<uuid>/logs also matches
 * other teams' prefixes: dropped and counted); an unknown resource waits
 * for its status up to limits.subscribe_timeout_ms, then not_found;
 * ownership is sticky while a channel holds the resource; the logs are
 * batched, kept in history for `since` and HTTP, and followed only while
 * watched (plus the linger), never because the resource's status says it
 * runs.
 */
#include "hub_fixture.h"

#define R1 "aaaaaaaa-0000-4000-8000-000000000001"
#define R2 "aaaaaaaa-0000-4000-8000-000000000002"
#define R3 "aaaaaaaa-0000-4000-8000-000000000003"

static const char *const KINDS[] = { "app", "db", "service" };

static void status_of(struct env *e, const char *team, const char *kind, const char *id,
		      const char *payload)
{
	char topic[160];

	snprintf(topic, sizeof(topic), "team/%s/%s/%s/status", team, kind, id);
	publish(e, topic, payload, 1);
	fb_pump(&e->fake.broker);
}

static void running(struct env *e, const char *team, const char *kind, const char *id)
{
	status_of(e, team, kind, id, "{\"ts\":\"2026-01-01T00:00:00Z\",\"status\":\"running\"}");
}

static void line_of(struct env *e, const char *team, const char *kind, const char *id,
		    int64_t seq, const char *msg)
{
	char topic[160], payload[256];

	snprintf(topic, sizeof(topic), "team/%s/%s/%s/logs", team, kind, id);
	snprintf(payload, sizeof(payload), "{\"seq\":%lld,\"ts\":\"2026-01-01T00:00:00Z\","
		 "\"level\":\"info\",\"stream\":\"stdout\",\"msg\":\"%s\"}", (long long)seq, msg);
	publish(e, topic, payload, 0);
}

static void lines(struct env *e, const char *team, const char *kind, const char *id,
		  int64_t first, int64_t last)
{
	for (int64_t s = first; s <= last; s++)
		line_of(e, team, kind, id, s, "ok");
}

static const char *channel_of(char *buf, size_t len, const char *kind, const char *id)
{
	snprintf(buf, len, "%s.%s.logs", kind, id);
	return buf;
}

static void expect_sub_error(struct env *e, struct sb_client *c, const char *channel,
			     const char *code, const char *not_in_message)
{
	char text[256];
	cJSON *j;

	snprintf(text, sizeof(text), "{\"op\":\"sub\",\"id\":9,\"channel\":\"%s\"}", channel);
	tx(e, c, text);
	j = expect_op(e, c, "error");
	if (strcmp(sget(j, "code"), code) != 0)
		fail_msg("%s: %s, want %s", channel, sget(j, "code"), code);
	if (not_in_message)
		assert_null(strstr(sget(j, "message"), not_in_message));
	cJSON_Delete(j);
}

/* Reads c's frames after the batch window, expecting the lines of `kind`. */
static void read_kind(struct env *e, struct sb_client *c, const char *kind, struct logview *v)
{
	static char event[32];

	advance(e, 200);
	memset(v, 0, sizeof(*v));
	snprintf(event, sizeof(event), "%s.log", kind);
	v->event = event;
	read_logs(e, c, v);
}

static void test_owner_only_per_kind(void **state)
{
	char *t42 = token("u42", W0 + 3600, "42"), *t43 = token("u43", W0 + 3600, "43");
	char ch[128];
	struct logview v;
	(void)state;

	for (size_t k = 0; k < SB_ARRAY_LEN(KINDS); k++) {
		struct env e;
		struct sb_client *c42, *c43;
		uint64_t foreign;

		env_init(&e, "{}", 1);
		running(&e, "42", KINDS[k], R1);
		channel_of(ch, sizeof(ch), KINDS[k], R1);
		c42 = client(&e, t42);
		sub(&e, c42, 1, ch);
		lines(&e, "42", KINDS[k], R1, 1, 5);
		read_kind(&e, c42, KINDS[k], &v);
		expect_seqs(&v, 1, 5);
		/* another team's prefix: not this resource's log, counted */
		foreign = sb_hub_metrics(e.hub)->drop_foreign_owner;
		line_of(&e, "43", KINDS[k], R1, 6, "forged");
		line_of(&e, "43", KINDS[k], R1, 7, "forged");
		read_kind(&e, c42, KINDS[k], &v);
		assert_int_equal(v.n, 0);
		assert_int_equal(v.ngaps, 0);
		assert_int_equal(sb_hub_metrics(e.hub)->drop_foreign_owner, foreign + 2);
		/* and it did not advance the owner's stream: 6 is still line 6 */
		lines(&e, "42", KINDS[k], R1, 6, 8);
		read_kind(&e, c42, KINDS[k], &v);
		expect_seqs(&v, 6, 8);
		assert_int_equal(v.ngaps, 0);
		/* another team's member is refused, the owner not named */
		c43 = client(&e, t43);
		expect_sub_error(&e, c43, ch, "forbidden", "42");
		/* the same uuid as another kind's resource is another resource:
		 * unknown, so not_found once the wait for its status is over */
		if (strcmp(KINDS[k], "app") != 0) {
			tx(&e, c42, "{\"op\":\"sub\",\"id\":2,\"channel\":\"app." R1 ".logs\"}");
			advance(&e, 5000);
			expect_error_code(&e, c42, "not_found");
		}
		env_fini(&e);
	}
	free(t42);
	free(t43);
}

static void test_unknown_waits_for_its_status(void **state)
{
	struct env e;
	struct sb_client *c;
	char *t42 = token("u42", W0 + 3600, "42");
	cJSON *j;
	(void)state;

	env_init(&e, "{\"limits\":{\"subscribe_timeout_ms\":2000}}", 1);
	c = client(&e, t42);
	/* no status yet: the sub waits */
	tx(&e, c, "{\"op\":\"sub\",\"id\":1,\"channel\":\"app." R1 ".logs\"}");
	expect_nothing(&e, c);
	advance(&e, 1000);
	expect_nothing(&e, c);
	running(&e, "42", "app", R1);
	j = expect_op(&e, c, "ack");
	assert_int_equal(nget(j, "id"), 1);
	cJSON_Delete(j);
	/* another team's status arrives while waiting: forbidden */
	tx(&e, c, "{\"op\":\"sub\",\"id\":2,\"channel\":\"db." R2 ".logs\"}");
	expect_nothing(&e, c);
	running(&e, "43", "db", R2);
	expect_error_code(&e, c, "forbidden");
	/* none comes: not_found at the deadline, not before */
	tx(&e, c, "{\"op\":\"sub\",\"id\":3,\"channel\":\"service." R3 ".logs\"}");
	advance(&e, 1999);
	expect_nothing(&e, c);
	advance(&e, 1);
	j = expect_op(&e, c, "error");
	assert_string_equal(sget(j, "code"), "not_found");
	assert_string_equal(sget(j, "message"), "service " R3 " is not known");
	cJSON_Delete(j);
	/* an app's status does not make a service of that uuid known */
	running(&e, "42", "app", R3);
	tx(&e, c, "{\"op\":\"sub\",\"id\":4,\"channel\":\"service." R3 ".logs\"}");
	expect_nothing(&e, c);
	advance(&e, 2000);
	expect_error_code(&e, c, "not_found");
	free(t42);
	env_fini(&e);
}

static void test_malformed_and_unknown_names(void **state)
{
	struct env e;
	struct sb_client *c;
	(void)state;

	env_init(&e, "{}", 0);
	c = client(&e, NULL);
	expect_sub_error(&e, c, "app.not-a-uuid.logs", "bad_request", NULL);
	expect_sub_error(&e, c, "db.+.logs", "bad_request", NULL);
	expect_sub_error(&e, c, "service.#.logs", "bad_request", NULL);
	expect_sub_error(&e, c, "app." R1 "0.logs", "bad_request", NULL);
	expect_sub_error(&e, c, "app." R1, "not_found", NULL);
	expect_sub_error(&e, c, "server." R1 ".logs", "not_found", NULL);
	env_fini(&e);
}

/* The owner deletes its status while a channel holds the app: it stays the
 * owner's; once nothing of it is left it is forgotten. */
static void test_sticky_while_held(void **state)
{
	struct env e;
	struct sb_client *c42, *c43;
	char *t42 = token("u42", W0 + 3600, "42"), *t43 = token("u43", W0 + 3600, "43");
	struct logview v;
	(void)state;

	env_init(&e, "{}", 1);
	running(&e, "42", "app", R1);
	c42 = client(&e, t42);
	sub(&e, c42, 1, "app." R1 ".logs");
	lines(&e, "42", "app", R1, 1, 3);
	read_kind(&e, c42, "app", &v);
	expect_seqs(&v, 1, 3);
	status_of(&e, "42", "app", R1, "");   /* deleted by its owner */
	running(&e, "43", "app", R1);         /* another team claims the uuid */
	/* nobody owns it while its history is held: the viewer is dropped */
	expect_error_code(&e, c42, "forbidden");
	line_of(&e, "43", "app", R1, 4, "forged");
	expect_nothing(&e, c42);
	c43 = client(&e, t43);
	expect_sub_error(&e, c43, "app." R1 ".logs", "forbidden", "42");
	expect_sub_error(&e, c42, "app." R1 ".logs", "forbidden", "43");
	/* the history lingers 60 s: 43's claim waits until it is gone */
	advance(&e, 30000);
	expect_sub_error(&e, c43, "app." R1 ".logs", "forbidden", NULL);
	advance(&e, 31000);
	/* nothing of it left, 43's the only status standing: 43's afresh */
	sub(&e, c43, 3, "app." R1 ".logs");
	expect_sub_error(&e, c42, "app." R1 ".logs", "forbidden", NULL);
	free(t42);
	free(t43);
	env_fini(&e);
}

/* An app that runs is not followed: its log is endless, the bridge
 * follows it while watched and for the linger after, with history for
 * `since` and the HTTP fallback. */
static void test_followed_only_while_watched(void **state)
{
	struct env e;
	struct sb_client *c;
	struct sb_hub_gauges g;
	char *t42 = token("u42", W0 + 3600, "42"), *t43 = token("u43", W0 + 3600, "43");
	char *body = NULL;
	enum sb_code code;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 1);
	running(&e, "42", "app", R1);
	lines(&e, "42", "app", R1, 1, 3);   /* nobody watches: not even subscribed */
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.channels, 0);
	assert_int_equal(g.logs_followed, 0);
	assert_int_equal(subs_of(&e.fake, "team/+/app/" R1 "/logs"), 0);
	c = client(&e, t42);
	sub(&e, c, 1, "app." R1 ".logs");
	assert_int_equal(subs_of(&e.fake, "team/+/app/" R1 "/logs"), 1);
	lines(&e, "42", "app", R1, 4, 10);
	read_kind(&e, c, "app", &v);
	expect_seqs(&v, 4, 10);
	sb_hub_client_gone(e.hub, c);
	/* lingering: what comes meanwhile is kept for a resume */
	lines(&e, "42", "app", R1, 11, 14);
	c = client(&e, t42);
	assert_int_equal(sub_since(&e, c, 2, "app." R1 ".logs", 10), 1);
	read_kind(&e, c, "app", &v);
	expect_seqs(&v, 11, 14);
	/* HTTP history: the owner's team only */
	assert_int_equal(sb_hub_query(e.hub, t42, "app." R1 ".logs", 1, 12, &body, &code, NULL),
			 SB_OK);
	assert_non_null(strstr(body, "\"last_seq\":14"));
	assert_non_null(strstr(body, "\"seq\":13"));
	assert_null(strstr(body, "\"seq\":12"));
	free(body);
	assert_int_equal(sb_hub_query(e.hub, t43, "app." R1 ".logs", 1, 0, &body, &code, NULL),
			 SB_ERR_DENIED);
	assert_int_equal(code, SB_CODE_FORBIDDEN);
	assert_null(strstr(body, "\"seq\""));
	free(body);
	/* the last viewer gone and the linger over: unsubscribed */
	sb_hub_client_gone(e.hub, c);
	advance(&e, 61000);
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.channels, 0);
	assert_int_equal(unsubs_of(&e.fake, "team/+/app/" R1 "/logs"), 1);
	free(t42);
	free(t43);
	env_fini(&e);
}

/* A channel opened before its owner is known (open mode, a channels
 * claim) learns it from the first status, and from then on carries that
 * owner's lines only. */
static void test_owner_learned_after_the_channel(void **state)
{
	struct env e;
	struct sb_client *c;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	c = client(&e, NULL);
	sub(&e, c, 1, "service." R1 ".logs");
	line_of(&e, "42", "service", R1, 1, "before");
	read_kind(&e, c, "service", &v);
	expect_seqs(&v, 1, 1);
	running(&e, "42", "service", R1);
	line_of(&e, "43", "service", R1, 2, "forged");
	line_of(&e, "42", "service", R1, 2, "after");
	read_kind(&e, c, "service", &v);
	expect_seqs(&v, 2, 2);
	assert_int_equal(v.ngaps, 0);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_only_per_kind),
		cmocka_unit_test(test_unknown_waits_for_its_status),
		cmocka_unit_test(test_malformed_and_unknown_names),
		cmocka_unit_test(test_sticky_while_held),
		cmocka_unit_test(test_followed_only_while_watched),
		cmocka_unit_test(test_owner_learned_after_the_channel),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
