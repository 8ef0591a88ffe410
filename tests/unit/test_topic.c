/* SPDX-License-Identifier: MIT
 *
 * test_topic.c - unit tests for topic.c: MQTT 3.1.1 section 4.7
 * topic filter matching and validity, and the id/uuid rules of docs/protocol.md
 * §2.  Every case is a (filter, topic, expected) row so that a
 * failure names the row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "topic.h"

struct match_case {
	const char *filter, *topic;
	int want;
};

static void check_matches(const struct match_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int got = sb_topic_matches(cases[i].filter, cases[i].topic);
		if (got != cases[i].want)
			fail_msg("sb_topic_matches(\"%s\", \"%s\") = %d, want %d",
				 cases[i].filter, cases[i].topic, got, cases[i].want);
	}
}

static void test_match_literal(void **state)
{
	static const struct match_case c[] = {
		{ "a", "a", 1 },
		{ "a/b/c", "a/b/c", 1 },
		{ "a/b/c", "a/b", 0 },
		{ "a/b", "a/b/c", 0 },
		{ "a/b/c", "a/b/cd", 0 },
		{ "a/b/cd", "a/b/c", 0 },
		{ "A", "a", 0 },             /* case-sensitive */
		{ "a/b", "a/b/", 0 },
		{ "/a", "/a", 1 },
		{ "/a", "a", 0 },
	};
	(void)state;
	check_matches(c, sizeof(c) / sizeof(c[0]));
}

static void test_match_plus(void **state)
{
	static const struct match_case c[] = {
		{ "+", "a", 1 },
		{ "+", "a/b", 0 },
		{ "+/+", "a/b", 1 },
		{ "a/+/c", "a/b/c", 1 },
		{ "a/+/c", "a/b/d", 0 },
		{ "a/+/c", "a/c", 0 },
		{ "a/+", "a/b/c", 0 },
		{ "team/+/app/+/status",
		  "team/42/app/0b8f7c1e-1111-2222-3333-444455556666/status", 1 },
		/* '+' matches an empty level */
		{ "+/a", "/a", 1 },
		{ "+/+", "/a", 1 },
		{ "a/+/b", "a//b", 1 },
		{ "a/+", "a/", 1 },
		{ "a/+", "a", 0 },
		{ "+", "", 1 },
		{ "+/+/+", "//", 1 },
	};
	(void)state;
	check_matches(c, sizeof(c) / sizeof(c[0]));
}

static void test_match_hash(void **state)
{
	static const struct match_case c[] = {
		{ "#", "a", 1 },
		{ "#", "a/b/c", 1 },
		{ "#", "/a", 1 },
		{ "#", "a/", 1 },
		{ "a/#", "a", 1 },          /* parent level, MQTT 4.7.1.2 */
		{ "a/#", "a/b", 1 },
		{ "a/#", "a/b/c", 1 },
		{ "a/#", "a/", 1 },
		{ "a/#", "ab", 0 },
		{ "a/#", "b/a", 0 },
		{ "a/b/#", "a", 0 },
		{ "a/+/#", "a/b", 1 },
		{ "a/+/#", "a/b/c/d", 1 },
		{ "+/#", "a", 1 },
		{ "team/42/#", "team/43/app/x/status", 0 },
	};
	(void)state;
	check_matches(c, sizeof(c) / sizeof(c[0]));
}

static void test_match_dollar_topics(void **state)
{
	static const struct match_case c[] = {
		{ "#", "$SYS/broker/uptime", 0 },
		{ "+/broker/uptime", "$SYS/broker/uptime", 0 },
		{ "+/#", "$SYS/broker", 0 },
		{ "$SYS/#", "$SYS/broker/uptime", 1 },
		{ "$SYS/#", "$SYS", 1 },
		{ "$SYS/+/uptime", "$SYS/broker/uptime", 1 },
		{ "$SYS/broker/uptime", "$SYS/broker/uptime", 1 },
		{ "#", "$statusbus/rejected/team/42", 0 },
		{ "$statusbus/rejected/#", "$statusbus/rejected/team/42", 1 },
		/* a '$' not at the start is an ordinary character */
		{ "#", "a/$b", 1 },
		{ "a/+", "a/$b", 1 },
	};
	(void)state;
	check_matches(c, sizeof(c) / sizeof(c[0]));
}

static void test_filter_valid(void **state)
{
	static const struct { const char *f; int want; } c[] = {
		{ "a", 1 }, { "a/b", 1 }, { "#", 1 }, { "+", 1 }, { "a/#", 1 },
		{ "+/+", 1 }, { "a/+/b", 1 }, { "/", 1 }, { "a//b", 1 },
		{ "/+", 1 }, { "+/", 1 }, { "$SYS/#", 1 },
		{ "", 0 }, { "a#", 0 }, { "a/#/b", 0 }, { "#/a", 0 }, { "+a", 0 },
		{ "a+", 0 }, { "a/b+/c", 0 }, { "a/+b", 0 }, { "##", 0 }, { "++", 0 },
		{ "a/##", 0 }, { "#/", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (sb_topic_filter_valid(c[i].f) != c[i].want)
			fail_msg("sb_topic_filter_valid(\"%s\") != %d", c[i].f, c[i].want);
}

static void test_filter_length_bound(void **state)
{
	static char big[65537];
	(void)state;

	memset(big, 'a', 65535);
	big[65535] = '\0';
	assert_int_equal(sb_topic_filter_valid(big), 1);
	big[65535] = 'a';
	big[65536] = '\0';
	assert_int_equal(sb_topic_filter_valid(big), 0);
}

static void test_name_valid(void **state)
{
	static char big[65536];
	(void)state;

	assert_int_equal(sb_topic_name_valid("a/b", 3), 1);
	assert_int_equal(sb_topic_name_valid("/", 1), 1);
	assert_int_equal(sb_topic_name_valid("$SYS/x", 6), 1);
	assert_int_equal(sb_topic_name_valid("", 0), 0);
	assert_int_equal(sb_topic_name_valid("a/+", 3), 0);
	assert_int_equal(sb_topic_name_valid("a/#", 3), 0);
	assert_int_equal(sb_topic_name_valid("a\0b", 3), 0);
	memset(big, 'x', sizeof(big));
	assert_int_equal(sb_topic_name_valid(big, 65535), 1);
	assert_int_equal(sb_topic_name_valid(big, 65536), 0);
}

static void test_id_valid(void **state)
{
	char s[66];
	(void)state;

	assert_int_equal(sb_id_valid("42", 2), 1);
	assert_int_equal(sb_id_valid("team_A-9", 8), 1);
	assert_int_equal(sb_id_valid("-", 1), 1);
	assert_int_equal(sb_id_valid("", 0), 0);
	assert_int_equal(sb_id_valid("a.b", 3), 0);
	assert_int_equal(sb_id_valid("a/b", 3), 0);
	assert_int_equal(sb_id_valid("a+", 2), 0);
	assert_int_equal(sb_id_valid("a#", 2), 0);
	assert_int_equal(sb_id_valid("a b", 3), 0);
	assert_int_equal(sb_id_valid("a\0", 2), 0);
	assert_int_equal(sb_id_valid("\xc3\xa9", 2), 0);   /* "é": ASCII only */
	/* the length is the given one, not strlen */
	assert_int_equal(sb_id_valid("ab/", 2), 1);
	memset(s, 'x', sizeof(s));
	assert_int_equal(sb_id_valid(s, 64), 1);
	assert_int_equal(sb_id_valid(s, 65), 0);
}

static void test_uuid_valid(void **state)
{
	const char *u = "0b8f7c1e-1111-2222-3333-444455556666";
	(void)state;

	assert_int_equal(sb_uuid_valid(u, strlen(u)), 1);
	assert_int_equal(sb_uuid_valid("0B8F7C1E-ABCD-EF00-aBcD-444455556666", 36), 1);
	assert_int_equal(sb_uuid_valid(u, 35), 0);
	assert_int_equal(sb_uuid_valid("0b8f7c1e-1111-2222-3333-4444555566667", 37), 0);
	assert_int_equal(sb_uuid_valid("0b8f7c1e11111-2222-3333-444455556666", 36), 0);
	assert_int_equal(sb_uuid_valid("0b8f7c1e-1111-2222-3333+444455556666", 36), 0);
	assert_int_equal(sb_uuid_valid("0b8f7c1g-1111-2222-3333-444455556666", 36), 0);
	assert_int_equal(sb_uuid_valid("0b8f7c1e-1111-2222-3333-44445555666 ", 36), 0);
	assert_int_equal(sb_uuid_valid("{b8f7c1e-1111-2222-3333-44445555666}", 36), 0);
	assert_int_equal(sb_uuid_valid("", 0), 0);
}

/* One filter covers another when it matches every topic the other does. */
static void test_filter_covers(void **state)
{
	static const struct { const char *wider, *f; int covers; } cases[] = {
		{ "team/+/app/+/status", "team/42/app/+/status", 1 },
		{ "team/+/app/+/status", "team/+/app/a1/status", 1 },
		{ "team/+/app/+/status", "team/42/app/a1/status", 1 },
		{ "team/+/app/+/status", "team/+/app/+/status", 1 },
		{ "team/+/app/+/status", "team/42/db/+/status", 0 },
		{ "team/+/app/+/status", "team/42/app/+/status/x", 0 },
		{ "team/+/app/+/status", "team/42/app/+", 0 },
		{ "team/+/app/+/status", "team/#", 0 },
		{ "team/42/app/+/status", "team/+/app/+/status", 0 },   /* narrower */
		{ "team/+", "team/#", 0 },
		{ "team/#", "team/42/app/+/status", 1 },
		{ "team/#", "team", 1 },   /* '#' also matches the parent level */
		{ "team/#", "team/#", 1 },
		{ "#", "team/+/x", 1 },
		{ "#", "$statusbus/sync/b1", 0 },   /* wildcards miss '$' topics */
		{ "+/sync/b1", "$statusbus/sync/b1", 0 },
		{ "$statusbus/#", "$statusbus/sync/b1", 1 },
		{ "a//b", "a//b", 1 },
		{ "a/+/b", "a//b", 1 },
		{ "a/b", "a/b/", 0 },
		{ "a", "a/b", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (sb_topic_filter_covers(cases[i].wider, cases[i].f) != cases[i].covers)
			fail_msg("%s covers %s: expected %d", cases[i].wider, cases[i].f,
				 cases[i].covers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_literal),
		cmocka_unit_test(test_match_plus),
		cmocka_unit_test(test_match_hash),
		cmocka_unit_test(test_match_dollar_topics),
		cmocka_unit_test(test_filter_covers),
		cmocka_unit_test(test_filter_valid),
		cmocka_unit_test(test_filter_length_bound),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_uuid_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
