/* SPDX-License-Identifier: MIT
 *
 * test_inbox.c - unit tests for inbox.c, the MQTT thread boundary:
 *   - events of every kind come out in the order they went in, with their
 *     fields, and a handler that keeps a message holds it past the drain;
 *   - the message-count and byte bounds: with no wait budget a message
 *     that finds no room is dropped at once (OVERFLOW), counted both as
 *     back pressure and as a drop, and reported once to the next drain;
 *     a message bigger than the whole byte bound still gets in alone;
 *     connection events are not bounded;
 *   - with a budget, a push waits for the drain to make room and gets in
 *     (the waiter is seen in the stats, no clock involved), or is dropped
 *     when the budget runs out;
 *   - one wake per batch, a drain cut short by `max` wakes again, and a
 *     cleared wake is never called;
 *   - a message that cannot be copied (out of memory) is counted as
 *     dropped and reported once to the next drain;
 *   - destroy frees what is still queued (checked under ASan);
 *   - several producer threads against a small bound, waiting for room
 *     with a budget longer than the test: nothing lost, each producer's
 *     order kept, and the consumer drains only when woken.
 */
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "inbox.h"

/* the out-of-memory test asks for an impossible allocation: under ASan
 * (or TSan) that must return NULL, as glibc does, instead of aborting */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }

/* ---- a recording handler ---- */

struct rec {
	char log[2048];
	size_t len;
	uint64_t dropped;
	size_t dropped_calls;
	struct sb_msg *kept;      /* a message the handler took a reference to */
};

static void note(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct rec *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r->len += (size_t)vsnprintf(r->log + r->len, sizeof(r->log) - r->len, fmt, ap);
	va_end(ap);
	assert_true(r->len < sizeof(r->log));
}

static void on_message(void *ctx, struct sb_msg *m)
{
	struct rec *r = ctx;

	note(r, "msg %s=%.*s%s;", m->topic, (int)m->payload_len, m->payload, m->retained ? " r" : "");
	if (!r->kept)
		r->kept = sb_msg_ref(m);
}

static void on_connected(void *ctx, int sp, const char *cause)
{
	note(ctx, "up %d %s;", sp, cause ? cause : "-");
}

static void on_lost(void *ctx, const char *cause)
{
	note(ctx, "lost %s;", cause ? cause : "-");
}

static void on_connect_failed(void *ctx, const char *cause)
{
	note(ctx, "failed %s;", cause ? cause : "-");
}

static void on_suback(void *ctx, const char *filter, int qos, const char *cause)
{
	note(ctx, "suback %s %d %s;", filter, qos, cause ? cause : "-");
}

static void on_publish_failed(void *ctx, const char *cause)
{
	note(ctx, "pubfail %s;", cause ? cause : "-");
}

static void on_dropped(void *ctx, uint64_t n)
{
	struct rec *r = ctx;

	r->dropped += n;
	r->dropped_calls++;
}

static const struct sb_inbox_ops rec_ops = {
	.message = on_message,
	.connected = on_connected,
	.lost = on_lost,
	.connect_failed = on_connect_failed,
	.suback = on_suback,
	.publish_failed = on_publish_failed,
	.dropped = on_dropped,
};

static void wake_count(void *ctx)
{
	(*(int *)ctx)++;
}

static enum sb_inbox_verdict push(struct sb_inbox *in, const char *topic, const char *payload)
{
	return sb_inbox_push_message(in, topic, strlen(topic), payload, strlen(payload), 0);
}

static struct sb_inbox_stats stats(struct sb_inbox *in)
{
	struct sb_inbox_stats s;

	sb_inbox_stats(in, &s);
	return s;
}

/* The message counters and the gauges of now, in one go. */
static void expect_counts(struct sb_inbox *in, uint64_t backpressure, uint64_t dropped,
			  uint64_t messages, size_t queued)
{
	struct sb_inbox_stats s = stats(in);

	assert_int_equal(s.backpressure, backpressure);
	assert_int_equal(s.drop_inbound_overflow, dropped);
	assert_int_equal(s.messages, messages);
	assert_int_equal(s.queued_msgs, queued);
	assert_int_equal(s.waiting, 0);
}

/* ---- single-threaded behaviour ---- */

static void test_fifo_every_kind(void **state)
{
	struct sb_inbox *in;
	struct rec r = { 0 };
	int wakes = 0;

	(void)state;
	assert_int_equal(sb_inbox_create(&in, 100, 0, wake_count, &wakes), SB_OK);
	assert_int_equal(sb_inbox_push_connected(in, 0, "connect onSuccess called"), SB_OK);
	assert_int_equal(sb_inbox_push_suback(in, "team/+/x", 1, NULL), SB_OK);
	assert_int_equal(push(in, "a", "1"), SB_INBOX_ACCEPTED);
	assert_int_equal(sb_inbox_push_message(in, "b/c", 1, "2x", 1, 1), SB_INBOX_ACCEPTED);
	assert_int_equal(sb_inbox_push_suback(in, "deploy/#", -1, "refused by the broker"), SB_OK);
	assert_int_equal(sb_inbox_push_publish_failed(in, "code -3"), SB_OK);
	assert_int_equal(sb_inbox_push_lost(in, NULL), SB_OK);
	assert_int_equal(sb_inbox_push_connect_failed(in, "connection refused"), SB_OK);
	assert_int_equal(sb_inbox_push_connected(in, 1, "automatic reconnect"), SB_OK);
	assert_int_equal(push(in, "c", "3"), SB_INBOX_ACCEPTED);

	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 10);
	assert_string_equal(r.log, "up 0 connect onSuccess called;suback team/+/x 1 -;msg a=1;msg b=2 r;"
			    "suback deploy/# -1 refused by the broker;pubfail code -3;lost -;"
			    "failed connection refused;up 1 automatic reconnect;msg c=3;");
	assert_int_equal(stats(in).messages, 3);
	assert_int_equal(stats(in).events, 7);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 0);

	/* the handler's own reference outlives the drain */
	assert_non_null(r.kept);
	assert_string_equal(r.kept->topic, "a");
	assert_int_equal(r.kept->refs, 1);
	sb_msg_unref(r.kept);
	sb_inbox_destroy(in);
	sb_inbox_destroy(NULL);
}

static void test_null_handlers_free(void **state)
{
	static const struct sb_inbox_ops none = { 0 };
	struct sb_inbox *in;

	(void)state;
	assert_int_equal(sb_inbox_create(&in, 10, 0, NULL, NULL), SB_OK);
	assert_int_equal(push(in, "a", "1"), SB_INBOX_ACCEPTED);
	assert_int_equal(sb_inbox_push_suback(in, "f", 0, NULL), SB_OK);
	assert_int_equal(sb_inbox_drain(in, &none, NULL, 10), 2);
	assert_int_equal(stats(in).queued_msgs, 0);
	sb_inbox_destroy(in);
	assert_int_equal(sb_inbox_create(&in, 0, 0, NULL, NULL), SB_ERR_INVAL);
	assert_null(in);
}

/* No budget: a message that finds no room is dropped, never copied. */
static void test_count_bound_overflows(void **state)
{
	struct sb_inbox *in;
	struct rec r = { 0 };

	(void)state;
	assert_int_equal(sb_inbox_create(&in, 3, 0, NULL, NULL), SB_OK);
	assert_int_equal(push(in, "t", "1"), SB_INBOX_ACCEPTED);
	assert_int_equal(push(in, "t", "2"), SB_INBOX_ACCEPTED);
	assert_int_equal(push(in, "t", "3"), SB_INBOX_ACCEPTED);
	assert_int_equal(push(in, "t", "4"), SB_INBOX_OVERFLOW);
	assert_int_equal(push(in, "t", "5"), SB_INBOX_OVERFLOW);
	/* link state and SUBACKs are not held back by messages */
	assert_int_equal(sb_inbox_push_lost(in, "x"), SB_OK);
	expect_counts(in, 2, 2, 3, 3);
	assert_int_equal(stats(in).max_msgs, 3);

	/* the drops are reported once, before the events; one popped
	 * message frees one place */
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 1), 1);
	assert_int_equal(r.dropped, 2);
	assert_int_equal(r.dropped_calls, 1);
	assert_int_equal(push(in, "t", "6"), SB_INBOX_ACCEPTED);
	assert_int_equal(push(in, "t", "7"), SB_INBOX_OVERFLOW);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 4);
	assert_string_equal(r.log, "msg t=1;msg t=2;msg t=3;lost x;msg t=6;");
	assert_int_equal(r.dropped, 3);
	assert_int_equal(r.dropped_calls, 2);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 0);
	assert_int_equal(r.dropped_calls, 2);
	expect_counts(in, 3, 3, 4, 0);
	sb_msg_unref(r.kept);
	sb_inbox_destroy(in);
}

static void test_byte_bound(void **state)
{
	struct sb_inbox *in;
	struct rec r = { 0 };
	char big[150], sixty[60];
	struct sb_inbox_stats s;

	(void)state;
	memset(big, 'b', sizeof(big));
	memset(sixty, 's', sizeof(sixty));
	assert_int_equal(sb_inbox_create(&in, 100, 100, NULL, NULL), SB_OK);
	/* charge = topic + payload: 1 + 59 */
	assert_int_equal(sb_inbox_push_message(in, "t", 1, sixty, 59, 0), SB_INBOX_ACCEPTED);
	assert_int_equal(stats(in).queued_bytes, 60);
	assert_int_equal(sb_inbox_push_message(in, "t", 1, sixty, 41, 0), SB_INBOX_OVERFLOW);
	assert_int_equal(sb_inbox_push_message(in, "t", 1, sixty, 39, 0), SB_INBOX_ACCEPTED);
	assert_int_equal(stats(in).queued_bytes, 100);
	assert_int_equal(sb_inbox_push_message(in, "t", 1, "", 0, 0), SB_INBOX_OVERFLOW);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 2);
	assert_int_equal(stats(in).queued_bytes, 0);

	/* bigger than the whole bound: taken alone, never refused for good */
	assert_int_equal(sb_inbox_push_message(in, "t", 1, big, sizeof(big), 0), SB_INBOX_ACCEPTED);
	assert_int_equal(stats(in).queued_bytes, 151);
	assert_int_equal(sb_inbox_push_message(in, "t", 1, "", 0, 0), SB_INBOX_OVERFLOW);
	assert_int_equal(sb_inbox_push_message(in, "t", 1, big, sizeof(big), 0), SB_INBOX_OVERFLOW);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 1);
	s = stats(in);
	assert_int_equal(s.queued_bytes, 0);
	assert_int_equal(s.messages, 3);
	assert_int_equal(s.backpressure, 4);
	assert_int_equal(s.drop_inbound_overflow, 4);
	assert_int_equal(r.dropped, 4);
	assert_int_equal(s.max_bytes, 100);
	sb_msg_unref(r.kept);
	sb_inbox_destroy(in);
}

static void test_one_wake_per_batch(void **state)
{
	struct sb_inbox *in;
	struct rec r = { 0 };
	int wakes = 0;

	(void)state;
	assert_int_equal(sb_inbox_create(&in, 100, 0, wake_count, &wakes), SB_OK);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 0);
	assert_int_equal(wakes, 0);
	assert_int_equal(sb_inbox_push_connected(in, 0, NULL), SB_OK);
	assert_int_equal(wakes, 1);
	for (int i = 0; i < 20; i++)
		assert_int_equal(push(in, "t", "x"), SB_INBOX_ACCEPTED);
	assert_int_equal(sb_inbox_push_suback(in, "f", 0, NULL), SB_OK);
	assert_int_equal(wakes, 1);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 22);
	assert_int_equal(wakes, 1);   /* drained dry: nothing owed */
	/* the next batch earns the next wake */
	assert_int_equal(push(in, "t", "y"), SB_INBOX_ACCEPTED);
	assert_int_equal(push(in, "t", "z"), SB_INBOX_ACCEPTED);
	assert_int_equal(wakes, 2);
	assert_int_equal(stats(in).wakes, 2);
	/* a drop is not a new batch: the full inbox is already owed a drain,
	 * which reports it */
	sb_inbox_destroy(in);
	assert_int_equal(sb_inbox_create(&in, 1, 0, wake_count, &wakes), SB_OK);
	wakes = 0;
	assert_int_equal(push(in, "t", "1"), SB_INBOX_ACCEPTED);
	assert_int_equal(push(in, "t", "2"), SB_INBOX_OVERFLOW);
	assert_int_equal(wakes, 1);
	sb_msg_unref(r.kept);
	sb_inbox_destroy(in);
}

static void test_drain_max_wakes_again(void **state)
{
	struct sb_inbox *in;
	struct rec r = { 0 };
	int wakes = 0;
	char p[2] = "0";

	(void)state;
	assert_int_equal(sb_inbox_create(&in, 100, 0, wake_count, &wakes), SB_OK);
	for (int i = 0; i < 5; i++, p[0]++)
		assert_int_equal(push(in, "t", p), SB_INBOX_ACCEPTED);
	assert_int_equal(wakes, 1);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 2), 2);
	assert_int_equal(wakes, 2);   /* events left: the drain asks to come back */
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 2), 2);
	assert_int_equal(wakes, 3);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 2), 1);
	assert_int_equal(wakes, 3);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 0), 0);
	assert_string_equal(r.log, "msg t=0;msg t=1;msg t=2;msg t=3;msg t=4;");
	sb_msg_unref(r.kept);
	sb_inbox_destroy(in);
}

static void test_cleared_wake_not_called(void **state)
{
	struct sb_inbox *in;
	int wakes = 0;

	(void)state;
	assert_int_equal(sb_inbox_create(&in, 100, 0, wake_count, &wakes), SB_OK);
	sb_inbox_set_wake(in, NULL, NULL);
	assert_int_equal(push(in, "t", "1"), SB_INBOX_ACCEPTED);
	assert_int_equal(sb_inbox_push_lost(in, NULL), SB_OK);
	assert_int_equal(wakes, 0);
	assert_int_equal(stats(in).wakes, 0);
	sb_inbox_destroy(in);
}

/* A copy that cannot be allocated is lost, counted, reported once. */
static void test_out_of_memory_drop(void **state)
{
	struct sb_inbox *in;
	struct rec r = { 0 };
	int wakes = 0;
	struct sb_inbox_stats s;
	const size_t impossible = (size_t)1 << 62;

	(void)state;
	assert_int_equal(sb_inbox_create(&in, 100, 0, wake_count, &wakes), SB_OK);
	/* sb_msg_create fails on the payload allocation, before reading it */
	assert_int_equal(sb_inbox_push_message(in, "t", 1, "", impossible, 0), SB_INBOX_NOMEM);
	assert_int_equal(wakes, 1);   /* an unreported drop is owed a drain */
	s = stats(in);
	assert_int_equal(s.drop_inbound_overflow, 1);
	assert_int_equal(s.messages, 0);
	assert_int_equal(s.queued_msgs, 0);
	assert_int_equal(s.queued_bytes, 0);
	assert_int_equal(sb_inbox_push_message(in, "t", 1, "", impossible, 0), SB_INBOX_NOMEM);
	assert_int_equal(wakes, 1);
	assert_int_equal(push(in, "t", "ok"), SB_INBOX_ACCEPTED);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 1);
	assert_int_equal(r.dropped, 2);
	assert_int_equal(r.dropped_calls, 1);
	assert_string_equal(r.log, "msg t=ok;");
	/* reported once */
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 0);
	assert_int_equal(r.dropped_calls, 1);
	assert_int_equal(stats(in).drop_inbound_overflow, 2);
	assert_int_equal(stats(in).backpressure, 0);
	sb_msg_unref(r.kept);
	sb_inbox_destroy(in);
}

/* Under ASan a leak here fails the test. */
static void test_destroy_frees_pending(void **state)
{
	struct sb_inbox *in;
	char payload[4096];

	(void)state;
	memset(payload, 'p', sizeof(payload));
	assert_int_equal(sb_inbox_create(&in, 1000, 0, NULL, NULL), SB_OK);
	for (int i = 0; i < 100; i++)
		assert_int_equal(sb_inbox_push_message(in, "team/1/x", 8, payload, sizeof(payload), i & 1),
				 SB_INBOX_ACCEPTED);
	assert_int_equal(sb_inbox_push_connected(in, 0, "cause"), SB_OK);
	assert_int_equal(sb_inbox_push_suback(in, "team/#", -1, "refused"), SB_OK);
	assert_int_equal(sb_inbox_push_lost(in, "gone"), SB_OK);
	assert_int_equal(sb_inbox_push_publish_failed(in, NULL), SB_OK);
	assert_int_equal(stats(in).queued_bytes, 100 * (8 + sizeof(payload)));
	sb_inbox_destroy(in);
}

/* ---- waiting for room ---- */

struct waiter {
	struct sb_inbox *in;
	enum sb_inbox_verdict v;
};

static void *push_two(void *arg)
{
	struct waiter *w = arg;

	w->v = push(w->in, "t", "2");
	return NULL;
}

/* Polls (no clock in the verdict) until a push is seen waiting. */
static void wait_for_waiter(struct sb_inbox *in)
{
	time_t give_up = time(NULL) + 60;

	while (stats(in).waiting == 0) {
		if (time(NULL) > give_up)
			fail_msg("the push never waited");
		sched_yield();
	}
}

/* A push into a full inbox waits; a drain makes room and it gets in:
 * counted as back pressure, not as a drop. */
static void test_wait_gets_room(void **state)
{
	struct sb_inbox *in;
	struct rec r = { 0 };
	struct waiter w;
	pthread_t t;

	(void)state;
	assert_int_equal(sb_inbox_create(&in, 1, 0, NULL, NULL), SB_OK);
	/* longer than any test run: only the drain can end this wait */
	sb_inbox_set_wait(in, 600000);
	assert_int_equal(push(in, "t", "1"), SB_INBOX_ACCEPTED);
	w.in = in;
	w.v = SB_INBOX_NOMEM;
	assert_int_equal(pthread_create(&t, NULL, push_two, &w), 0);
	wait_for_waiter(in);
	assert_int_equal(stats(in).backpressure, 1);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 1), 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(w.v, SB_INBOX_ACCEPTED);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 1);
	assert_string_equal(r.log, "msg t=1;msg t=2;");
	assert_int_equal(r.dropped_calls, 0);
	expect_counts(in, 1, 0, 2, 0);
	sb_msg_unref(r.kept);
	sb_inbox_destroy(in);
}

/* A budget that runs out with the inbox still full drops the message. */
static void test_wait_runs_out(void **state)
{
	struct sb_inbox *in;
	struct rec r = { 0 };
	int wakes = 0;

	(void)state;
	assert_int_equal(sb_inbox_create(&in, 1, 0, wake_count, &wakes), SB_OK);
	sb_inbox_set_wait(in, 1);
	assert_int_equal(push(in, "t", "1"), SB_INBOX_ACCEPTED);
	assert_int_equal(push(in, "t", "2"), SB_INBOX_OVERFLOW);
	expect_counts(in, 1, 1, 1, 1);
	assert_int_equal(wakes, 1);
	assert_int_equal(sb_inbox_drain(in, &rec_ops, &r, 100), 1);
	assert_int_equal(r.dropped, 1);
	assert_string_equal(r.log, "msg t=1;");
	/* room again: no wait, no count */
	assert_int_equal(push(in, "t", "3"), SB_INBOX_ACCEPTED);
	expect_counts(in, 1, 1, 2, 1);
	sb_msg_unref(r.kept);
	sb_inbox_destroy(in);
}

/* ---- threads ---- */

#define PRODUCERS 4
#define PER_PRODUCER 20000
#define SUBACK_EVERY 1000

struct mt {
	struct sb_inbox *in;
	sem_t woken;
	int id;                         /* producer: its number */
	int failed;                     /* producer: a push was not accepted */
	long next[PRODUCERS];           /* consumer: next expected seq */
	long next_suback;
	long received, out_of_order, bad;
};

static void mt_wake(void *ctx)
{
	sem_post(&((struct mt *)ctx)->woken);
}

static void *producer(void *arg)
{
	struct mt *p = arg;
	char topic[16], payload[32];

	snprintf(topic, sizeof(topic), "p%d", p->id);
	for (long i = 0; i < PER_PRODUCER; i++) {
		enum sb_inbox_verdict v;
		int n = snprintf(payload, sizeof(payload), "%ld", i);

		/* waits for room, as Paho's thread does */
		v = sb_inbox_push_message(p->in, topic, strlen(topic), payload, (size_t)n, 0);
		if (v != SB_INBOX_ACCEPTED)
			p->failed = 1;
		if (p->id == 0 && i % SUBACK_EVERY == 0) {
			snprintf(payload, sizeof(payload), "%ld", i);
			if (sb_inbox_push_suback(p->in, payload, 1, NULL) != SB_OK)
				p->failed = 1;
		}
	}
	return NULL;
}

static void mt_message(void *ctx, struct sb_msg *m)
{
	struct mt *c = ctx;
	int id = m->topic[0] == 'p' ? atoi(m->topic + 1) : -1;

	if (id < 0 || id >= PRODUCERS) {
		c->bad++;
		return;
	}
	if (strtol(m->payload, NULL, 10) != c->next[id])
		c->out_of_order++;
	c->next[id]++;
	c->received++;
}

/* producer 0's SUBACKs stay in order with each other and behind the
 * message pushed just before each */
static void mt_suback(void *ctx, const char *filter, int qos, const char *cause)
{
	struct mt *c = ctx;
	long i = strtol(filter, NULL, 10);

	(void)qos;
	(void)cause;
	if (i != c->next_suback || c->next[0] != i + 1)
		c->out_of_order++;
	c->next_suback += SUBACK_EVERY;
}

static void test_threads_lose_nothing_keep_order(void **state)
{
	static const struct sb_inbox_ops ops = { .message = mt_message, .suback = mt_suback };
	struct mt c;
	struct mt p[PRODUCERS];
	pthread_t t[PRODUCERS];
	const long total = (long)PRODUCERS * PER_PRODUCER;
	struct sb_inbox_stats s;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(sem_init(&c.woken, 0, 0), 0);
	/* a small bound, so producers keep running into it, and a budget no
	 * run lasts: a producer gives up only if a drain forgot to signal */
	assert_int_equal(sb_inbox_create(&c.in, 64, 1024, mt_wake, &c), SB_OK);
	sb_inbox_set_wait(c.in, 600000);
	for (int i = 0; i < PRODUCERS; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].in = c.in;
		p[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, producer, &p[i]), 0);
	}
	/* drain only when woken: a lost wake shows up as the deadline */
	while (c.received < total) {
		struct timespec deadline;

		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 60;
		if (sem_timedwait(&c.woken, &deadline) != 0)
			fail_msg("no wake with %ld of %ld messages received", c.received, total);
		sb_inbox_drain(c.in, &ops, &c, 50);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_false(p[i].failed);
	}
	sb_inbox_drain(c.in, &ops, &c, 1000);   /* the last SUBACK may trail */
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.out_of_order, 0);
	assert_int_equal(c.received, total);
	assert_int_equal(c.next_suback, PER_PRODUCER);
	for (int i = 0; i < PRODUCERS; i++)
		assert_int_equal(c.next[i], PER_PRODUCER);
	s = stats(c.in);
	assert_int_equal(s.messages, (uint64_t)total);
	assert_int_equal(s.drop_inbound_overflow, 0);
	assert_int_equal(s.queued_msgs, 0);
	assert_int_equal(s.queued_bytes, 0);
	sb_inbox_destroy(c.in);
	sem_destroy(&c.woken);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_every_kind),
		cmocka_unit_test(test_null_handlers_free),
		cmocka_unit_test(test_count_bound_overflows),
		cmocka_unit_test(test_byte_bound),
		cmocka_unit_test(test_one_wake_per_batch),
		cmocka_unit_test(test_drain_max_wakes_again),
		cmocka_unit_test(test_cleared_wake_not_called),
		cmocka_unit_test(test_out_of_memory_drop),
		cmocka_unit_test(test_destroy_frees_pending),
		cmocka_unit_test(test_wait_gets_room),
		cmocka_unit_test(test_wait_runs_out),
		cmocka_unit_test(test_threads_lose_nothing_keep_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
