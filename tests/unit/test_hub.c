/* SPDX-License-Identifier: MIT
 *
 * test_hub.c - unit tests for hub.c, the engine's registry and message
 * intake: reference-counted MQTT filters (shared between browsers and
 * channels, the always-on deploy owners' filter, resubscription after an
 * MQTT reconnect), snapshots from the retained cache, broker replays not
 * sent twice, deleted events, routing a message only to the channels that
 * follow its topic, invalid payloads dropped at intake and rejected
 * payloads republished.  The environment (fake clock, fake ops, a v1
 * client) is hub_fixture.h.
 */
#include "hub_fixture.h"

/* ---- reference counting ------------------------------------------------------------------- */

static void test_filters_refcounted(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct sb_hub_gauges g;
	(void)state;

	env_init(&e, "{}", 0);
	/* the owners' filters are always on (asked for at creation, and
	 * again when the link came up): deploys', and those of the kinds of
	 * the default map's runtime logs; so is the bridge's replay-barrier
	 * topic */
	assert_int_equal(subs_of(&e.fake, "team/+/deploy/+/status"), 2);
	assert_int_equal(unsubs_of(&e.fake, "team/+/deploy/+/status"), 0);
	assert_int_equal(subs_of(&e.fake, "team/+/app/+/status"), 2);
	assert_int_equal(subs_of(&e.fake, "team/+/db/+/status"), 2);
	assert_int_equal(subs_of(&e.fake, "team/+/service/+/status"), 2);
	assert_int_equal(subs_of(&e.fake, "$statusbus/sync/statusbus"), 2);
	a = client(&e, NULL);
	b = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	/* the app, db, service and deploy statuses ride on the owners'
	 * subscriptions: no second, overlapping one at the broker */
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(subs_of(&e.fake, TEAM_FILTERS[i]), !team_filter_carried(i));
	sub(&e, b, 1, "team.42");
	/* two browsers on one channel: still one MQTT subscription each */
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(subs_of(&e.fake, TEAM_FILTERS[i]), !team_filter_carried(i));
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.clients, 2);
	assert_int_equal(g.channels, 1);
	assert_int_equal(g.subscriptions, 2);
	assert_int_equal(g.mqtt_filters, 8);
	assert_int_equal(g.mqtt_filters_active, 8);
	assert_int_equal(g.mqtt_filters_carried, 4);
	assert_int_equal(sb_hub_filters(e.hub, NULL, 0), 12);
	/* one unsubscribes: nothing changes on the MQTT side */
	tx(&e, a, "{\"op\":\"unsub\",\"id\":2,\"channel\":\"team.42\"}");
	cJSON_Delete(expect_op(&e, a, "ack"));
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(unsubs_of(&e.fake, TEAM_FILTERS[i]), 0);
	/* the last one goes away: every filter of the channel is unsubscribed */
	sb_hub_client_gone(e.hub, b);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(unsubs_of(&e.fake, TEAM_FILTERS[i]), !team_filter_carried(i));
		assert_int_equal(live_of(&e.fake, TEAM_FILTERS[i]), 0);
	}
	assert_int_equal(unsubs_of(&e.fake, "team/+/deploy/+/status"), 0);
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.channels, 0);
	assert_int_equal(g.subscriptions, 0);
	/* the owners of deploys, apps, databases, services; barriers */
	assert_int_equal(g.mqtt_filters, 5);
	assert_int_equal(g.mqtt_filters_carried, 0);
	/* subscribing again subscribes again */
	sub(&e, a, 3, "team.42");
	assert_int_equal(subs_of(&e.fake, TEAM_FILTERS[3]), 2);
	env_fini(&e);
}

static void test_shared_filter_across_channels(void **state)
{
	struct env e;
	struct sb_client *a;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	/* deploy.<d> uses team/+/deploy/<d>/status, its own filter, carried
	 * by the owners' team/+/deploy/+/status */
	sub(&e, a, 1, "deploy." D1);
	assert_int_equal(subs_of(&e.fake, "team/+/deploy/" D1 "/status"), 0);
	tx(&e, a, "{\"op\":\"unsub\",\"id\":2,\"channel\":\"deploy." D1 "\"}");
	cJSON_Delete(expect_op(&e, a, "ack"));
	assert_int_equal(live_of(&e.fake, "team/+/deploy/" D1 "/status"), 0);
	/* unsubscribing what is not subscribed is not_found */
	tx(&e, a, "{\"op\":\"unsub\",\"id\":3,\"channel\":\"deploy." D1 "\"}");
	expect_error_code(&e, a, "not_found");
	env_fini(&e);
}

static void test_mqtt_reconnect_resubscribes(void **state)
{
	struct env e;
	struct sb_client *a;
	(void)state;

	env_init(&e, "{}", 0);   /* the link is up */
	a = client(&e, NULL);
	sub(&e, a, 1, "user.u1");
	sb_hub_mqtt_state(e.hub, 1);   /* no change: nothing asked again */
	assert_int_equal(sb_hub_mqtt_connected(e.hub), 1);
	assert_int_equal(subs_of(&e.fake, "user/u1/notify"), 1);
	assert_int_equal(subs_of(&e.fake, "team/+/deploy/+/status"), 2);
	sb_hub_mqtt_state(e.hub, 0);
	assert_int_equal(sb_hub_mqtt_connected(e.hub), 0);
	sb_hub_mqtt_state(e.hub, 1);
	assert_int_equal(subs_of(&e.fake, "user/u1/notify"), 2);
	assert_int_equal(subs_of(&e.fake, "team/+/deploy/+/status"), 3);
	assert_int_equal(sb_hub_metrics(e.hub)->mqtt_connects, 2);
	assert_int_equal(sb_hub_metrics(e.hub)->mqtt_disconnects, 1);
	env_fini(&e);
}

/* ---- snapshots, replays, deletes, routing ------------------------------------------------- */

static void test_snapshot_from_cache(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	expect_nothing(&e, a);
	/* the broker sends a status after the subscription */
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"running\"}", 1);
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(j, "channel"), "team.42");
	assert_string_equal(sget(j, "event"), "app.status");
	assert_string_equal(sget(j, "topic"), "team/42/app/" A1 "/status");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retained")));
	assert_string_equal(sget(cJSON_GetObjectItemCaseSensitive(j, "data"), "status"), "running");
	cJSON_Delete(j);
	/* a second browser joins: the MQTT subscription exists (no replay
	 * will come), the snapshot comes from the cache, right after the ack */
	b = client(&e, NULL);
	sub(&e, b, 1, "team.42");
	assert_int_equal(subs_of(&e.fake, TEAM_FILTERS[3]), 1);
	j = expect_op(&e, b, "event");
	assert_string_equal(sget(j, "topic"), "team/42/app/" A1 "/status");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retained")));
	assert_string_equal(sget(cJSON_GetObjectItemCaseSensitive(j, "data"), "status"), "running");
	cJSON_Delete(j);
	expect_nothing(&e, b);
	expect_nothing(&e, a);
	env_fini(&e);
}

static void test_snapshot_latest_value(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	cJSON *j;
	int n = 0;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"starting\"}", 0);
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"running\"}", 0);
	publish(&e, "team/42/db/" A2 "/status", "{\"status\":\"ok\"}", 0);
	b = client(&e, NULL);
	sub(&e, b, 1, "team.42");
	while ((j = pull(&e, b))) {
		assert_true(is_op(j, "event"));
		if (strcmp(sget(j, "topic"), "team/42/app/" A1 "/status") == 0)
			assert_string_equal(sget(cJSON_GetObjectItemCaseSensitive(j, "data"), "status"),
					    "running");
		n++;
		cJSON_Delete(j);
	}
	assert_int_equal(n, 2);     /* one per topic, the latest */
	env_fini(&e);
}

static void test_broker_replay_not_sent_twice(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	int deploys = 0, apps = 0;
	(void)state;

	env_init(&e, "{}", 0);
	/* before anyone subscribes, the always-on filter brings a deploy status */
	publish(&e, "team/42/deploy/" D1 "/status", "{\"state\":\"running\"}", 1);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	/* the snapshot has it at once */
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(j, "event"), "deploy.status");
	cJSON_Delete(j);
	/* the new MQTT subscription makes the broker replay every retained
	 * message under it: the identical one is recognised, the new one sent */
	publish(&e, "team/42/deploy/" D1 "/status", "{\"state\":\"running\"}", 1);
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"running\"}", 1);
	while ((j = pull(&e, a))) {
		deploys += strcmp(sget(j, "event"), "deploy.status") == 0;
		apps += strcmp(sget(j, "event"), "app.status") == 0;
		cJSON_Delete(j);
	}
	assert_int_equal(deploys, 0);
	assert_int_equal(apps, 1);
	assert_int_equal(sb_hub_metrics(e.hub)->retained_replays_skipped, 1);
	/* the same payload published live again (retain flag 0) is an event */
	publish(&e, "team/42/deploy/" D1 "/status", "{\"state\":\"running\"}", 0);
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(j, "event"), "deploy.status");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retained")));   /* a status */
	cJSON_Delete(j);
	env_fini(&e);
}

static void test_deleted_event(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct sb_hub_gauges g;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"running\"}", 0);
	publish(&e, "team/42/app/" A2 "/status", "{\"status\":\"running\"}", 0);
	cJSON_Delete(expect_op(&e, a, "event"));
	cJSON_Delete(expect_op(&e, a, "event"));
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.cache_topics, 2);
	/* an empty retained publish: the resource was deleted */
	publish(&e, "team/42/app/" A1 "/status", "", 0);
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(j, "event"), "deleted");
	assert_string_equal(sget(j, "topic"), "team/42/app/" A1 "/status");
	assert_string_equal(sget(j, "channel"), "team.42");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "data")));
	cJSON_Delete(j);
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.cache_topics, 1);
	/* a new subscriber's snapshot no longer has it */
	b = client(&e, NULL);
	sub(&e, b, 1, "team.42");
	j = expect_op(&e, b, "event");
	assert_string_equal(sget(j, "topic"), "team/42/app/" A2 "/status");
	cJSON_Delete(j);
	expect_nothing(&e, b);
	/* an empty message on a non-retained kind means nothing */
	sub(&e, b, 2, "user.u1");
	publish(&e, "user/u1/notify", "", 0);
	expect_nothing(&e, b);
	env_fini(&e);
}

static void test_routing_only_subscribed(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	b = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	sub(&e, b, 1, "team.43");
	sub(&e, b, 2, "user.u2");
	publish(&e, "team/43/db/" A1 "/status", "{\"status\":\"ok\"}", 0);
	publish(&e, "team/42/app/" A1 "/stats", "{\"cpu\":1}", 0);     /* team.42.stats: nobody */
	publish(&e, "user/u1/notify", "{\"text\":\"hi\"}", 0);        /* user.u1: nobody */
	publish(&e, "public/main/status", "{\"status\":\"ok\"}", 1);
	expect_nothing(&e, a);
	j = expect_op(&e, b, "event");
	assert_string_equal(sget(j, "channel"), "team.43");
	assert_string_equal(sget(j, "event"), "db.status");
	cJSON_Delete(j);
	expect_nothing(&e, b);
	publish(&e, "user/u2/notify", "{\"text\":\"hi\"}", 0);
	j = expect_op(&e, b, "event");
	assert_string_equal(sget(j, "channel"), "user.u2");
	assert_string_equal(sget(j, "event"), "notify");
	assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retained")));
	cJSON_Delete(j);
	/* team/42/deploy/<d>/status goes to both team.42 and deploy.<d> */
	sub(&e, b, 3, "deploy." D1);
	publish(&e, "team/42/deploy/" D1 "/status", "{\"state\":\"queued\"}", 0);
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(j, "channel"), "team.42");
	cJSON_Delete(j);
	j = expect_op(&e, b, "event");
	assert_string_equal(sget(j, "channel"), "deploy." D1);
	assert_string_equal(sget(j, "event"), "deploy.status");
	cJSON_Delete(j);
	env_fini(&e);
}

/* ---- intake ------------------------------------------------------------------------------- */

static void test_invalid_payload_not_forwarded(void **state)
{
	struct env e;
	struct sb_client *a;
	(void)state;

	env_init(&e, "{\"limits\":{\"max_payload_bytes\":64}}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	publish(&e, "team/42/app/" A1 "/status", "{not json", 0);
	publish(&e, "team/42/app/" A1 "/status",
		"{\"status\":\"0123456789012345678901234567890123456789012345678901234567890\"}", 0);
	expect_nothing(&e, a);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_invalid_json, 1);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_oversize, 1);
	env_fini(&e);
}

static void test_payload_with_trailing_bytes(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	/* a JSON value followed by more bytes is not JSON: it would be
	 * spliced raw into the frame */
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"ok\"} trailing", 0);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_invalid_json, 1);
	expect_nothing(&e, a);
	/* a valid one still goes through */
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"ok\"}", 0);
	j = expect_op(&e, a, "event");
	cJSON_Delete(j);
	env_fini(&e);
}

static void test_rejected_republished(void **state)
{
	struct env e;
	cJSON *j;
	(void)state;

	env_init(&e, "{\"validation\":{\"republish_rejected\":true}}", 0);
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":", 0);
	assert_int_equal(e.fake.published, 1);
	assert_string_equal(e.fake.pub_topic, "$statusbus/rejected/team/42/app/" A1 "/status");
	j = cJSON_Parse(e.fake.pub_payload);
	assert_non_null(j);
	assert_string_equal(sget(j, "topic"), "team/42/app/" A1 "/status");
	assert_string_equal(sget(j, "reason"), "payload is not JSON");
	assert_string_equal(sget(j, "payload"), "{\"status\":");
	assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "truncated")));
	cJSON_Delete(j);
	assert_int_equal(sb_hub_metrics(e.hub)->rejected_published, 1);
	/* the bridge's own rejects are never taken as input */
	publish(&e, "$statusbus/rejected/team/42/app/" A1 "/status", "{}", 0);
	assert_int_equal(e.fake.published, 1);
	env_fini(&e);
}

/* A deploy belongs to the team whose status named it first: a status or
 * a deletion under another team's prefix neither moves it nor reaches the
 * deploy's channels (docs/protocol.md §4). */
static void test_deploy_channel_carries_the_owner_only(void **state)
{
	struct env e;
	struct sb_client *c, *x;
	char *t42 = token("u42", W0 + 3600, "42"), *t43 = token("u43", W0 + 3600, "43");
	enum sb_code code;
	char *body = NULL;
	cJSON *j;
	(void)state;

	env_init(&e, "{\"logs\":{\"follow\":\"watched\"}}", 1);
	publish(&e, "team/42/deploy/" D1 "/status", "{\"status\":\"running\"}", 1);
	c = client(&e, t42);
	sub(&e, c, 1, "deploy." D1);
	j = expect_op(&e, c, "event");   /* the snapshot: the owner's status */
	assert_string_equal(sget(j, "topic"), "team/42/deploy/" D1 "/status");
	cJSON_Delete(j);
	expect_nothing(&e, c);
	/* a hostile status under team 43's prefix: the first team seen may
	 * have been the false one, so nobody owns the deploy now; its
	 * subscriber is told and dropped, and never gets 43's status */
	publish(&e, "team/43/deploy/" D1 "/status", "{\"status\":\"failed\"}", 1);
	expect_error_code(&e, c, "forbidden");
	expect_nothing(&e, c);
	assert_int_equal(sb_hub_metrics(e.hub)->owner_contested, 1);
	/* neither team may read it, at once (no wait for an owner) */
	x = client(&e, t43);
	tx(&e, x, "{\"op\":\"sub\",\"id\":1,\"channel\":\"deploy." D1 ".logs\"}");
	expect_error_code(&e, x, "forbidden");
	tx(&e, c, "{\"op\":\"sub\",\"id\":2,\"channel\":\"deploy." D1 "\"}");
	expect_error_code(&e, c, "forbidden");
	assert_int_not_equal(sb_hub_query(e.hub, t42, "deploy." D1, 0, 0, &body, &code, NULL),
			     SB_OK);
	free(body);
	body = NULL;
	/* 43's later statuses and its delete: still nothing reaches anyone */
	publish(&e, "team/43/deploy/" D1 "/status", "{\"status\":\"queued\"}", 1);
	expect_nothing(&e, c);
	expect_nothing(&e, x);
	publish(&e, "team/43/deploy/" D1 "/status", "", 1);
	/* one claim left and nothing of the deploy held: 42's again, and
	 * its channel carries 42's topic only */
	sub(&e, c, 3, "deploy." D1);
	j = expect_op(&e, c, "event");
	assert_string_equal(sget(j, "topic"), "team/42/deploy/" D1 "/status");
	cJSON_Delete(j);
	expect_nothing(&e, c);
	assert_int_equal(sb_hub_query(e.hub, t42, "deploy." D1, 0, 0, &body, &code, NULL), SB_OK);
	assert_null(strstr(body, "team/43/"));
	assert_non_null(strstr(body, "team/42/"));
	free(body);
	tx(&e, x, "{\"op\":\"sub\",\"id\":4,\"channel\":\"deploy." D1 ".logs\"}");
	expect_error_code(&e, x, "forbidden");
	/* the owner's own status still flows */
	publish(&e, "team/42/deploy/" D1 "/status", "{\"status\":\"finished\"}", 1);
	cJSON_Delete(expect_op(&e, c, "event"));
	free(t42);
	free(t43);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters_refcounted),
		cmocka_unit_test(test_shared_filter_across_channels),
		cmocka_unit_test(test_mqtt_reconnect_resubscribes),
		cmocka_unit_test(test_snapshot_from_cache),
		cmocka_unit_test(test_snapshot_latest_value),
		cmocka_unit_test(test_broker_replay_not_sent_twice),
		cmocka_unit_test(test_deleted_event),
		cmocka_unit_test(test_routing_only_subscribed),
		cmocka_unit_test(test_invalid_payload_not_forwarded),
		cmocka_unit_test(test_payload_with_trailing_bytes),
		cmocka_unit_test(test_rejected_republished),
		cmocka_unit_test(test_deploy_channel_carries_the_owner_only),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
