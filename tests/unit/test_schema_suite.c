/* SPDX-License-Identifier: MIT
 *
 * test_schema_suite.c - the schema validator against documents on disk,
 * and the loading of a schema directory (schema_set.c):
 *
 * (a) the official JSON Schema Test Suite, Debian package
 *     json-schema-test-suite: the draft 7 files (the newest it ships) of the
 *     keywords we support whose semantics 2020-12 keeps, every case asserted
 *     except the skips listed below, each with its reason;
 * (b) every schemas/examples/<schema>/valid/ *.json passes and every
 *     invalid/ *.json fails, loaded through sb_schema_set_load();
 * (c) set loading errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schema.h"

#ifndef SB_SOURCE_DIR
#define SB_SOURCE_DIR "."
#endif
#define SUITE_DIR "/usr/share/json-schema-test-suite/tests/draft7"

/* ---- helpers -------------------------------------------------------------- */

static cJSON *load_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;
	cJSON *js;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	js = cJSON_Parse(buf);
	free(buf);
	return js;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the *.json files in `dir`; returns the count. */
static size_t list_json(const char *dir, char **names, size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		size_t len = strlen(de->d_name);

		if (len > 5 && !strcmp(de->d_name + len - 5, ".json"))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	return n;
}

/* ---- (a) the JSON Schema Test Suite --------------------------------------- */

/*
 * Draft 7 files run, and why the others are not:
 *   additionalItems.json   removed in 2020-12 (items after prefixItems)
 *   contains.json, if-then-else.json, propertyNames.json
 *                          keywords not supported (rejected at compile)
 *   definitions.json       validates against the remote draft-07 metaschema
 *   refRemote.json         remote references
 *   optional/bignum.json, optional/zeroTerminatedFloats.json,
 *   optional/ecmascript-regex.json, optional/content.json
 *                          not claimed (doubles; format "regex"; content*
 *                          are annotations in 2020-12)
 *   optional/format/ other than date-time, date, time
 *                          formats not supported (rejected at compile)
 * dependencies.json runs with its array-valued groups rewritten to
 * dependentRequired, the 2020-12 name of the same rule.
 */
static const struct {
	const char *file;
	bool rename_dependencies;
} suite_files[] = {
	{ "additionalProperties.json", false }, { "allOf.json", false },
	{ "anyOf.json", false }, { "boolean_schema.json", false },
	{ "const.json", false }, { "default.json", false },
	{ "dependencies.json", true }, { "enum.json", false },
	{ "exclusiveMaximum.json", false }, { "exclusiveMinimum.json", false },
	{ "items.json", false }, { "maxItems.json", false },
	{ "maxLength.json", false }, { "maxProperties.json", false },
	{ "maximum.json", false }, { "minItems.json", false },
	{ "minLength.json", false }, { "minProperties.json", false },
	{ "minimum.json", false }, { "multipleOf.json", false },
	{ "not.json", false }, { "oneOf.json", false }, { "pattern.json", false },
	{ "patternProperties.json", false }, { "properties.json", false },
	{ "ref.json", false }, { "required.json", false }, { "type.json", false },
	{ "uniqueItems.json", false },
	{ "optional/format/date-time.json", false },
	{ "optional/format/date.json", false },
	{ "optional/format/time.json", false },
};

#define TUPLE_ITEMS "draft 7 array form of items; 2020-12 spells it prefixItems " \
		    "(the array form is rejected at compile)"
#define DEP_SCHEMA "schema-valued dependencies are dependentSchemas in 2020-12, " \
		   "not supported"

/* Skipped groups (test == NULL) and single cases, each with its reason. */
static const struct skip {
	const char *file, *group, *test, *reason;
} skips[] = {
	{ "items.json", "an array of schemas for items", NULL, TUPLE_ITEMS },
	{ "items.json", "items with boolean schemas", NULL, TUPLE_ITEMS },
	{ "ref.json", "relative pointer ref to array", NULL,
	  "its $ref target uses the " TUPLE_ITEMS },
	{ "ref.json", "escaped pointer ref", NULL,
	  "the $ref targets are unknown keywords at the schema root, which "
	  "statusbus rejects; escaping is covered by test_pointer_escapes" },
	{ "ref.json", "ref overrides any sibling keywords", "ref valid, maxItems ignored",
	  "draft 7 only: in 2020-12 keywords beside $ref apply (test_ref_siblings)" },
	{ "ref.json", "remote ref, containing refs itself", NULL,
	  "remote $ref to the draft-07 metaschema" },
	{ "ref.json", "Recursive references between schemas", NULL,
	  "$id in subschemas and $id-relative references are not supported" },
	{ "dependencies.json", "multiple dependencies subschema", NULL, DEP_SCHEMA },
	{ "dependencies.json", "dependencies with boolean subschemas", NULL, DEP_SCHEMA },
};

static int skip_used[SB_ARRAY_LEN(skips)];

static const struct skip *find_skip(const char *file, const char *group, const char *test)
{
	for (size_t i = 0; i < SB_ARRAY_LEN(skips); i++) {
		if (strcmp(skips[i].file, file) || strcmp(skips[i].group, group))
			continue;
		if (skips[i].test == NULL || (test && !strcmp(skips[i].test, test))) {
			skip_used[i]++;
			return &skips[i];
		}
	}
	return NULL;
}

static void run_suite_file(const char *file, bool rename, int *pass, int *fail, int *skipped)
{
	char path[1024], err[512], reason[512];
	cJSON *groups, *g, *t;

	snprintf(path, sizeof(path), "%s/%s", SUITE_DIR, file);
	groups = load_json(path);
	if (!groups)
		fail_msg("cannot read %s: install Debian's json-schema-test-suite", path);
	cJSON_ArrayForEach(g, groups) {
		const char *gd = cJSON_GetObjectItemCaseSensitive(g, "description")->valuestring;
		cJSON *schema = cJSON_GetObjectItemCaseSensitive(g, "schema");
		cJSON *tests = cJSON_GetObjectItemCaseSensitive(g, "tests");
		struct sb_schema *s = NULL;
		enum sb_err rc;

		if (find_skip(file, gd, NULL)) {
			*skipped += cJSON_GetArraySize(tests);
			continue;
		}
		if (rename && cJSON_GetObjectItemCaseSensitive(schema, "dependencies")) {
			cJSON *dep = cJSON_DetachItemFromObjectCaseSensitive(schema, "dependencies");

			cJSON_AddItemToObject(schema, "dependentRequired", dep);
		}
		rc = sb_schema_compile(&s, schema, err, sizeof(err));
		if (rc) {
			print_error("suite %s / %s: does not compile: %s\n", file, gd, err);
			*fail += cJSON_GetArraySize(tests);
			continue;
		}
		cJSON_ArrayForEach(t, tests) {
			const char *td = cJSON_GetObjectItemCaseSensitive(t, "description")->valuestring;
			bool want = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "valid"));
			bool got;

			if (find_skip(file, gd, td)) {
				(*skipped)++;
				continue;
			}
			got = sb_schema_validate(s, cJSON_GetObjectItemCaseSensitive(t, "data"),
						 reason, sizeof(reason)) == SB_OK;
			if (got == want) {
				(*pass)++;
				/* an invalid verdict always comes with a reason */
				if (!got && reason[0] != '/') {
					print_error("suite %s / %s / %s: no reason\n", file, gd, td);
					(*fail)++;
					(*pass)--;
				}
			} else {
				print_error("suite %s / %s / %s: expected %s, got %s (%s)\n", file, gd,
					    td, want ? "valid" : "invalid", got ? "valid" : "invalid",
					    reason);
				(*fail)++;
			}
		}
		sb_schema_destroy(s);
	}
	cJSON_Delete(groups);
}

static void test_json_schema_test_suite(void **state)
{
	int total_pass = 0, total_fail = 0, total_skip = 0;

	(void)state;
	memset(skip_used, 0, sizeof(skip_used));
	for (size_t i = 0; i < SB_ARRAY_LEN(suite_files); i++) {
		int pass = 0, fail = 0, skipped = 0;

		run_suite_file(suite_files[i].file, suite_files[i].rename_dependencies,
			       &pass, &fail, &skipped);
		print_message("suite draft7/%-32s pass %3d  fail %d  skip %d\n",
			      suite_files[i].file, pass, fail, skipped);
		total_pass += pass;
		total_fail += fail;
		total_skip += skipped;
	}
	print_message("suite total: pass %d  fail %d  skip %d (files %zu)\n", total_pass,
		      total_fail, total_skip, SB_ARRAY_LEN(suite_files));
	for (size_t i = 0; i < SB_ARRAY_LEN(skips); i++)
		if (!skip_used[i])
			fail_msg("stale skip: %s / %s", skips[i].file, skips[i].group);
	assert_int_equal(total_fail, 0);
	assert_true(total_pass > 300);
}

/* ---- (b) our examples ----------------------------------------------------- */

static void test_examples(void **state)
{
	char err[512], reason[512], dir[1024], path[1200];
	struct sb_schema_set *set = NULL;
	cJSON *topics, *t;
	size_t nschemas = 0;

	(void)state;
	assert_int_equal(sb_schema_set_load(&set, SB_SOURCE_DIR "/schemas", err, sizeof(err)),
			 SB_OK);
	topics = load_json(SB_SOURCE_DIR "/schemas/topics.json");
	assert_non_null(topics);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(topics, "topics")) {
		const char *name = cJSON_GetObjectItemCaseSensitive(t, "schema")->valuestring;
		const struct sb_schema *s = sb_schema_set_get(set, name);
		char stem[256];
		size_t counts[2] = { 0, 0 };

		if (!s)
			fail_msg("topics.json names %s, which the set does not have", name);
		snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(name) - 5), name);
		for (int kind = 0; kind < 2; kind++) {
			char *names[256];
			size_t n;

			snprintf(dir, sizeof(dir), "%s/schemas/examples/%s/%s", SB_SOURCE_DIR, stem,
				 kind ? "invalid" : "valid");
			n = list_json(dir, names, SB_ARRAY_LEN(names));
			for (size_t i = 0; i < n; i++) {
				cJSON *doc;
				enum sb_err rc;

				snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
				doc = load_json(path);
				if (!doc)
					fail_msg("%s is not valid JSON", path);
				rc = sb_schema_validate(s, doc, reason, sizeof(reason));
				cJSON_Delete(doc);
				if (kind == 0 && rc != SB_OK)
					fail_msg("%s/valid/%s rejected: %s", stem, names[i], reason);
				if (kind == 1 && rc != SB_ERR_INVAL)
					fail_msg("%s/invalid/%s accepted", stem, names[i]);
				if (kind == 1 && reason[0] != '/')
					fail_msg("%s/invalid/%s: no reason", stem, names[i]);
				free(names[i]);
			}
			counts[kind] = n;
		}
		print_message("examples %-20s valid %2zu  invalid %2zu\n", stem, counts[0],
			      counts[1]);
		assert_true(counts[0] >= 3);
		assert_true(counts[1] >= 3);
		nschemas++;
	}
	assert_int_equal(nschemas, 15);   /* topics.json entries: log-line.json four times */
	cJSON_Delete(topics);
	sb_schema_set_destroy(set);
}

/* ---- (c) sets ------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void test_set_load_errors(void **state)
{
	char dir[] = "/tmp/sb-schema-test-XXXXXX", err[512];
	struct sb_schema_set *set = (struct sb_schema_set *)1;
	enum sb_err rc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "a-good.json", "{\"type\":\"object\"}");
	write_file(dir, "topics.json", "this is not a schema and must be ignored");
	write_file(dir, "notes.txt", "ignored too");

	/* a file that is not JSON: named, with its line and column */
	write_file(dir, "b-bad.json", "{\n  \"type\": }\n");
	rc = sb_schema_set_load(&set, dir, err, sizeof(err));
	assert_int_equal(rc, SB_ERR_INVAL);
	assert_null(set);
	assert_string_equal(err, "b-bad.json: not valid JSON (line 2, column 11)");

	/* a file that does not compile: named, with the schema location and,
	 * for a pattern, where in it PCRE2 stopped */
	write_file(dir, "b-bad.json", "{\"properties\":{\"x\":{\"pattern\":\"\u00e9a+++\"}}}");
	rc = sb_schema_set_load(&set, dir, err, sizeof(err));
	assert_int_equal(rc, SB_ERR_INVAL);
	assert_string_equal(err, "b-bad.json: /properties/x/pattern: pattern \"\xC3\xA9" "a+++\" "
				 "does not compile: quantifier does not follow a repeatable item "
				 "(at offset 4)");
	remove_file(dir, "b-bad.json");

	rc = sb_schema_set_load(&set, dir, err, sizeof(err));
	assert_int_equal(rc, SB_OK);
	assert_non_null(sb_schema_set_get(set, "a-good.json"));
	assert_null(sb_schema_set_get(set, "topics.json"));
	assert_null(sb_schema_set_get(set, "notes.txt"));
	assert_null(sb_schema_set_get(set, "missing.json"));
	assert_null(sb_schema_set_get(NULL, "a-good.json"));
	sb_schema_set_destroy(set);

	remove_file(dir, "a-good.json");
	remove_file(dir, "topics.json");
	remove_file(dir, "notes.txt");
	assert_int_equal(rmdir(dir), 0);

	/* a directory that is not there */
	rc = sb_schema_set_load(&set, dir, err, sizeof(err));
	assert_int_equal(rc, SB_ERR_IO);
	assert_non_null(strstr(err, dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_schema_test_suite),
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_set_load_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
