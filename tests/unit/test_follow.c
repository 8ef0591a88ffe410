/* SPDX-License-Identifier: MIT
 *
 * test_follow.c - unit tests for follow.c: logs of active deploys are
 * followed by the bridge from their first line, whether or not a browser
 * watches yet (docs/protocol.md §3.4).  A created/queued/running status
 * holds deploy.<d>.logs (its MQTT filter subscribed, no subscriber needed);
 * a late viewer resuming from since=0 gets lines 1.. and recovered: true; a
 * finished, failed or deleted status releases the hold and the channel
 * lingers 60 s; logs.follow "watched" follows nothing; logs.max_followed
 * bounds the holds.  `recovered` stays honest about where the stream
 * starts: known for a deploy followed before it began, unknown for one
 * first seen running or one that began before the subscription was live.
 */
#include "hub_fixture.h"

#define LOGS1 "deploy." D1 ".logs"
#define LOGS2 "deploy." D2 ".logs"
#define FILTER1 "deploy/" D1 "/logs"
#define FILTER2 "deploy/" D2 "/logs"

/* The deploy's status, as its job publishes it (retained); the broker
 * then has its turn (grants, barriers), as it would before the next
 * message of the job. */
static void status_of(struct env *e, const char *team, const char *deploy, const char *st)
{
	char topic[160], payload[200];

	snprintf(topic, sizeof(topic), "team/%s/deploy/%s/status", team, deploy);
	snprintf(payload, sizeof(payload),
		 "{\"ts\":\"2026-01-01T00:00:00Z\",\"status\":\"%s\",\"progress\":10}", st);
	publish(e, topic, payload, 1);
	fb_pump(&e->fake.broker);
}

static void status(struct env *e, const char *deploy, const char *st)
{
	status_of(e, "42", deploy, st);
}

static void lines(struct env *e, const char *deploy, int64_t first, int64_t last)
{
	for (int64_t s = first; s <= last; s++)
		log_line(e, deploy, s);
}

static size_t followed(struct env *e)
{
	struct sb_hub_gauges g;

	sb_hub_gauges(e->hub, &g);
	return g.logs_followed;
}

static size_t channels(struct env *e)
{
	struct sb_hub_gauges g;

	sb_hub_gauges(e->hub, &g);
	return g.channels;
}

/* A viewer's view of LOGS1 from since=0 (all frames, lines flushed). */
static int view_from_0(struct env *e, struct sb_client *c, int id, const char *channel,
		       struct logview *v)
{
	int rec = sub_since(e, c, id, channel, 0);

	advance(e, 100);   /* a pending batch goes out */
	memset(v, 0, sizeof(*v));
	read_logs(e, c, v);
	return rec;
}

/* c gets exactly lines first..last next (a pending batch sent), no gap. */
static void expect_lines(struct env *e, struct sb_client *c, int64_t first, int64_t last)
{
	struct logview v;

	advance(e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(e, c, &v);
	expect_seqs(&v, first, last);
	assert_int_equal(v.ngaps, 0);
}

static void test_created_is_followed_without_a_viewer(void **state)
{
	struct env e;
	struct sb_hub_gauges g;
	(void)state;

	env_init(&e, "{}", 0);
	status(&e, D1, "created");
	assert_int_equal(followed(&e), 1);
	assert_int_equal(subs_of(&e.fake, FILTER1), 1);
	assert_int_equal(live_of(&e.fake, FILTER1), 1);
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.subscriptions, 0);
	assert_int_equal(g.channels, 1);
	/* the next statuses of the active deploy change nothing */
	status(&e, D1, "queued");
	status(&e, D1, "running");
	assert_int_equal(followed(&e), 1);
	assert_int_equal(subs_of(&e.fake, FILTER1), 1);
	/* held: no linger, however long nobody watches */
	advance(&e, 10 * 60 * 1000);
	assert_int_equal(live_of(&e.fake, FILTER1), 1);
	env_fini(&e);
}

static void test_a_late_viewer_gets_the_log_from_line_1(void **state)
{
	struct env e;
	struct sb_client *c;
	(void)state;

	env_init(&e, "{}", 0);
	status(&e, D1, "queued");
	status(&e, D1, "running");
	lines(&e, D1, 1, 30);
	c = client(&e, NULL);
	assert_int_equal(sub_since(&e, c, 1, LOGS1, 0), 1);
	expect_lines(&e, c, 1, 30);
	/* then live, no hole */
	lines(&e, D1, 31, 40);
	expect_lines(&e, c, 31, 40);
	env_fini(&e);
}

static void test_a_viewer_before_the_first_line_is_recovered(void **state)
{
	struct env e;
	struct sb_client *c;
	(void)state;

	env_init(&e, "{}", 0);
	status(&e, D1, "created");
	c = client(&e, NULL);
	/* nothing written yet, and the bridge listened before the job began */
	assert_int_equal(sub_since(&e, c, 1, LOGS1, 0), 1);
	expect_nothing(&e, c);
	status(&e, D1, "running");
	lines(&e, D1, 1, 5);
	expect_lines(&e, c, 1, 5);
	env_fini(&e);
}

static void test_finished_lingers_then_goes(void **state)
{
	struct env e;
	struct sb_client *c;
	(void)state;

	env_init(&e, "{}", 0);
	status(&e, D1, "created");
	status(&e, D1, "running");
	lines(&e, D1, 1, 30);
	status(&e, D1, "finished");
	assert_int_equal(followed(&e), 0);
	/* a late viewer after the finish still gets every line */
	advance(&e, 30000);
	c = client(&e, NULL);
	assert_int_equal(sub_since(&e, c, 1, LOGS1, 0), 1);
	expect_lines(&e, c, 1, 30);
	/* it leaves: the channel lingers 60 s after it, then goes */
	assert_int_equal(sb_hub_unsubscribe(e.hub, c, LOGS1), SB_OK);
	advance(&e, 59999);
	assert_int_equal(live_of(&e.fake, FILTER1), 1);
	advance(&e, 1);
	assert_int_equal(live_of(&e.fake, FILTER1), 0);
	assert_int_equal(unsubs_of(&e.fake, FILTER1), 1);
	/* and with no viewer at all: 60 s after the finish */
	status(&e, D2, "running");
	lines(&e, D2, 1, 3);
	status(&e, D2, "failed");
	advance(&e, 59999);
	assert_int_equal(live_of(&e.fake, FILTER2), 1);
	advance(&e, 1);
	assert_int_equal(live_of(&e.fake, FILTER2), 0);
	assert_int_equal(channels(&e), 0);
	env_fini(&e);
}

static void test_a_viewer_who_leaves_an_active_deploy(void **state)
{
	struct env e;
	struct sb_client *c;
	(void)state;

	env_init(&e, "{}", 0);
	status(&e, D1, "running");
	c = client(&e, NULL);
	sub(&e, c, 1, LOGS1);
	sb_hub_client_gone(e.hub, c);
	/* still followed: no linger while the deploy runs */
	advance(&e, 120000);
	assert_int_equal(live_of(&e.fake, FILTER1), 1);
	assert_int_equal(followed(&e), 1);
	/* deleted: the hold ends, and the linger follows */
	publish(&e, "team/42/deploy/" D1 "/status", "", 1);
	assert_int_equal(followed(&e), 0);
	advance(&e, 60000);
	assert_int_equal(live_of(&e.fake, FILTER1), 0);
	env_fini(&e);
}

static void test_a_lingering_channel_is_held_again(void **state)
{
	struct env e;
	struct sb_client *c;
	(void)state;

	env_init(&e, "{}", 0);
	c = client(&e, NULL);
	status(&e, D1, "finished");
	assert_int_equal(followed(&e), 0);
	sub(&e, c, 1, LOGS1);
	sb_hub_client_gone(e.hub, c);   /* lingers */
	advance(&e, 30000);
	status(&e, D1, "queued");       /* run again */
	assert_int_equal(followed(&e), 1);
	advance(&e, 120000);
	assert_int_equal(live_of(&e.fake, FILTER1), 1);
	assert_int_equal(subs_of(&e.fake, FILTER1), 1);
	env_fini(&e);
}

static void test_watched_follows_nothing(void **state)
{
	struct env e;
	struct sb_client *c;
	(void)state;

	env_init(&e, "{\"logs\":{\"follow\":\"watched\"}}", 0);
	status(&e, D1, "created");
	status(&e, D1, "running");
	assert_int_equal(followed(&e), 0);
	assert_int_equal(subs_of(&e.fake, FILTER1), 0);
	assert_int_equal(channels(&e), 0);
	lines(&e, D1, 1, 10);
	/* today's behaviour: watched only, then the linger */
	c = client(&e, NULL);
	assert_int_equal(sub_since(&e, c, 1, LOGS1, 0), 0);
	sb_hub_client_gone(e.hub, c);
	advance(&e, 60000);
	assert_int_equal(live_of(&e.fake, FILTER1), 0);
	env_fini(&e);
}

static void test_first_seen_running_is_not_recovered(void **state)
{
	struct env e;
	struct sb_client *c;
	struct logview v;
	char *body = NULL;
	enum sb_code code;
	(void)state;

	env_init(&e, "{}", 0);
	/* the bridge (re)started while the deploy ran: lines 1-10 went by */
	status(&e, D1, "running");
	assert_int_equal(followed(&e), 1);
	c = client(&e, NULL);
	assert_int_equal(sub_since(&e, c, 1, LOGS1, 0), 0);   /* no line yet: unknown */
	sb_hub_client_gone(e.hub, c);
	lines(&e, D1, 11, 30);
	c = client(&e, NULL);
	assert_int_equal(view_from_0(&e, c, 2, LOGS1, &v), 0);
	assert_int_equal(v.ngaps, 1);
	assert_int_equal(v.gap[0].from, 1);
	assert_int_equal(v.gap[0].to, 10);
	expect_seqs(&v, 11, 30);
	assert_int_equal(sb_hub_query(e.hub, NULL, LOGS1, 1, 0, &body, &code, NULL), SB_OK);
	assert_non_null(strstr(body, "\"gaps\":[{\"from\":1,\"to\":10}]"));
	free(body);
	env_fini(&e);
}

static void test_started_before_the_bridge_listened(void **state)
{
	struct env e;
	struct sb_client *c;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	/* queued, but the broker has not granted the logs filter yet when the
	 * job starts: its first lines may be gone */
	fb_hold(&e.fake.broker, 1);
	status(&e, D1, "queued");
	status(&e, D1, "running");
	fb_hold(&e.fake.broker, 0);
	fb_pump(&e.fake.broker);
	c = client(&e, NULL);
	assert_int_equal(sub_since(&e, c, 1, LOGS1, 0), 0);
	sb_hub_client_gone(e.hub, c);
	/* a first line above 1 is not a jump either: the start is unknown */
	lines(&e, D1, 4, 6);
	c = client(&e, NULL);
	assert_int_equal(view_from_0(&e, c, 2, LOGS1, &v), 0);
	assert_int_equal(v.ngaps, 1);
	assert_int_equal(v.gap[0].from, 1);
	assert_int_equal(v.gap[0].to, 3);
	expect_seqs(&v, 4, 6);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_seq_gap, 0);
	env_fini(&e);
}

static void test_a_first_line_above_1_is_a_jump(void **state)
{
	struct env e;
	struct sb_client *c;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	status(&e, D1, "created");
	c = client(&e, NULL);
	sub(&e, c, 1, LOGS1);
	status(&e, D1, "running");
	lines(&e, D1, 4, 6);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, c, &v);
	assert_int_equal(v.ngaps, 1);
	assert_int_equal(v.gap[0].from, 1);
	assert_int_equal(v.gap[0].to, 3);
	expect_seqs(&v, 4, 6);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_seq_gap, 3);
	env_fini(&e);
}

static void test_max_followed(void **state)
{
	struct env e;
	(void)state;

	env_init(&e, "{\"logs\":{\"max_followed\":1}}", 0);
	status(&e, D1, "running");
	status(&e, D2, "created");
	assert_int_equal(followed(&e), 1);
	assert_int_equal(subs_of(&e.fake, FILTER2), 0);
	assert_int_equal(sb_hub_metrics(e.hub)->follow_refused, 1);
	/* a slot frees: D2's next status takes it */
	status(&e, D1, "finished");
	status(&e, D2, "running");
	assert_int_equal(followed(&e), 1);
	assert_int_equal(live_of(&e.fake, FILTER2), 1);
	assert_int_equal(sb_hub_metrics(e.hub)->follow_refused, 1);
	env_fini(&e);
}

static void test_a_foreign_delete_does_not_release(void **state)
{
	struct env e;
	(void)state;

	env_init(&e, "{}", 0);
	status(&e, D1, "running");
	assert_int_equal(followed(&e), 1);
	/* an empty retained message under another team's prefix: not the
	 * owner's word, the deploy's logs stay followed */
	publish(&e, "team/43/deploy/" D1 "/status", "", 1);
	fb_pump(&e.fake.broker);
	assert_int_equal(followed(&e), 1);
	/* the owner's own delete does release it */
	publish(&e, "team/42/deploy/" D1 "/status", "", 1);
	fb_pump(&e.fake.broker);
	assert_int_equal(followed(&e), 0);
	env_fini(&e);
}

static void test_a_contested_deploy_is_not_followed(void **state)
{
	struct env e;
	(void)state;

	env_init(&e, "{}", 0);
	status(&e, D1, "running");
	assert_int_equal(followed(&e), 1);
	/* another team's status for it: nobody owns it, nobody may read its
	 * logs, so the bridge stops following it */
	status_of(&e, "43", D1, "running");
	assert_int_equal(followed(&e), 0);
	status(&e, D1, "running");
	assert_int_equal(followed(&e), 0);
	status_of(&e, "43", D1, "queued");
	assert_int_equal(followed(&e), 0);
	assert_int_equal(sb_hub_metrics(e.hub)->owner_contested, 1);
	env_fini(&e);
}

static int waiter_calls;
static void waiter_ready(void *arg)
{
	(void)arg;
	waiter_calls++;
}

static void test_a_query_does_not_linger_a_held_channel(void **state)
{
	struct env e;
	struct sb_hub_waiter w;
	enum sb_code code;
	char *body = NULL;
	(void)state;

	memset(&w, 0, sizeof(w));
	w.ready = waiter_ready;
	env_init(&e, "{}", 0);
	fb_hold(&e.fake.broker, 1);
	status(&e, D1, "queued");
	/* not live yet: the query waits (and would linger a channel it started) */
	assert_int_equal(sb_hub_query(e.hub, NULL, LOGS1, 1, 0, &body, &code, &w), SB_ERR_PENDING);
	fb_hold(&e.fake.broker, 0);
	fb_pump(&e.fake.broker);
	assert_int_equal(waiter_calls, 1);
	advance(&e, 120000);
	assert_int_equal(live_of(&e.fake, FILTER1), 1);
	assert_int_equal(followed(&e), 1);
	env_fini(&e);
}

/* /readyz (sb_hub_warm): the owners' subscriptions synced and every
 * followed deploy's log live; a bridge that still subscribes one is not
 * ready, so that a client moving here with `since` finds its lines. */
static void test_warm_waits_for_followed_logs(void **state)
{
	struct env e;
	(void)state;

	env_init(&e, "{}", 0);
	assert_true(sb_hub_warm(e.hub));
	/* the link comes back; the owners' replay names a running deploy */
	sb_hub_mqtt_state(e.hub, 0);
	assert_false(sb_hub_warm(e.hub));
	fb_hold(&e.fake.broker, 1);
	sb_hub_mqtt_state(e.hub, 1);
	assert_false(sb_hub_warm(e.hub));      /* the owners' filters not granted */
	status(&e, D1, "running");
	assert_int_equal(followed(&e), 1);
	fb_grant(&e.fake.broker);
	fb_pump(&e.fake.broker);
	assert_false(sb_hub_warm(e.hub));      /* deploy/<d>/logs not granted yet */
	fb_grant(&e.fake.broker);
	fb_hold(&e.fake.broker, 0);
	fb_pump(&e.fake.broker);               /* the barriers come back */
	assert_int_equal(live_of(&e.fake, FILTER1), 1);
	assert_true(sb_hub_warm(e.hub));
	/* latched: a deploy that starts later does not unsettle it */
	fb_hold(&e.fake.broker, 1);
	status(&e, D2, "running");
	assert_int_equal(followed(&e), 2);
	assert_true(sb_hub_warm(e.hub));
	fb_grant(&e.fake.broker);
	fb_hold(&e.fake.broker, 0);
	fb_pump(&e.fake.broker);
	/* the link drops: nothing is live */
	sb_hub_mqtt_state(e.hub, 0);
	assert_false(sb_hub_warm(e.hub));
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_created_is_followed_without_a_viewer),
		cmocka_unit_test(test_a_late_viewer_gets_the_log_from_line_1),
		cmocka_unit_test(test_a_viewer_before_the_first_line_is_recovered),
		cmocka_unit_test(test_finished_lingers_then_goes),
		cmocka_unit_test(test_a_viewer_who_leaves_an_active_deploy),
		cmocka_unit_test(test_a_lingering_channel_is_held_again),
		cmocka_unit_test(test_watched_follows_nothing),
		cmocka_unit_test(test_first_seen_running_is_not_recovered),
		cmocka_unit_test(test_started_before_the_bridge_listened),
		cmocka_unit_test(test_a_first_line_above_1_is_a_jump),
		cmocka_unit_test(test_max_followed),
		cmocka_unit_test(test_a_foreign_delete_does_not_release),
		cmocka_unit_test(test_a_contested_deploy_is_not_followed),
		cmocka_unit_test(test_a_query_does_not_linger_a_held_channel),
		cmocka_unit_test(test_warm_waits_for_followed_logs),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
