/* SPDX-License-Identifier: MIT
 *
 * test_sb_common.c - unit tests for util/sb_common.c's sb_parse_uint(), the
 * parser of every integer the bridge reads from the network as text (the
 * HTTP `since`, Content-Length): the boundaries of its range (min - 1,
 * min, max, max + 1, overflow of int64) and every syntax it refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "sb_common.h"

static void ok(const char *s, int64_t max, int64_t want)
{
	int64_t v = -42;

	if (!sb_parse_uint(s, max, &v))
		fail_msg("\"%s\" (max %lld) refused", s, (long long)max);
	assert_true(v == want);
}

static void bad(const char *s, int64_t max)
{
	int64_t v = -42;

	if (sb_parse_uint(s, max, &v))
		fail_msg("\"%s\" (max %lld) accepted as %lld", s, (long long)max, (long long)v);
	assert_true(v == -42);   /* untouched */
}

static void test_boundaries(void **state)
{
	(void)state;
	bad("-1", SB_INT_MAX_EXACT);                            /* min - 1 */
	ok("0", SB_INT_MAX_EXACT, 0);                           /* min */
	ok("1", SB_INT_MAX_EXACT, 1);
	ok("9007199254740990", SB_INT_MAX_EXACT, 9007199254740990LL);
	ok("9007199254740991", SB_INT_MAX_EXACT, SB_INT_MAX_EXACT);   /* max */
	bad("9007199254740992", SB_INT_MAX_EXACT);              /* max + 1 */
	bad("9223372036854775807", SB_INT_MAX_EXACT);           /* INT64_MAX */
	bad("9223372036854775808", SB_INT_MAX_EXACT);           /* overflows int64 */
	bad("99999999999999999999999", SB_INT_MAX_EXACT);
	bad("18446744073709551616", SB_INT_MAX_EXACT);          /* 2^64 */
	/* the whole int64 range when asked for it */
	ok("9223372036854775807", INT64_MAX, INT64_MAX);
	bad("9223372036854775808", INT64_MAX);
	bad("92233720368547758070", INT64_MAX);
	/* a small max: a first digit above it, and one just past it */
	ok("5", 5, 5);
	bad("6", 5);
	bad("7", 5);
	ok("1048576", 1 << 20, 1 << 20);
	bad("1048577", 1 << 20);
	ok("0", 0, 0);
	bad("1", 0);
	bad("0", -1);   /* no range at all */
}

static void test_syntax(void **state)
{
	static const char *const refused[] = {
		"", "+1", "-0", " 1", "1 ", "1\t", "01", "00", "0x10", "1e3", "1E3", "1.0",
		"1.", ".5", "abc", "1a", "a1", "--1", "١", "NaN", "inf", "Infinity", "true",
		"null", "1,2", "1/2", "\n1",
	};

	(void)state;
	for (size_t i = 0; i < SB_ARRAY_LEN(refused); i++)
		bad(refused[i], SB_INT_MAX_EXACT);
	bad(NULL, SB_INT_MAX_EXACT);
	ok("10", 100, 10);
	ok("100", 100, 100);
	ok("1234567890", SB_INT_MAX_EXACT, 1234567890LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_syntax),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
