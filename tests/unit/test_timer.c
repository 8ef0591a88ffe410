/* SPDX-License-Identifier: MIT
 *
 * test_timer.c - unit tests for util/timer.c, the deadline heap, and
 * util/list.h, the intrusive list: ordering against a sorted model over
 * random arm/re-arm/disarm sequences, pop only what is due, and list
 * owner/count bookkeeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "list.h"
#include "timer.h"

static void test_empty(void **state)
{
	struct sb_timers h = { 0 };
	struct sb_timer t = { 0 };

	(void)state;
	assert_true(sb_timers_next(&h) == INT64_MAX);
	assert_null(sb_timers_pop_due(&h, INT64_MAX));
	sb_timer_disarm(&h, &t);   /* not armed: no-op */
	assert_false(sb_timer_armed(&t));
	sb_timers_clear(&h);
}

static void test_order_and_due(void **state)
{
	struct sb_timers h = { 0 };
	struct sb_timer t[5] = { { 0 } };
	int64_t when[5] = { 50, 10, 40, 20, 30 };

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(sb_timer_arm(&h, &t[i], when[i]), SB_OK);
	assert_true(sb_timers_next(&h) == 10);
	assert_null(sb_timers_pop_due(&h, 9));
	assert_ptr_equal(sb_timers_pop_due(&h, 25), &t[1]);
	assert_ptr_equal(sb_timers_pop_due(&h, 25), &t[3]);
	assert_null(sb_timers_pop_due(&h, 25));
	assert_false(sb_timer_armed(&t[1]));
	/* re-arm earlier and later */
	assert_int_equal(sb_timer_arm(&h, &t[0], 5), SB_OK);
	assert_true(sb_timers_next(&h) == 5);
	assert_int_equal(sb_timer_arm(&h, &t[0], 100), SB_OK);
	assert_true(sb_timers_next(&h) == 30);
	sb_timer_disarm(&h, &t[4]);
	assert_true(sb_timers_next(&h) == 40);
	assert_int_equal((int)h.n, 2);
	sb_timers_clear(&h);
	assert_false(sb_timer_armed(&t[0]));
}

/* Random operations against a model: every pop returns the earliest. */
static void test_random_model(void **state)
{
	enum { N = 300, OPS = 20000 };
	struct sb_timers h = { 0 };
	static struct sb_timer t[N];
	static int64_t model[N];   /* INT64_MIN = not armed */
	unsigned seed = 12345;

	(void)state;
	memset(t, 0, sizeof(t));
	for (int i = 0; i < N; i++)
		model[i] = INT64_MIN;
	for (int op = 0; op < OPS; op++) {
		int i = (int)((seed = seed * 1103515245u + 12345u) >> 16) % N;
		int what = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3;
		if (what < 2) {
			int64_t w = (int64_t)((seed = seed * 1103515245u + 12345u) >> 16) % 1000;
			assert_int_equal(sb_timer_arm(&h, &t[i], w), SB_OK);
			model[i] = w;
		} else {
			sb_timer_disarm(&h, &t[i]);
			model[i] = INT64_MIN;
		}
		int64_t min = INT64_MAX;
		for (int k = 0; k < N; k++)
			if (model[k] != INT64_MIN && model[k] < min)
				min = model[k];
		assert_true(sb_timers_next(&h) == min);
	}
	/* drain in order */
	int64_t last = INT64_MIN;
	struct sb_timer *p;
	while ((p = sb_timers_pop_due(&h, INT64_MAX))) {
		assert_true(p->when >= last);
		last = p->when;
		model[p - t] = INT64_MIN;
	}
	for (int k = 0; k < N; k++)
		assert_true(model[k] == INT64_MIN);
	sb_timers_clear(&h);
}

struct item {
	int v;
	struct sb_list_node node;
};

static void test_list(void **state)
{
	struct sb_list l = { 0 };
	struct item it[4] = { { 0 } };
	struct sb_list_node *n, *nx;
	int sum = 0, order[4], k = 0;

	(void)state;
	for (int i = 0; i < 4; i++) {
		it[i].v = i;
		if (i == 0)
			sb_list_add_head(&l, &it[i].node);
		else if (i == 2)
			sb_list_add_after(&l, &it[0].node, &it[i].node);
		else
			sb_list_add_tail(&l, &it[i].node);
	}
	/* 0 2 1 3 */
	assert_int_equal((int)l.count, 4);
	sb_list_foreach_safe(&l, n, nx)
		order[k++] = sb_container_of(n, struct item, node)->v;
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 1);
	assert_int_equal(order[3], 3);
	/* removal during iteration, twice removal is a no-op */
	sb_list_foreach_safe(&l, n, nx) {
		struct item *x = sb_container_of(n, struct item, node);
		if (x->v % 2 == 0)
			sb_list_remove(n);
	}
	sb_list_remove(&it[0].node);
	assert_null(it[0].node.owner);
	assert_int_equal((int)l.count, 2);
	sb_list_foreach_safe(&l, n, nx)
		sum += sb_container_of(n, struct item, node)->v;
	assert_int_equal(sum, 4);
	assert_ptr_equal(l.head, &it[1].node);
	assert_ptr_equal(l.tail, &it[3].node);
	sb_list_remove(&it[1].node);
	sb_list_remove(&it[3].node);
	assert_null(l.head);
	assert_null(l.tail);
	assert_int_equal((int)l.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_order_and_due),
		cmocka_unit_test(test_random_model),
		cmocka_unit_test(test_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
