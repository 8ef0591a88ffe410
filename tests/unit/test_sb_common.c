/* SPDX-License-Identifier: MIT
 *
 * test_sb_common.c - unit tests for util/sb_common.c's sb_parse_uint(), the
 * parser of every integer the bridge reads from the network as text (the
 * HTTP `since`, Content-Length): the boundaries of its range (min - 1,
 * min, max, max + 1, overflow of int64) and every syntax it refuses; and
 * sb_log_render, the log line in both formats (log_format): text as it
 * always was, JSON one valid object per line whatever the message holds
 * (quotes, control bytes, bytes that are not UTF-8, a message too long).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
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

/* 2024-05-06T07:08:09.010Z */
#define WALL 1714979289010LL

static void test_log_text(void **state)
{
	char line[256];
	(void)state;

	sb_log_render(line, sizeof(line), SB_LOG_TEXT, WALL, SB_LOG_WARN, NULL, 0, "mqtt: down");
	assert_string_equal(line, "2024-05-06T07:08:09.010Z warn mqtt: down");
	/* fields repeat the message: the text shows the message only */
	sb_log_render(line, sizeof(line), SB_LOG_TEXT, WALL, SB_LOG_INFO,
		      &(struct sb_log_field){ "topic", "a/b" }, 1, "x");
	assert_string_equal(line, "2024-05-06T07:08:09.010Z info x");
	/* cut, still terminated */
	assert_int_equal(sb_log_render(line, 10, SB_LOG_TEXT, WALL, SB_LOG_INFO, NULL, 0, "x"), 9);
	assert_int_equal(strlen(line), 9);
}

/* Renders msg as JSON and parses it back. */
static cJSON *json_line(size_t size, const struct sb_log_field *f, size_t n, const char *msg)
{
	char *line = malloc(size);
	size_t len = sb_log_render(line, size, SB_LOG_JSON, WALL, SB_LOG_ERR, f, n, msg);
	cJSON *o;

	assert_true(len < size);
	assert_int_equal(strlen(line), len);
	assert_null(strchr(line, '\n'));
	o = cJSON_Parse(line);
	if (!cJSON_IsObject(o))
		fail_msg("not one JSON object: [%s]", line);
	free(line);
	return o;
}

static const char *str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_log_json(void **state)
{
	const struct sb_log_field f[] = { { "topic", "team/42/app/x/status" }, { "channel", NULL },
					  { "client", "s1" } };
	char big[6000];
	cJSON *o;
	(void)state;

	o = json_line(512, NULL, 0, "plain");
	assert_string_equal(str(o, "ts", NULL), "2024-05-06T07:08:09.010Z");
	assert_string_equal(str(o, "level", NULL), "error");
	assert_string_equal(str(o, "msg", NULL), "plain");
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(o, "fields")));
	assert_null(cJSON_GetObjectItem(o, "fields")->child);
	cJSON_Delete(o);

	/* given fields (NULL values left out), and the prefixes' own */
	o = json_line(512, f, 3, "payload on team/42/app/x/status rejected");
	assert_string_equal(str(o, "fields", "topic"), "team/42/app/x/status");
	assert_string_equal(str(o, "fields", "client"), "s1");
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "fields"), "channel"));
	cJSON_Delete(o);
	o = json_line(512, NULL, 0, "client 7f3a: hello refused: expired");
	assert_string_equal(str(o, "fields", "client"), "7f3a");
	assert_string_equal(str(o, "msg", NULL), "client 7f3a: hello refused: expired");
	cJSON_Delete(o);
	o = json_line(512, NULL, 0, "mqtt: connected to tcp://x");
	assert_string_equal(str(o, "fields", "component"), "mqtt");
	cJSON_Delete(o);
	/* a given field wins over the prefix's */
	o = json_line(512, &f[2], 1, "client other: x");
	assert_string_equal(str(o, "fields", "client"), "s1");
	cJSON_Delete(o);

	/* what the message holds is escaped; bytes that are not UTF-8 become
	 * U+FFFD, valid UTF-8 stays */
	o = json_line(512, NULL, 0, "q\" b\\ \t\x01 \xff\xc3 caf\xc3\xa9");
	assert_string_equal(str(o, "msg", NULL), "q\" b\\ \t\x01 \xef\xbf\xbd\xef\xbf\xbd caf\xc3\xa9");
	cJSON_Delete(o);

	/* too long: cut at a character, still one object with its fields */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + 100, "\xc3\xa9\xc3\xa9\"\"", 6);
	for (size_t size = 128; size < 700; size += 7) {
		o = json_line(size, f, 1, big);
		assert_true(strlen(str(o, "msg", NULL)) > 0);
		assert_string_equal(str(o, "fields", "topic"), "team/42/app/x/status");
		cJSON_Delete(o);
	}
	o = json_line(4096, f, 1, big);
	assert_true(strlen(str(o, "msg", NULL)) > 1500);
	cJSON_Delete(o);
}

static void test_log_parse(void **state)
{
	enum sb_log_level l = SB_LOG_ERR;
	enum sb_log_format f = SB_LOG_JSON;
	(void)state;

	assert_true(sb_log_level_parse("debug", &l) && l == SB_LOG_DEBUG);
	assert_true(sb_log_level_parse("warn", &l) && l == SB_LOG_WARN);
	assert_false(sb_log_level_parse("warning", &l));
	assert_false(sb_log_level_parse(NULL, &l));
	assert_true(sb_log_format_parse("text", &f) && f == SB_LOG_TEXT);
	assert_true(sb_log_format_parse("json", &f) && f == SB_LOG_JSON);
	assert_false(sb_log_format_parse("JSON", &f));
	assert_false(sb_log_format_parse(NULL, &f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_log_text),
		cmocka_unit_test(test_log_json),
		cmocka_unit_test(test_log_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
