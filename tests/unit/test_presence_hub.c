/* SPDX-License-Identifier: MIT
 *
 * test_presence_hub.c - engine/presence.c on the hub with a fake broker: a
 * presence channel's subscribers are told joins and leaves of users (a
 * user with two connections once, never the connection itself), the
 * member list answers {"op":"presence"}, this bridge's list is published
 * retained on $statusbus/presence/<channel>/<bridge id> at each change,
 * other bridges' lists merge in, a bridge gone offline (its will) takes its
 * members with it and has its lists cleared, and a stale list under this
 * bridge's own id is cleared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core_fixture.h"
#include "hub_fixture.h"

#define ROOM "room.42"
#define OWN "$statusbus/presence/room:42/statusbus"

static const char *const CONFIG = "{\"mqtt\":{\"uri\":\"tcp://x:1\"},\"limits\":{\"presence_max_members\":3}}";

/* A map of team.{team} (no presence) and room.{team} (presence). */
static int setup(void **state)
{
	char err[256];
	cJSON *doc;
	const char *extra = "{\"name\":\"room.{team}\",\"topics\":[\"team/{team}/incident/+\"],"
			    "\"acl\":\"team\",\"presence\":true}";
	struct sb_chanmap *def = NULL;
	cJSON *arr = cJSON_CreateArray();
	int rc;

	if (group_setup(state))
		return -1;
	def = map;
	doc = cJSON_Parse("{\"name\":\"team.{team}\",\"topics\":[\"team/{team}/app/+/status\"],\"acl\":\"team\"}");
	cJSON_AddItemToArray(arr, doc);
	cJSON_AddItemToArray(arr, cJSON_Parse(extra));
	rc = sb_chanmap_from_json(&map, arr, err, sizeof(err));
	cJSON_Delete(arr);
	sb_chanmap_destroy(def);
	if (rc != SB_OK)
		fprintf(stderr, "setup: %s\n", err);
	return rc == SB_OK ? 0 : -1;
}

static char *tok_named(const char *sub, const char *name)
{
	char claims[512], *t = NULL;

	snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"name\":\"%s\",\"exp\":%lld,\"teams\":[\"42\"]}",
		 sub, name, (long long)W0 + 3600);
	assert_int_equal(sb_jwt_sign_hs256(&t, (const unsigned char *)SECRET, strlen(SECRET), claims),
			 SB_OK);
	return t;
}

static struct sb_client *member(struct env *e, const char *sub, const char *name)
{
	char *t = tok_named(sub, name);
	struct sb_client *c = client(e, t);

	free(t);
	sub_since(e, c, 1, ROOM, -1);
	return c;
}

/* The next frame is presence.join / presence.leave of sub. */
static void expect_presence(struct env *e, struct sb_client *c, const char *event, const char *sub)
{
	cJSON *j = expect_op(e, c, "event");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");

	assert_string_equal(sget(j, "event"), event);
	assert_string_equal(sget(j, "channel"), ROOM);
	assert_string_equal(sget(d, "sub"), sub);
	cJSON_Delete(j);
}

/* The member subs {"op":"presence"} lists, joined by ','. */
static void expect_members(struct env *e, struct sb_client *c, const char *want)
{
	char got[256] = "";
	cJSON *j;
	const cJSON *it;

	tx(e, c, "{\"op\":\"presence\",\"id\":9,\"channel\":\"" ROOM "\"}");
	j = expect_op(e, c, "presence");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "members"))
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", *got ? "," : "",
			 sget(it, "sub"));
	assert_string_equal(got, want);
	cJSON_Delete(j);
}

static void test_local_members(void **state)
{
	struct env e;
	struct sb_client *bob, *a1, *a2;

	(void)state;
	env_init(&e, CONFIG, 1);
	bob = member(&e, "bob", "Bob");
	assert_string_equal(e.fake.ret_topic, OWN);
	assert_string_equal(e.fake.ret_payload, "{\"members\":[{\"id\":\"bob\",\"info\":{\"name\":\"Bob\"}}]}");
	expect_nothing(&e, bob);
	a1 = member(&e, "alice", "Alice");
	expect_presence(&e, bob, "presence.join", "alice");
	expect_nothing(&e, a1);                      /* not told about itself */
	a2 = member(&e, "alice", "Alice");
	expect_nothing(&e, bob);                     /* the same user */
	expect_members(&e, a2, "alice,bob");
	sb_hub_client_gone(e.hub, a1);
	expect_nothing(&e, bob);                     /* a2 is still there */
	tx(&e, a2, "{\"op\":\"unsub\",\"id\":3,\"channel\":\"" ROOM "\"}");
	cJSON_Delete(expect_op(&e, a2, "ack"));
	expect_presence(&e, bob, "presence.leave", "alice");
	expect_nothing(&e, bob);
	assert_string_equal(e.fake.ret_payload, "{\"members\":[{\"id\":\"bob\",\"info\":{\"name\":\"Bob\"}}]}");
	/* not subscribed, not a presence channel */
	tx(&e, a2, "{\"op\":\"presence\",\"id\":4,\"channel\":\"" ROOM "\"}");
	expect_error_code(&e, a2, "not_found");
	tx(&e, a2, "{\"op\":\"presence\",\"id\":5,\"channel\":\"team.42\"}");
	expect_error_code(&e, a2, "bad_request");
	sb_hub_client_gone(e.hub, bob);
	assert_string_equal(e.fake.ret_topic, OWN);
	assert_string_equal(e.fake.ret_payload, "");   /* cleared: no member left */
	assert_int_equal(sb_hub_metrics(e.hub)->presence_joins, 2);
	assert_int_equal(sb_hub_metrics(e.hub)->presence_leaves, 2);
	sb_hub_client_gone(e.hub, a2);
	env_fini(&e);
}

static void test_bound(void **state)
{
	struct env e;
	struct sb_client *c[4];
	char *t;

	(void)state;
	env_init(&e, CONFIG, 1);
	c[0] = member(&e, "u1", "1");
	c[1] = member(&e, "u2", "2");
	publish(&e, "$statusbus/presence/room:42/B", "{\"members\":[{\"id\":\"r1\"}]}", 1);
	expect_presence(&e, c[0], "presence.join", "u2");
	expect_presence(&e, c[0], "presence.join", "r1");
	expect_presence(&e, c[1], "presence.join", "r1");
	t = tok_named("u4", "4");
	c[3] = client(&e, t);
	free(t);
	tx(&e, c[3], "{\"op\":\"sub\",\"id\":1,\"channel\":\"" ROOM "\"}");
	expect_error_code(&e, c[3], "forbidden");      /* three users already */
	expect_nothing(&e, c[1]);
	assert_int_equal(sb_hub_metrics(e.hub)->presence_refused, 1);
	for (int i = 0; i < 4; i++)
		if (i != 2)
			sb_hub_client_gone(e.hub, c[i]);
	env_fini(&e);
}

static void test_other_bridges(void **state)
{
	struct env e;
	struct sb_client *bob;
	int before;

	(void)state;
	env_init(&e, CONFIG, 1);
	bob = member(&e, "bob", "Bob");
	publish(&e, "$statusbus/presence/room:42/B",
		"{\"members\":[{\"id\":\"carol\",\"info\":{\"name\":\"Carol\"}},{\"id\":\"bob\"}]}", 1);
	expect_presence(&e, bob, "presence.join", "carol");   /* bob is no news */
	expect_nothing(&e, bob);
	expect_members(&e, bob, "bob,carol");
	/* B's next list replaces its last */
	publish(&e, "$statusbus/presence/room:42/B", "{\"members\":[{\"id\":\"dave\"}]}", 0);
	expect_presence(&e, bob, "presence.leave", "carol");
	expect_presence(&e, bob, "presence.join", "dave");
	/* garbage is counted and changes nothing */
	publish(&e, "$statusbus/presence/room:42/C", "not json", 0);
	publish(&e, "$statusbus/presence/team.42/C", "{\"members\":[{\"id\":\"x\"}]}", 0);
	publish(&e, "$statusbus/presence/room:42", "{\"members\":[]}", 0);
	expect_nothing(&e, bob);
	assert_int_equal(sb_hub_metrics(e.hub)->presence_remote_invalid, 3);
	/* B dies: its will says offline; dave leaves, B's list is cleared */
	before = e.fake.retained;
	publish(&e, "$statusbus/bridges/B", "offline", 1);
	expect_presence(&e, bob, "presence.leave", "dave");
	assert_int_equal(e.fake.retained, before + 1);
	assert_string_equal(e.fake.ret_topic, "$statusbus/presence/room:42/B");
	assert_string_equal(e.fake.ret_payload, "");
	/* a late list of the dead bridge is ignored (and cleared) */
	publish(&e, "$statusbus/presence/room:42/B", "{\"members\":[{\"id\":\"eve\"}]}", 1);
	expect_nothing(&e, bob);
	assert_string_equal(e.fake.ret_payload, "");
	/* until it is back */
	publish(&e, "$statusbus/bridges/B", "online", 1);
	publish(&e, "$statusbus/presence/room:42/B", "{\"members\":[{\"id\":\"eve\"}]}", 1);
	expect_presence(&e, bob, "presence.join", "eve");
	assert_int_equal(sb_hub_metrics(e.hub)->presence_bridges_gone, 1);
	sb_hub_client_gone(e.hub, bob);
	env_fini(&e);
}

static void test_own_list(void **state)
{
	struct env e;
	struct sb_client *bob;

	(void)state;
	env_init(&e, CONFIG, 1);
	/* an earlier run's list under our id: cleared, nobody joins */
	publish(&e, OWN, "{\"members\":[{\"id\":\"ghost\"}]}", 1);
	assert_string_equal(e.fake.ret_topic, OWN);
	assert_string_equal(e.fake.ret_payload, "");
	bob = member(&e, "bob", "Bob");
	expect_members(&e, bob, "bob");
	/* cleared by a bridge that took us for dead: published again */
	publish(&e, OWN, "", 0);
	assert_string_equal(e.fake.ret_payload, "{\"members\":[{\"id\":\"bob\",\"info\":{\"name\":\"Bob\"}}]}");
	/* a reconnection says online and republishes */
	sb_hub_mqtt_state(e.hub, 0);
	sb_hub_mqtt_state(e.hub, 1);
	assert_string_equal(e.fake.ret_topic, OWN);
	sb_hub_client_gone(e.hub, bob);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_members),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_other_bridges),
		cmocka_unit_test(test_own_list),
	};

	return cmocka_run_group_tests(tests, setup, group_teardown);
}
