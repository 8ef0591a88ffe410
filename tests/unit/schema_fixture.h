/* SPDX-License-Identifier: MIT
 *
 * schema_fixture.h - what the schema unit tests (test_schema.c,
 * test_schema_regex.c) share: compiling and validating JSON text,
 * asserting a compile error by a piece of its message, and a table of
 * pattern cases.  Header-only (each test is its own executable); include
 * after cmocka.h.
 */
#ifndef SB_TEST_SCHEMA_FIXTURE_H
#define SB_TEST_SCHEMA_FIXTURE_H

#include <stdbool.h>
#include <string.h>

#include "schema.h"

/* Compiles JSON text; NULL with `err` filled on failure. */
static __attribute__((unused)) struct sb_schema *compile_text(const char *text,
							      enum sb_err *rc_out,
							      char *err, size_t errlen)
{
	cJSON *js = cJSON_Parse(text);
	struct sb_schema *s = NULL;
	enum sb_err rc;

	assert_non_null(js);
	rc = sb_schema_compile(&s, js, err, errlen);
	cJSON_Delete(js);
	if (rc_out)
		*rc_out = rc;
	return rc == SB_OK ? s : NULL;
}

static __attribute__((unused)) struct sb_schema *must_compile(const char *text)
{
	char err[512];
	struct sb_schema *s = compile_text(text, NULL, err, sizeof(err));

	if (!s)
		fail_msg("schema %s does not compile: %s", text, err);
	return s;
}

/* Validates JSON text; returns the sb_err, `reason` filled. */
static __attribute__((unused)) enum sb_err check_text(const struct sb_schema *s,
						      const char *doc, char *reason,
						      size_t len)
{
	cJSON *js = cJSON_Parse(doc);
	enum sb_err rc;

	assert_non_null(js);
	rc = sb_schema_validate(s, js, reason, len);
	cJSON_Delete(js);
	return rc;
}

static __attribute__((unused)) void expect_compile_error(const char *text, enum sb_err want,
							 const char *needle)
{
	char err[512];
	enum sb_err rc;
	struct sb_schema *s = compile_text(text, &rc, err, sizeof(err));

	if (s) {
		sb_schema_destroy(s);
		fail_msg("schema %s compiled, expected an error with \"%s\"", text, needle);
	}
	if (rc != want || !strstr(err, needle))
		fail_msg("schema %s: got %s \"%s\", expected %s with \"%s\"", text,
			 sb_strerror(rc), err, sb_strerror(want), needle);
}

struct re_case {
	const char *pattern, *input;
	bool match;
};

/* Each {"pattern": pattern} against its input, as a JSON string. */
static __attribute__((unused)) void expect_matches(const struct re_case *cases, size_t n)
{
	char err[512], r[256];

	for (size_t i = 0; i < n; i++) {
		cJSON *schema = cJSON_CreateObject(), *doc = cJSON_CreateString(cases[i].input);
		struct sb_schema *s = NULL;
		enum sb_err rc;

		cJSON_AddStringToObject(schema, "pattern", cases[i].pattern);
		rc = sb_schema_compile(&s, schema, err, sizeof(err));
		cJSON_Delete(schema);
		if (rc)
			fail_msg("pattern %s does not compile: %s", cases[i].pattern, err);
		rc = sb_schema_validate(s, doc, r, sizeof(r));
		if ((rc == SB_OK) != cases[i].match)
			fail_msg("pattern %s on \"%s\": expected %s (%s)", cases[i].pattern,
				 cases[i].input, cases[i].match ? "a match" : "no match", r);
		cJSON_Delete(doc);
		sb_schema_destroy(s);
	}
}

#endif
