/* SPDX-License-Identifier: MIT
 *
 * test_pusher_channels.c - unit tests for the subscriptions of pusher.c,
 * the Pusher Channels protocol 7 session (docs/pusher.md), against a real
 * hub in auth mode with a fake clock (pusher_fixture.h): private channels
 * (trust for one subscription only, the signature bound to the socket id),
 * public and cache channels, the name each subscriber sees, unsubscribe,
 * log batches, the subscription limit, and a cache- snapshot larger than
 * the send queue's hard bound.
 */
#include "pusher_fixture.h"

/* ---- private channels ---------------------------------------------------------------------- */

static void test_private_channel(void **state)
{
	struct env e;
	struct conn k;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	/* a plain private channel gets live events, no snapshot */
	expect_none(&e, &k);
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_status(&e, &k, "private-team.42", A1, "running");
	publish(&e, "team/43/app/" A1 "/status", STATUS("running"), 1);
	expect_none(&e, &k);
	assert_int_equal(sb_pusher_stats(e.p)->subscriptions, 1);
	conn_close(&e, &k);
	env_free(&e);
}

static void test_bad_signature_gets_no_data(void **state)
{
	struct env e;
	struct conn k;
	char hex[65], auth[128];
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	/* signed with another secret */
	assert_int_equal(sb_pusher_sign("not-the-secret", sb_pusher_socket_id(k.pc),
					"private-team.42", hex), SB_OK);
	snprintf(auth, sizeof(auth), KEY ":%s", hex);
	subscribe(&k, "private-team.42", auth);
	expect_sub_error(&e, &k, "private-team.42", 401);
	/* no signature at all */
	subscribe(&k, "private-team.42", NULL);
	expect_sub_error(&e, &k, "private-team.42", 401);
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_none(&e, &k);
	assert_int_equal(sb_pusher_stats(e.p)->signature_failures, 2);
	/* still usable */
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	conn_close(&e, &k);
	env_free(&e);
}

/* A signature authorizes its one channel on its one socket. */
static void test_trust_is_per_channel(void **state)
{
	struct env e;
	struct conn a, b;
	char auth42[128];
	(void)state;

	env_init(&e, NULL, NULL);
	a = open_conn(&e);
	b = open_conn(&e);
	assert_string_not_equal(sb_pusher_socket_id(a.pc), sb_pusher_socket_id(b.pc));
	auth_for(&a, "private-team.42", auth42, sizeof(auth42));
	subscribe(&a, "private-team.42", auth42);
	expect_subscribed(&e, &a, "private-team.42");
	/* the 42 signature does not open 43 */
	subscribe(&a, "private-team.43", auth42);
	expect_sub_error(&e, &a, "private-team.43", 401);
	/* nor does having subscribed a private channel make the client trusted:
	 * team.43 without the prefix goes through the hub's ACL (no token) */
	subscribe(&a, "team.43", NULL);
	expect_sub_error(&e, &a, "team.43", 401);
	subscribe(&a, "user.u1", NULL);
	expect_sub_error(&e, &a, "user.u1", 401);
	/* a's signature on b's socket */
	subscribe(&b, "private-team.42", auth42);
	expect_sub_error(&e, &b, "private-team.42", 401);
	/* its own signature */
	subscribe_signed(&a, "private-team.43");
	expect_subscribed(&e, &a, "private-team.43");
	publish(&e, "team/43/app/" A1 "/status", STATUS("running"), 1);
	publish(&e, "team/42/app/" A2 "/status", STATUS("stopped"), 1);
	expect_none(&e, &b);
	conn_close(&e, &a);
	conn_close(&e, &b);
	env_free(&e);
}

/* What the app backend signs decides, not the hub's JWT ACL: a deploy the
 * bridge does not know yet is subscribable as private-. */
static void test_private_bypasses_jwt_acl_only_for_that_channel(void **state)
{
	struct env e;
	struct conn k;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-deploy." D1);
	expect_subscribed(&e, &k, "private-deploy." D1);
	subscribe(&k, "deploy." D1 ".logs", NULL);
	expect_sub_error(&e, &k, "deploy." D1 ".logs", 401);
	subscribe_signed(&k, "private-nosuch.channel");
	expect_sub_error(&e, &k, "private-nosuch.channel", 404);
	subscribe_signed(&k, "private-team.4/2");
	expect_sub_error(&e, &k, "private-team.4/2", 400);
	subscribe_signed(&k, "private-team.+");
	expect_sub_error(&e, &k, "private-team.+", 400);
	conn_close(&e, &k);
	env_free(&e);
}

/* ---- public and cache channels --------------------------------------------------------------- */

static void test_public_channel(void **state)
{
	struct env e;
	struct conn k;
	cJSON *j;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe(&k, "public.acme", NULL);
	expect_subscribed(&e, &k, "public.acme");
	publish(&e, "public/acme/status", "{\"ts\":\"2026-01-01T00:00:00Z\",\"status\":\"ok\"}", 1);
	j = expect(&e, &k, "public.status", "public.acme");
	cJSON_Delete(j);
	subscribe(&k, "presence-team.42", NULL);   /* signed like private- */
	expect_sub_error(&e, &k, "presence-team.42", 401);
	subscribe(&k, "private-encrypted-team.42", NULL);
	expect_sub_error(&e, &k, "private-encrypted-team.42", 501);
	conn_close(&e, &k);
	env_free(&e);
}

/* Every subscriber sees the name it subscribed with, whatever the others
 * on the same statusbus channel chose; cache- names get the snapshot. */
static void test_cache_channels(void **state)
{
	struct env e;
	struct conn a, b, c, d;
	cJSON *j;
	(void)state;

	env_init(&e, NULL, NULL);
	a = open_conn(&e);
	subscribe_signed(&a, "private-team.42");
	expect_subscribed(&e, &a, "private-team.42");
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_status(&e, &a, "private-team.42", A1, "running");

	b = open_conn(&e);
	subscribe_signed(&b, "private-cache-team.42");
	expect_subscribed(&e, &b, "private-cache-team.42");
	expect_status(&e, &b, "private-cache-team.42", A1, "running");   /* the snapshot */
	expect_none(&e, &b);

	/* nothing known: cache_miss */
	subscribe_signed(&b, "private-cache-team.77");
	expect_subscribed(&e, &b, "private-cache-team.77");
	j = expect(&e, &b, "pusher:cache_miss", "private-cache-team.77");
	cJSON_Delete(j);

	/* one live status, each under its own name */
	publish(&e, "team/42/app/" A1 "/status", STATUS("stopped"), 1);
	expect_status(&e, &a, "private-team.42", A1, "stopped");
	expect_status(&e, &b, "private-cache-team.42", A1, "stopped");

	/* public channels, plain and cache- */
	c = open_conn(&e);
	d = open_conn(&e);
	subscribe(&c, "public.acme", NULL);
	expect_subscribed(&e, &c, "public.acme");
	publish(&e, "public/acme/status", "{\"ts\":\"2026-01-01T00:00:00Z\",\"status\":\"ok\"}", 1);
	j = expect(&e, &c, "public.status", "public.acme");
	cJSON_Delete(j);
	subscribe(&d, "cache-public.acme", NULL);
	expect_subscribed(&e, &d, "cache-public.acme");
	j = expect(&e, &d, "public.status", "cache-public.acme");
	cJSON_Delete(j);
	/* cache- without a signature is still only for public channels */
	subscribe(&d, "cache-team.42", NULL);
	expect_sub_error(&e, &d, "cache-team.42", 401);
	/* one statusbus channel once per connection */
	subscribe_signed(&a, "private-cache-team.42");
	expect_sub_error(&e, &a, "private-cache-team.42", 409);

	conn_close(&e, &a);
	conn_close(&e, &b);
	conn_close(&e, &c);
	conn_close(&e, &d);
	env_free(&e);
}

/* A cache- snapshot larger than the send queue's hard bound: its frames are
 * the channel's (built once for the form, shared by every subscriber), so a
 * client that reads is not "slow" and gets every topic, as a statusbus.v1
 * subscriber does (both sessions share channel.c's snapshot path). */
static void test_big_cache_snapshot_keeps_reader(void **state)
{
	struct env e;
	struct conn k[2];
	char topic[128], payload[300];
	cJSON *j;
	(void)state;

	env_init(&e, NULL, "\"send_queue_bytes\":1024,\"send_queue_hard_bytes\":8192");
	for (int i = 0; i < 60; i++) {
		snprintf(topic, sizeof(topic), "team/42/app/aaaaaaaa-0000-0000-0000-%012d/status", i);
		snprintf(payload, sizeof(payload), "{\"status\":\"running\",\"note\":\"%0200d\"}", i);
		publish(&e, topic, payload, 1);
	}
	for (int c = 0; c < 2; c++) {
		int n = 0;

		k[c] = open_conn(&e);
		subscribe_signed(&k[c], "private-cache-team.42");
		expect_subscribed(&e, &k[c], "private-cache-team.42");
		/* 60 x ~400 bytes queued at once: well over 8192 */
		assert_true(sb_client_queued_bytes(k[c].c) < 8192);
		assert_int_equal(sb_client_close_code(k[c].c, NULL), 0);
		while ((j = next(&e, &k[c]))) {
			assert_string_equal(str(j, "event"), "app.status");
			assert_string_equal(str(j, "channel"), "private-cache-team.42");
			n++;
			cJSON_Delete(j);
		}
		assert_int_equal(n, 60);
		assert_int_equal(sb_client_close_code(k[c].c, NULL), 0);
	}
	assert_int_equal(sb_hub_metrics(e.hub)->slow_closes, 0);
	/* and it stays subscribed: the next status arrives */
	publish(&e, "team/42/app/aaaaaaaa-0000-0000-0000-000000000007/status",
		STATUS("stopped"), 1);
	for (int c = 0; c < 2; c++) {
		j = expect(&e, &k[c], "app.status", "private-cache-team.42");
		cJSON_Delete(j);
		conn_close(&e, &k[c]);
	}
	env_free(&e);
}

static void test_resubscribe_is_answered_again(void **state)
{
	struct env e;
	struct conn k;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_status(&e, &k, "private-team.42", A1, "running");
	expect_none(&e, &k);
	conn_close(&e, &k);
	env_free(&e);
}

static void test_unsubscribe(void **state)
{
	struct env e;
	struct conn k;
	struct sb_hub_gauges g;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.subscriptions, 1);
	frame(&k, "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"private-team.42\"}}");
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.subscriptions, 0);
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_none(&e, &k);
	/* unknown names are ignored, as Pusher does */
	frame(&k, "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"private-team.42\"}}");
	frame(&k, "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"nope\"}}");
	expect_none(&e, &k);
	/* and it can come back */
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	conn_close(&e, &k);
	env_free(&e);
}

/* ---- batches ------------------------------------------------------------------------------------ */

static void test_log_batch_is_one_event(void **state)
{
	struct env e;
	struct conn k;
	cJSON *j, *d;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-deploy." D1 ".logs");
	expect_subscribed(&e, &k, "private-deploy." D1 ".logs");
	for (int i = 1; i <= 10; i++) {
		char p[160];
		snprintf(p, sizeof(p), "{\"seq\":%d,\"ts\":\"2026-01-01T00:00:00Z\",\"level\":\"info\","
			 "\"stream\":\"stdout\",\"msg\":\"line %d\"}", i, i);
		publish(&e, "deploy/" D1 "/logs", p, 0);
	}
	j = expect(&e, &k, "deploy.log.batch", "private-deploy." D1 ".logs");
	d = data_of(j);
	assert_true(cJSON_IsArray(d));
	assert_int_equal(cJSON_GetArraySize(d), 10);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 0), "seq")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 9), "seq")->valueint, 10);
	cJSON_Delete(d);
	cJSON_Delete(j);
	/* a partial batch flushes on the clock */
	publish(&e, "deploy/" D1 "/logs", "{\"seq\":11,\"ts\":\"2026-01-01T00:00:00Z\",\"level\":\"info\","
		"\"stream\":\"stdout\",\"msg\":\"line 11\"}", 0);
	expect_none(&e, &k);
	fake_now += 200;
	sb_hub_tick(e.hub);
	j = expect(&e, &k, "deploy.log.batch", "private-deploy." D1 ".logs");
	cJSON_Delete(j);
	conn_close(&e, &k);
	env_free(&e);
}

/* ---- limits ----------------------------------------------------------------------------------------- */

static void test_subscription_limit(void **state)
{
	struct env e;
	struct conn k;
	char name[64];
	(void)state;

	env_init(&e, NULL, NULL);   /* max_subscriptions 8 */
	k = open_conn(&e);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "private-team.t%d", i);
		subscribe_signed(&k, name);
		expect_subscribed(&e, &k, name);
	}
	subscribe_signed(&k, "private-team.t8");
	expect_sub_error(&e, &k, "private-team.t8", 429);
	conn_close(&e, &k);
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_channel),
		cmocka_unit_test(test_bad_signature_gets_no_data),
		cmocka_unit_test(test_trust_is_per_channel),
		cmocka_unit_test(test_private_bypasses_jwt_acl_only_for_that_channel),
		cmocka_unit_test(test_public_channel),
		cmocka_unit_test(test_cache_channels),
		cmocka_unit_test(test_big_cache_snapshot_keeps_reader),
		cmocka_unit_test(test_resubscribe_is_answered_again),
		cmocka_unit_test(test_unsubscribe),
		cmocka_unit_test(test_log_batch_is_one_event),
		cmocka_unit_test(test_subscription_limit),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
