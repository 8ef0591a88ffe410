/* SPDX-License-Identifier: MIT
 *
 * test_dict.c - unit tests for dict.c: ownership of values
 * through the destructor (replace, del, destroy; take hands the value
 * back), copied keys, growth past many entries, and iteration that deletes
 * the current entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dict.h"

/* Values are counted boxes: the destructor records what it freed. */
struct box {
	int v;
};

static int freed;          /* destructor calls */
static int freed_sum;      /* sum of the freed values */

static void box_free(void *p)
{
	struct box *b = p;

	freed++;
	freed_sum += b->v;
	free(b);
}

static struct box *box(int v)
{
	struct box *b = malloc(sizeof(*b));

	assert_non_null(b);
	b->v = v;
	return b;
}

static int reset(void **state)
{
	(void)state;
	freed = freed_sum = 0;
	return 0;
}

static void test_set_get(void **state)
{
	struct sb_dict *d = sb_dict_create(box_free);
	char key[8] = "alpha";
	(void)state;

	assert_non_null(d);
	assert_int_equal(sb_dict_size(d), 0);
	assert_null(sb_dict_get(d, "alpha"));
	assert_int_equal(sb_dict_set(d, key, box(1)), SB_OK);
	assert_int_equal(sb_dict_set(d, "beta", box(2)), SB_OK);
	assert_int_equal(sb_dict_set(d, "", box(3)), SB_OK);   /* empty key is a key */
	/* the key was copied: changing the caller's buffer changes nothing */
	strcpy(key, "gamma");
	assert_null(sb_dict_get(d, "gamma"));
	assert_int_equal(((struct box *)sb_dict_get(d, "alpha"))->v, 1);
	assert_int_equal(((struct box *)sb_dict_get(d, "beta"))->v, 2);
	assert_int_equal(((struct box *)sb_dict_get(d, ""))->v, 3);
	assert_null(sb_dict_get(d, "alph"));
	assert_null(sb_dict_get(d, "alphaa"));
	assert_int_equal(sb_dict_size(d), 3);
	/* sb_dict_key returns the table's own copy */
	assert_string_equal(sb_dict_key(d, "alpha"), "alpha");
	assert_ptr_not_equal(sb_dict_key(d, "alpha"), key);
	assert_null(sb_dict_key(d, "nope"));
	assert_int_equal(freed, 0);
	sb_dict_destroy(d);
	assert_int_equal(freed, 3);
	assert_int_equal(freed_sum, 6);
}

static void test_replace_frees_old(void **state)
{
	struct sb_dict *d = sb_dict_create(box_free);
	struct box *same;
	(void)state;

	assert_int_equal(sb_dict_set(d, "k", box(10)), SB_OK);
	assert_int_equal(sb_dict_set(d, "k", box(20)), SB_OK);
	assert_int_equal(freed, 1);
	assert_int_equal(freed_sum, 10);
	assert_int_equal(sb_dict_size(d), 1);
	assert_int_equal(((struct box *)sb_dict_get(d, "k"))->v, 20);
	/* setting the same pointer again must not free it */
	same = sb_dict_get(d, "k");
	assert_int_equal(sb_dict_set(d, "k", same), SB_OK);
	assert_int_equal(freed, 1);
	assert_int_equal(((struct box *)sb_dict_get(d, "k"))->v, 20);
	sb_dict_destroy(d);
	assert_int_equal(freed, 2);
	assert_int_equal(freed_sum, 30);
}

static void test_del(void **state)
{
	struct sb_dict *d = sb_dict_create(box_free);
	(void)state;

	sb_dict_set(d, "a", box(1));
	sb_dict_set(d, "b", box(2));
	assert_int_equal(sb_dict_del(d, "a"), SB_OK);
	assert_int_equal(freed, 1);
	assert_int_equal(freed_sum, 1);
	assert_null(sb_dict_get(d, "a"));
	assert_int_equal(sb_dict_size(d), 1);
	assert_int_equal(sb_dict_del(d, "a"), SB_ERR_NOTFOUND);
	assert_int_equal(sb_dict_del(d, "zzz"), SB_ERR_NOTFOUND);
	assert_int_equal(freed, 1);
	/* re-adding after delete works */
	assert_int_equal(sb_dict_set(d, "a", box(5)), SB_OK);
	assert_int_equal(((struct box *)sb_dict_get(d, "a"))->v, 5);
	assert_int_equal(sb_dict_size(d), 2);
	sb_dict_destroy(d);
	assert_int_equal(freed, 3);
}

static void test_take(void **state)
{
	struct sb_dict *d = sb_dict_create(box_free);
	struct box *b;
	(void)state;

	sb_dict_set(d, "a", box(7));
	b = sb_dict_take(d, "a");
	assert_non_null(b);
	assert_int_equal(b->v, 7);
	assert_int_equal(freed, 0);            /* the caller owns it now */
	assert_int_equal(sb_dict_size(d), 0);
	assert_null(sb_dict_get(d, "a"));
	assert_null(sb_dict_take(d, "a"));
	sb_dict_destroy(d);
	assert_int_equal(freed, 0);
	free(b);
}

static void test_no_destructor(void **state)
{
	struct sb_dict *d = sb_dict_create(NULL);
	int x = 1, y = 2;
	(void)state;

	assert_int_equal(sb_dict_set(d, "x", &x), SB_OK);
	assert_int_equal(sb_dict_set(d, "x", &y), SB_OK);   /* no free of a stack value */
	assert_ptr_equal(sb_dict_get(d, "x"), &y);
	assert_int_equal(sb_dict_del(d, "x"), SB_OK);
	/* integer-as-pointer values (the hub's filter refcounts) */
	assert_int_equal(sb_dict_set(d, "n", (void *)(intptr_t)3), SB_OK);
	assert_int_equal((intptr_t)sb_dict_get(d, "n"), 3);
	sb_dict_destroy(d);
	sb_dict_destroy(NULL);   /* accepts NULL */
}

#define MANY 5000

static void test_growth(void **state)
{
	struct sb_dict *d = sb_dict_create(box_free);
	char key[32];
	long sum = 0;
	(void)state;

	for (int i = 0; i < MANY; i++) {
		snprintf(key, sizeof(key), "team/%d/app/x/status", i);
		assert_int_equal(sb_dict_set(d, key, box(i)), SB_OK);
		sum += i;
	}
	assert_int_equal(sb_dict_size(d), MANY);
	for (int i = 0; i < MANY; i++) {
		struct box *b;
		snprintf(key, sizeof(key), "team/%d/app/x/status", i);
		b = sb_dict_get(d, key);
		if (!b || b->v != i)
			fail_msg("entry %s lost or wrong after growth", key);
		assert_string_equal(sb_dict_key(d, key), key);
	}
	/* iteration sees each entry exactly once */
	{
		struct sb_dict_iter it;
		const char *k;
		void *v;
		size_t n = 0;
		long isum = 0;
		sb_dict_iter_init(&it, d);
		while (sb_dict_next(&it, &k, &v)) {
			n++;
			isum += ((struct box *)v)->v;
			assert_ptr_equal(sb_dict_get(d, k), v);
		}
		assert_int_equal(n, MANY);
		assert_int_equal(isum, sum);
	}
	/* delete every other entry */
	for (int i = 0; i < MANY; i += 2) {
		snprintf(key, sizeof(key), "team/%d/app/x/status", i);
		assert_int_equal(sb_dict_del(d, key), SB_OK);
	}
	assert_int_equal(sb_dict_size(d), MANY / 2);
	for (int i = 0; i < MANY; i++) {
		snprintf(key, sizeof(key), "team/%d/app/x/status", i);
		if ((sb_dict_get(d, key) != NULL) != (i % 2 == 1))
			fail_msg("entry %s: presence wrong after deletes", key);
	}
	sb_dict_destroy(d);
	assert_int_equal(freed, MANY);
	assert_int_equal(freed_sum, sum);
}

static size_t iter_count(const struct sb_dict *d)
{
	struct sb_dict_iter it;
	size_t n = 0;

	sb_dict_iter_init(&it, d);
	while (sb_dict_next(&it, NULL, NULL))
		n++;
	return n;
}

/* Small dicts: none, one, then two entries (the first bucket array), and
 * back; every step found and iterated, everything freed once. */
static void test_small_then_first_growth(void **state)
{
	struct sb_dict *d = sb_dict_create(box_free);
	(void)state;

	assert_null(sb_dict_get(d, "a"));
	assert_int_equal(sb_dict_del(d, "a"), SB_ERR_NOTFOUND);
	assert_int_equal(iter_count(d), 0);
	assert_int_equal(sb_dict_set(d, "a", box(1)), SB_OK);
	assert_int_equal(iter_count(d), 1);
	assert_int_equal(sb_dict_del(d, "a"), SB_OK);
	assert_int_equal(iter_count(d), 0);
	assert_int_equal(sb_dict_set(d, "a", box(2)), SB_OK);
	assert_int_equal(sb_dict_set(d, "b", box(3)), SB_OK);   /* grows */
	assert_int_equal(sb_dict_set(d, "c", box(4)), SB_OK);
	assert_int_equal(((struct box *)sb_dict_get(d, "a"))->v, 2);
	assert_int_equal(((struct box *)sb_dict_get(d, "b"))->v, 3);
	assert_int_equal(((struct box *)sb_dict_get(d, "c"))->v, 4);
	assert_int_equal(iter_count(d), 3);
	sb_dict_destroy(d);
	assert_int_equal(freed, 4);
	assert_int_equal(freed_sum, 1 + 2 + 3 + 4);
}

static void test_iter_delete_current(void **state)
{
	struct sb_dict *d = sb_dict_create(box_free);
	struct sb_dict_iter it;
	const char *k;
	void *v;
	char key[16];
	int seen = 0, deleted = 0;
	(void)state;

	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		sb_dict_set(d, key, box(i));
	}
	sb_dict_iter_init(&it, d);
	while (sb_dict_next(&it, &k, &v)) {
		seen++;
		if (((struct box *)v)->v % 3 == 0) {
			assert_int_equal(sb_dict_del(d, k), SB_OK);
			deleted++;
		}
	}
	assert_int_equal(seen, 200);
	assert_int_equal(deleted, 67);            /* 0, 3, ..., 198 */
	assert_int_equal(freed, 67);
	assert_int_equal(sb_dict_size(d), 133);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if ((sb_dict_get(d, key) != NULL) != (i % 3 != 0))
			fail_msg("%s: presence wrong after deleting during iteration", key);
	}
	/* delete everything while iterating, also through take */
	sb_dict_iter_init(&it, d);
	while (sb_dict_next(&it, &k, &v)) {
		if (((struct box *)v)->v % 2)
			sb_dict_del(d, k);
		else
			free(sb_dict_take(d, k));
	}
	assert_int_equal(sb_dict_size(d), 0);
	sb_dict_iter_init(&it, d);
	assert_int_equal(sb_dict_next(&it, &k, &v), 0);
	sb_dict_destroy(d);
}

static void test_iter_empty_and_null_outputs(void **state)
{
	struct sb_dict *d = sb_dict_create(NULL);
	struct sb_dict_iter it;
	int n = 0;
	(void)state;

	sb_dict_iter_init(&it, d);
	assert_int_equal(sb_dict_next(&it, NULL, NULL), 0);
	sb_dict_set(d, "a", NULL);   /* a NULL value is a value */
	sb_dict_set(d, "b", NULL);
	assert_int_equal(sb_dict_size(d), 2);
	sb_dict_iter_init(&it, d);
	while (sb_dict_next(&it, NULL, NULL))
		n++;
	assert_int_equal(n, 2);
	sb_dict_destroy(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_set_get, reset),
		cmocka_unit_test_setup(test_replace_frees_old, reset),
		cmocka_unit_test_setup(test_del, reset),
		cmocka_unit_test_setup(test_take, reset),
		cmocka_unit_test_setup(test_no_destructor, reset),
		cmocka_unit_test_setup(test_growth, reset),
		cmocka_unit_test_setup(test_small_then_first_growth, reset),
		cmocka_unit_test_setup(test_iter_delete_current, reset),
		cmocka_unit_test_setup(test_iter_empty_and_null_outputs, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
