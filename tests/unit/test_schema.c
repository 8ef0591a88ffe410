/* SPDX-License-Identifier: MIT
 *
 * test_schema.c - unit tests for the schema validator (schema.c and the
 * schema_*.c pieces behind it): reasons, compile-time errors, references,
 * bounds, the regex dialect, formats and numbers.  The JSON Schema Test
 * Suite, our schemas/ examples and set loading are test_schema_suite.c;
 * pattern limits, Unicode and the search form are test_schema_regex.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "schema_fixture.h"

#ifndef SB_SOURCE_DIR
#define SB_SOURCE_DIR "."
#endif

/* ---- (c) reasons ---------------------------------------------------------- */

static void expect_reason(const struct sb_schema_set *set, const char *schema,
			  const char *doc, const char *want)
{
	char reason[512];
	enum sb_err rc = check_text(sb_schema_set_get(set, schema), doc, reason, sizeof(reason));

	assert_int_equal(rc, SB_ERR_INVAL);
	if (strcmp(reason, want))
		fail_msg("%s %s:\n  got    %s\n  wanted %s", schema, doc, reason, want);
}

static void test_reasons(void **state)
{
	char err[512], reason[64];
	struct sb_schema_set *set = NULL;
	const char *ts = "\"ts\":\"2024-06-01T12:00:00Z\"";
	char doc[20000];

	(void)state;
	assert_int_equal(sb_schema_set_load(&set, SB_SOURCE_DIR "/schemas", err, sizeof(err)),
			 SB_OK);
	snprintf(doc, sizeof(doc), "{%s,\"status\":\"running\",\"progress\":140}", ts);
	expect_reason(set, "deploy-status.json", doc, "/progress: 140 is greater than maximum 100");
	snprintf(doc, sizeof(doc), "{%s,\"status\":\"running\",\"progress\":50.5}", ts);
	expect_reason(set, "deploy-status.json", doc, "/progress: expected integer, got number");
	snprintf(doc, sizeof(doc), "{%s,\"status\":\"running\",\"progress\":1,\"commit\":\"XYZ\"}", ts);
	expect_reason(set, "deploy-status.json", doc,
		      "/commit: \"XYZ\" does not match pattern \"^[0-9a-f]{7,40}$\"");
	snprintf(doc, sizeof(doc), "{%s,\"status\":\"running\",\"progress\":1,\"app\":\"x\"}", ts);
	expect_reason(set, "deploy-status.json", doc, "/app: \"x\" is not a valid uuid");
	expect_reason(set, "app-status.json", "{\"status\":\"running\"}",
		      "/: missing required property \"ts\"");
	expect_reason(set, "app-status.json", "[]", "/: expected object, got array");
	snprintf(doc, sizeof(doc), "{%s,\"status\":\"crashed\"}", ts);
	expect_reason(set, "app-status.json", doc,
		      "/status: \"crashed\" is not one of \"running\", \"starting\", "
		      "\"restarting\", \"stopped\", \"exited\", \"degraded\", \"unhealthy\", "
		      "\"unknown\"");
	snprintf(doc, sizeof(doc), "{%s,\"status\":\"running\",\"uptime\":1}", ts);
	expect_reason(set, "app-status.json", doc,
		      "/uptime: property is not allowed (additionalProperties is false)");
	expect_reason(set, "app-status.json", "{\"ts\":\"yesterday\",\"status\":\"running\"}",
		      "/ts: \"yesterday\" is not a valid date-time");
	snprintf(doc, sizeof(doc), "{%s,\"cpu\":1,\"mem\":{\"used\":-1,\"limit\":0}}", ts);
	expect_reason(set, "stats.json", doc, "/mem/used: -1 is less than minimum 0");
	snprintf(doc, sizeof(doc),
		 "{%s,\"title\":\"x\",\"severity\":\"minor\",\"state\":\"identified\","
		 "\"updates\":[{%s,\"state\":\"identified\",\"message\":\"\"},"
		 "{%s,\"state\":\"fixed\",\"message\":\"\"}]}", ts, ts, ts);
	expect_reason(set, "incident.json", doc,
		      "/updates/1/state: \"fixed\" is not one of \"investigating\", "
		      "\"identified\", \"monitoring\", \"resolved\"");
	snprintf(doc, sizeof(doc),
		 "{%s,\"title\":\"x\",\"severity\":\"minor\",\"state\":\"identified\","
		 "\"components\":[\"a\",\"b\",\"a\"]}", ts);
	expect_reason(set, "incident.json", doc,
		      "/components: items 0 and 2 are equal (uniqueItems)");
	{
		int n = snprintf(doc, sizeof(doc), "{\"seq\":1,%s,\"level\":\"info\","
				 "\"stream\":\"stdout\",\"msg\":\"", ts);

		memset(doc + n, 'm', 16385);
		strcpy(doc + n + 16385, "\"}");
		expect_reason(set, "log-line.json", doc,
			      "/msg: length 16385 is greater than maxLength 16384");
	}

	/* a short buffer gets a cut reason, never an overflow */
	snprintf(doc, sizeof(doc), "{%s,\"status\":\"running\",\"progress\":140}", ts);
	assert_int_equal(check_text(sb_schema_set_get(set, "deploy-status.json"), doc, reason, 10),
			 SB_ERR_INVAL);
	assert_string_equal(reason, "/progress");
	/* and a NULL one is fine */
	assert_int_equal(check_text(sb_schema_set_get(set, "deploy-status.json"), doc, NULL, 0),
			 SB_ERR_INVAL);
	sb_schema_set_destroy(set);
}

static void test_composition_reasons(void **state)
{
	struct sb_schema *s;
	char r[256];

	(void)state;
	s = must_compile("{\"anyOf\":[{\"type\":\"string\"},{\"minimum\":2}]}");
	assert_int_equal(check_text(s, "1", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: matches no schema in anyOf");
	sb_schema_destroy(s);
	s = must_compile("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}");
	assert_int_equal(check_text(s, "3", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: matches more than one schema in oneOf");
	assert_int_equal(check_text(s, "1.5", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: matches no schema in oneOf");
	sb_schema_destroy(s);
	s = must_compile("{\"properties\":{\"a~b/c\":{\"not\":{\"const\":1}}}}");
	assert_int_equal(check_text(s, "{\"a~b/c\":1}", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/a~0b~1c: must not match the schema in not");
	sb_schema_destroy(s);
	s = must_compile("{\"prefixItems\":[{\"type\":\"integer\"}],\"items\":false}");
	assert_int_equal(check_text(s, "[1]", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "[1,2]", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/1: no item is allowed at this position");
	assert_int_equal(check_text(s, "[\"a\"]", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/0: expected integer, got string");
	sb_schema_destroy(s);
	s = must_compile("{\"dependentRequired\":{\"a\":[\"b\"]},\"minProperties\":1}");
	assert_int_equal(check_text(s, "{\"a\":1}", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: property \"a\" requires property \"b\"");
	assert_int_equal(check_text(s, "{}", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: 0 properties is fewer than minProperties 1");
	assert_int_equal(check_text(s, "{\"b\":1}", r, sizeof(r)), SB_OK);
	sb_schema_destroy(s);
	s = must_compile("{\"const\":{\"a\":[1,2]}}");
	assert_int_equal(check_text(s, "{\"a\":[1,2.0]}", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "{\"a\":[2,1]}", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: an object is not equal to const an object");
	sb_schema_destroy(s);
}

/* ---- (c) compile errors --------------------------------------------------- */

static void test_compile_errors(void **state)
{
	(void)state;
	/* keywords that would change the outcome are refused, by name */
	expect_compile_error("{\"contains\":{\"const\":1}}", SB_ERR_INVAL,
			     "/contains: keyword \"contains\" is not supported");
	expect_compile_error("{\"if\":true,\"then\":false}", SB_ERR_INVAL, "\"if\" is not supported");
	expect_compile_error("{\"properties\":{\"a\":{\"unevaluatedProperties\":false}}}",
			     SB_ERR_INVAL, "/properties/a/unevaluatedProperties: keyword");
	/* and so are typos */
	expect_compile_error("{\"properties\":{\"a\":{\"maxLenght\":3}}}", SB_ERR_INVAL,
			     "/properties/a/maxLenght: unknown keyword \"maxLenght\"");
	expect_compile_error("{\"type\":\"strin\"}", SB_ERR_INVAL, "/type: unknown type \"strin\"");
	expect_compile_error("{\"format\":\"email\"}", SB_ERR_INVAL,
			     "/format: format \"email\" is not supported");
	expect_compile_error("{\"minimum\":\"1\"}", SB_ERR_INVAL, "/minimum: must be a number");
	expect_compile_error("{\"maxLength\":-1}", SB_ERR_INVAL, "non-negative integer");
	expect_compile_error("{\"maxLength\":1.5}", SB_ERR_INVAL, "non-negative integer");
	expect_compile_error("{\"multipleOf\":0}", SB_ERR_INVAL, "greater than 0");
	expect_compile_error("{\"required\":[\"a\",\"a\"]}", SB_ERR_INVAL, "listed twice");
	expect_compile_error("{\"type\":\"object\",\"type\":\"array\"}", SB_ERR_INVAL,
			     "keyword \"type\" appears twice");
	expect_compile_error("{\"anyOf\":[]}", SB_ERR_INVAL, "non-empty array");
	expect_compile_error("5", SB_ERR_INVAL, "/: a schema must be an object or a boolean");
	expect_compile_error("{\"items\":[{}]}", SB_ERR_INVAL, "use prefixItems");
	expect_compile_error("{\"properties\":{\"a\":{\"$id\":\"x\"}}}", SB_ERR_INVAL,
			     "$id is supported only at the root");
	/* references */
	expect_compile_error("{\"$ref\":\"#/$defs/missing\"}", SB_ERR_INVAL,
			     "/$ref: \"#/$defs/missing\": no such location");
	expect_compile_error("{\"$ref\":\"other.json#/a\"}", SB_ERR_INVAL,
			     "only references within this document");
	expect_compile_error("{\"$ref\":\"#foo\"}", SB_ERR_INVAL, "anchors are not supported");
	expect_compile_error("{\"$defs\":{\"a\":{\"type\":\"nope\"}}}", SB_ERR_INVAL,
			     "/$defs/a/type: unknown type");
	/* patterns: PCRE2's message and the offset (in characters) of the error */
	expect_compile_error("{\"pattern\":\"a{2,1}\"}", SB_ERR_INVAL,
			     "/pattern: pattern \"a{2,1}\" does not compile: numbers out of order "
			     "in {} quantifier (at offset 5)");
	expect_compile_error("{\"pattern\":\"(a\"}", SB_ERR_INVAL, "missing closing parenthesis");
	expect_compile_error("{\"pattern\":\"a)\"}", SB_ERR_INVAL, "unmatched closing parenthesis");
	expect_compile_error("{\"pattern\":\"*a\"}", SB_ERR_INVAL,
			     "quantifier does not follow a repeatable item (at offset 0)");
	expect_compile_error("{\"pattern\":\"[a\"}", SB_ERR_INVAL, "missing terminating ]");
	expect_compile_error("{\"pattern\":\"[z-a]\"}", SB_ERR_INVAL, "range out of order");
	expect_compile_error("{\"pattern\":\"\\\\y\"}", SB_ERR_INVAL, "unrecognized character follows");
	/* what PCRE2 10.42 cannot do: lookbehind of varying length, long
	 * property names, surrogate pairs as two escapes (\u{1F600} works) */
	expect_compile_error("{\"patternProperties\":{\"(?<=x+)\":{}}}", SB_ERR_INVAL,
			     "/patternProperties/(?<=x+): pattern \"(?<=x+)\" does not compile: "
			     "lookbehind assertion is not fixed length (at offset 0)");
	expect_compile_error("{\"pattern\":\"\\\\p{Letter}\"}", SB_ERR_INVAL, "unknown property");
	expect_compile_error("{\"pattern\":\"\\\\uD83D\\\\uDE00\"}", SB_ERR_INVAL,
			     "disallowed Unicode code point");
}

static void test_annotations_and_extensions_accepted(void **state)
{
	struct sb_schema *s;
	char r[128];

	(void)state;
	s = must_compile("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
			 "\"$id\":\"https://x.example/s.json\",\"title\":\"t\",\"description\":\"d\","
			 "\"$comment\":\"c\",\"examples\":[1],\"default\":1,\"deprecated\":false,"
			 "\"readOnly\":false,\"writeOnly\":false,\"x-owner\":\"team-a\","
			 "\"type\":\"integer\"}");
	assert_int_equal(check_text(s, "1", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "\"1\"", r, sizeof(r)), SB_ERR_INVAL);
	sb_schema_destroy(s);
	/* boolean schemas at the root */
	s = must_compile("true");
	assert_int_equal(check_text(s, "{\"any\":[1]}", r, sizeof(r)), SB_OK);
	sb_schema_destroy(s);
	s = must_compile("false");
	assert_int_equal(check_text(s, "null", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: no value is allowed here (false schema)");
	sb_schema_destroy(s);
}

/* ---- (c) references ------------------------------------------------------- */

static void test_pointer_escapes(void **state)
{
	struct sb_schema *s;
	char r[256];

	(void)state;
	s = must_compile("{\"$defs\":{\"a~b\":{\"type\":\"integer\"},\"c/d\":{\"type\":\"string\"},"
			 "\"e%f\":{\"type\":\"boolean\"},\"g h\":{\"type\":\"null\"}},"
			 "\"properties\":{\"x\":{\"$ref\":\"#/$defs/a~0b\"},"
			 "\"y\":{\"$ref\":\"#/$defs/c~1d\"},\"z\":{\"$ref\":\"#/$defs/e%25f\"},"
			 "\"w\":{\"$ref\":\"#/$defs/g%20h\"}}}");
	assert_int_equal(check_text(s, "{\"x\":1,\"y\":\"s\",\"z\":true,\"w\":null}", r, sizeof(r)),
			 SB_OK);
	assert_int_equal(check_text(s, "{\"x\":\"1\"}", r, sizeof(r)), SB_ERR_INVAL);
	assert_int_equal(check_text(s, "{\"y\":1}", r, sizeof(r)), SB_ERR_INVAL);
	assert_int_equal(check_text(s, "{\"z\":1}", r, sizeof(r)), SB_ERR_INVAL);
	assert_int_equal(check_text(s, "{\"w\":1}", r, sizeof(r)), SB_ERR_INVAL);
	sb_schema_destroy(s);

	/* "definitions", array indexes, and the root's own $id */
	s = must_compile("{\"$id\":\"https://e.example/s.json\",\"definitions\":{\"n\":{\"type\":"
			 "\"integer\"}},\"allOf\":[{\"minimum\":1},{\"$ref\":\"#/allOf/0\"}],"
			 "\"$ref\":\"https://e.example/s.json#/definitions/n\"}");
	assert_int_equal(check_text(s, "3", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "\"a\"", r, sizeof(r)), SB_ERR_INVAL);
	assert_int_equal(check_text(s, "0", r, sizeof(r)), SB_ERR_INVAL);
	sb_schema_destroy(s);
}

static void test_ref_siblings(void **state)
{
	struct sb_schema *s;
	char r[256];

	(void)state;
	/* 2020-12: keywords beside $ref apply too (draft 7 ignored them) */
	s = must_compile("{\"$defs\":{\"arr\":{\"type\":\"array\"}},"
			 "\"$ref\":\"#/$defs/arr\",\"maxItems\":2}");
	assert_int_equal(check_text(s, "[1,2]", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "[1,2,3]", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: 3 items is more than maxItems 2");
	assert_int_equal(check_text(s, "{}", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: expected array, got object");
	sb_schema_destroy(s);
}

static void test_ref_cycles(void **state)
{
	struct sb_schema *s;
	char r[256];

	(void)state;
	/* cycles that never descend into the instance: refused */
	expect_compile_error("{\"$ref\":\"#\"}", SB_ERR_INVAL, "$ref cycle");
	expect_compile_error("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},"
			     "\"b\":{\"allOf\":[{\"$ref\":\"#/$defs/a\"}]}},\"$ref\":\"#/$defs/a\"}",
			     SB_ERR_INVAL, "$ref cycle");
	expect_compile_error("{\"anyOf\":[{\"not\":{\"$ref\":\"#\"}}]}", SB_ERR_INVAL, "$ref cycle");
	/* recursion through properties/items is a tree: fine */
	s = must_compile("{\"type\":\"object\",\"properties\":{\"value\":{\"type\":\"number\"},"
			 "\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}},"
			 "\"required\":[\"value\"],\"additionalProperties\":false}");
	assert_int_equal(check_text(s, "{\"value\":1,\"children\":[{\"value\":2,\"children\":"
				    "[{\"value\":3}]},{\"value\":4}]}", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "{\"value\":1,\"children\":[{\"value\":2,\"children\":"
				    "[{\"value\":\"x\"}]}]}", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/children/0/children/0/value: expected number, got string");
	sb_schema_destroy(s);
}

/* ---- (c) bounds ----------------------------------------------------------- */

static char *nested(const char *open, const char *inner, const char *close, int n)
{
	size_t len = strlen(open) * (size_t)n + strlen(inner) + strlen(close) * (size_t)n + 1;
	char *p = malloc(len), *o = p;

	assert_non_null(p);
	for (int i = 0; i < n; i++)
		o += sprintf(o, "%s", open);
	o += sprintf(o, "%s", inner);
	for (int i = 0; i < n; i++)
		o += sprintf(o, "%s", close);
	return p;
}

static void test_depth_bounded(void **state)
{
	struct sb_schema *s;
	char err[512], r[2048];
	enum sb_err rc;
	char *text;

	(void)state;
	/* a schema nested deeper than SB_SCHEMA_MAX_DEPTH is refused */
	text = nested("{\"properties\":{\"a\":", "{}", "}}", 100);
	s = compile_text(text, &rc, err, sizeof(err));
	free(text);
	assert_null(s);
	assert_int_equal(rc, SB_ERR_LIMIT);
	assert_non_null(strstr(err, "schema nested deeper than 64 levels"));
	assert_non_null(strstr(err, "/properties/a/properties/a/"));

	/* a chain of $refs deeper than the bound is refused too */
	{
		char buf[8192];
		int o = snprintf(buf, sizeof(buf), "{\"$ref\":\"#/$defs/d0\",\"$defs\":{");

		for (int i = 0; i < 80; i++)
			o += snprintf(buf + o, sizeof(buf) - (size_t)o,
				      "\"d%d\":{\"$ref\":\"#/$defs/d%d\"},", i, i + 1);
		snprintf(buf + o, sizeof(buf) - (size_t)o, "\"d80\":{\"type\":\"integer\"}}}");
		s = compile_text(buf, &rc, err, sizeof(err));
		assert_null(s);
		assert_int_equal(rc, SB_ERR_LIMIT);
		assert_non_null(strstr(err, "deeper than 64"));
	}

	/* a recursive schema and a document nested deeper than the bound */
	s = must_compile("{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#\"}}}");
	text = nested("{\"a\":", "{}", "}", 30);
	assert_int_equal(check_text(s, text, r, sizeof(r)), SB_OK);
	free(text);
	text = nested("{\"a\":", "{}", "}", 200);
	assert_int_equal(check_text(s, text, r, sizeof(r)), SB_ERR_INVAL);
	free(text);
	assert_non_null(strstr(r, ": nested deeper than 64 levels"));
	assert_int_equal(strncmp(r, "/a/a/a/a/", 9), 0);
	sb_schema_destroy(s);

	/* deep documents the schema does not look into cost nothing */
	s = must_compile("{\"type\":\"object\"}");
	text = nested("{\"a\":", "{}", "}", 500);
	assert_int_equal(check_text(s, text, r, sizeof(r)), SB_OK);
	free(text);
	sb_schema_destroy(s);
	/* deep equality is bounded too */
	s = must_compile("{\"uniqueItems\":true}");
	text = nested("[", "1", "]", 900);
	assert_int_equal(check_text(s, text, r, sizeof(r)), SB_OK);
	free(text);
	sb_schema_destroy(s);
}

/* ---- (c) regex dialect ---------------------------------------------------- */

static void test_regex_dialect(void **state)
{
	static const struct re_case cases[] = {
		{ "^\\d+$", "123", true }, { "^\\d+$", "12a", false }, { "^\\d+$", "ddd", false },
		{ "^\\D$", "a", true }, { "^\\D$", "1", false },
		{ "^\\w+$", "a_Z9", true }, { "^\\w+$", "a-b", false }, { "^\\W$", "-", true },
		{ "^\\s$", " ", true }, { "^\\s$", "\t", true }, { "^\\S+$", "a b", false },
		{ "^a.c$", "abc", true }, { "^a.c$", "a\nc", false }, { "^a.c$", "a\rc", false },
		{ "^.$", "\xC3\xA9", true }, { "^.$", "\xF0\x9F\x98\x80", true },
		{ "^..$", "\xC3\xA9", false },
		{ "^[\\d-]+$", "1-2", true }, { "^[^\\d]+$", "ab", true }, { "^[^\\d]+$", "a1", false },
		{ "^[\\s\\d]+$", "1 2", true }, { "^[\\w.]+$", "a.b_c", true },
		{ "^[\\]\\[]+$", "][", true }, { "^[\\^]$", "^", true }, { "^[\\^]$", "a", false },
		{ "^[a^]$", "^", true }, { "^[\\-a]$", "-", true }, { "^[\\^\\-]$", "-", true },
		{ "^[\\^\\-]$", "^", true }, { "^[\\^\\-]$", "a", false }, { "^[\\^[]$", "[", true },
		{ "^[\\^[]$", "^", true }, { "^[^\\^]$", "^", false }, { "^[^\\^]$", "a", true },
		{ "^[[]$", "[", true }, { "^[\\[:a]$", ":", true }, { "^[\\\\]$", "\\", true },
		{ "^[!-/]+$", "!-/", true }, { "^[+--]$", ",", true }, { "^[+--]$", "-", true },
		{ "^[\xC3\xA0-\xC3\xBF]+$", "\xC3\xA9\xC3\xBC", true },
		{ "^[\xC3\xA0-\xC3\xBF]+$", "e", false }, { "^[\\u00e0-\\u00ff]$", "\xC3\xA9", true },
		{ "^[^]$", "\n", true }, { "^[^\u00e0-\u00ff]$", "\xC3\xA9", false },
		{ "^[^\u00e0-\u00ff]$", "e", true }, { "^[a-\u00e9]+$", "z\xC3\xA9", true },
		{ "^[\u0400-\u04ff]+$", "\xD0\x96", true },
		{ "^(?:ab)+$", "abab", true }, { "^(?<x>a)b$", "ab", true },
		{ "^a+?$", "aaa", true }, { "^a*?b$", "aab", true }, { "^a??b$", "b", true },
		{ "^a{2}$", "aa", true }, { "^a{2}$", "aaa", false }, { "^a{2,}$", "aaaa", true },
		{ "a{", "a{", true }, { "^x{,2}$", "x{,2}", true }, { "^a}$", "a}", true },
		{ "^a]$", "a]", true }, { "^\\]\\}\\{\\)\\(\\*\\$$", "]}{)(*$", true },
		{ "\\bfoo\\b", "a foo b", true }, { "\\bfoo\\b", "afoob", false },
		{ "^\\u00e9$", "\xC3\xA9", true }, { "^\\u{1F600}$", "\xF0\x9F\x98\x80", true },
		{ "^\\x41$", "A", true }, { "^\\t$", "\t", true }, { "^\\cJ$", "\n", true },
		{ "^\\.$", ".", true }, { "^\\.$", "a", false }, { "^\\/$", "/", true },
		{ "^a|b$", "b", true }, { "^(a|b)c$", "bc", true }, { "a+", "xaay", true },
		{ "^$", "", true }, { "^[0-9a-f]{7,40}$", "a1b2c3d", true },
		{ "^[0-9a-f]{7,40}$", "A1B2C3D", false },
		/* refused by the POSIX translation, right with PCRE2 */
		{ "^(?=.*\\d)[a-z\\d]+$", "ab1", true }, { "^(?=.*\\d)[a-z\\d]+$", "abc", false },
		{ "^(?!x)", "xa", false }, { "(?<=a)b", "ab", true }, { "(?<=a)b", "cb", false },
		{ "^(a+)\\1$", "aaaa", true }, { "^(a+)\\1$", "aaa", false },
		{ "^\\p{L}+$", "\xC3\xA9t\xC3\xA9", true }, { "^\\p{L}+$", "a1", false },
		{ "[]", "", false }, { "[]", "a", false }, { "^a[^]$", "a\n", true },
		{ "^[\\u4e00-\\u9fff]+$", "\xE4\xB8\xAD\xE6\x96\x87", true },
		{ "^[\\u4e00-\\u9fff]+$", "a", false },
	};

	(void)state;
	expect_matches(cases, SB_ARRAY_LEN(cases));
	print_message("regex dialect: %zu cases\n", SB_ARRAY_LEN(cases));
}

static void test_locale_untouched(void **state)
{
	struct sb_schema *s;
	locale_t before = uselocale((locale_t)0);
	char r[64];

	(void)state;
	s = must_compile("{\"pattern\":\"^.$\"}");
	assert_int_equal(check_text(s, "\"\xC3\xA9\"", r, sizeof(r)), SB_OK);
	assert_ptr_equal(uselocale((locale_t)0), before);
	sb_schema_destroy(s);
}

/* ---- (c) strings and formats ---------------------------------------------- */

static void test_length_counts_code_points(void **state)
{
	struct sb_schema *s;
	char r[128];

	(void)state;
	s = must_compile("{\"minLength\":2,\"maxLength\":2}");
	assert_int_equal(check_text(s, "\"\xC3\xA9\xF0\x9F\x98\x80\"", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "\"\\ud83d\\ude00\\u00e9\"", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "\"\xF0\x9F\x98\x80\"", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: length 1 is less than minLength 2");
	assert_int_equal(check_text(s, "\"\xC3\xA9\xC3\xA9\xC3\xA9\"", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: length 3 is greater than maxLength 2");
	sb_schema_destroy(s);
}

static void test_formats(void **state)
{
	static const struct {
		const char *format, *value;
		bool ok;
	} cases[] = {
		{ "date-time", "2024-02-29T12:00:00Z", true },
		{ "date-time", "2000-02-29T00:00:00Z", true },
		{ "date-time", "2024-06-01T10:00:00.123456789+02:00", true },
		{ "date-time", "2024-06-01t10:00:00z", true },
		{ "date-time", "1998-12-31T23:59:60Z", true },
		{ "date-time", "1998-12-31T15:59:60-08:00", true },
		{ "date-time", "2023-02-29T12:00:00Z", false },
		{ "date-time", "1900-02-29T00:00:00Z", false },
		{ "date-time", "2024-04-31T00:00:00Z", false },
		{ "date-time", "2024-06-01 10:00:00Z", false },
		{ "date-time", "2024-06-01T10:00:00", false },
		{ "date-time", "2024-06-01T24:00:00Z", false },
		{ "date-time", "2024-06-01T10:60:00Z", false },
		{ "date-time", "2024-06-01T10:00:60Z", false },
		{ "date-time", "2024-06-01T10:00:00.Z", false },
		{ "date-time", "2024-06-01T10:00:00+0200", false },
		{ "date-time", "2024-06-01T10:00:00+24:00", false },
		{ "date-time", "2024-06-01T10:00:00Z ", false },
		{ "date-time", "2024-13-01T10:00:00Z", false },
		{ "date-time", "2024-06-00T10:00:00Z", false },
		{ "date-time", "24-06-01T10:00:00Z", false },
		{ "date-time", "2024-06-01", false },
		{ "date-time", "", false },
		{ "date", "2024-02-29", true }, { "date", "2024-2-29", false },
		{ "date", "2024-02-29T00:00:00Z", false },
		{ "time", "10:00:00Z", true }, { "time", "23:59:60+00:00", true },
		{ "time", "10:00:00", false }, { "time", "10:00Z", false },
		{ "uuid", "123e4567-e89b-12d3-a456-426614174000", true },
		{ "uuid", "123E4567-E89B-12D3-A456-426614174000", true },
		{ "uuid", "00000000-0000-0000-0000-000000000000", true },
		{ "uuid", "123e4567e89b12d3a456426614174000", false },
		{ "uuid", "{123e4567-e89b-12d3-a456-426614174000}", false },
		{ "uuid", "123e4567-e89b-12d3-a456-42661417400g", false },
		{ "uuid", "123e4567-e89b-12d3-a456-4266141740000", false },
		{ "uuid", "123e4567-e89b-12d3a-456-426614174000", false },
	};
	char err[256], r[256];

	(void)state;
	for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
		cJSON *schema = cJSON_CreateObject(), *doc = cJSON_CreateString(cases[i].value);
		struct sb_schema *s = NULL;
		enum sb_err rc;

		cJSON_AddStringToObject(schema, "format", cases[i].format);
		assert_int_equal(sb_schema_compile(&s, schema, err, sizeof(err)), SB_OK);
		rc = sb_schema_validate(s, doc, r, sizeof(r));
		if ((rc == SB_OK) != cases[i].ok)
			fail_msg("%s \"%s\": expected %s", cases[i].format, cases[i].value,
				 cases[i].ok ? "valid" : "invalid");
		cJSON_Delete(schema);
		cJSON_Delete(doc);
		sb_schema_destroy(s);
	}
	/* formats apply to strings only */
	{
		struct sb_schema *s = must_compile("{\"format\":\"date-time\"}");

		assert_int_equal(check_text(s, "12", r, sizeof(r)), SB_OK);
		sb_schema_destroy(s);
	}
}

static void test_numbers(void **state)
{
	struct sb_schema *s;
	char r[128];

	(void)state;
	s = must_compile("{\"type\":\"integer\",\"exclusiveMinimum\":0,\"exclusiveMaximum\":10}");
	assert_int_equal(check_text(s, "1.0", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "0", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: 0 is not greater than exclusiveMinimum 0");
	assert_int_equal(check_text(s, "10", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: 10 is not less than exclusiveMaximum 10");
	assert_int_equal(check_text(s, "true", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: expected integer, got boolean");
	sb_schema_destroy(s);
	s = must_compile("{\"multipleOf\":0.01}");
	assert_int_equal(check_text(s, "19.99", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "0.005", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: 0.005 is not a multiple of 0.01");
	/* a quotient that overflows is not a multiple (as the suite's later
	 * "float division = inf" case expects) */
	assert_int_equal(check_text(s, "1e308", r, sizeof(r)), SB_ERR_INVAL);
	sb_schema_destroy(s);
	s = must_compile("{\"type\":[\"integer\",\"null\"],\"maximum\":1.5}");
	assert_int_equal(check_text(s, "null", r, sizeof(r)), SB_OK);
	assert_int_equal(check_text(s, "2", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: 2 is greater than maximum 1.5");
	assert_int_equal(check_text(s, "\"1\"", r, sizeof(r)), SB_ERR_INVAL);
	assert_string_equal(r, "/: expected null or integer, got string");
	sb_schema_destroy(s);
}

static void test_null_arguments(void **state)
{
	struct sb_schema *s = NULL;
	char err[64];

	(void)state;
	sb_schema_destroy(NULL);
	sb_schema_set_destroy(NULL);
	assert_int_equal(sb_schema_compile(&s, NULL, err, sizeof(err)), SB_ERR_INVAL);
	assert_int_equal(sb_schema_validate(NULL, NULL, err, sizeof(err)), SB_ERR_INVAL);
	assert_int_equal(sb_schema_compile(&s, NULL, NULL, 0), SB_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_composition_reasons),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_annotations_and_extensions_accepted),
		cmocka_unit_test(test_pointer_escapes),
		cmocka_unit_test(test_ref_siblings),
		cmocka_unit_test(test_ref_cycles),
		cmocka_unit_test(test_depth_bounded),
		cmocka_unit_test(test_regex_dialect),
		cmocka_unit_test(test_locale_untouched),
		cmocka_unit_test(test_length_counts_code_points),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_null_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
