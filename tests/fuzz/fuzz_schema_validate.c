/* SPDX-License-Identifier: MIT
 *
 * fuzz_schema_validate.c - random documents against the shipped payload
 * schemas (every schemas/<kind>.json; domain/schema*.c), and the whole intake verdict
 * on them (domain/ingest.c) for one of the topics of schemas/topics.json.
 * One input is one payload.
 *
 * Oracles: validating with and without a reason gives the same verdict
 * (the two paths differ: no reason means no allocation); a reason is a
 * JSON pointer; a payload intake accepts is strict JSON (it is spliced into
 * text frames as it is, so anything else breaks every browser that gets
 * it) and valid for its topic's schema; the rejected-report body is strict
 * JSON.
 */
#include "fuzz_common.h"

#include <dirent.h>

#include <cjson/cJSON.h>

#include "chanmap.h"
#include "ingest.h"
#include "schema.h"

#define SCHEMAS SB_SOURCE_DIR "/schemas"
#define MAX_SCHEMAS 32

static struct sb_schema_set *set;
static struct sb_kinds *kinds;
static const struct sb_schema *schemas[MAX_SCHEMAS];
static char *names[MAX_SCHEMAS];
static size_t nschemas;
static char topics[64][128];   /* one concrete topic per kind */
static size_t ntopics;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];
	DIR *d;
	struct dirent *de;

	(void)argc;
	(void)argv;
	sb_log_set_level(SB_LOG_ERR);
	if (sb_schema_set_load(&set, SCHEMAS, err, sizeof(err)) != SB_OK ||
	    sb_kinds_load(&kinds, SCHEMAS "/topics.json", err, sizeof(err)) != SB_OK) {
		fprintf(stderr, "schemas: %s\n", err);
		abort();
	}
	if (!(d = opendir(SCHEMAS)))
		abort();
	while ((de = readdir(d)) && nschemas < MAX_SCHEMAS) {
		const struct sb_schema *s = sb_schema_set_get(set, de->d_name);
		if (s) {
			names[nschemas] = strdup(de->d_name);
			schemas[nschemas++] = s;
		}
	}
	closedir(d);
	for (size_t i = 0; i < sb_kinds_count(kinds) && ntopics < 64; i++) {
		const char *f = sb_kinds_at(kinds, i)->filter;
		char *o = topics[ntopics++];
		/* "team/+/app/+/status" -> "team/t1/app/t1/status" */
		for (; *f && o < topics[ntopics - 1] + 120; f++) {
			if (*f == '+' || *f == '#') {
				memcpy(o, "t1", 2);
				o += 2;
			} else {
				*o++ = *f;
			}
		}
		*o = '\0';
	}
	return 0;
}

static void validate_all(const cJSON *doc)
{
	char reason[300];

	for (size_t i = 0; i < nschemas; i++) {
		enum sb_err with, without;

		memset(reason, 'X', sizeof(reason));
		with = sb_schema_validate(schemas[i], doc, reason, sizeof(reason));
		without = sb_schema_validate(schemas[i], doc, NULL, 0);
		FZ_CHECK(with == without, "%s: verdict %d with a reason, %d without", names[i],
			 with, without);
		FZ_CHECK(with == SB_OK || with == SB_ERR_INVAL, "%s: rc %d", names[i], with);
		FZ_CHECK(memchr(reason, '\0', sizeof(reason)) != NULL, "reason not terminated");
		if (with != SB_OK)
			FZ_CHECK(reason[0] == '/', "%s: reason is not a pointer: %s", names[i], reason);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *payload = fz_strndup(data, size);
	const char *topic = topics[size % ntopics];
	struct sb_ingest_rules rules = { kinds, set, 65536, 0, 1 };
	struct sb_ingest_result res;
	cJSON *doc = cJSON_ParseWithLength(payload, size);

	if (doc) {
		validate_all(doc);
		cJSON_Delete(doc);
	}

	sb_ingest_check(&rules, topic, strlen(topic), payload, size, (int)(size & 1), &res);
	FZ_CHECK(memchr(res.why, '\0', sizeof(res.why)) != NULL, "why not terminated");
	FZ_CHECK(memchr(res.status, '\0', sizeof(res.status)) != NULL, "status not terminated");
	switch (res.verdict) {
	case SB_INGEST_ACCEPT:
		FZ_CHECK(res.reason == SB_INGEST_OK, "accepted with a reason");
		FZ_CHECK(fz_json_strict(payload, size), "accepted a payload that is not strict JSON");
		FZ_CHECK(res.seq >= 0 && res.seq <= 9007199254740991LL, "seq %lld",
			 (long long)res.seq);
		if (res.kind && res.kind->schema) {
			const struct sb_schema *s = sb_schema_set_get(set, res.kind->schema);
			doc = cJSON_ParseWithLength(payload, size);
			FZ_CHECK(doc && s && sb_schema_validate(s, doc, NULL, 0) == SB_OK,
				 "accepted a payload its schema %s refuses", res.kind->schema);
			cJSON_Delete(doc);
		}
		break;
	case SB_INGEST_DELETE:
	case SB_INGEST_IGNORE:
		FZ_CHECK(size == 0, "verdict %d on a non-empty payload", res.verdict);
		break;
	case SB_INGEST_REJECT: {
		size_t len = 0;
		char *report = sb_ingest_reject_report(topic, strlen(topic), payload, size, res.why,
						       1700000000, &len);
		FZ_CHECK(res.reason != SB_INGEST_OK && res.why[0], "rejected without a reason");
		FZ_CHECK(report && fz_json_strict(report, len), "rejected report is not JSON: %s",
			 report ? report : "(null)");
		free(report);
		break;
	}
	}
	free(payload);
	return 0;
}
