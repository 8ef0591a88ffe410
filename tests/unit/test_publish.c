/* SPDX-License-Identifier: MIT
 *
 * test_publish.c - the pure half of libstatusbus-publish, with no broker:
 * status payloads and topics, local validation against the shipped
 * schemas (the same reasons the bridge gives), log level detection, log
 * line cleaning, line splitting and seq numbering, the topics of log
 * streams, and the readable form the device subscriber prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "logenc.h"
#include "sb_publish.h"

#define SCHEMAS SB_SOURCE_DIR "/schemas"
#define APP "6f1c2a3b-0000-4000-8000-00000000a001"
#define SRV "1a2b3c4d-0000-4000-8000-00000000b001"
#define DEP "d1e2f3a4-0000-4000-8000-00000000c001"
#define TS_MS 1714564800123LL   /* 2024-05-01T12:00:00.123Z */

static struct sb_validator *val;

static int setup(void **state)
{
	char err[512];

	SB_UNUSED(state);
	if (sb_validator_load(&val, SCHEMAS, err, sizeof(err)) != SB_OK) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	SB_UNUSED(state);
	sb_validator_destroy(val);
	return 0;
}

/* Builds st and validates it; returns the validation result, err filled. */
static enum sb_err build_check(const struct sb_status *st, char **topic, cJSON **doc,
			       char *err, size_t errlen)
{
	char *payload;
	enum sb_err rc;

	assert_int_equal(sb_status_build(st, topic, &payload, err, errlen), SB_OK);
	rc = sb_validator_check(val, *topic, payload, strlen(payload), 0, NULL, err, errlen);
	if (doc) {
		*doc = cJSON_Parse(payload);
		assert_non_null(*doc);
	}
	free(payload);
	return rc;
}

static const char *str(const cJSON *doc, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, k);

	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static int members(const cJSON *doc)
{
	return cJSON_GetArraySize(doc);
}

/* ---- status records ------------------------------------------------------- */

static void test_rfc3339(void **state)
{
	char buf[40];

	SB_UNUSED(state);
	assert_string_equal(sb_rfc3339(TS_MS, buf, sizeof(buf)), "2024-05-01T12:00:00.123Z");
	assert_string_equal(sb_rfc3339(86400000LL * 365, buf, sizeof(buf)),
			    "1971-01-01T00:00:00.000Z");
	/* 0 = now: a 24-character UTC timestamp */
	sb_rfc3339(0, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 24);
	assert_int_equal(buf[23], 'Z');
}

static void test_app_status_payload(void **state)
{
	struct sb_status st;
	char err[512], *topic;
	cJSON *doc;

	SB_UNUSED(state);
	sb_status_init(&st, SB_RES_APP, "42", APP);
	st.ts_ms = TS_MS;
	st.status = "running";
	st.old_status = "starting";
	st.reason = "health check passed";
	st.name = "web";
	assert_int_equal(build_check(&st, &topic, &doc, err, sizeof(err)), SB_OK);
	assert_string_equal(topic, "team/42/app/" APP "/status");
	assert_string_equal(str(doc, "ts"), "2024-05-01T12:00:00.123Z");
	assert_string_equal(str(doc, "status"), "running");
	assert_string_equal(str(doc, "old_status"), "starting");
	assert_string_equal(str(doc, "reason"), "health check passed");
	assert_string_equal(str(doc, "name"), "web");
	assert_int_equal(members(doc), 5);   /* unset fields are left out */
	cJSON_Delete(doc);
	free(topic);

	/* db and service: same shape, own topics */
	st.kind = SB_RES_DB;
	st.reason = st.name = st.old_status = NULL;
	assert_int_equal(build_check(&st, &topic, &doc, err, sizeof(err)), SB_OK);
	assert_string_equal(topic, "team/42/db/" APP "/status");
	assert_int_equal(members(doc), 2);
	cJSON_Delete(doc);
	free(topic);
	st.kind = SB_RES_SERVICE;
	assert_int_equal(build_check(&st, &topic, NULL, err, sizeof(err)), SB_OK);
	assert_string_equal(topic, "team/42/service/" APP "/status");
	free(topic);
}

static void test_server_reachability_payload(void **state)
{
	struct sb_status st;
	char err[512], *topic;
	cJSON *doc;

	SB_UNUSED(state);
	sb_status_init(&st, SB_RES_SERVER, "team-a_1", SRV);
	st.reachable = 0;
	st.old_reachable = 1;
	st.latency_ms = 12.5;
	st.reason = "connection refused";
	assert_int_equal(build_check(&st, &topic, &doc, err, sizeof(err)), SB_OK);
	assert_string_equal(topic, "team/team-a_1/server/" SRV "/reachability");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(doc, "reachable")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(doc, "old_reachable")));
	assert_true(cJSON_GetObjectItem(doc, "latency_ms")->valuedouble == 12.5);
	assert_null(cJSON_GetObjectItem(doc, "status"));
	cJSON_Delete(doc);
	free(topic);
}

static void test_deploy_status_payload(void **state)
{
	struct sb_status st;
	char err[512], *topic;
	cJSON *doc;

	SB_UNUSED(state);
	sb_status_init(&st, SB_RES_DEPLOY, "42", DEP);
	st.status = "running";
	st.progress = 40;
	st.step = "build";
	st.step_index = 1;
	st.total_steps = 3;
	st.commit = "0123abc";
	st.app = APP;
	st.started_at_ms = TS_MS;
	assert_int_equal(build_check(&st, &topic, &doc, err, sizeof(err)), SB_OK);
	assert_string_equal(topic, "team/42/deploy/" DEP "/status");
	assert_int_equal(cJSON_GetObjectItem(doc, "progress")->valueint, 40);
	assert_int_equal(cJSON_GetObjectItem(doc, "step_index")->valueint, 1);
	assert_string_equal(str(doc, "started_at"), "2024-05-01T12:00:00.123Z");
	assert_string_equal(str(doc, "app"), APP);
	cJSON_Delete(doc);
	free(topic);

	/* progress 0 is a value, not "unset" */
	st.progress = 0;
	assert_int_equal(build_check(&st, &topic, &doc, err, sizeof(err)), SB_OK);
	assert_int_equal(cJSON_GetObjectItem(doc, "progress")->valueint, 0);
	cJSON_Delete(doc);
	free(topic);
}

static void test_ids_are_checked_before_any_topic(void **state)
{
	struct sb_status st;
	char err[512], *topic = (char *)1, *payload = (char *)1;

	SB_UNUSED(state);
	sb_status_init(&st, SB_RES_APP, "4/2", APP);
	st.status = "running";
	assert_int_equal(sb_status_build(&st, &topic, &payload, err, sizeof(err)), SB_ERR_INVAL);
	assert_null(topic);
	assert_null(payload);
	assert_non_null(strstr(err, "team \"4/2\""));
	sb_status_init(&st, SB_RES_APP, "42", "not-a-uuid");
	assert_int_equal(sb_status_build(&st, &topic, &payload, err, sizeof(err)), SB_ERR_INVAL);
	assert_non_null(strstr(err, "app id \"not-a-uuid\" is not a UUID"));
	sb_status_init(&st, SB_RES_SERVER, "+", SRV);
	assert_int_equal(sb_status_build(&st, &topic, &payload, err, sizeof(err)), SB_ERR_INVAL);
	sb_status_init(&st, SB_RES_DEPLOY, "42", "6f1c2a3b-0000-4000-8000-00000000a00/");
	assert_int_equal(sb_status_build(&st, &topic, &payload, err, sizeof(err)), SB_ERR_INVAL);
}

/* ---- validation ------------------------------------------------------------- */

static void test_validation_errors_read_like_the_bridge(void **state)
{
	struct sb_status st;
	char err[512], *topic;

	SB_UNUSED(state);
	sb_status_init(&st, SB_RES_APP, "42", APP);
	st.status = "runing";
	assert_int_equal(build_check(&st, &topic, NULL, err, sizeof(err)), SB_ERR_INVAL);
	free(topic);
	assert_non_null(strstr(err, "payload invalid for app-status.json: /status: \"runing\" "
				    "is not one of \"running\", \"starting\""));

	st.status = "running";
	st.old_status = "gone";
	assert_int_equal(build_check(&st, &topic, NULL, err, sizeof(err)), SB_ERR_INVAL);
	free(topic);
	assert_non_null(strstr(err, "/old_status:"));

	/* a field the kind's schema does not have is refused, not dropped */
	st.old_status = NULL;
	st.progress = 40;
	assert_int_equal(build_check(&st, &topic, NULL, err, sizeof(err)), SB_ERR_INVAL);
	free(topic);
	assert_non_null(strstr(err, "/progress: property is not allowed"));

	sb_status_init(&st, SB_RES_DEPLOY, "42", DEP);
	st.status = "running";
	st.progress = 140;
	assert_int_equal(build_check(&st, &topic, NULL, err, sizeof(err)), SB_ERR_INVAL);
	free(topic);
	assert_non_null(strstr(err, "payload invalid for deploy-status.json: /progress: 140 is "
				    "greater than maximum 100"));

	st.progress = SB_UNSET;
	assert_int_equal(build_check(&st, &topic, NULL, err, sizeof(err)), SB_ERR_INVAL);
	free(topic);
	assert_non_null(strstr(err, "missing required property"));

	sb_status_init(&st, SB_RES_SERVER, "42", SRV);
	assert_int_equal(build_check(&st, &topic, NULL, err, sizeof(err)), SB_ERR_INVAL);
	free(topic);
	assert_non_null(strstr(err, "reachable"));
}

static void test_validator_raw_payloads(void **state)
{
	char err[512], big[SB_PUBLISH_MAX_PAYLOAD + 10];
	int retained = -1;

	SB_UNUSED(state);
	assert_int_equal(sb_validator_check(val, "team/42/app/" APP "/status", "not json", 8, 0,
					    &retained, err, sizeof(err)), SB_ERR_INVAL);
	assert_int_equal(retained, 1);
	assert_string_equal(err, "payload invalid for app-status.json: payload is not JSON");

	memset(big, ' ', sizeof(big));
	assert_int_equal(sb_validator_check(val, "team/42/app/" APP "/status", big, sizeof(big), 0,
					    NULL, err, sizeof(err)), SB_ERR_LIMIT);
	assert_non_null(strstr(err, "over the limit of 65536"));
	assert_int_equal(sb_validator_check(val, "team/42/app/" APP "/status", big, 100, 64,
					    NULL, err, sizeof(err)), SB_ERR_LIMIT);

	assert_int_equal(sb_validator_check(val, "team/42/nothing/x", "{}", 2, 0, &retained, err,
					    sizeof(err)), SB_ERR_NOTFOUND);
	assert_non_null(strstr(err, "not in"));

	/* empty: a deletion for a retained kind, meaningless for logs */
	assert_int_equal(sb_validator_check(val, "team/42/app/" APP "/status", "", 0, 0,
					    &retained, err, sizeof(err)), SB_OK);
	assert_int_equal(sb_validator_check(val, "deploy/" DEP "/logs", "", 0, 0, &retained, err,
					    sizeof(err)), SB_ERR_INVAL);
	assert_int_equal(retained, 0);

	assert_int_equal(sb_validator_check(val, "deploy/" DEP "/logs",
					    "{\"seq\":0,\"ts\":\"2024-05-01T12:00:00Z\",\"level\":"
					    "\"info\",\"stream\":\"stdout\",\"msg\":\"x\"}",
					    80, 0, NULL, err, sizeof(err)), SB_ERR_INVAL);
	assert_non_null(strstr(err, "log-line.json: /seq: 0 is less than minimum 1"));
}

static void test_validator_missing_dir(void **state)
{
	struct sb_validator *v = (struct sb_validator *)1;
	char err[512];

	SB_UNUSED(state);
	assert_int_equal(sb_validator_load(&v, "/nonexistent/schemas", err, sizeof(err)),
			 SB_ERR_INVAL);
	assert_null(v);
	assert_non_null(strstr(err, "/nonexistent/schemas"));
	assert_non_null(strstr(err, "STATUSBUS_SCHEMAS"));
	/* an explicit dir wins over the environment */
	setenv("STATUSBUS_SCHEMAS", "/from/env", 1);
	assert_string_equal(sb_validator_default_dir("/given"), "/given");
	assert_string_equal(sb_validator_default_dir(NULL), "/from/env");
	unsetenv("STATUSBUS_SCHEMAS");
}

/* ---- log levels and lines --------------------------------------------------- */

static void test_level_detection(void **state)
{
	static const struct {
		const char *text;
		enum sb_log_level level;
	} cases[] = {
		{ "src/main.c:3:5: error: expected ';'", SB_LOG_ERR },
		{ "ERROR Failed to pull image", SB_LOG_ERR },
		{ "npm ERR! code ELIFECYCLE", SB_LOG_ERR },
		{ "TypeError: x is undefined", SB_LOG_ERR },
		{ "[fatal] out of memory", SB_LOG_ERR },
		{ "panic: runtime error: index out of range", SB_LOG_ERR },
		{ "CRITICAL worker died", SB_LOG_ERR },
		{ "src/main.c:9:1: warning: unused variable 'error'", SB_LOG_WARN },
		{ "npm WARN deprecated request@2.88.2", SB_LOG_WARN },
		{ "[DEBUG] cache hit", SB_LOG_DEBUG },
		{ "debug: resolved 12 packages", SB_LOG_DEBUG },
		{ "Step 3/7 : RUN make", SB_LOG_INFO },
		{ "0 errors, 0 warnings", SB_LOG_INFO },
		{ "cc -Werror -o app main.c", SB_LOG_INFO },
		{ "writing to stderr", SB_LOG_INFO },
		{ "a terrorist debugger", SB_LOG_INFO },
		{ "", SB_LOG_INFO },
	};

	SB_UNUSED(state);
	for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++) {
		enum sb_log_level got = sb_log_level_detect(cases[i].text, strlen(cases[i].text));

		if (got != cases[i].level)
			fail_msg("\"%s\": got %s, want %s", cases[i].text, sb_level_name(got),
				 sb_level_name(cases[i].level));
	}
}

static cJSON *line_doc(uint64_t seq, enum sb_stream s, const char *text, size_t len)
{
	char *p, err[512];
	size_t plen;
	cJSON *doc;

	assert_int_equal(sb_log_line_build(seq, TS_MS, s, text, len, &p, &plen), SB_OK);
	assert_int_equal(plen, strlen(p));
	if (sb_validator_check(val, "deploy/" DEP "/logs", p, plen, 0, NULL, err, sizeof(err)))
		fail_msg("%s: %s", p, err);
	doc = cJSON_Parse(p);
	free(p);
	assert_non_null(doc);
	return doc;
}

static void test_log_line_payload(void **state)
{
	cJSON *doc;
	const char *t;
	char *p;
	size_t plen;

	SB_UNUSED(state);
	t = "\x1b[1;31merror\x1b[0m: build failed\r\n";
	doc = line_doc(7, SB_STREAM_STDERR, t, strlen(t));
	assert_int_equal(cJSON_GetObjectItem(doc, "seq")->valueint, 7);
	assert_string_equal(str(doc, "ts"), "2024-05-01T12:00:00.123Z");
	assert_string_equal(str(doc, "level"), "error");
	assert_string_equal(str(doc, "stream"), "stderr");
	assert_string_equal(str(doc, "msg"), "error: build failed");
	assert_int_equal(members(doc), 5);
	cJSON_Delete(doc);

	/* a progress bar: what the terminal shows is the last CR segment */
	t = "downloading 10%\rdownloading 60%\rdownloading 100%\r";
	doc = line_doc(1, SB_STREAM_STDOUT, t, strlen(t));
	assert_string_equal(str(doc, "msg"), "downloading 100%");
	assert_string_equal(str(doc, "stream"), "stdout");
	assert_string_equal(str(doc, "level"), "info");
	cJSON_Delete(doc);

	/* invalid UTF-8 becomes U+FFFD; valid multibyte text is kept */
	doc = line_doc(2, SB_STREAM_STDOUT, "a\xff" "b \xc3\xa9 \xe2\x9c\x93 \xed\xa0\x80", 14);
	assert_string_equal(str(doc, "msg"),
			    "a\xef\xbf\xbd" "b \xc3\xa9 \xe2\x9c\x93 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	cJSON_Delete(doc);

	/* control characters survive as JSON escapes; NUL cannot, it is shown */
	doc = line_doc(3, SB_STREAM_STDOUT, "tab\there\001nul\0end", 16);
	assert_string_equal(str(doc, "msg"), "tab\there\001nul\xef\xbf\xbd" "end");
	cJSON_Delete(doc);

	/* seq starts at 1 */
	assert_int_equal(sb_log_line_build(0, TS_MS, SB_STREAM_STDOUT, "x", 1, &p, &plen),
			 SB_ERR_INVAL);
}

/* ---- splitting and numbering -------------------------------------------------- */

struct sink {
	cJSON *docs[4096];
	size_t n;
	uint64_t last_seq;
	int fail_at;    /* seq whose emit fails, 0: none */
};

static enum sb_err collect(void *user, uint64_t seq, const char *payload, size_t len)
{
	struct sink *s = user;
	char err[512];

	if (sb_validator_check(val, "deploy/" DEP "/logs", payload, len, 0, NULL, err, sizeof(err)))
		fail_msg("seq %llu: %s", (unsigned long long)seq, err);
	assert_int_equal(seq, s->last_seq + 1);
	s->last_seq = seq;
	if (s->fail_at && (int)seq == s->fail_at)
		return SB_ERR_IO;
	assert_true(s->n < SB_ARRAY_LEN(s->docs));
	s->docs[s->n] = cJSON_ParseWithLength(payload, len);
	assert_non_null(s->docs[s->n]);
	assert_int_equal(cJSON_GetObjectItem(s->docs[s->n], "seq")->valuedouble, (double)seq);
	s->n++;
	return SB_OK;
}

static void sink_free(struct sink *s)
{
	for (size_t i = 0; i < s->n; i++)
		cJSON_Delete(s->docs[i]);
	free(s);
}

static struct sb_logenc *enc_new(void)
{
	struct sb_logenc *e = malloc(sizeof(*e));

	assert_non_null(e);
	sb_logenc_init(e);
	e->fixed_ts_ms = TS_MS;
	return e;
}

static void test_lines_split_across_reads(void **state)
{
	struct sb_logenc *e = enc_new();
	struct sink *s = calloc(1, sizeof(*s));

	SB_UNUSED(state);
	assert_int_equal(sb_logenc_write(e, SB_STREAM_STDOUT, "line 1\nli", 9, collect, s), SB_OK);
	assert_int_equal(s->n, 1);
	assert_int_equal(sb_logenc_write(e, SB_STREAM_STDERR, "warning: x", 10, collect, s), SB_OK);
	assert_int_equal(sb_logenc_write(e, SB_STREAM_STDOUT, "ne 2\n\nline 4", 12, collect, s),
			 SB_OK);
	assert_int_equal(sb_logenc_write(e, SB_STREAM_STDERR, "\n", 1, collect, s), SB_OK);
	assert_int_equal(s->n, 4);
	assert_int_equal(sb_logenc_flush(e, collect, s), SB_OK);
	assert_int_equal(s->n, 5);

	assert_string_equal(str(s->docs[0], "msg"), "line 1");
	assert_string_equal(str(s->docs[1], "msg"), "line 2");
	assert_string_equal(str(s->docs[2], "msg"), "");      /* empty lines are lines */
	assert_string_equal(str(s->docs[3], "msg"), "warning: x");
	assert_string_equal(str(s->docs[3], "stream"), "stderr");
	assert_string_equal(str(s->docs[3], "level"), "warn");
	assert_string_equal(str(s->docs[4], "msg"), "line 4");
	assert_string_equal(str(s->docs[4], "stream"), "stdout");
	assert_int_equal(e->next_seq, 6);
	sink_free(s);
	free(e);
}

static void test_seq_numbering_is_contiguous(void **state)
{
	struct sb_logenc *e = enc_new();
	struct sink *s = calloc(1, sizeof(*s));
	char line[64];

	SB_UNUSED(state);
	for (int i = 1; i <= 1000; i++) {
		snprintf(line, sizeof(line), "line %d\n", i);
		assert_int_equal(sb_logenc_line(e, i % 3 ? SB_STREAM_STDOUT : SB_STREAM_STDERR, line,
						strlen(line), collect, s), SB_OK);
	}
	assert_int_equal(s->n, 1000);
	for (int i = 0; i < 1000; i++) {
		snprintf(line, sizeof(line), "line %d", i + 1);
		assert_string_equal(str(s->docs[i], "msg"), line);
	}
	/* one call with embedded newlines: several records */
	assert_int_equal(sb_logenc_line(e, SB_STREAM_STDOUT, "a\nb", 3, collect, s), SB_OK);
	assert_int_equal(s->last_seq, 1002);

	/* a failed emit keeps its seq (the hole is visible), later lines go on */
	s->fail_at = 1004;
	assert_int_equal(sb_logenc_write(e, SB_STREAM_STDOUT, "c\nd\ne\n", 6, collect, s),
			 SB_ERR_IO);
	assert_int_equal(s->last_seq, 1005);
	assert_int_equal(e->next_seq, 1006);
	sink_free(s);
	free(e);
}

static void test_overlong_lines_are_cut_on_utf8_boundaries(void **state)
{
	struct sb_logenc *e = enc_new();
	struct sink *s = calloc(1, sizeof(*s));
	size_t n = 3000, total = 0;
	char *text = malloc(3 * n + 1);

	SB_UNUSED(state);
	for (size_t i = 0; i < n; i++)
		memcpy(text + 3 * i, "\xe2\x82\xac", 3);   /* EURO SIGN: 9000 bytes */
	text[3 * n] = '\n';
	/* fed in odd-sized pieces */
	for (size_t off = 0; off < 3 * n + 1; off += 1000) {
		size_t k = 3 * n + 1 - off < 1000 ? 3 * n + 1 - off : 1000;

		assert_int_equal(sb_logenc_write(e, SB_STREAM_STDOUT, text + off, k, collect, s),
				 SB_OK);
	}
	assert_int_equal(s->n, 2);
	for (size_t i = 0; i < s->n; i++) {
		const char *m = str(s->docs[i], "msg");

		assert_null(strstr(m, "\xef\xbf\xbd"));
		assert_true(strlen(m) <= SB_LOG_MAX_LINE);
		assert_int_equal(strlen(m) % 3, 0);
		total += strlen(m);
	}
	assert_int_equal(total, 3 * n);
	assert_int_equal(strlen(str(s->docs[0], "msg")), 8190);
	free(text);

	/* a line of 20000 control characters: every payload stays in bounds */
	text = malloc(20001);
	memset(text, 0x01, 20000);
	text[20000] = '\n';
	assert_int_equal(sb_logenc_write(e, SB_STREAM_STDOUT, text, 20001, collect, s), SB_OK);
	assert_int_equal(s->n, 5);
	free(text);
	sink_free(s);
	free(e);
}

/* A deploy's log is deploy/<id>/logs; an app's, a database's or a
 * service's runtime log is under its team; a server has none. */
static void test_log_topics(void **state)
{
#define LINE "{\"seq\":7,\"ts\":\"2024-05-01T12:00:00Z\",\"level\":\"info\"," \
	     "\"stream\":\"stdout\",\"msg\":\"x\"}"
	static const struct { enum sb_resource kind; const char *want; } rows[] = {
		{ SB_RES_DEPLOY, "deploy/" APP "/logs" },
		{ SB_RES_APP, "team/42/app/" APP "/logs" },
		{ SB_RES_DB, "team/42/db/" APP "/logs" },
		{ SB_RES_SERVICE, "team/42/service/" APP "/logs" },
	};
	char err[256], *topic = (char *)"untouched";
	SB_UNUSED(state);

	for (size_t i = 0; i < SB_ARRAY_LEN(rows); i++) {
		assert_int_equal(sb_log_topic(rows[i].kind, "42", APP, &topic, err, sizeof(err)),
				 SB_OK);
		assert_string_equal(topic, rows[i].want);
		/* the line goes through the validator as the bridge checks it */
		assert_int_equal(sb_validator_check(val, topic, LINE, strlen(LINE), 0, NULL, err,
						    sizeof(err)), SB_OK);
		free(topic);
	}
	assert_int_equal(sb_log_topic(SB_RES_SERVER, "42", APP, &topic, err, sizeof(err)),
			 SB_ERR_INVAL);
	assert_null(topic);
	assert_non_null(strstr(err, "servers have no log stream"));
	assert_int_equal(sb_log_topic(SB_RES_APP, "4/2", APP, &topic, err, sizeof(err)),
			 SB_ERR_INVAL);
	assert_int_equal(sb_log_topic(SB_RES_APP, "42", "+", &topic, err, sizeof(err)),
			 SB_ERR_INVAL);
	assert_string_equal(err, "app id \"+\" is not a UUID");
	assert_int_equal(sb_log_topic(SB_RES_DB, NULL, APP, &topic, NULL, 0), SB_ERR_INVAL);
}

/* ---- readable form ---------------------------------------------------------------- */

static void test_describe(void **state)
{
	char buf[512];
	const char *p;

	SB_UNUSED(state);
	p = "{\"ts\":\"2024-05-01T12:00:00Z\",\"status\":\"running\",\"old_status\":\"starting\"}";
	assert_string_equal(sb_status_describe("team/42/app/" APP "/status", p, strlen(p), buf,
					       sizeof(buf)),
			    "app 6f1c2a3b\xe2\x80\xa6 running (was starting)");
	p = "{\"ts\":\"x\",\"status\":\"exited\",\"name\":\"web\",\"reason\":\"exit 137\\nOOM\"}";
	assert_string_equal(sb_status_describe("team/42/service/" APP "/status", p, strlen(p), buf,
					       sizeof(buf)),
			    "service 6f1c2a3b\xe2\x80\xa6 [web] exited: exit 137?OOM");
	p = "{\"ts\":\"x\",\"reachable\":false,\"old_reachable\":true,\"latency_ms\":12}";
	assert_string_equal(sb_status_describe("team/42/server/" SRV "/reachability", p, strlen(p),
					       buf, sizeof(buf)),
			    "server 1a2b3c4d\xe2\x80\xa6 unreachable (was reachable), 12 ms");
	p = "{\"ts\":\"x\",\"status\":\"running\",\"progress\":40,\"step\":\"build\"}";
	assert_string_equal(sb_status_describe("team/42/deploy/" DEP "/status", p, strlen(p), buf,
					       sizeof(buf)),
			    "deploy d1e2f3a4\xe2\x80\xa6 running, 40%, step build");
	assert_string_equal(sb_status_describe("team/42/db/" APP "/status", "", 0, buf, sizeof(buf)),
			    "db 6f1c2a3b\xe2\x80\xa6 deleted");
	assert_string_equal(sb_status_describe("team/42/db/" APP "/status", "oops", 4, buf,
					       sizeof(buf)),
			    "db 6f1c2a3b\xe2\x80\xa6 (payload is not JSON)");
	assert_string_equal(sb_status_describe("team/42/incident/7", "{}", 2, buf, sizeof(buf)),
			    "team/42/incident/7 {}");
	/* truncation keeps the string terminated */
	sb_status_describe("team/42/app/" APP "/status", "", 0, buf, 8);
	assert_int_equal(strlen(buf), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_app_status_payload),
		cmocka_unit_test(test_server_reachability_payload),
		cmocka_unit_test(test_deploy_status_payload),
		cmocka_unit_test(test_ids_are_checked_before_any_topic),
		cmocka_unit_test(test_validation_errors_read_like_the_bridge),
		cmocka_unit_test(test_validator_raw_payloads),
		cmocka_unit_test(test_validator_missing_dir),
		cmocka_unit_test(test_level_detection),
		cmocka_unit_test(test_log_line_payload),
		cmocka_unit_test(test_lines_split_across_reads),
		cmocka_unit_test(test_seq_numbering_is_contiguous),
		cmocka_unit_test(test_overlong_lines_are_cut_on_utf8_boundaries),
		cmocka_unit_test(test_log_topics),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
