/* SPDX-License-Identifier: MIT
 *
 * test_channel.c - unit tests for channel.c, what happens inside a live
 * channel on the fake clock: log lines batched (flushed at max_events, by
 * the batch deadline, or all at once at shutdown), stats conflated per
 * topic over an interval, the seq history and resume with since (replayed
 * without duplicates or holes, a gap frame first when history no longer
 * holds the lines, a pending batch straddling since, the channel lingering
 * after its last subscriber) and QoS 1 duplicate lines dropped.  The
 * environment is hub_fixture.h.
 */
#include "hub_fixture.h"

/* ---- batching and conflation -------------------------------------------------------------- */

static void test_batch_at_max_events(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	const cJSON *ev;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 9; i++)
		log_line(&e, D1, i);
	expect_nothing(&e, a);
	log_line(&e, D1, 10);
	/* the tenth line flushes at once: one batch frame, in order */
	j = expect_op(&e, a, "batch");
	assert_string_equal(sget(j, "channel"), "deploy." D1 ".logs");
	assert_string_equal(sget(j, "event"), "deploy.log");
	ev = cJSON_GetObjectItemCaseSensitive(j, "events");
	assert_int_equal(cJSON_GetArraySize(ev), 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(nget(cJSON_GetArrayItem(ev, i), "seq"), i + 1);
		assert_string_equal(sget(cJSON_GetArrayItem(ev, i), "level"), "info");
	}
	cJSON_Delete(j);
	expect_nothing(&e, a);
	assert_int_equal(sb_hub_metrics(e.hub)->batches, 1);
	env_fini(&e);
}

/* The histograms of docs/metrics.md: every message's hand-off wait; a live
 * delivery's latency once per frame per client, when the frame is taken
 * for the socket (a batch: once, from its oldest line); a snapshot replayed
 * on subscribe is no delivery; lines per batch frame. */
static void test_latency_histograms(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	const struct sb_metrics *m;
	uint64_t in0, out0;
	(void)state;

	env_init(&e, "{}", 0);
	m = sb_hub_metrics(e.hub);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	sub(&e, a, 2, "deploy." D1 ".logs");
	in0 = m->ingest_latency.count;
	out0 = m->delivery_latency.count;
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"running\"}", 1);
	assert_int_equal(m->ingest_latency.count, in0 + 1);
	assert_int_equal(m->delivery_latency.count, out0);   /* queued, not taken yet */
	cJSON_Delete(expect_op(&e, a, "event"));
	assert_int_equal(m->delivery_latency.count, out0 + 1);
	assert_true(m->delivery_latency.sum >= 0);

	b = client(&e, NULL);
	sub(&e, b, 1, "team.42");
	cJSON_Delete(expect_op(&e, b, "event"));              /* the snapshot */
	expect_nothing(&e, b);
	assert_int_equal(m->delivery_latency.count, out0 + 1);

	for (int i = 1; i <= 10; i++)
		log_line(&e, D1, i);
	assert_int_equal(m->ingest_latency.count, in0 + 11);
	assert_int_equal(m->batch_lines.count, 1);
	assert_int_equal(m->batch_lines.counts[3], 1);        /* le="10" */
	assert_true(m->batch_lines.sum == 10.0);
	cJSON_Delete(expect_op(&e, a, "batch"));
	expect_nothing(&e, a);
	assert_int_equal(m->delivery_latency.count, out0 + 2);
	env_fini(&e);
}

static void test_batch_flushed_by_clock(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	assert_int_equal(sb_hub_next_deadline(e.hub), T0 + 1000);   /* the client sweep only */
	log_line(&e, D1, 1);
	/* first line sets the deadline: max_delay_ms = 100 after it */
	assert_int_equal(sb_hub_next_deadline(e.hub), T0 + 100);
	assert_int_equal(e.fake.timer, T0 + 100);
	fake_now += 40;
	log_line(&e, D1, 2);
	log_line(&e, D1, 3);
	assert_int_equal(sb_hub_next_deadline(e.hub), T0 + 100);   /* not pushed back */
	advance(&e, 59);                                           /* T0 + 99 */
	expect_nothing(&e, a);
	advance(&e, 1);                                            /* T0 + 100 */
	j = expect_op(&e, a, "batch");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "events")), 3);
	cJSON_Delete(j);
	expect_nothing(&e, a);
	/* nothing pending: back to the sweep deadline */
	assert_true(sb_hub_next_deadline(e.hub) > fake_now);
	assert_int_equal(sb_hub_next_deadline(e.hub), e.fake.timer);
	env_fini(&e);
}

static void test_flush_all(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	log_line(&e, D1, 1);
	log_line(&e, D1, 2);
	/* SIGTERM: pending batches go out now, then every client gets 1001 */
	sb_hub_flush_all(e.hub);
	sb_hub_close_all(e.hub, 1001, "bridge shutting down");
	assert_int_equal(sb_client_close_code(a, NULL), 1001);
	j = expect_op(&e, a, "batch");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "events")), 2);
	cJSON_Delete(j);
	env_fini(&e);
}

static int closing(struct sb_client **c, int n)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += sb_client_close_code(c[i], NULL) == 1001;
	return k;
}

/* A drain closes clients in slices, each once. */
static void test_close_some(void **state)
{
	struct env e;
	struct sb_client *c[5];
	(void)state;

	env_init(&e, "{}", 0);
	for (int i = 0; i < 5; i++)
		c[i] = client(&e, NULL);
	assert_int_equal(sb_hub_close_some(e.hub, 2, 1001, "drain"), 2);
	assert_int_equal(closing(c, 5), 2);
	assert_int_equal(sb_hub_close_some(e.hub, 0, 1001, "drain"), 0);
	assert_int_equal(sb_hub_close_some(e.hub, 2, 1001, "drain"), 2);
	assert_int_equal(closing(c, 5), 4);
	assert_int_equal(sb_hub_close_some(e.hub, 10, 1001, "drain"), 1);
	assert_int_equal(closing(c, 5), 5);
	assert_int_equal(sb_hub_close_some(e.hub, 10, 1001, "drain"), 0);
	env_fini(&e);
}

static void test_conflate_stats(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	char payload[64];
	int seen1 = 0, seen2 = 0;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42.stats");
	for (int i = 1; i <= 20; i++) {
		snprintf(payload, sizeof(payload), "{\"cpu\":%d}", i);
		publish(&e, "team/42/app/" A1 "/stats", payload, 0);
		if (i % 4 == 0) {
			snprintf(payload, sizeof(payload), "{\"cpu\":%d}", 100 + i);
			publish(&e, "team/42/app/" A2 "/stats", payload, 0);
		}
		fake_now += 10;            /* 200 ms in all: one interval */
	}
	expect_nothing(&e, a);
	assert_int_equal(sb_hub_next_deadline(e.hub), T0 + 250);
	advance(&e, T0 + 250 - fake_now);
	/* one event per topic, the latest value */
	while ((j = pull(&e, a))) {
		assert_true(is_op(j, "event"));
		assert_string_equal(sget(j, "event"), "app.stats");
		assert_string_equal(sget(j, "channel"), "team.42.stats");
		if (strcmp(sget(j, "topic"), "team/42/app/" A1 "/stats") == 0) {
			seen1++;
			assert_int_equal(nget(cJSON_GetObjectItemCaseSensitive(j, "data"), "cpu"), 20);
		} else {
			assert_string_equal(sget(j, "topic"), "team/42/app/" A2 "/stats");
			seen2++;
			assert_int_equal(nget(cJSON_GetObjectItemCaseSensitive(j, "data"), "cpu"), 120);
		}
		cJSON_Delete(j);
	}
	assert_int_equal(seen1, 1);
	assert_int_equal(seen2, 1);
	assert_int_equal(sb_hub_metrics(e.hub)->conflated_interval, 19 + 4);
	/* the next interval starts with the next message */
	publish(&e, "team/42/app/" A1 "/stats", "{\"cpu\":7}", 0);
	assert_int_equal(sb_hub_next_deadline(e.hub), fake_now + 250);
	advance(&e, 250);
	j = expect_op(&e, a, "event");
	assert_int_equal(nget(cJSON_GetObjectItemCaseSensitive(j, "data"), "cpu"), 7);
	cJSON_Delete(j);
	env_fini(&e);
}

/* ---- history and resume ------------------------------------------------------------------- */

static void test_resume_replays_missing_lines(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 30; i++)
		log_line(&e, D1, i);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 1, 30);
	/* a reconnecting browser saw up to 20 */
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 20), 1);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	expect_seqs(&v, 21, 30);
	assert_int_equal(v.ngaps, 0);
	assert_int_equal(sb_hub_metrics(e.hub)->history_served, 10);
	/* then live, no duplicate, no hole */
	for (int i = 31; i <= 35; i++)
		log_line(&e, D1, i);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	expect_seqs(&v, 31, 35);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 31, 35);
	env_fini(&e);
}

static void test_resume_with_pending_batch(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 25; i++)     /* 1-20 flushed, 21-25 pending */
		log_line(&e, D1, i);
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 15), 1);
	advance(&e, 100);
	for (int i = 26; i <= 40; i++)
		log_line(&e, D1, i);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	expect_seqs(&v, 16, 40);
	assert_int_equal(v.ngaps, 0);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 1, 40);
	env_fini(&e);
}

static void test_resume_after_leaving(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 10; i++)
		log_line(&e, D1, i);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 1, 10);
	/* the only subscriber leaves; the channel lingers with its history and
	 * its MQTT subscription, so lines published meanwhile are kept */
	sb_hub_client_gone(e.hub, a);
	assert_int_equal(live_of(&e.fake, "deploy/" D1 "/logs"), 1);
	for (int i = 11; i <= 17; i++)
		log_line(&e, D1, i);
	advance(&e, 5000);
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 10), 1);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	/* the lines published while nobody was subscribed are replayed */
	expect_seqs(&v, 11, 17);
	assert_int_equal(v.ngaps, 0);
	sb_hub_client_gone(e.hub, b);
	/* a minute after the last subscriber the channel goes for good */
	advance(&e, 60000);
	assert_int_equal(live_of(&e.fake, "deploy/" D1 "/logs"), 0);
	env_fini(&e);
}

static void test_resume_history_exceeded(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{\"limits\":{\"send_queue_bytes\":16777216,\"send_queue_frames\":100000}}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 1100; i++)
		log_line(&e, D1, i);
	sb_hub_client_gone(e.hub, a);
	/* history keeps the last 1000 lines: 101..1100 */
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 5), 0);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	/* one gap for what history no longer holds, then the lines */
	assert_int_equal(v.ngaps, 1);
	assert_int_equal(v.gap[0].from, 6);
	assert_int_equal(v.gap[0].to, 100);
	expect_seqs(&v, 101, 1100);
	/* the gap comes before the lines */
	env_fini(&e);
}

static void test_resume_gap_frame_first(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	cJSON *j;
	(void)state;

	env_init(&e, "{\"limits\":{\"send_queue_bytes\":16777216,\"send_queue_frames\":100000}}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 1010; i++)
		log_line(&e, D1, i);
	sb_hub_client_gone(e.hub, a);
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 0), 0);
	j = expect_op(&e, b, "gap");
	assert_int_equal(nget(j, "from"), 1);
	assert_int_equal(nget(j, "to"), 10);
	assert_string_equal(sget(j, "channel"), "deploy." D1 ".logs");
	cJSON_Delete(j);
	j = expect_op(&e, b, "batch");
	assert_int_equal(nget(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "events"), 0),
			      "seq"), 11);
	cJSON_Delete(j);
	env_fini(&e);
}

static void test_resume_up_to_date(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 20; i++)
		log_line(&e, D1, i);
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 20), 1);
	expect_nothing(&e, b);
	log_line(&e, D1, 21);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	expect_seqs(&v, 21, 21);
	/* status channels ignore since: no "recovered" in the ack */
	assert_int_equal(sub_since(&e, b, 2, "team.42", 5), -1);
	env_fini(&e);
}

static void test_resume_since_inside_pending_batch(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 25; i++)     /* 1-20 flushed here, 21-25 pending */
		log_line(&e, D1, i);
	/* a browser coming from another bridge (docs/protocol.md §10) already has
	 * up to 23 */
	b = client(&e, NULL);
	sub_since(&e, b, 1, "deploy." D1 ".logs", 23);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	/* the pending batch straddles since: only 24 and 25, no duplicate */
	expect_seqs(&v, 24, 25);
	env_fini(&e);
}

static void test_duplicate_log_line_dropped(void **state)
{
	struct env e;
	struct sb_client *a;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	log_line(&e, D1, 1);
	log_line(&e, D1, 2);
	log_line(&e, D1, 2);       /* QoS 1 redelivery */
	log_line(&e, D1, 3);
	log_line(&e, D1, 1);       /* a late replay */
	/* seq not first in the payload is read too */
	publish(&e, "deploy/" D1 "/logs", "{\"msg\":\"x\",\"seq\":3,\"level\":\"info\"}", 0);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 1, 3);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_duplicate, 3);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_at_max_events),
		cmocka_unit_test(test_latency_histograms),
		cmocka_unit_test(test_batch_flushed_by_clock),
		cmocka_unit_test(test_flush_all),
		cmocka_unit_test(test_close_some),
		cmocka_unit_test(test_conflate_stats),
		cmocka_unit_test(test_resume_replays_missing_lines),
		cmocka_unit_test(test_resume_with_pending_batch),
		cmocka_unit_test(test_resume_after_leaving),
		cmocka_unit_test(test_resume_history_exceeded),
		cmocka_unit_test(test_resume_gap_frame_first),
		cmocka_unit_test(test_resume_up_to_date),
		cmocka_unit_test(test_resume_since_inside_pending_batch),
		cmocka_unit_test(test_duplicate_log_line_dropped),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
