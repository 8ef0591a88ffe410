/* SPDX-License-Identifier: MIT
 *
 * test_channel_seq.c - unit tests for the seq continuity of log channels
 * (channel.c, docs/protocol.md §5.9 and §7), on a real hub driven the way
 * the adapters drive it, with a fake clock and fake ops.
 *
 * Covered: a jump in a stream's seq is a gap for every subscriber, in
 * order with the lines, counted; a resume across the hole gets
 * `recovered: false` and the gap where the lines were; `recovered` is true
 * only when every line after since is there (and never on a stream that
 * may have lost lines: a fresh channel, or one marked broken until its
 * next line); duplicates and late lines are dropped; /v1/history lists
 * every hole in "gaps".
 *
 * The fixture is hub_fixture.h.
 */
#include "hub_fixture.h"
#include "hub_internal.h"
#include "metrics_view.h"

#define LOGS "deploy." D1 ".logs"

static void seq_line(struct env *e, int64_t seq)
{
	log_line(e, D1, seq);
}

static void lines(struct env *e, int64_t first, int64_t last)
{
	for (int64_t s = first; s <= last; s++)
		seq_line(e, s);
}

/* Subscribes to LOGS (since < 0: without since) and consumes the ack;
 * returns its "recovered" (-1 = absent). */
static int sub_logs(struct env *e, struct sb_client *c, long long since)
{
	char text[256];
	const cJSON *r;
	cJSON *j;
	int rec;

	if (since >= 0)
		snprintf(text, sizeof(text), "{\"op\":\"sub\",\"id\":1,\"channel\":\"" LOGS "\","
			 "\"since\":%lld}", since);
	else
		snprintf(text, sizeof(text), "{\"op\":\"sub\",\"id\":1,\"channel\":\"" LOGS "\"}");
	tx(e, c, text);
	j = expect_op(e, c, "ack");
	r = cJSON_GetObjectItemCaseSensitive(j, "recovered");
	rec = r ? cJSON_IsTrue(r) : -1;
	cJSON_Delete(j);
	return rec;
}

/* A fresh client's `recovered` for a resume from since (then it leaves). */
static int recovered(struct env *e, long long since)
{
	struct sb_client *c = client(e, NULL);
	int rec = sub_logs(e, c, since);

	sb_hub_client_gone(e->hub, c);
	return rec;
}

/* Everything c received on LOGS, in order, as text: runs of consecutive
 * lines as "a-b" (or "a"), gaps as "gA-B", separated by spaces. */
static const char *received(struct env *e, struct sb_client *c)
{
	static char out[4096];
	int64_t run0 = 0, run1 = 0;
	size_t len = 0;
	cJSON *j;

#define PUT(...) (len += (size_t)snprintf(out + len, sizeof(out) - len, __VA_ARGS__), \
		  assert_true(len < sizeof(out)))
#define END_RUN() do { \
		if (run0) \
			run0 == run1 ? PUT("%s%lld", len ? " " : "", (long long)run0) : \
				       PUT("%s%lld-%lld", len ? " " : "", (long long)run0, \
					   (long long)run1); \
		run0 = 0; \
	} while (0)
	out[0] = '\0';
	while ((j = pull(e, c))) {
		assert_string_equal(sget(j, "channel"), LOGS);
		if (is_op(j, "batch")) {
			const cJSON *it;
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "events")) {
				int64_t s = (int64_t)nget(it, "seq");
				if (run0 && s == run1 + 1) {
					run1 = s;
					continue;
				}
				END_RUN();
				run0 = run1 = s;
			}
		} else if (is_op(j, "gap")) {
			int64_t from = (int64_t)nget(j, "from"), to = (int64_t)nget(j, "to");
			assert_int_equal(nget(j, "lines"), to - from + 1);
			END_RUN();
			PUT("%sg%lld-%lld", len ? " " : "", (long long)from, (long long)to);
		} else {
			fail_msg("unexpected op %s", sget(j, "op"));
		}
		cJSON_Delete(j);
	}
	END_RUN();
#undef END_RUN
#undef PUT
	return out;
}

/* A hub with the default config and one live subscriber of LOGS (no since). */
static struct sb_client *start(struct env *e)
{
	struct sb_client *a;

	env_init(e, "{}", 0);
	a = client(e, NULL);
	assert_int_equal(sub_logs(e, a, -1), -1);
	return a;
}

static struct sb_chan *chan(struct env *e)
{
	struct sb_chan *ch = sb_dict_get(e->hub->chans, LOGS);

	assert_non_null(ch);
	return ch;
}

/* ---- a jump is a gap for every subscriber ---------------------------------------- */

static void test_jump_gap_to_every_subscriber_in_order(void **state)
{
	struct env e;
	struct sb_client *a, *b, *r1, *r2;
	const struct sb_metrics *m;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	b = client(&e, NULL);
	sub_logs(&e, a, -1);
	sub_logs(&e, b, -1);
	lines(&e, 1, 5);            /* pending: the gap must not overtake them */
	lines(&e, 9, 11);           /* 6-8 never came */
	advance(&e, 100);
	assert_string_equal(received(&e, a), "1-5 g6-8 9-11");
	assert_string_equal(received(&e, b), "1-5 g6-8 9-11");
	/* a jump right after a full batch (nothing pending) */
	lines(&e, 12, 20);
	advance(&e, 100);
	received(&e, a);
	received(&e, b);
	/* resumed elsewhere: r1 up to 22 (inside the coming hole), r2 up to
	 * 30 (past it); each is told only what it does not have */
	r1 = client(&e, NULL);
	r2 = client(&e, NULL);
	sub_logs(&e, r1, 22);
	sub_logs(&e, r2, 30);
	lines(&e, 26, 32);          /* 21-25 never came */
	advance(&e, 100);
	assert_string_equal(received(&e, a), "g21-25 26-32");
	assert_string_equal(received(&e, b), "g21-25 26-32");
	assert_string_equal(received(&e, r1), "g23-25 26-32");
	assert_string_equal(received(&e, r2), "31-32");
	m = sb_hub_metrics(e.hub);
	assert_int_equal(m->drop_seq_gap, 3 + 5);
	assert_int_equal(m->seq_gaps, 2 + 3);
	env_fini(&e);
}

static void test_jump_while_nobody_listens_is_a_hole(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	(void)state;

	a = start(&e);
	lines(&e, 1, 10);
	sb_hub_client_gone(e.hub, a);   /* the channel lingers with its history */
	lines(&e, 15, 20);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_seq_gap, 4);
	assert_int_equal(sb_hub_metrics(e.hub)->seq_gaps, 0);
	b = client(&e, NULL);
	assert_int_equal(sub_logs(&e, b, 8), 0);
	assert_string_equal(received(&e, b), "9-10 g11-14 15-20");
	env_fini(&e);
}

/* ---- resume across a hole ----------------------------------------------------------- */

static void test_resume_across_hole(void **state)
{
	struct env e;
	struct sb_client *r;
	(void)state;

	start(&e);   /* a live subscriber */
	lines(&e, 1, 10);
	lines(&e, 20, 30);          /* hole 11-19; 20-29 flushed, 30 pending */
	/* across the hole: not recovered, and the gap where the lines were */
	r = client(&e, NULL);
	assert_int_equal(sub_logs(&e, r, 5), 0);
	advance(&e, 100);
	assert_string_equal(received(&e, r), "6-10 g11-19 20-30");
	/* from inside the hole: only the rest of it */
	r = client(&e, NULL);
	assert_int_equal(sub_logs(&e, r, 15), 0);
	assert_string_equal(received(&e, r), "g16-19 20-30");
	/* after the hole: complete */
	r = client(&e, NULL);
	assert_int_equal(sub_logs(&e, r, 19), 1);
	assert_int_equal(sub_logs(&e, client(&e, NULL), 25), 1);
	assert_string_equal(received(&e, r), "20-30");
	assert_int_equal(sb_hub_metrics(e.hub)->history_gaps, 2);
	env_fini(&e);
}

static void test_resume_hole_before_pending_batch(void **state)
{
	struct env e;
	struct sb_client *a, *r;
	(void)state;

	a = start(&e);
	lines(&e, 1, 10);           /* flushed (a full batch) */
	lines(&e, 20, 24);          /* pending, after the hole 11-19 */
	r = client(&e, NULL);
	assert_int_equal(sub_logs(&e, r, 5), 0);
	advance(&e, 100);
	assert_string_equal(received(&e, r), "6-10 g11-19 20-24");
	assert_string_equal(received(&e, a), "1-10 g11-19 20-24");
	env_fini(&e);
}

/* ---- recovered ---------------------------------------------------------------------- */

static void test_recovered_only_when_complete(void **state)
{
	struct env e;
	struct sb_client *a, *r;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	/* a channel that has seen no line does not know where its stream
	 * starts: the first line may be 60 */
	assert_int_equal(sub_logs(&e, a, 0), 0);
	assert_int_equal(recovered(&e, 0), 0);
	assert_int_equal(recovered(&e, 50), 0);
	lines(&e, 60, 70);          /* 60-69 flushed, 70 pending */
	received(&e, a);
	/* history starts at 60: since 50 is not recovered, and the gap comes */
	r = client(&e, NULL);
	assert_int_equal(sub_logs(&e, r, 50), 0);
	lines(&e, 71, 72);
	advance(&e, 100);
	assert_string_equal(received(&e, r), "g51-59 60-72");
	/* complete from 59 on, also from inside the pending batch and ahead */
	assert_int_equal(recovered(&e, 59), 1);
	assert_int_equal(recovered(&e, 65), 1);
	lines(&e, 73, 74);
	assert_int_equal(recovered(&e, 73), 1);
	assert_int_equal(recovered(&e, 74), 1);
	assert_int_equal(recovered(&e, 100), 1);
	env_fini(&e);
}

static void test_recovered_needs_the_lines_history_dropped(void **state)
{
	struct env e;
	(void)state;

	start(&e);   /* a live subscriber */
	lines(&e, 1, 1010);         /* history keeps 1000: 11-1010 */
	assert_int_equal(recovered(&e, 9), 0);
	assert_int_equal(recovered(&e, 10), 1);
	env_fini(&e);
}

static void test_marked_broken(void **state)
{
	struct env e;
	struct sb_client *a, *r;
	(void)state;

	a = start(&e);
	lines(&e, 1, 10);
	assert_int_equal(recovered(&e, 10), 1);
	/* the MQTT session was lost: lines after 10 may be gone */
	sb_chan_mark_broken(e.hub, chan(&e));
	assert_int_equal(recovered(&e, 10), 0);
	assert_int_equal(recovered(&e, 5), 0);
	/* a duplicate settles nothing */
	seq_line(&e, 9);
	assert_int_equal(recovered(&e, 10), 0);
	/* the next line is 11: nothing was lost */
	seq_line(&e, 11);
	assert_int_equal(recovered(&e, 10), 1);
	assert_int_equal(recovered(&e, 5), 1);
	/* broken again, and this time the next line jumps: a gap for every
	 * subscriber, then the history tells */
	sb_chan_mark_broken(e.hub, chan(&e));
	r = client(&e, NULL);
	assert_int_equal(sub_logs(&e, r, 11), 0);
	seq_line(&e, 15);
	advance(&e, 100);
	assert_string_equal(received(&e, a), "1-11 g12-14 15");
	assert_string_equal(received(&e, r), "g12-14 15");
	assert_int_equal(recovered(&e, 11), 0);
	assert_int_equal(recovered(&e, 14), 1);
	env_fini(&e);
}

/* ---- duplicates ----------------------------------------------------------------------- */

static void test_duplicates_and_late_lines_dropped(void **state)
{
	struct env e;
	struct sb_client *a;
	const struct sb_metrics *m;
	(void)state;

	a = start(&e);
	lines(&e, 1, 3);
	seq_line(&e, 2);            /* QoS 1 redelivery */
	lines(&e, 8, 9);            /* hole 4-7 */
	seq_line(&e, 5);            /* late, inside the hole already reported */
	seq_line(&e, 3);
	seq_line(&e, 9);
	advance(&e, 100);
	assert_string_equal(received(&e, a), "1-3 g4-7 8-9");
	m = sb_hub_metrics(e.hub);
	assert_int_equal(m->drop_duplicate, 3);
	assert_int_equal(m->drop_out_of_order, 1);
	assert_int_equal(m->drop_seq_gap, 4);
	/* a duplicate is no jump and no gap */
	seq_line(&e, 9);
	seq_line(&e, 10);
	advance(&e, 100);
	assert_string_equal(received(&e, a), "10");
	env_fini(&e);
}

/* ---- /v1/history and /metrics ----------------------------------------------------------- */

/* /v1/history after since: its "gap" as "A-B" (or "null") and its "gaps"
 * as "A-B,C-D" in gaps_out. */
static void history(struct env *e, int64_t since, char *gap, char *gaps, size_t len)
{
	enum sb_code code;
	char *body = NULL;
	const cJSON *g, *it;
	size_t n = 0;
	cJSON *j;

	assert_int_equal(sb_hub_query(e->hub, NULL, LOGS, 1, since, &body, &code, NULL), SB_OK);
	j = cJSON_Parse(body);
	assert_non_null(j);
	g = cJSON_GetObjectItemCaseSensitive(j, "gap");
	if (cJSON_IsNull(g))
		snprintf(gap, len, "null");
	else
		snprintf(gap, len, "%lld-%lld", (long long)nget(g, "from"), (long long)nget(g, "to"));
	gaps[0] = '\0';
	g = cJSON_GetObjectItemCaseSensitive(j, "gaps");
	assert_true(cJSON_IsArray(g));
	cJSON_ArrayForEach(it, g)
		n += (size_t)snprintf(gaps + n, len - n, "%s%lld-%lld", n ? "," : "",
				      (long long)nget(it, "from"), (long long)nget(it, "to"));
	cJSON_Delete(j);
	free(body);
}

static void test_history_lists_every_hole(void **state)
{
	struct env e;
	char gap[64], gaps[256];
	(void)state;

	start(&e);   /* a live subscriber */
	lines(&e, 1, 10);
	lines(&e, 20, 1015);        /* hole 11-19; history keeps 1000: 7-10, 20-1015 */
	history(&e, 0, gap, gaps, sizeof(gaps));
	assert_string_equal(gap, "1-6");
	assert_string_equal(gaps, "1-6,11-19");
	history(&e, 8, gap, gaps, sizeof(gaps));
	assert_string_equal(gap, "null");
	assert_string_equal(gaps, "11-19");
	history(&e, 15, gap, gaps, sizeof(gaps));
	assert_string_equal(gaps, "16-19");
	history(&e, 19, gap, gaps, sizeof(gaps));
	assert_string_equal(gaps, "");
	history(&e, 2000, gap, gaps, sizeof(gaps));
	assert_string_equal(gap, "null");
	assert_string_equal(gaps, "");
	env_fini(&e);
}

/* since at the top of its range and past it: the engine is given what the
 * adapters let through (up to 2^53 - 1), and anything else a caller may
 * pass must not overflow since + 1 (issue 12: INT64_MAX did, under UBSan). */
static void test_since_at_the_top(void **state)
{
	static const int64_t tops[] = {
		SB_INT_MAX_EXACT - 1, SB_INT_MAX_EXACT, SB_INT_MAX_EXACT + 1, INT64_MAX - 1, INT64_MAX,
	};
	struct sb_sub_result res;
	struct sb_client *c;
	struct env e;
	char gap[64], gaps[256];
	cJSON *j;
	(void)state;

	start(&e);   /* a live subscriber */
	lines(&e, 1, 5);
	for (size_t i = 0; i < SB_ARRAY_LEN(tops); i++) {
		struct sb_sub_opts o = { LOGS, strlen(LOGS), 1, tops[i], -1, 0, 0 };

		history(&e, tops[i], gap, gaps, sizeof(gaps));
		assert_string_equal(gap, "null");
		assert_string_equal(gaps, "");
		/* a resume from past the last line lacks nothing */
		c = client(&e, NULL);
		assert_int_equal(sb_hub_subscribe(e.hub, c, &o, &res), SB_OK);
		/* a resume is answered once a barrier sent after it is back */
		assert_int_equal(res.pending, 1);
		j = expect_op(&e, c, "ack");
		assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "recovered")));
		cJSON_Delete(j);
		sb_hub_client_gone(e.hub, c);
	}
	/* the largest since the protocol takes, through the protocol */
	assert_int_equal(recovered(&e, SB_INT_MAX_EXACT), 1);
	/* and below the range: a negative since asks for everything */
	history(&e, -1, gap, gaps, sizeof(gaps));
	assert_string_equal(gap, "null");
	env_fini(&e);
}

static void test_metrics_export(void **state)
{
	struct env e;
	struct sb_hub_gauges g;
	char *text;
	(void)state;

	start(&e);   /* a live subscriber */
	lines(&e, 1, 2);
	lines(&e, 6, 7);
	seq_line(&e, 4);
	sb_hub_gauges(e.hub, &g);
	text = sb_metrics_view_prometheus(sb_hub_metrics(e.hub), &g, NULL, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "\nstatusbus_seq_gap_lines_total 3\n"));
	assert_non_null(strstr(text, "\nstatusbus_dropped_total{reason=\"out_of_order\"} 1\n"));
	assert_non_null(strstr(text, "\nstatusbus_gaps_total 1\n"));
	free(text);
	env_fini(&e);
}

/* A resume is answered only once a barrier sent after it is back, so its
 * `recovered` covers what the broker delivered before (a backlog after the
 * link or the bridge stalled): here 6, 7 and 9 arrive behind the request,
 * 8 never does, and the answer is recovered: false, not a true followed
 * by a gap for a line published before the ack (test_consistency). */
static void test_resume_waits_for_what_the_broker_delivered_before(void **state)
{
	struct sb_client *c;
	struct env e;
	cJSON *j;
	(void)state;

	start(&e);
	lines(&e, 1, 5);
	fb_hold(&e.fake.broker, 1);
	c = client(&e, NULL);
	tx(&e, c, "{\"op\":\"sub\",\"id\":1,\"channel\":\"" LOGS "\",\"since\":3}");
	expect_nothing(&e, c);   /* its barrier is not back */
	seq_line(&e, 6);
	seq_line(&e, 7);
	seq_line(&e, 9);
	fb_hold(&e.fake.broker, 0);
	j = expect_op(&e, c, "ack");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "recovered")));
	cJSON_Delete(j);
	advance(&e, 100);
	assert_string_equal(received(&e, c), "4-7 g8-8 9");
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jump_gap_to_every_subscriber_in_order),
		cmocka_unit_test(test_jump_while_nobody_listens_is_a_hole),
		cmocka_unit_test(test_resume_across_hole),
		cmocka_unit_test(test_resume_hole_before_pending_batch),
		cmocka_unit_test(test_recovered_only_when_complete),
		cmocka_unit_test(test_recovered_needs_the_lines_history_dropped),
		cmocka_unit_test(test_marked_broken),
		cmocka_unit_test(test_duplicates_and_late_lines_dropped),
		cmocka_unit_test(test_history_lists_every_hole),
		cmocka_unit_test(test_since_at_the_top),
		cmocka_unit_test(test_resume_waits_for_what_the_broker_delivered_before),
		cmocka_unit_test(test_metrics_export),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
