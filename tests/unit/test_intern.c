/* SPDX-License-Identifier: MIT
 *
 * test_intern.c - unit tests for intern.c: one atom per distinct string,
 * reference counts, ids reused after the last unref, and lookups that stay
 * right across growth and backward-shift deletion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "intern.h"

static uint32_t ref_s(struct sb_intern *t, const char *s)
{
	return sb_intern_ref(t, s, strlen(s));
}

static void test_same_string_same_atom(void **state)
{
	struct sb_intern *t = sb_intern_create();
	uint32_t a, b, c;

	(void)state;
	assert_non_null(t);
	a = ref_s(t, "team/42/app/api/status");
	b = ref_s(t, "team/42/app/api/status");
	c = ref_s(t, "team/42/app/web/status");
	assert_int_not_equal(a, 0);
	assert_int_equal(a, b);
	assert_int_not_equal(a, c);
	assert_string_equal(sb_intern_str(t, a), "team/42/app/api/status");
	assert_string_equal(sb_intern_str(t, c), "team/42/app/web/status");
	assert_int_equal(sb_intern_count(t), 2);
	assert_int_equal(sb_intern_find(t, "team/42/app/api/status", 22), a);
	assert_int_equal(sb_intern_find(t, "team/42/app/db/status", 21), 0);
	assert_null(sb_intern_str(t, 0));
	sb_intern_destroy(t);
}

static void test_embedded_nul_and_prefix_distinct(void **state)
{
	struct sb_intern *t = sb_intern_create();
	uint32_t a = sb_intern_ref(t, "ab\0c", 4), b = sb_intern_ref(t, "ab", 2);

	(void)state;
	assert_int_not_equal(a, b);
	assert_int_equal(sb_intern_find(t, "ab\0c", 4), a);
	assert_int_equal(sb_intern_find(t, "ab", 2), b);
	assert_int_equal(sb_intern_find(t, "", 0), 0);
	sb_intern_destroy(t);
}

static void test_refcount_frees_and_reuses(void **state)
{
	struct sb_intern *t = sb_intern_create();
	uint32_t a = ref_s(t, "team.42"), b;

	(void)state;
	sb_intern_hold(t, a);
	sb_intern_unref(t, a);
	assert_int_equal(sb_intern_find(t, "team.42", 7), a);   /* one ref left */
	sb_intern_unref(t, a);
	assert_int_equal(sb_intern_find(t, "team.42", 7), 0);
	assert_null(sb_intern_str(t, a));
	assert_int_equal(sb_intern_count(t), 0);
	b = ref_s(t, "team.43");
	assert_int_equal(b, a);                                   /* id reused */
	assert_string_equal(sb_intern_str(t, b), "team.43");
	sb_intern_unref(t, 0);                                     /* harmless */
	sb_intern_hold(t, 0);
	sb_intern_destroy(t);
	sb_intern_destroy(NULL);
}

/* Many strings through growth, then every other one removed: the rest are
 * still found (deletion must not cut a probe run), and come back as the
 * same atoms. */
static void test_growth_and_deletion_keep_lookups(void **state)
{
	enum { N = 5000 };
	static uint32_t atoms[N];
	struct sb_intern *t = sb_intern_create();
	char s[64];

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(s, sizeof(s), "team/%d/app/x%d/status", i % 97, i);
		atoms[i] = ref_s(t, s);
		assert_int_not_equal(atoms[i], 0);
	}
	assert_int_equal(sb_intern_count(t), N);
	for (int i = 0; i < N; i += 2)
		sb_intern_unref(t, atoms[i]);
	assert_int_equal(sb_intern_count(t), N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(s, sizeof(s), "team/%d/app/x%d/status", i % 97, i);
		if (i % 2) {
			assert_int_equal(sb_intern_find(t, s, strlen(s)), atoms[i]);
			assert_string_equal(sb_intern_str(t, atoms[i]), s);
		} else {
			assert_int_equal(sb_intern_find(t, s, strlen(s)), 0);
		}
	}
	/* re-adding reuses freed ids: the slot array does not grow */
	for (int i = 0; i < N; i += 2) {
		snprintf(s, sizeof(s), "team/%d/app/y%d/status", i % 97, i);
		assert_true(ref_s(t, s) < (uint32_t)N + 1);
	}
	assert_int_equal(sb_intern_count(t), N);
	sb_intern_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_string_same_atom),
		cmocka_unit_test(test_embedded_nul_and_prefix_distinct),
		cmocka_unit_test(test_refcount_frees_and_reuses),
		cmocka_unit_test(test_growth_and_deletion_keep_lookups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
