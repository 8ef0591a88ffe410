/* SPDX-License-Identifier: MIT
 *
 * test_ingest.c - unit tests for ingest.c, the verdict on one MQTT
 * message (docs/protocol.md §8 payload validation, §2 rules for
 * publishers): $-topics are ignored; a topic over 512 bytes, a payload
 * over max_payload_bytes (the bound itself is allowed), a payload that is
 * not one strict JSON value, or one its topic's schema refuses is
 * rejected with that reason; an unknown topic is refused only with
 * reject_unknown_topics; an empty payload deletes a retained kind's topic
 * and means nothing otherwise; a log line's seq is read when it is an
 * integer in 1 .. 2^53-1.  Strict means what a browser's JSON.parse
 * takes, since the payload is spliced into frames as it is: UTF-8, no raw
 * control character in a string, numbers in JSON's grammar, nothing after
 * the value.  Also the report republished on $statusbus/rejected/<topic>,
 * read back with cJSON.  Schemas come from a small set written to a
 * temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "frame.h"
#include "ingest.h"

/* ---- the small topic and schema set --------------------------------------------- */

static const char *const files[][2] = {
	{ "topics.json",
	  "{\"topics\":["
	  "{\"filter\":\"t/+/status\",\"event\":\"t.status\",\"retained\":true,"
	  "\"schema\":\"mini.json\"},"
	  "{\"filter\":\"t/+/log\",\"event\":\"t.log\",\"retained\":false,"
	  "\"schema\":\"line.json\"},"
	  "{\"filter\":\"t/+/free\",\"event\":\"t.free\",\"retained\":false,\"schema\":null},"
	  "{\"filter\":\"t/+/lost\",\"event\":\"t.lost\",\"retained\":false,"
	  "\"schema\":\"absent.json\"},"
	  "{\"filter\":\"r/+\",\"event\":\"r\",\"retained\":true}"
	  "]}" },
	{ "mini.json",
	  "{\"type\":\"object\",\"required\":[\"status\"],"
	  "\"properties\":{\"status\":{\"enum\":[\"up\",\"down\"]}}}" },
	{ "line.json",
	  "{\"type\":\"object\",\"required\":[\"seq\"],\"properties\":{"
	  "\"seq\":{\"type\":\"integer\",\"minimum\":1},"
	  "\"msg\":{\"type\":\"string\",\"maxLength\":4}}}" },
};
#define NFILES (sizeof(files) / sizeof(files[0]))

struct fx {
	char dir[64];
	struct sb_kinds *kinds;
	struct sb_schema_set *schemas;
	struct sb_ingest_rules rules;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	char path[128], err[256];

	if (!x)
		return -1;
	snprintf(x->dir, sizeof(x->dir), "/tmp/sb-ingest-test-XXXXXX");
	if (!mkdtemp(x->dir))
		return -1;
	for (size_t i = 0; i < NFILES; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", x->dir, files[i][0]);
		if (!(f = fopen(path, "w")))
			return -1;
		fputs(files[i][1], f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/topics.json", x->dir);
	if (sb_kinds_load(&x->kinds, path, err, sizeof(err)) != SB_OK ||
	    sb_schema_set_load(&x->schemas, x->dir, err, sizeof(err)) != SB_OK) {
		fprintf(stderr, "fixture: %s\n", err);
		return -1;
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	char path[128];

	for (size_t i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "%s/%s", x->dir, files[i][0]);
		unlink(path);
	}
	rmdir(x->dir);
	sb_kinds_destroy(x->kinds);
	sb_schema_set_destroy(x->schemas);
	free(x);
	return 0;
}

/* Every test starts from these rules: validation on, unknown topics let
 * through, 64 bytes. */
static int reset(void **state)
{
	struct fx *x = *state;

	x->rules = (struct sb_ingest_rules){ x->kinds, x->schemas, 64, 0, 1 };
	return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

static struct sb_ingest_result check_n(const struct fx *x, const char *topic,
				       const char *payload, size_t len, int retained)
{
	struct sb_ingest_result r;

	memset(&r, 0x5a, sizeof(r));   /* check fills every field */
	sb_ingest_check(&x->rules, topic, strlen(topic), payload, len, retained, &r);
	return r;
}

static struct sb_ingest_result check(const struct fx *x, const char *topic,
				     const char *payload)
{
	return check_n(x, topic, payload, strlen(payload), 0);
}

static void expect_accept(const struct fx *x, const char *topic, const char *payload)
{
	struct sb_ingest_result r = check(x, topic, payload);

	if (r.verdict != SB_INGEST_ACCEPT || r.reason != SB_INGEST_OK)
		fail_msg("%s: %s refused (%d): %s", topic, payload, r.reason, r.why);
	assert_null(r.schema);
	assert_string_equal(r.why, "");
}

static void expect_reject_n(const struct fx *x, const char *topic, const char *payload,
			    size_t len, enum sb_ingest_reason reason, const char *why)
{
	struct sb_ingest_result r = check_n(x, topic, payload, len, 0);

	if (r.verdict != SB_INGEST_REJECT || r.reason != reason)
		fail_msg("%s: \"%.*s\": verdict %d reason %d, want reject %d", topic, (int)len,
			 payload, r.verdict, r.reason, reason);
	if (why)
		assert_string_equal(r.why, why);
	assert_int_equal(r.seq, 0);
}

#define NOT_JSON(x, payload, why) \
	expect_reject_n(x, "t/1/free", payload, sizeof(payload) - 1, SB_INGEST_NOT_JSON, why)

/* ---- verdicts --------------------------------------------------------------------- */

static void test_accept(void **state)
{
	struct fx *x = *state;
	struct sb_ingest_result r = check(x, "t/1/status", "{\"status\":\"up\"}");

	assert_int_equal(r.verdict, SB_INGEST_ACCEPT);
	assert_int_equal(r.reason, SB_INGEST_OK);
	assert_non_null(r.kind);
	assert_string_equal(r.kind->event, "t.status");
	assert_null(r.schema);
	assert_int_equal(r.seq, 0);
	assert_string_equal(r.why, "");

	/* an unknown topic is let through, unvalidated, with no kind */
	r = check(x, "x/y/z", "[1,2]");
	assert_int_equal(r.verdict, SB_INGEST_ACCEPT);
	assert_null(r.kind);
}

static void test_dollar_topics_ignored(void **state)
{
	struct fx *x = *state;
	char longtopic[700];
	struct sb_ingest_result r;

	x->rules.reject_unknown_topics = 1;
	/* whatever the payload: never forwarded, never refused either */
	r = check(x, "$SYS/broker/uptime", "12 seconds");
	assert_int_equal(r.verdict, SB_INGEST_IGNORE);
	assert_int_equal(r.reason, SB_INGEST_OK);
	r = check(x, "$statusbus/rejected/t/1/status", "{\"status\":\"sideways\"}");
	assert_int_equal(r.verdict, SB_INGEST_IGNORE);
	r = check_n(x, "$statusbus/sync/b1", "", 0, 1);
	assert_int_equal(r.verdict, SB_INGEST_IGNORE);
	memset(longtopic, 'a', sizeof(longtopic) - 1);
	longtopic[0] = '$';
	longtopic[sizeof(longtopic) - 1] = '\0';
	r = check(x, longtopic, "{}");
	assert_int_equal(r.verdict, SB_INGEST_IGNORE);
}

static void test_topic_length(void **state)
{
	struct fx *x = *state;
	char topic[SB_TOPIC_MAX + 2];
	struct sb_ingest_result r;

	memset(topic, 'a', sizeof(topic));
	topic[SB_TOPIC_MAX] = '\0';   /* exactly the bound */
	expect_accept(x, topic, "{}");
	topic[SB_TOPIC_MAX] = 'a';
	topic[SB_TOPIC_MAX + 1] = '\0';
	r = check(x, topic, "{}");
	assert_int_equal(r.verdict, SB_INGEST_REJECT);
	assert_int_equal(r.reason, SB_INGEST_OVERSIZE);
	assert_string_equal(r.why, "topic longer than 512 bytes");
	/* before anything else: even an empty payload */
	r = check_n(x, topic, "", 0, 1);
	assert_int_equal(r.reason, SB_INGEST_OVERSIZE);
	/* a known topic's kind is still named */
	memcpy(topic, "t/", 2);
	memcpy(topic + SB_TOPIC_MAX + 1 - 7, "/status", 7);
	r = check(x, topic, "{\"status\":\"up\"}");
	assert_int_equal(r.reason, SB_INGEST_OVERSIZE);
	assert_non_null(r.kind);
}

static void test_unknown_topics(void **state)
{
	struct fx *x = *state;
	struct sb_ingest_result r;

	/* off (the default): forwarded unvalidated; an empty one goes by the
	 * broker's retain flag, having no kind */
	expect_accept(x, "x/1", "{\"anything\":true}");
	expect_accept(x, "t/1/other", "{}");
	assert_int_equal(check_n(x, "x/1", "", 0, 1).verdict, SB_INGEST_DELETE);
	assert_int_equal(check_n(x, "x/1", "", 0, 0).verdict, SB_INGEST_IGNORE);
	/* still JSON, still bounded */
	NOT_JSON(x, "nope", "payload is not JSON");
	expect_reject_n(x, "x/1", "not json", 8, SB_INGEST_NOT_JSON, NULL);

	/* on: refused, whatever the payload (empty ones too) */
	x->rules.reject_unknown_topics = 1;
	expect_reject_n(x, "x/1", "{}", 2, SB_INGEST_UNKNOWN_TOPIC,
			"topic has no schema in topics.json");
	r = check_n(x, "x/1", "", 0, 1);
	assert_int_equal(r.verdict, SB_INGEST_REJECT);
	assert_int_equal(r.reason, SB_INGEST_UNKNOWN_TOPIC);
	assert_null(r.kind);
	/* a known topic is unaffected */
	expect_accept(x, "t/1/status", "{\"status\":\"down\"}");
	/* a kind with no schema is known */
	expect_accept(x, "r/1", "{}");
}

static void test_empty_payload(void **state)
{
	struct fx *x = *state;
	struct sb_ingest_result r;

	/* a retained kind: deleted, whatever the broker's retain flag says
	 * (a live delete is delivered with retain 0) */
	r = check_n(x, "t/1/status", "", 0, 1);
	assert_int_equal(r.verdict, SB_INGEST_DELETE);
	assert_int_equal(r.reason, SB_INGEST_OK);
	assert_non_null(r.kind);
	assert_int_equal(check_n(x, "t/1/status", "", 0, 0).verdict, SB_INGEST_DELETE);
	assert_int_equal(check_n(x, "r/1", "", 0, 0).verdict, SB_INGEST_DELETE);
	/* a non-retained kind: means nothing, even flagged retained */
	assert_int_equal(check_n(x, "t/1/log", "", 0, 0).verdict, SB_INGEST_IGNORE);
	assert_int_equal(check_n(x, "t/1/log", "", 0, 1).verdict, SB_INGEST_IGNORE);
	/* not subject to the size bound, the JSON rule or the schema */
	x->rules.max_payload_bytes = 0;
	assert_int_equal(check_n(x, "t/1/status", "", 0, 1).verdict, SB_INGEST_DELETE);
	/* white space is not empty: it is not JSON */
	x->rules.max_payload_bytes = 64;
	expect_reject_n(x, "t/1/status", " ", 1, SB_INGEST_NOT_JSON, "payload is not JSON");
}

static void test_size_limit(void **state)
{
	struct fx *x = *state;
	struct sb_ingest_result r;

	x->rules.max_payload_bytes = 16;
	/* exactly the bound: accepted */
	expect_accept(x, "t/1/free", "{\"a\":\"12345678\"}");
	assert_int_equal(strlen("{\"a\":\"12345678\"}"), 16);
	/* one over */
	r = check(x, "t/1/free", "{\"a\":\"123456789\"}");
	assert_int_equal(r.verdict, SB_INGEST_REJECT);
	assert_int_equal(r.reason, SB_INGEST_OVERSIZE);
	assert_string_equal(r.why, "payload of 17 bytes is over the limit of 16");
	assert_non_null(r.kind);
	/* size comes before JSON and schema */
	expect_reject_n(x, "t/1/free", "this is not json!", 17, SB_INGEST_OVERSIZE, NULL);
	expect_reject_n(x, "t/1/status", "{\"status\":\"sideways\"}", 21, SB_INGEST_OVERSIZE,
			NULL);
	/* and unknown topics are bounded too */
	expect_reject_n(x, "x/1", "[1,2,3,4,5,6,7,8,9]", 19, SB_INGEST_OVERSIZE, NULL);
}

static void test_strict_json_accepts(void **state)
{
	struct fx *x = *state;
	static const char *const ok[] = {
		"{}", "[]", "1", "-0", "0", "0.5", "-0.5e-3", "1E+2", "1e2", "12e-0", "\"s\"",
		"null", "true", "false", " {} ", "\t\r\n{}\n", "{\"a\":[1,{\"b\":null}]}",
		"\"\\u0041\\n\\t\\\"\\\\\\/\"",          /* escapes */
		"\"\\ud83d\\ude00\"",                   /* an escaped surrogate pair */
		"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", /* é € 😀 */
		"\"\x7f\"",                              /* DEL is not a control char in JSON */
		"\"\\\\\"\n",                            /* an escaped backslash ends no string */
		"{\"k\xc3\xa9y\":\"v\"}",
		"[1e999]",                               /* JSON's grammar has no range */
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		expect_accept(x, "t/1/free", ok[i]);
}

static void test_strict_json_refuses(void **state)
{
	struct fx *x = *state;

	/* not one value, or something after it */
	NOT_JSON(x, "{", "payload is not JSON");
	NOT_JSON(x, "{} x", "payload is not JSON");
	NOT_JSON(x, "{}{}", "payload is not JSON");
	NOT_JSON(x, "{} // comment", "payload is not JSON");
	NOT_JSON(x, "/* c */ {}", "payload is not JSON");
	NOT_JSON(x, "{}\0", "payload is not JSON");
	NOT_JSON(x, "{\"a\":\"b\"}\0junk", "payload is not JSON");
	NOT_JSON(x, "\0{}", "payload is not JSON");
	NOT_JSON(x, "[1,]", "payload is not JSON");
	NOT_JSON(x, "{\"a\":1,}", "payload is not JSON");
	NOT_JSON(x, "{'a':1}", "payload is not JSON");
	NOT_JSON(x, "{a:1}", "payload is not JSON");
	NOT_JSON(x, "[1 2]", "payload is not JSON");
	NOT_JSON(x, "tru", "payload is not JSON");
	NOT_JSON(x, "\"\\x41\"", "payload is not JSON");
	NOT_JSON(x, "\"unterminated", "payload is not JSON");
	/* no NaN or infinities */
	NOT_JSON(x, "NaN", "payload is not JSON");
	NOT_JSON(x, "{\"a\":NaN}", "payload is not JSON");
	NOT_JSON(x, "{\"a\":nan}", "payload is not JSON");
	NOT_JSON(x, "Infinity", "payload is not JSON");
	NOT_JSON(x, "{\"a\":-Infinity}", "payload is not JSON");
	/* numbers outside JSON's grammar, which cJSON would take */
	NOT_JSON(x, "+1", NULL);
	NOT_JSON(x, ".5", NULL);
	NOT_JSON(x, "0x10", NULL);
	NOT_JSON(x, "-", NULL);
	NOT_JSON(x, "01", "payload has a number that is not JSON");
	NOT_JSON(x, "-01", "payload has a number that is not JSON");
	NOT_JSON(x, "{\"a\":007}", "payload has a number that is not JSON");
	NOT_JSON(x, "1.", "payload has a number that is not JSON");
	NOT_JSON(x, "[1.e5]", "payload has a number that is not JSON");
	NOT_JSON(x, "{\"seq\":2.}", "payload has a number that is not JSON");
	/* a raw control character inside a string (JSON.parse refuses it) */
	NOT_JSON(x, "\"a\nb\"", "payload has a control character in a string");
	NOT_JSON(x, "{\"msg\":\"tab\there\"}", "payload has a control character in a string");
	NOT_JSON(x, "[\"\x01\"]", "payload has a control character in a string");
	NOT_JSON(x, "[\"a\0b\"]", "payload has a control character in a string");
	NOT_JSON(x, "[\"\\\"\x1f\"]", "payload has a control character in a string");
	NOT_JSON(x, "{\"a\rb\":1}", "payload has a control character in a string");
	/* \u without four hex digits: cJSON reads it as NUL, JSON.parse
	 * refuses it (found by tests/fuzz, schema_validate) */
	NOT_JSON(x, "{\"msg\":\"qu\\u0:00oted\"}",
		 "payload has a \\u escape without four hex digits");
	NOT_JSON(x, "[\"\\uzzzz\"]", "payload has a \\u escape without four hex digits");
	/* not UTF-8 (a browser drops a WebSocket whose text frame is not) */
	NOT_JSON(x, "\"\xff\"", "payload is not valid UTF-8");
	NOT_JSON(x, "{\"msg\":\"caf\xe9\"}", "payload is not valid UTF-8");   /* Latin-1 */
	NOT_JSON(x, "\"\xc0\xaf\"", "payload is not valid UTF-8");            /* overlong */
	NOT_JSON(x, "\"\xed\xa0\x80\"", "payload is not valid UTF-8");        /* surrogate */
	NOT_JSON(x, "\"\xf4\x90\x80\x80\"", "payload is not valid UTF-8");    /* > U+10FFFF */
	NOT_JSON(x, "\"\xe2\x82\"", "payload is not valid UTF-8");            /* cut short */
	NOT_JSON(x, "\"\x80\"", "payload is not valid UTF-8");                /* lone continuation */
	/* nothing but JSON's white space outside strings (cJSON skips every
	 * byte up to 0x20, and a byte order mark) */
	NOT_JSON(x, "\xef\xbb\xbf{}", "payload is not JSON");
	NOT_JSON(x, "[1,\x01 2]", "payload is not JSON");
	NOT_JSON(x, "{\"a\"\x0b:1}", "payload is not JSON");
	NOT_JSON(x, "\x0c{}", "payload is not JSON");
	NOT_JSON(x, "[1,\xc2\xa0 2]", "payload is not JSON");   /* U+00A0 */
}

static void test_seq(void **state)
{
	struct fx *x = *state;
	static const struct {
		const char *payload;
		int64_t seq;
	} cases[] = {
		{ "{\"seq\":1}", 1 },
		{ "{\"seq\":41,\"msg\":\"x\"}", 41 },
		{ "{\"msg\":\"x\",\"seq\":42}", 42 },
		{ "{\"seq\":2}", 2 },
		{ "{\"seq\":9007199254740990}", 9007199254740990LL },
		{ "{\"seq\":9007199254740991}", 9007199254740991LL },   /* 2^53 - 1 */
		{ "{\"seq\":2.0}", 2 },                                 /* an integer value */
		{ "{\"seq\":1e2}", 100 },
		{ "{\"seq\":9007199254740992}", 0 },                    /* 2^53 */
		{ "{\"seq\":9007199254740993}", 0 },                    /* reads as 2^53 */
		{ "{\"seq\":9223372036854775807}", 0 },                 /* int64 */
		{ "{\"seq\":9223372036854775808}", 0 },
		{ "{\"seq\":18446744073709551616}", 0 },
		{ "{\"seq\":1e300}", 0 },
		{ "{\"seq\":1e999}", 0 },
		{ "{\"seq\":-1e999}", 0 },
		{ "{\"seq\":-9007199254740991}", 0 },
		{ "{\"seq\":0}", 0 },
		{ "{\"seq\":-0}", 0 },
		{ "{\"seq\":-5}", 0 },
		{ "{\"seq\":1.5}", 0 },
		{ "{\"seq\":0.999}", 0 },
		{ "{\"seq\":\"5\"}", 0 },
		{ "{\"seq\":null}", 0 },
		{ "{\"seq\":true}", 0 },
		{ "{\"seq\":[5]}", 0 },
		{ "{\"seq\":{\"n\":5}}", 0 },
		{ "{\"Seq\":5}", 0 },                                   /* case-sensitive */
		{ "{\"x\":{\"seq\":5}}", 0 },                           /* top level only */
		{ "[{\"seq\":5}]", 0 },
		{ "5", 0 },
		{ "{}", 0 },
	};

	/* schema checks off, so that refused seqs still get a verdict */
	x->rules.validate = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb_ingest_result r = check(x, "t/1/log", cases[i].payload);

		if (r.verdict != SB_INGEST_ACCEPT)
			fail_msg("%s refused: %s", cases[i].payload, r.why);
		if (r.seq != cases[i].seq)
			fail_msg("%s: seq %lld, want %lld", cases[i].payload, (long long)r.seq,
				 (long long)cases[i].seq);
	}
	/* read on a schema refusal too (the caller may count the line) */
	x->rules.validate = 1;
	assert_int_equal(check(x, "t/1/log", "{\"seq\":7,\"msg\":\"too long\"}").seq, 7);
}

static void test_schema(void **state)
{
	struct fx *x = *state;
	struct sb_ingest_result r;
	char big[2100];

	expect_accept(x, "t/1/status", "{\"status\":\"up\"}");
	expect_accept(x, "t/1/log", "{\"seq\":3,\"msg\":\"ok\"}");

	r = check(x, "t/1/status", "{\"status\":\"sideways\"}");
	assert_int_equal(r.verdict, SB_INGEST_REJECT);
	assert_int_equal(r.reason, SB_INGEST_SCHEMA);
	assert_non_null(r.schema);
	assert_string_equal(r.schema, "mini.json");
	assert_string_equal(r.kind->event, "t.status");
	/* "<schema>: <pointer>: <what>" */
	assert_memory_equal(r.why, "mini.json: /status: ", 20);
	r = check(x, "t/1/status", "{}");
	assert_int_equal(r.reason, SB_INGEST_SCHEMA);
	assert_memory_equal(r.why, "mini.json: ", 11);
	assert_non_null(strstr(r.why, "status"));
	r = check(x, "t/1/status", "[]");
	assert_int_equal(r.reason, SB_INGEST_SCHEMA);
	r = check(x, "t/1/log", "{\"seq\":0}");
	assert_int_equal(r.reason, SB_INGEST_SCHEMA);
	assert_string_equal(r.schema, "line.json");
	assert_memory_equal(r.why, "line.json: /seq: ", 17);
	assert_int_equal(r.seq, 0);

	/* not JSON comes first */
	expect_reject_n(x, "t/1/status", "{\"status\":", 10, SB_INGEST_NOT_JSON, NULL);

	/* a long refused value: the reason is cut, and still a string */
	memcpy(big, "{\"seq\":1,\"msg\":\"", 16);
	memset(big + 16, 'm', sizeof(big) - 16 - 3);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	x->rules.max_payload_bytes = sizeof(big);
	r = check(x, "t/1/log", big);
	assert_int_equal(r.reason, SB_INGEST_SCHEMA);
	assert_true(strlen(r.why) < sizeof(r.why));
	assert_int_equal(r.seq, 1);

	/* a kind without a schema, or whose schema is not in the set */
	expect_accept(x, "t/1/free", "{\"status\":\"sideways\"}");
	expect_accept(x, "t/1/lost", "{\"status\":\"sideways\"}");
	expect_accept(x, "r/1", "[]");

	/* validation off, or no schema set: only JSON is checked */
	x->rules.validate = 0;
	expect_accept(x, "t/1/status", "{\"status\":\"sideways\"}");
	NOT_JSON(x, "{", NULL);
	x->rules.validate = 1;
	x->rules.schemas = NULL;
	expect_accept(x, "t/1/status", "{\"status\":\"sideways\"}");
	expect_accept(x, "t/1/log", "{\"seq\":-1}");
}

/* ---- the rejected report ----------------------------------------------------------- */

/* 1 when s[0..len) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
static int utf8_ok(const char *str, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = sb_utf8_len((const unsigned char *)str + i, len - i);
		if (!n)
			return 0;
		i += n;
	}
	return 1;
}

/* The report for this message, parsed; its text and length checked. */
static cJSON *report(const char *topic, const char *payload, size_t len, const char *why,
		     int64_t now)
{
	size_t outlen = 0;
	char *text = sb_ingest_reject_report(topic, strlen(topic), payload, len, why, now,
					     &outlen);
	cJSON *j;

	assert_non_null(text);
	assert_int_equal(outlen, strlen(text));
	/* valid UTF-8 JSON, with no raw control character, whatever came in */
	assert_true(utf8_ok(text, outlen));
	for (size_t i = 0; i < outlen; i++)
		assert_true((unsigned char)text[i] >= 0x20);
	j = cJSON_ParseWithLength(text, outlen);
	assert_non_null(j);
	assert_true(cJSON_IsObject(j));
	free(text);
	return j;
}

static const char *str_of(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static double num_of(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static int truncated(const cJSON *j)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "truncated");

	assert_true(cJSON_IsBool(v));
	return cJSON_IsTrue(v);
}

static void test_report_fields(void **state)
{
	cJSON *j;
	(void)state;

	j = report("team/42/deploy/d/status", "{\"progress\":140}", 16,
		   "deploy-status.json: /progress: 140 is greater than maximum 100", 1717243200);
	assert_int_equal(cJSON_GetArraySize(j), 6);
	assert_string_equal(str_of(j, "topic"), "team/42/deploy/d/status");
	assert_string_equal(str_of(j, "reason"),
			    "deploy-status.json: /progress: 140 is greater than maximum 100");
	assert_string_equal(str_of(j, "ts"), "2024-06-01T12:00:00Z");
	assert_int_equal(num_of(j, "bytes"), 16);
	assert_string_equal(str_of(j, "payload"), "{\"progress\":140}");
	assert_false(truncated(j));
	cJSON_Delete(j);

	/* the epoch, and an empty payload and reason */
	j = report("t", "", 0, "", 0);
	assert_string_equal(str_of(j, "ts"), "1970-01-01T00:00:00Z");
	assert_int_equal(num_of(j, "bytes"), 0);
	assert_string_equal(str_of(j, "payload"), "");
	assert_string_equal(str_of(j, "reason"), "");
	assert_false(truncated(j));
	cJSON_Delete(j);

	/* outlen may be NULL */
	{
		char *text = sb_ingest_reject_report("t", 1, "x", 1, "r", 0, NULL);
		assert_non_null(text);
		free(text);
	}
}

static void test_report_truncation(void **state)
{
	char payload[1100];
	cJSON *j;
	(void)state;

	memset(payload, 'p', sizeof(payload));
	/* exactly 1024 bytes: all of it */
	j = report("t", payload, 1024, "big", 0);
	assert_int_equal(strlen(str_of(j, "payload")), 1024);
	assert_int_equal(num_of(j, "bytes"), 1024);
	assert_false(truncated(j));
	cJSON_Delete(j);
	/* one more: the first 1024, and the true size */
	j = report("t", payload, 1025, "big", 0);
	assert_int_equal(strlen(str_of(j, "payload")), 1024);
	assert_int_equal(num_of(j, "bytes"), 1025);
	assert_true(truncated(j));
	cJSON_Delete(j);
	/* the cut through a UTF-8 sequence leaves no broken one behind */
	memcpy(payload + 1023, "\xc3\xa9", 2);
	j = report("t", payload, 1100, "big", 0);
	assert_int_equal(memcmp(str_of(j, "payload") + 1023, "\xef\xbf\xbd", 4), 0);
	assert_true(truncated(j));
	cJSON_Delete(j);
}

static void test_report_bad_bytes(void **state)
{
	static const char ctl[] = "a\"b\\c\nd\te\rf\x01g\x1fh\x7f";
	static const char nul[] = "x\0y";
	size_t outlen;
	char *text;
	cJSON *j;
	(void)state;

	/* control characters, quotes and backslashes round-trip */
	j = report("t/\"q\"/\n", ctl, sizeof(ctl) - 1, "why \"quoted\"\n", 0);
	assert_string_equal(str_of(j, "payload"), ctl);
	assert_string_equal(str_of(j, "topic"), "t/\"q\"/\n");
	assert_string_equal(str_of(j, "reason"), "why \"quoted\"\n");
	cJSON_Delete(j);

	/* bytes that are not UTF-8 become U+FFFD, one each; valid ones stay */
	j = report("t", "\xff\xfe{\xc3\xa9\xc0\xaf", 7, "payload is not valid UTF-8", 0);
	assert_string_equal(str_of(j, "payload"),
			    "\xef\xbf\xbd\xef\xbf\xbd{\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd");
	assert_int_equal(num_of(j, "bytes"), 7);
	cJSON_Delete(j);

	/* a NUL is escaped, not an end (cJSON would cut the string there, so
	 * read the text) */
	text = sb_ingest_reject_report("t", 1, nul, sizeof(nul) - 1, "r", 0, &outlen);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"payload\":\"x\\u0000y\""));
	assert_non_null(strstr(text, "\"bytes\":3"));
	free(text);

	/* the topic is taken by its length, not up to a NUL */
	text = sb_ingest_reject_report("t/1/status-and-more", 10, "{}", 2, "r", 0, &outlen);
	assert_non_null(strstr(text, "\"topic\":\"t/1/status\""));
	free(text);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_accept),
		T(test_dollar_topics_ignored),
		T(test_topic_length),
		T(test_unknown_topics),
		T(test_empty_payload),
		T(test_size_limit),
		T(test_strict_json_accepts),
		T(test_strict_json_refuses),
		T(test_seq),
		T(test_schema),
		cmocka_unit_test(test_report_fields),
		cmocka_unit_test(test_report_truncation),
		cmocka_unit_test(test_report_bad_bytes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
