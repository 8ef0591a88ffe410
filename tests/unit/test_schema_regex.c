/* SPDX-License-Identifier: MIT
 *
 * test_schema_regex.c - `pattern` and `patternProperties` on PCRE2
 * (schema_regex.c): hostile patterns refused at load with a position,
 * hostile inputs stopped by the search limits (and refused, even under
 * not/anyOf/oneOf, never accepted), long ordinary inputs not stopped,
 * Unicode, and the search form keeping what an unanchored search means.
 * The everyday dialect cases are test_regex_dialect in test_schema.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "schema_fixture.h"

/* ---- helpers -------------------------------------------------------------- */

/* `n` bytes: `unit` repeated, then `tail`; malloc'ed. */
static char *repeat(const char *unit, size_t n, const char *tail)
{
	size_t u = strlen(unit), t = strlen(tail);
	char *s = malloc(n + t + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = unit[i % u];
	memcpy(s + n, tail, t + 1);
	return s;
}

/* Validates the document `doc` (taken: freed here). */
static enum sb_err check_doc(const struct sb_schema *s, cJSON *doc, char *reason, size_t len)
{
	enum sb_err rc;

	assert_non_null(doc);
	rc = sb_schema_validate(s, doc, reason, len);
	cJSON_Delete(doc);
	return rc;
}

static enum sb_err check_string(const struct sb_schema *s, const char *str, char *reason,
				size_t len)
{
	return check_doc(s, cJSON_CreateString(str), reason, len);
}

/* {"<key>": 1} */
static enum sb_err check_key(const struct sb_schema *s, const char *key, char *reason,
			     size_t len)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddNumberToObject(doc, key, 1);
	return check_doc(s, doc, reason, len);
}

static void expect_gave_up(const char *schema, const char *str, const char *want)
{
	struct sb_schema *s = must_compile(schema);
	char r[512];

	assert_int_equal(check_string(s, str, r, sizeof(r)), SB_ERR_INVAL);
	if (!strstr(r, want))
		fail_msg("schema %s: reason \"%s\" lacks \"%s\"", schema, r, want);
	sb_schema_destroy(s);
}

/* ---- refused at load ------------------------------------------------------ */

static void test_stacked_quantifiers_refused(void **state)
{
	char text[128], plus[32];

	(void)state;
	/* 25 stacked `+`: glibc regcomp took seconds and gigabytes on 20;
	 * PCRE2 reads "a++" as possessive and stops at the third */
	memset(plus, '+', 25);
	plus[25] = '\0';
	snprintf(text, sizeof(text), "{\"properties\":{\"x\":{\"pattern\":\"a%s\"}}}", plus);
	expect_compile_error(text, SB_ERR_INVAL,
			     "/properties/x/pattern: pattern \"a+++++++++++++++++++++++++\" does "
			     "not compile: quantifier does not follow a repeatable item (at offset 3)");
	snprintf(text, sizeof(text), "{\"patternProperties\":{\"^(ab%s)\":{}}}", plus);
	expect_compile_error(text, SB_ERR_INVAL, "(at offset 6)");
	expect_compile_error("{\"pattern\":\"a**\"}", SB_ERR_INVAL, "(at offset 2)");
	/* the offset counts characters, not bytes */
	expect_compile_error("{\"pattern\":\"\\u00e9\\u00e9(\"}", SB_ERR_INVAL,
			     "missing closing parenthesis (at offset 3)");
	/* a pattern that is valid alone but cannot be wrapped for a search */
	expect_compile_error("{\"pattern\":\"\\\\Qa\"}", SB_ERR_INVAL, "cannot be searched for");
}

/* ---- stopped at run time -------------------------------------------------- */

static void test_catastrophic_backtracking_stopped(void **state)
{
	char *a = repeat("a", 4000, "b");
	char *blocks = repeat("aaaaaaaaaaaaaaab", 64000, "");
	char *word = repeat("a", 64000, " ");

	(void)state;
	/* exponential: anchored, one start position */
	expect_gave_up("{\"pattern\":\"^(a+)+$\"}", a,
		       "/: pattern \"^(a+)+$\" gave up on \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\": match limit exceeded");
	/* unanchored: PCRE2 restarts its count at every start position,
	 * 2^15 steps each here, so only the search form's one count stops it */
	expect_gave_up("{\"pattern\":\"(a+)+$\"}", blocks, "match limit exceeded");
	/* quadratic, with a possessive-looking tail: every character given
	 * back is a counted step only without auto-possessification */
	expect_gave_up("{\"pattern\":\"^\\\\S+\\\\S+$\"}", word, "match limit exceeded");
	free(a);
	free(blocks);
	free(word);
}

static void test_gave_up_is_never_accepted(void **state)
{
	char *a = repeat("a", 4000, "b"), r[512];
	struct sb_schema *s;

	(void)state;
	/* a failed branch of not/anyOf/oneOf would accept: a search that gave
	 * up ends the validation instead, with its reason */
	expect_gave_up("{\"not\":{\"pattern\":\"^(a+)+$\"}}", a, "/: pattern \"^(a+)+$\" gave up");
	expect_gave_up("{\"anyOf\":[{\"pattern\":\"^(a+)+$\"},{\"type\":\"string\"}]}", a,
		       "match limit exceeded");
	expect_gave_up("{\"oneOf\":[{\"pattern\":\"^(a+)+$\"},{\"type\":\"string\"}]}", a,
		       "match limit exceeded");
	expect_gave_up("{\"not\":{\"anyOf\":[{\"not\":{\"pattern\":\"^(a+)+$\"}}]}}", a,
		       "match limit exceeded");

	s = must_compile("{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"object\","
			 "\"patternProperties\":{\"^(a+)+$\":{\"type\":\"string\"}},"
			 "\"additionalProperties\":true}}}");
	{
		cJSON *doc = cJSON_CreateObject(), *p = cJSON_AddObjectToObject(doc, "p");

		cJSON_AddNumberToObject(p, a, 1);
		assert_int_equal(check_doc(s, doc, r, sizeof(r)), SB_ERR_INVAL);
	}
	assert_non_null(strstr(r, "/p/aaaaaaaa"));
	assert_non_null(strstr(r, ": pattern \"^(a+)+$\" gave up on the property name \"aaaa"));
	assert_non_null(strstr(r, "match limit exceeded"));
	sb_schema_destroy(s);

	/* the next validation starts afresh */
	s = must_compile("{\"pattern\":\"^(a+)+$\"}");
	assert_int_equal(check_string(s, "aaaa", r, sizeof(r)), SB_OK);
	assert_int_equal(check_string(s, a, r, sizeof(r)), SB_ERR_INVAL);
	assert_int_equal(check_string(s, "aaab", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: \"aaab\" does not match pattern \"^(a+)+$\"");
	sb_schema_destroy(s);
	free(a);
}

static void test_not_utf8_subject_refused(void **state)
{
	struct sb_schema *s = must_compile("{\"not\":{\"pattern\":\"x\"}}");
	char r[256];

	(void)state;
	/* cJSON takes any bytes from a caller that builds documents itself */
	assert_int_equal(check_string(s, "a\xff", r, sizeof(r)), SB_ERR_INVAL);
	assert_non_null(strstr(r, "gave up on \"a\xff\": UTF-8 error"));
	sb_schema_destroy(s);
}

static void test_long_ordinary_inputs_pass(void **state)
{
	char *text = repeat("lorem ipsum dolor sit amet ", 60000, "call 555-1234");
	char *words = repeat("abc ", 60000, "end");
	char *esc = repeat("ab\\\"c", 60000, "");
	struct sb_schema *s;
	char r[256];

	(void)state;
	/* the limits grow with the input: a search visits every position */
	s = must_compile("{\"pattern\":\"\\\\d{3}-\\\\d{4}\"}");
	assert_int_equal(check_string(s, text, r, sizeof(r)), SB_OK);
	text[60000] = '\0';
	assert_int_equal(check_string(s, text, r, sizeof(r)), SB_ERR_INVAL);
	assert_non_null(strstr(r, "does not match pattern"));
	sb_schema_destroy(s);

	s = must_compile("{\"pattern\":\"^(?:[a-z]+ )*[a-z]+$\"}");
	assert_int_equal(check_string(s, words, r, sizeof(r)), SB_OK);
	sb_schema_destroy(s);

	/* one nested step per character */
	s = must_compile("{\"pattern\":\"^(?:[^\\\\\\\\\\\"]|\\\\\\\\.)*$\"}");
	assert_int_equal(check_string(s, esc, r, sizeof(r)), SB_OK);
	sb_schema_destroy(s);
	free(text);
	free(words);
	free(esc);
}

/* ---- meaning -------------------------------------------------------------- */

static void test_unicode(void **state)
{
	static const struct re_case cases[] = {
		/* \p{..}: PCRE2's short names, in code points */
		{ "^\\p{L}+$", "h\xC3\xA9llo", true }, { "^\\p{L}+$", "\xCF\x80\xE4\xB8\xAD", true },
		{ "^\\p{L}+$", "abc1", false }, { "^\\P{L}$", "1", true },
		{ "^\\p{Lu}", "\xC3\x89t\xC3\xA9", true }, { "^\\p{Greek}+$", "\xCF\x80", true },
		/* \u escapes as in ECMA-262, and \u{..} as with its u flag */
		{ "^\\u00e9$", "\xC3\xA9", true }, { "^caf\\u00E9$", "caf\xC3\xA9", true },
		{ "^\\u00e9$", "e\xCC\x81", false }, { "^\\u{e9}$", "\xC3\xA9", true },
		{ "^[\\u00e0-\\u00ff]+$", "\xC3\xA0\xC3\xBF", true }, { "^\\x41$", "A", true },
		{ "\\u", "u", true }, { "^\\U$", "U", true },
		/* . is one code point */
		{ "^.{3}$", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", true },
		{ "^.$", "\xF0\x9F\x98\x80", true },
		/* \d \w \b are ASCII, as in ECMA-262 */
		{ "^\\d$", "\xE0\xA7\xAA", false }, { "^\\w$", "\xC3\xA9", false },
		{ "^\\W$", "\xC3\xA9", true }, { "\\bfoo", "\xC3\xA9" "foo", true },
		/* \s is ASCII too, unlike ECMA-262 (docs/schemas.md) */
		{ "^\\s$", "\t", true }, { "^\\s$", "\v", true }, { "^\\s$", "\xC2\xA0", false },
		{ "^[\\s\\u00a0\\u2028\\u3000]+$", "\xC2\xA0\xE2\x80\xA8\xE3\x80\x80 ", true },
	};
	struct sb_schema *s;
	char r[256];

	(void)state;
	expect_matches(cases, SB_ARRAY_LEN(cases));
	/* a JSON escape in the document is the same character */
	s = must_compile("{\"pattern\":\"^\\\\u00e9\\\\u{1F600}$\"}");
	assert_int_equal(check_text(s, "\"\\u00e9\\ud83d\\ude00\"", r, sizeof(r)), SB_OK);
	sb_schema_destroy(s);
}

static void test_ecma_edges(void **state)
{
	static const struct re_case cases[] = {
		/* $ is the very end, not before a final newline */
		{ "^abc$", "abc\n", false }, { "^abc$", "abc", true },
		/* . stops at ECMA's line terminators */
		{ "^a.c$", "a\nc", false }, { "^a.c$", "a\rc", false },
		{ "^a.c$", "a\xE2\x80\xA8" "c", false }, { "^a.c$", "a\xE2\x80\xA9" "c", false },
		{ "^[^]$", "\n", true },
		/* a backreference to an unset group matches the empty string */
		{ "^(?:(a)|b)\\1$", "b", true }, { "^\\1(a)$", "a", true },
		/* the search form keeps what lies before the start in view */
		{ "(?<=x)y", "xy", true }, { "(?<=x)y", "y", false }, { "\\by", "xy", false },
		{ "^b|c", "abc", true }, { "^b|d", "abc", false }, { "(?!a)", "aaa", true },
		{ "", "", true }, { "x*", "", true },
	};

	(void)state;
	expect_matches(cases, SB_ARRAY_LEN(cases));
}

static void test_pattern_properties_keys(void **state)
{
	struct sb_schema *s = must_compile("{\"patternProperties\":{\"^\\\\p{L}+$\":"
					   "{\"type\":\"string\"}},\"additionalProperties\":false}");
	char r[256];

	(void)state;
	assert_int_equal(check_key(s, "\xCF\x80", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/\xCF\x80: expected string, got number");
	assert_int_equal(check_key(s, "a1", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/a1: property is not allowed (additionalProperties is false)");
	assert_int_equal(check_text(s, "{\"\\u00e9t\\u00e9\":\"x\"}", r, sizeof(r)), SB_OK);
	sb_schema_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stacked_quantifiers_refused),
		cmocka_unit_test(test_catastrophic_backtracking_stopped),
		cmocka_unit_test(test_gave_up_is_never_accepted),
		cmocka_unit_test(test_not_utf8_subject_refused),
		cmocka_unit_test(test_long_ordinary_inputs_pass),
		cmocka_unit_test(test_unicode),
		cmocka_unit_test(test_ecma_edges),
		cmocka_unit_test(test_pattern_properties_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
