/* SPDX-License-Identifier: MIT
 *
 * fuzz_schema_compile.c - JSON Schema compilation of random schema
 * documents (domain/schema*.c: keywords, $ref resolution and cycles, the
 * pattern regex compiler), then validation with what compiled.  One input
 * is a schema document, optionally followed by a second JSON value: a
 * document to validate (`{"type":"string"} "abc"`).  Every schema that
 * compiles also validates a fixed set of documents and itself.
 *
 * Oracles: no crash, leak, hang or stack overflow in compile or validate
 * (depth is bounded by SB_SCHEMA_MAX_DEPTH); a refusal names what is wrong;
 * validating with and without a reason gives the same verdict.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "schema.h"

static const char *const docs[] = {
	"null", "true", "false", "0", "1", "-1.5", "1e308", "2.0", "\"\"", "\"abc\"",
	"\"2026-01-01T00:00:00Z\"", "\"0b8f7c1e-1111-2222-3333-444455556666\"",
	"\"\\u00e9\\ud83d\\ude00\"", "[]", "[1,\"a\",null]", "[1,1]", "{}",
	"{\"a\":1,\"b\":[{}],\"status\":\"running\"}", "[[[[[[[[[[[]]]]]]]]]]]",
};
static cJSON *parsed[sizeof(docs) / sizeof(docs[0])];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sb_log_set_level(SB_LOG_ERR);
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		if (!(parsed[i] = cJSON_Parse(docs[i])))
			abort();
	return 0;
}

static void validate(const struct sb_schema *s, const cJSON *doc)
{
	char reason[300];
	enum sb_err with, without;

	memset(reason, 'X', sizeof(reason));
	with = sb_schema_validate(s, doc, reason, sizeof(reason));
	without = sb_schema_validate(s, doc, NULL, 0);
	FZ_CHECK(with == without, "verdict %d with a reason, %d without (%s)", with, without,
		 reason);
	FZ_CHECK(with == SB_OK || with == SB_ERR_INVAL, "rc %d", with);
	FZ_CHECK(memchr(reason, '\0', sizeof(reason)) != NULL, "reason not terminated");
	if (with != SB_OK)
		FZ_CHECK(reason[0] == '/', "reason is not a pointer: %s", reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fz_strndup(data, size), err[300];
	const char *end = NULL;
	cJSON *schema = cJSON_ParseWithLengthOpts(text, size, &end, 0), *doc = NULL;
	struct sb_schema *s = NULL;
	enum sb_err rc;

	if (!schema) {
		free(text);
		return 0;
	}
	if (end && end < text + size)
		doc = cJSON_ParseWithLength(end, (size_t)(text + size - end));
	memset(err, 'X', sizeof(err));
	rc = sb_schema_compile(&s, schema, err, sizeof(err));
	FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated");
	if (rc != SB_OK) {
		FZ_CHECK(s == NULL, "a refused schema is returned");
		FZ_CHECK(err[0], "refused without a reason");
	} else {
		FZ_CHECK(s != NULL, "no schema");
		for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
			validate(s, parsed[i]);
		validate(s, schema);
		if (doc)
			validate(s, doc);
		sb_schema_destroy(s);
	}
	cJSON_Delete(doc);
	cJSON_Delete(schema);
	free(text);
	return 0;
}
