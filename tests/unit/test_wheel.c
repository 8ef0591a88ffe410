/* SPDX-License-Identifier: MIT
 *
 * test_wheel.c - unit tests for wheel.c: deadlines fire at the first
 * advance at or after them and never before, across turns of the wheel and
 * long stalls; re-arm and cancel; a fire callback that re-arms itself or
 * cancels an entry that is due in the same advance; and a check against a
 * brute-force model with random arms, cancels and advances.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wheel.h"

struct item {
	struct sb_wheel_entry e;   /* first */
	int fired;
	int64_t fired_at;
};

static int64_t clock_now;

static void on_fire(struct sb_wheel_entry *e, void *arg)
{
	struct item *it = (struct item *)e;

	(void)arg;
	assert_false(sb_wheel_armed(e));
	it->fired++;
	it->fired_at = clock_now;
}

static size_t advance(struct sb_wheel *w, int64_t now)
{
	clock_now = now;
	return sb_wheel_advance(w, now, on_fire, NULL);
}

static void test_fires_at_deadline_not_before(void **state)
{
	struct sb_wheel w;
	struct item a = { 0 }, b = { 0 };

	(void)state;
	assert_int_equal(sb_wheel_init(&w, 8, 100, 0), SB_OK);
	sb_wheel_arm(&w, &a.e, 250);
	sb_wheel_arm(&w, &b.e, 5000);   /* six turns of an 8 x 100 ms wheel */
	assert_int_equal(w.n, 2);
	assert_int_equal(advance(&w, 249), 0);
	assert_int_equal(advance(&w, 250), 1);
	assert_int_equal(a.fired, 1);
	assert_int_equal(a.fired_at, 250);
	for (int64_t t = 300; t < 5000; t += 100)
		assert_int_equal(advance(&w, t), 0);
	assert_int_equal(b.fired, 0);
	assert_int_equal(advance(&w, 5001), 1);
	assert_int_equal(b.fired, 1);
	assert_int_equal(w.n, 0);
	/* nothing fires twice */
	assert_int_equal(advance(&w, 10000), 0);
	sb_wheel_clear(&w);
}

static void test_rearm_cancel_and_stall(void **state)
{
	struct sb_wheel w;
	struct item a = { 0 }, b = { 0 }, c = { 0 };

	(void)state;
	assert_int_equal(sb_wheel_init(&w, 4, 10, 1000), SB_OK);
	sb_wheel_arm(&w, &a.e, 1020);
	sb_wheel_arm(&w, &a.e, 1500);   /* moved: armed once */
	assert_int_equal(w.n, 1);
	sb_wheel_arm(&w, &b.e, 1030);
	sb_wheel_cancel(&w, &b.e);
	sb_wheel_cancel(&w, &b.e);      /* a no-op */
	assert_false(sb_wheel_armed(&b.e));
	sb_wheel_arm(&w, &c.e, 900);    /* overdue: the next advance */
	assert_int_equal(advance(&w, 1000), 1);
	assert_int_equal(c.fired, 1);
	assert_int_equal(advance(&w, 1100), 0);
	/* a stall far longer than a turn still fires what is due */
	assert_int_equal(advance(&w, 100000), 1);
	assert_int_equal(a.fired, 1);
	assert_int_equal(b.fired, 0);
	sb_wheel_clear(&w);
}

/* A fire callback that re-arms its own entry (a periodic check) and
 * cancels the other one, due in the same advance. */
struct pair {
	struct item self, *other;
};

static void on_fire_rearm(struct sb_wheel_entry *e, void *arg)
{
	struct sb_wheel *w = arg;
	struct pair *p = (struct pair *)e;

	p->self.fired++;
	if (p->other)
		sb_wheel_cancel(w, &p->other->e);
	sb_wheel_arm(w, e, clock_now);   /* due now: the next advance, not this one */
}

static void test_fire_may_rearm_and_cancel(void **state)
{
	struct sb_wheel w;
	struct pair p = { { { 0 }, 0, 0 }, NULL }, q = { { { 0 }, 0, 0 }, NULL };

	(void)state;
	assert_int_equal(sb_wheel_init(&w, 16, 10, 0), SB_OK);
	p.other = &q.self;
	q.other = &p.self;
	sb_wheel_arm(&w, &p.self.e, 50);
	sb_wheel_arm(&w, &q.self.e, 50);
	clock_now = 60;
	/* whichever fires first cancels the other; it re-arms itself */
	assert_int_equal(sb_wheel_advance(&w, 60, on_fire_rearm, &w), 1);
	assert_int_equal(p.self.fired + q.self.fired, 1);
	assert_int_equal(w.n, 1);
	assert_int_equal(sb_wheel_advance(&w, 60, on_fire_rearm, &w), 1);
	assert_int_equal(p.self.fired + q.self.fired, 2);
	sb_wheel_clear(&w);
	assert_false(sb_wheel_armed(&p.self.e));
	assert_false(sb_wheel_armed(&q.self.e));
}

/* Random arms, re-arms, cancels and advances against a model: each entry
 * fires exactly at the first advance at or after its deadline. */
static void test_matches_model(void **state)
{
	enum { N = 300, STEPS = 20000 };
	struct sb_wheel w;
	static struct item it[N];
	int64_t deadline[N];   /* -1 = not armed */
	int fired[N];
	int64_t now = -5000;
	unsigned seed = 12345;

	(void)state;
	memset(it, 0, sizeof(it));
	assert_int_equal(sb_wheel_init(&w, 64, 7, now), SB_OK);
	for (int i = 0; i < N; i++) {
		deadline[i] = -1;
		fired[i] = 0;
	}
	for (int s = 0; s < STEPS; s++) {
		int i = (int)(rand_r(&seed) % N);
		unsigned op = (unsigned)rand_r(&seed) % 10;

		if (op < 5) {
			int64_t when = now - 20 + rand_r(&seed) % 2000;
			sb_wheel_arm(&w, &it[i].e, when);
			deadline[i] = when;
		} else if (op < 7) {
			sb_wheel_cancel(&w, &it[i].e);
			deadline[i] = -1;
		} else {
			now += rand_r(&seed) % (op == 9 ? 900 : 30);
			for (int k = 0; k < N; k++)
				fired[k] = it[k].fired;
			advance(&w, now);
			for (int k = 0; k < N; k++) {
				int due = deadline[k] != -1 && deadline[k] <= now;
				assert_int_equal(it[k].fired - fired[k], due);
				if (due)
					deadline[k] = -1;
				assert_int_equal(sb_wheel_armed(&it[k].e), deadline[k] != -1);
			}
		}
		size_t armed = 0;
		for (int k = 0; k < N; k++)
			armed += deadline[k] != -1;
		assert_int_equal(w.n, armed);
	}
	sb_wheel_clear(&w);
}

static void test_init_rejects_bad_tick(void **state)
{
	struct sb_wheel w;

	(void)state;
	assert_int_equal(sb_wheel_init(&w, 8, 0, 0), SB_ERR_INVAL);
	assert_int_equal(sb_wheel_init(&w, 3, 5, 0), SB_OK);
	assert_int_equal(w.mask, 3);   /* rounded up to a power of two */
	sb_wheel_clear(&w);
	sb_wheel_clear(&w);            /* twice: a no-op */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fires_at_deadline_not_before),
		cmocka_unit_test(test_rearm_cancel_and_stall),
		cmocka_unit_test(test_fire_may_rearm_and_cancel),
		cmocka_unit_test(test_matches_model),
		cmocka_unit_test(test_init_rejects_bad_tick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
