/* SPDX-License-Identifier: MIT
 *
 * test_live.c - unit tests for live.c: an acknowledgement means live
 * (docs/protocol.md §5).  A sub is acknowledged only once the broker
 * granted every filter of its channel and the replay barrier sent after
 * the grant came back (so the snapshot holds the broker's retained replay);
 * it gets no live traffic before its ack; it gets `unavailable` when the
 * broker does not answer in time; a sub for a deploy not known yet waits
 * for the deploy's status; an HTTP query for a channel nobody follows is
 * answered once that channel is live; after a lost MQTT session, statuses
 * the broker's replay no longer has become `deleted`; an empty replay of a
 * wildcard filter whose statuses the cache knows (a broker like RabbitMQ)
 * is counted and warned once.  The broker is fake_broker.h, held
 * back or stepped by hand.
 */
#include "hub_fixture.h"

#include "dict.h"
#include "hub_internal.h"   /* which filters were warned about */

#define NOTIFY "{\"ts\":\"2026-01-01T00:00:00Z\",\"title\":\"t\",\"level\":\"info\"}"
#define STATUS(s) "{\"ts\":\"2026-01-01T00:00:00Z\",\"status\":\"" s "\"}"

static void test_ack_waits_for_grant_and_barrier(void **state)
{
	struct env e;
	struct sb_client *c;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	c = client(&e, NULL);
	fb_hold(&e.fake.broker, 1);
	tx(&e, c, "{\"op\":\"sub\",\"id\":1,\"channel\":\"user.u1\"}");
	expect_nothing(&e, c);
	/* published before the broker granted: not this client's (yet) */
	publish(&e, "user/u1/notify", NOTIFY, 0);
	expect_nothing(&e, c);
	/* granted, but the barrier is not back */
	fb_grant(&e.fake.broker);
	expect_nothing(&e, c);
	fb_hold(&e.fake.broker, 0);
	j = expect_op(&e, c, "ack");
	assert_int_equal(nget(j, "id"), 1);
	assert_string_equal(sget(j, "channel"), "user.u1");
	cJSON_Delete(j);
	expect_nothing(&e, c);
	/* from the ack on, everything */
	publish(&e, "user/u1/notify", NOTIFY, 0);
	cJSON_Delete(expect_op(&e, c, "event"));
	assert_true(sb_hub_metrics(e.hub)->barriers_sent > 0);
	env_fini(&e);
}

/* The barrier's payload is a number read from the broker (anyone who may
 * write the sync topic can forge one): only a barrier the bridge sent
 * (1 .. the last one) marks filters as synced. */
static void test_barrier_payload_range(void **state)
{
	struct fake_broker *b;
	struct sb_client *c;
	struct env e;
	const char *t, *nl;
	char topic[128], forged[10][32];
	long long n;
	(void)state;

	env_init(&e, "{}", 0);
	b = &e.fake.broker;
	c = client(&e, NULL);
	fb_hold(b, 1);
	tx(&e, c, "{\"op\":\"sub\",\"id\":1,\"channel\":\"user.u1\"}");
	fb_grant(b);
	assert_true(b->nbar > b->echoed);   /* barrier n sent after the grant */
	t = b->barriers[b->nbar - 1];
	nl = strchr(t, '\n');
	snprintf(topic, sizeof(topic), "%.*s", (int)(nl - t), t);
	n = atoll(nl + 1);
	assert_true(n >= 1);
	snprintf(forged[0], sizeof(forged[0]), "0");                  /* min - 1 */
	snprintf(forged[1], sizeof(forged[1]), "-1");
	snprintf(forged[2], sizeof(forged[2]), "%lld", n + 1);        /* max + 1: not sent */
	snprintf(forged[3], sizeof(forged[3]), "9223372036854775807");
	snprintf(forged[4], sizeof(forged[4]), "99999999999999999999999");   /* overflow */
	snprintf(forged[5], sizeof(forged[5]), "abc");
	snprintf(forged[6], sizeof(forged[6]), "%lldx", n);
	snprintf(forged[7], sizeof(forged[7]), "%lld.0", n);
	snprintf(forged[8], sizeof(forged[8]), "%s", "");
	snprintf(forged[9], sizeof(forged[9]), "-9223372036854775809");
	for (size_t i = 0; i < SB_ARRAY_LEN(forged); i++) {
		struct sb_msg *m = sb_msg_create(topic, strlen(topic), forged[i], strlen(forged[i]), 0);

		sb_hub_on_message(e.hub, m);
		sb_msg_unref(m);
		if (pull(&e, c))
			fail_msg("barrier payload \"%s\" acknowledged the sub", forged[i]);
	}
	/* the real one (max) does */
	fb_hold(b, 0);
	cJSON_Delete(expect_op(&e, c, "ack"));
	env_fini(&e);
}

static void test_snapshot_holds_the_replay(void **state)
{
	struct env e;
	struct sb_client *c;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	c = client(&e, NULL);
	fb_hold(&e.fake.broker, 1);
	tx(&e, c, "{\"op\":\"sub\",\"id\":1,\"channel\":\"team.42\"}");
	fb_grant(&e.fake.broker);
	/* the broker's retained replay arrives after the grant */
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	publish(&e, "team/42/app/" A2 "/status", STATUS("stopped"), 1);
	expect_nothing(&e, c);
	fb_hold(&e.fake.broker, 0);
	cJSON_Delete(expect_op(&e, c, "ack"));
	for (int i = 0; i < 2; i++) {
		j = expect_op(&e, c, "event");
		assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retained")));
		cJSON_Delete(j);
	}
	expect_nothing(&e, c);
	env_fini(&e);
}

static void test_unavailable_when_the_broker_does_not_answer(void **state)
{
	struct env e;
	struct sb_client *c;
	struct sb_hub_gauges g;
	cJSON *j;
	(void)state;

	env_init(&e, "{\"limits\":{\"subscribe_timeout_ms\":300}}", 0);
	c = client(&e, NULL);
	fb_hold(&e.fake.broker, 1);
	tx(&e, c, "{\"op\":\"sub\",\"id\":7,\"channel\":\"user.u1\"}");
	assert_true(sb_hub_next_deadline(e.hub) <= fake_now + 300);
	advance(&e, 299);
	expect_nothing(&e, c);
	advance(&e, 1);
	j = expect_op(&e, c, "error");
	assert_string_equal(sget(j, "code"), "unavailable");
	assert_int_equal(nget(j, "id"), 7);
	assert_string_equal(sget(j, "channel"), "user.u1");
	cJSON_Delete(j);
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.subscriptions, 0);
	assert_int_equal(sb_hub_metrics(e.hub)->subscribe_timeouts, 1);
	/* a late grant changes nothing for it; a new sub works */
	fb_hold(&e.fake.broker, 0);
	expect_nothing(&e, c);
	sub(&e, c, 8, "user.u1");
	assert_int_equal(sb_client_close_code(c, NULL), 0);
	env_fini(&e);
}

static void test_sub_waits_for_the_link(void **state)
{
	struct env e;
	struct sb_client *c;
	(void)state;

	env_init(&e, "{}", 0);
	c = client(&e, NULL);
	sb_hub_mqtt_state(e.hub, 0);
	tx(&e, c, "{\"op\":\"sub\",\"id\":1,\"channel\":\"user.u1\"}");
	expect_nothing(&e, c);
	sb_hub_mqtt_state(e.hub, 1);   /* resubscribes; granted, synced */
	cJSON_Delete(expect_op(&e, c, "ack"));
	/* a channel already live is acknowledged at once */
	fb_hold(&e.fake.broker, 1);
	{
		struct sb_client *d = client(&e, NULL);
		tx(&e, d, "{\"op\":\"sub\",\"id\":1,\"channel\":\"user.u1\"}");
		cJSON_Delete(expect_op(&e, d, "ack"));
	}
	env_fini(&e);
}

static void test_unknown_deploy_waits_for_its_status(void **state)
{
	struct env e;
	struct sb_client *c;
	cJSON *j;
	char *t = token("u1", W0 + 3600, "42");
	(void)state;

	env_init(&e, "{}", 1);
	c = client(&e, t);
	tx(&e, c, "{\"op\":\"sub\",\"id\":3,\"channel\":\"deploy." D1 ".logs\"}");
	expect_nothing(&e, c);
	advance(&e, 1000);
	expect_nothing(&e, c);
	/* the deploy's status arrives: the sub goes on */
	publish(&e, "team/42/deploy/" D1 "/status", "{\"status\":\"running\"}", 1);
	j = expect_op(&e, c, "ack");
	assert_int_equal(nget(j, "id"), 3);
	cJSON_Delete(j);
	/* a deploy of another team: forbidden once known, not before */
	tx(&e, c, "{\"op\":\"sub\",\"id\":4,\"channel\":\"deploy." D2 ".logs\"}");
	expect_nothing(&e, c);
	publish(&e, "team/43/deploy/" D2 "/status", "{\"status\":\"running\"}", 1);
	expect_error_code(&e, c, "forbidden");
	/* a client that leaves while waiting is forgotten */
	tx(&e, c, "{\"op\":\"sub\",\"id\":5,\"channel\":\"deploy.aaaaaaaa-9999-9999-9999-999999999999.logs\"}");
	sb_hub_client_gone(e.hub, c);
	advance(&e, 6000);
	free(t);
	env_fini(&e);
}

static int waiter_calls;
static void waiter_ready(void *arg)
{
	(void)arg;
	waiter_calls++;
}

static void test_first_http_snapshot_waits_for_the_replay(void **state)
{
	struct env e;
	struct sb_hub_waiter w;
	enum sb_code code;
	char *body = NULL;
	(void)state;

	memset(&w, 0, sizeof(w));
	w.ready = waiter_ready;
	env_init(&e, "{}", 0);
	waiter_calls = 0;
	fb_hold(&e.fake.broker, 1);
	assert_int_equal(sb_hub_query(e.hub, NULL, "team.42", 0, 0, &body, &code, &w),
			 SB_ERR_PENDING);
	assert_null(body);
	fb_grant(&e.fake.broker);
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);   /* the replay */
	assert_int_equal(waiter_calls, 0);
	fb_hold(&e.fake.broker, 0);
	fb_pump(&e.fake.broker);
	assert_int_equal(waiter_calls, 1);
	assert_int_equal(sb_hub_query(e.hub, NULL, "team.42", 0, 0, &body, &code, &w), SB_OK);
	assert_non_null(strstr(body, "\"live\":true"));
	assert_non_null(strstr(body, A1));
	free(body);
	/* a broker that never answers: the waiter is called at the deadline
	 * and the answer says it is not live */
	fb_hold(&e.fake.broker, 1);
	assert_int_equal(sb_hub_query(e.hub, NULL, "team.43", 0, 0, &body, &code, &w),
			 SB_ERR_PENDING);
	advance(&e, 5000);
	assert_int_equal(waiter_calls, 2);
	assert_int_equal(sb_hub_query(e.hub, NULL, "team.43", 0, 0, &body, &code, NULL), SB_OK);
	assert_non_null(strstr(body, "\"live\":false"));
	free(body);
	/* a waiter cancelled by its caller is never called */
	assert_int_equal(sb_hub_query(e.hub, NULL, "team.44", 0, 0, &body, &code, &w),
			 SB_ERR_PENDING);
	sb_hub_waiter_cancel(e.hub, &w);
	advance(&e, 6000);
	assert_int_equal(waiter_calls, 2);
	env_fini(&e);
}

static void test_lost_session_reconciles_statuses(void **state)
{
	struct env e;
	struct sb_client *c;
	struct sb_hub_gauges g;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	publish(&e, "team/42/app/" A2 "/status", STATUS("running"), 1);
	c = client(&e, NULL);
	sub(&e, c, 1, "team.42");
	cJSON_Delete(expect_op(&e, c, "event"));
	cJSON_Delete(expect_op(&e, c, "event"));
	/* the link drops; the broker lost the bridge's session meanwhile, and
	 * A2 was deleted: its replay brings A1 only */
	fb_hold(&e.fake.broker, 1);
	sb_hub_mqtt_state(e.hub, 0);
	sb_hub_mqtt_state(e.hub, 1);
	sb_hub_mqtt_session_lost(e.hub);
	fb_grant(&e.fake.broker);
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_nothing(&e, c);
	fb_hold(&e.fake.broker, 0);
	j = expect_op(&e, c, "event");
	assert_string_equal(sget(j, "event"), "deleted");
	assert_string_equal(sget(j, "topic"), "team/42/app/" A2 "/status");
	cJSON_Delete(j);
	expect_nothing(&e, c);
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.cache_topics, 1);
	assert_int_equal(sb_hub_metrics(e.hub)->reconciled_deletes, 1);
	assert_int_equal(sb_hub_metrics(e.hub)->mqtt_sessions_lost, 1);
	env_fini(&e);
}

/* A broker that sends no retained messages to wildcard subscriptions
 * (RabbitMQ's MQTT plugin): a wildcard filter's barrier comes back with no
 * replay while the cache knows statuses under it.  Counted each time,
 * warned once per filter (live.c); a real replay, or nothing known, is
 * not counted. */
static void test_empty_replay_of_known_statuses_is_counted(void **state)
{
	struct env e;
	struct sb_client *c, *d;
	(void)state;

	env_init(&e, "{}", 0);
	/* known through the bridge's own team/+/app/+/status (owners) */
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	publish(&e, "team/42/app/" A2 "/status", STATUS("running"), 1);
	/* team.42's filters replayed as a broker should: nothing counted */
	c = client(&e, NULL);
	fb_hold(&e.fake.broker, 1);
	tx(&e, c, "{\"op\":\"sub\",\"id\":1,\"channel\":\"team.42\"}");
	fb_grant(&e.fake.broker);
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	fb_hold(&e.fake.broker, 0);
	cJSON_Delete(expect_op(&e, c, "ack"));
	cJSON_Delete(expect_op(&e, c, "event"));   /* the snapshot: A1, A2 */
	cJSON_Delete(expect_op(&e, c, "event"));
	assert_int_equal(sb_hub_metrics(e.hub)->retained_missing, 0);

	/* the link comes back and the broker replays nothing: the owners'
	 * team/+/app/+/status knew 2 (team.42's team/42/app/+/status rides
	 * on it, filters.h: not subscribed itself); the other wildcard
	 * filters knew nothing */
	sb_hub_mqtt_state(e.hub, 0);
	sb_hub_mqtt_state(e.hub, 1);
	expect_nothing(&e, c);   /* pumps the broker */
	assert_int_equal(sb_hub_metrics(e.hub)->retained_missing, 1);
	assert_int_equal(sb_dict_size(e.hub->replay_warned), 1);
	assert_non_null(sb_dict_get(e.hub->replay_warned, "team/+/app/+/status"));
	/* again: counted again, not warned again */
	sb_hub_mqtt_state(e.hub, 0);
	sb_hub_mqtt_state(e.hub, 1);
	expect_nothing(&e, c);
	assert_int_equal(sb_hub_metrics(e.hub)->retained_missing, 2);
	assert_int_equal(sb_dict_size(e.hub->replay_warned), 1);

	/* a new channel's wildcard filter with nothing known: not counted */
	d = client(&e, NULL);
	sub(&e, d, 2, "team.43");
	assert_int_equal(sb_hub_metrics(e.hub)->retained_missing, 2);
	/* a new channel over statuses known from the owners' filter: its
	 * filter rides on that one, no replay is asked for, none missed */
	publish(&e, "team/44/app/" A1 "/status", STATUS("running"), 1);
	sub(&e, d, 3, "team.44");
	assert_int_equal(sb_hub_metrics(e.hub)->retained_missing, 2);
	assert_null(sb_dict_get(e.hub->replay_warned, "team/44/app/+/status"));
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_waits_for_grant_and_barrier),
		cmocka_unit_test(test_barrier_payload_range),
		cmocka_unit_test(test_snapshot_holds_the_replay),
		cmocka_unit_test(test_unavailable_when_the_broker_does_not_answer),
		cmocka_unit_test(test_sub_waits_for_the_link),
		cmocka_unit_test(test_unknown_deploy_waits_for_its_status),
		cmocka_unit_test(test_first_http_snapshot_waits_for_the_replay),
		cmocka_unit_test(test_lost_session_reconciles_statuses),
		cmocka_unit_test(test_empty_replay_of_known_statuses_is_counted),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
