/* SPDX-License-Identifier: MIT
 *
 * test_proto.c - unit tests for proto.c, the statusbus.v1 codec
 * of docs/protocol.md §5: every client op parses into its fields; every
 * malformed frame is refused with a reason (and the id when it had a usable
 * one, so the error can carry it); each builder's frame parses back with
 * cJSON into exactly the fields the protocol documents.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "proto_v1.h"

#define UUID "0b8f7c1e-1111-2222-3333-444455556666"

/* ---- parsing ---------------------------------------------------------------------- */

static enum sb_err parse_n(const char *data, size_t len, struct sb_req *r, int *has_id,
			   int64_t *id, char *reason, size_t rlen)
{
	*has_id = -1;
	*id = -1;
	reason[0] = '\0';
	return sb_proto_parse(data, len, r, has_id, id, reason, rlen);
}

static void parse_ok(const char *text, struct sb_req *r)
{
	int has_id;
	int64_t id;
	char reason[200];
	enum sb_err rc = parse_n(text, strlen(text), r, &has_id, &id, reason, sizeof(reason));

	if (rc != SB_OK)
		fail_msg("parse %s: rc %d (%s)", text, rc, reason);
	assert_non_null(r->root);
	assert_int_equal(has_id, r->has_id);
	if (r->has_id)
		assert_int_equal(id, r->id);
}

/* Refused with rc and a reason containing `want`; has_id/id as given. */
static void expect_bad(const char *text, size_t len, enum sb_err want_rc, const char *want,
		       int want_has_id, int64_t want_id)
{
	struct sb_req r;
	int has_id;
	int64_t id;
	char reason[200];
	enum sb_err rc = parse_n(text, len, &r, &has_id, &id, reason, sizeof(reason));

	if (rc != want_rc)
		fail_msg("parse %.*s: rc %d (%s), want %d", (int)len, text, rc, reason, want_rc);
	if (!strstr(reason, want))
		fail_msg("parse %.*s: reason [%s] does not contain [%s]", (int)len, text, reason, want);
	assert_null(r.root);
	if (has_id != want_has_id)
		fail_msg("parse %.*s: has_id %d, want %d", (int)len, text, has_id, want_has_id);
	if (want_has_id)
		assert_int_equal(id, want_id);
}

#define BAD(text, want) expect_bad(text, strlen(text), SB_ERR_INVAL, want, 0, 0)
#define BAD_ID(text, want, id) expect_bad(text, strlen(text), SB_ERR_INVAL, want, 1, id)

static void test_parse_hello(void **state)
{
	struct sb_req r;
	(void)state;

	parse_ok("{\"op\":\"hello\",\"token\":\"a.b.c\"}", &r);
	assert_int_equal(r.op, SB_OP_HELLO);
	assert_string_equal(r.token, "a.b.c");
	assert_int_equal(r.token_len, 5);
	assert_int_equal(r.has_id, 0);
	assert_null(r.channel);
	sb_req_free(&r);
	assert_null(r.root);
	sb_req_free(&r);                 /* twice is harmless */

	/* no token (open mode, or public channels only) */
	parse_ok("{\"op\":\"hello\"}", &r);
	assert_int_equal(r.op, SB_OP_HELLO);
	assert_null(r.token);
	sb_req_free(&r);
	parse_ok("{\"token\":null,\"op\":\"hello\",\"id\":0}", &r);
	assert_null(r.token);
	assert_int_equal(r.has_id, 1);
	assert_int_equal(r.id, 0);
	sb_req_free(&r);
	/* whitespace around is fine */
	parse_ok(" \n{ \"op\" : \"hello\" }\n ", &r);
	assert_int_equal(r.op, SB_OP_HELLO);
	sb_req_free(&r);
}

static void test_parse_sub(void **state)
{
	struct sb_req r;
	(void)state;

	parse_ok("{\"op\":\"sub\",\"id\":1,\"channel\":\"deploy." UUID ".logs\",\"since\":41}", &r);
	assert_int_equal(r.op, SB_OP_SUB);
	assert_int_equal(r.has_id, 1);
	assert_int_equal(r.id, 1);
	assert_string_equal(r.channel, "deploy." UUID ".logs");
	assert_int_equal(r.channel_len, strlen("deploy." UUID ".logs"));
	assert_int_equal(r.has_since, 1);
	assert_int_equal(r.since, 41);
	sb_req_free(&r);

	parse_ok("{\"op\":\"sub\",\"id\":2,\"channel\":\"team.42\"}", &r);
	assert_int_equal(r.has_since, 0);
	assert_string_equal(r.channel, "team.42");
	sb_req_free(&r);
	parse_ok("{\"op\":\"sub\",\"id\":2,\"channel\":\"team.42\",\"since\":null}", &r);
	assert_int_equal(r.has_since, 0);
	sb_req_free(&r);
	parse_ok("{\"op\":\"sub\",\"id\":2,\"channel\":\"team.42\",\"since\":0}", &r);
	assert_int_equal(r.has_since, 1);
	assert_int_equal(r.since, 0);
	sb_req_free(&r);
	/* the largest exact integer */
	parse_ok("{\"op\":\"sub\",\"id\":9007199254740991,\"channel\":\"x\",\"since\":9007199254740991}",
		 &r);
	assert_int_equal(r.id, 9007199254740991LL);
	assert_int_equal(r.since, 9007199254740991LL);
	sb_req_free(&r);
	/* the channel is passed on as written; validating it is chanmap's job,
	 * and channel_len tells a NUL inside */
	parse_ok("{\"op\":\"sub\",\"id\":3,\"channel\":\"\"}", &r);
	assert_int_equal(r.channel_len, 0);
	sb_req_free(&r);
}

static void test_parse_unsub_refresh_ping(void **state)
{
	struct sb_req r;
	(void)state;

	parse_ok("{\"op\":\"unsub\",\"id\":2,\"channel\":\"team.42\"}", &r);
	assert_int_equal(r.op, SB_OP_UNSUB);
	assert_string_equal(r.channel, "team.42");
	assert_int_equal(r.id, 2);
	sb_req_free(&r);
	parse_ok("{\"op\":\"unsub\",\"channel\":\"team.42\"}", &r);   /* id optional */
	assert_int_equal(r.has_id, 0);
	sb_req_free(&r);

	parse_ok("{\"op\":\"refresh\",\"id\":3,\"token\":\"x.y.z\"}", &r);
	assert_int_equal(r.op, SB_OP_REFRESH);
	assert_string_equal(r.token, "x.y.z");
	assert_int_equal(r.token_len, 5);
	assert_int_equal(r.id, 3);
	sb_req_free(&r);

	parse_ok("{\"op\":\"ping\",\"id\":4}", &r);
	assert_int_equal(r.op, SB_OP_PING);
	assert_int_equal(r.id, 4);
	sb_req_free(&r);
	parse_ok("{\"op\":\"ping\"}", &r);
	assert_int_equal(r.has_id, 0);
	sb_req_free(&r);
}

static void test_parse_length_bounds_input(void **state)
{
	/* the frame is data[0..len): bytes after it are not read */
	static const char buf[] = "{\"op\":\"ping\",\"id\":7}GARBAGE";
	struct sb_req r;
	int has_id;
	int64_t id;
	char reason[200];
	(void)state;

	assert_int_equal(parse_n(buf, 20, &r, &has_id, &id, reason, sizeof(reason)), SB_OK);
	assert_int_equal(r.op, SB_OP_PING);
	assert_int_equal(r.id, 7);
	sb_req_free(&r);
	/* cut short, it is not JSON */
	expect_bad(buf, 19, SB_ERR_INVAL, "frame is not JSON", 0, 0);
}

static void test_parse_not_json(void **state)
{
	(void)state;
	BAD("", "frame is not JSON");
	BAD("{", "frame is not JSON");
	BAD("nul", "frame is not JSON");
	BAD("{\"op\":\"ping\",}", "frame is not JSON");
	BAD("{'op':'ping'}", "frame is not JSON");
	BAD("\xff\xfe", "frame is not JSON");
}

/* cJSON decodes \u0000, and a \u without four hex digits, as a NUL that
 * cuts the string short: "team.42\uzzzzx" would read as "team.42" */
static void test_parse_nul_escapes(void **state)
{
	static const char *const frames[] = {
		"{\"op\":\"sub\",\"id\":1,\"channel\":\"team.42\\u0000x\"}",
		"{\"op\":\"sub\",\"id\":1,\"channel\":\"team.42\\uzzzzx\"}",
		"{\"op\":\"sub\",\"id\":1,\"channel\":\"team.42\\u0:00x\"}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
		expect_bad(frames[i], strlen(frames[i]), SB_ERR_INVAL,
			   "NUL (\\u0000) is not allowed in any field", 1, 1);
}

static void test_parse_trailing_bytes(void **state)
{
	(void)state;
	/* one JSON object per frame: whatever follows it makes the frame
	 * malformed instead of being ignored */
	BAD("{\"op\":\"ping\"} x", "frame is not JSON");
	BAD("{\"op\":\"ping\"}{\"op\":\"sub\",\"id\":1,\"channel\":\"team.42\"}", "frame is not JSON");
	expect_bad("{\"op\":\"ping\"}\0", 14, SB_ERR_INVAL, "frame is not JSON", 0, 0);
}

static void test_parse_not_object(void **state)
{
	(void)state;
	BAD("[]", "frame must be a JSON object");
	BAD("[{\"op\":\"ping\"}]", "frame must be a JSON object");
	BAD("\"hello\"", "frame must be a JSON object");
	BAD("1", "frame must be a JSON object");
	BAD("null", "frame must be a JSON object");
	BAD("true", "frame must be a JSON object");
}

static void test_parse_op_errors(void **state)
{
	(void)state;
	BAD("{}", "op must be a string");
	BAD("{\"op\":1}", "op must be a string");
	BAD("{\"op\":null}", "op must be a string");
	BAD("{\"op\":[\"ping\"]}", "op must be a string");
	BAD("{\"op\":\"pong\"}", "unknown op \"pong\"");
	BAD("{\"op\":\"PING\"}", "unknown op \"PING\"");
	BAD("{\"op\":\"\"}", "unknown op \"\"");
	/* an id that parsed is reported with the error */
	BAD_ID("{\"op\":\"subscribe\",\"id\":9,\"channel\":\"team.42\"}", "unknown op \"subscribe\"", 9);
	BAD_ID("{\"id\":12}", "op must be a string", 12);
}

static void test_parse_id_errors(void **state)
{
	(void)state;
	BAD("{\"op\":\"ping\",\"id\":-1}", "id must be a non-negative integer");
	BAD("{\"op\":\"ping\",\"id\":1.5}", "id must be a non-negative integer");
	BAD("{\"op\":\"ping\",\"id\":\"1\"}", "id must be a non-negative integer");
	BAD("{\"op\":\"ping\",\"id\":null}", "id must be a non-negative integer");
	BAD("{\"op\":\"ping\",\"id\":true}", "id must be a non-negative integer");
	BAD("{\"op\":\"ping\",\"id\":9007199254740993}", "id must be a non-negative integer");
	BAD("{\"op\":\"ping\",\"id\":1e300}", "id must be a non-negative integer");
	BAD("{\"op\":\"ping\",\"id\":-0.5}", "id must be a non-negative integer");
	/* 1.0 and 1e2 are integers */
	{
		struct sb_req r;
		parse_ok("{\"op\":\"ping\",\"id\":1e2}", &r);
		assert_int_equal(r.id, 100);
		sb_req_free(&r);
	}
}

/* The two numbers a client sends, id and sub's since, walked over their
 * range 0 .. 2^53 - 1: min - 1, min, max, max + 1, overflow of any
 * integer type, fractions, and what is not a number. */
static const char *const num_ok[] = {
	"0", "-0", "1", "1.0", "1e2", "9007199254740990", "9007199254740991",
};
static const int64_t num_ok_value[] = {
	0, 0, 1, 1, 100, 9007199254740990LL, 9007199254740991LL,
};
static const char *const num_bad[] = {
	"-1", "-9007199254740991",                              /* min - 1, and below */
	"9007199254740992", "9007199254740993",                 /* max + 1 */
	"9223372036854775807", "9223372036854775808",           /* int64 */
	"18446744073709551616", "1e300", "1e999", "-1e999",     /* overflow */
	"0.5", "2.5", "-0.5", "1e-1",                           /* fractions */
	"\"1\"", "\"\"", "true", "false", "[]", "[1]", "{}",  /* not numbers */
};

static void test_parse_number_ranges(void **state)
{
	char text[160];
	struct sb_req r;
	(void)state;

	for (size_t i = 0; i < SB_ARRAY_LEN(num_ok); i++) {
		snprintf(text, sizeof(text), "{\"op\":\"ping\",\"id\":%s}", num_ok[i]);
		parse_ok(text, &r);
		assert_true(r.has_id && r.id == num_ok_value[i]);
		sb_req_free(&r);
		snprintf(text, sizeof(text), "{\"op\":\"sub\",\"id\":7,\"channel\":\"x\","
			 "\"since\":%s}", num_ok[i]);
		parse_ok(text, &r);
		assert_true(r.has_since && r.since == num_ok_value[i]);
		sb_req_free(&r);
	}
	for (size_t i = 0; i < SB_ARRAY_LEN(num_bad); i++) {
		snprintf(text, sizeof(text), "{\"op\":\"ping\",\"id\":%s}", num_bad[i]);
		BAD(text, "id must be a non-negative integer");
		snprintf(text, sizeof(text), "{\"op\":\"sub\",\"id\":7,\"channel\":\"x\","
			 "\"since\":%s}", num_bad[i]);
		BAD_ID(text, "since must be a non-negative integer", 7);
	}
	/* null: no id is an error, no since is a plain subscription */
	BAD("{\"op\":\"ping\",\"id\":null}", "id must be a non-negative integer");
	parse_ok("{\"op\":\"sub\",\"id\":7,\"channel\":\"x\",\"since\":null}", &r);
	assert_false(r.has_since);
	sb_req_free(&r);
}

static void test_parse_field_errors(void **state)
{
	char *big;
	size_t n;
	(void)state;

	/* missing or mistyped fields */
	BAD_ID("{\"op\":\"sub\",\"id\":1}", "channel must be a string", 1);
	BAD_ID("{\"op\":\"sub\",\"id\":1,\"channel\":42}", "channel must be a string", 1);
	BAD_ID("{\"op\":\"sub\",\"id\":1,\"channel\":null}", "channel must be a string", 1);
	BAD("{\"op\":\"unsub\"}", "channel must be a string");
	BAD("{\"op\":\"sub\",\"channel\":\"team.42\"}", "sub needs an id");
	BAD_ID("{\"op\":\"sub\",\"id\":1,\"channel\":\"x\",\"since\":-1}",
	       "since must be a non-negative integer", 1);
	BAD_ID("{\"op\":\"sub\",\"id\":1,\"channel\":\"x\",\"since\":2.5}",
	       "since must be a non-negative integer", 1);
	BAD_ID("{\"op\":\"sub\",\"id\":1,\"channel\":\"x\",\"since\":\"41\"}",
	       "since must be a non-negative integer", 1);
	BAD("{\"op\":\"hello\",\"token\":42}", "token must be a string");
	BAD("{\"op\":\"hello\",\"token\":{}}", "token must be a string");
	BAD_ID("{\"op\":\"refresh\",\"id\":3}", "refresh needs a token", 3);
	BAD("{\"op\":\"refresh\",\"token\":null}", "refresh needs a token");
	BAD("{\"op\":\"refresh\",\"token\":7}", "token must be a string");
	/* unknown fields, including another op's */
	BAD("{\"op\":\"ping\",\"x\":1}", "unknown field \"x\" for op ping");
	BAD_ID("{\"op\":\"sub\",\"id\":1,\"channel\":\"x\",\"token\":\"t\"}",
	       "unknown field \"token\" for op sub", 1);
	BAD("{\"op\":\"unsub\",\"channel\":\"x\",\"since\":1}", "unknown field \"since\" for op unsub");
	BAD("{\"op\":\"hello\",\"channel\":\"x\"}", "unknown field \"channel\" for op hello");
	BAD("{\"op\":\"refresh\",\"token\":\"t\",\"since\":1}", "unknown field \"since\" for op refresh");
	BAD("{\"op\":\"hello\",\"Token\":\"t\"}", "unknown field \"Token\" for op hello");

	/* token bounds: SB_MAX_TOKEN is fine, one more is SB_ERR_LIMIT */
	n = SB_MAX_TOKEN + 100;
	big = malloc(n + 1);
	assert_non_null(big);
	strcpy(big, "{\"op\":\"hello\",\"token\":\"");
	memset(big + strlen(big), 'a', SB_MAX_TOKEN);
	strcpy(big + strlen("{\"op\":\"hello\",\"token\":\"") + SB_MAX_TOKEN, "\"}");
	{
		struct sb_req r;
		parse_ok(big, &r);
		assert_int_equal(r.token_len, SB_MAX_TOKEN);
		sb_req_free(&r);
	}
	strcpy(big, "{\"op\":\"hello\",\"token\":\"");
	memset(big + strlen(big), 'a', SB_MAX_TOKEN + 1);
	strcpy(big + strlen("{\"op\":\"hello\",\"token\":\"") + SB_MAX_TOKEN + 1, "\"}");
	expect_bad(big, strlen(big), SB_ERR_LIMIT, "token longer than 8192 bytes", 0, 0);
	/* for refresh too, with its id */
	strcpy(big, "{\"op\":\"refresh\",\"id\":5,\"token\":\"");
	memset(big + strlen(big), 'a', SB_MAX_TOKEN + 1);
	strcpy(big + strlen("{\"op\":\"refresh\",\"id\":5,\"token\":\"") + SB_MAX_TOKEN + 1, "\"}");
	expect_bad(big, strlen(big), SB_ERR_LIMIT, "token longer than", 1, 5);
	free(big);
}

/* ---- builders ---------------------------------------------------------------------- */

/* Parses a built frame; the caller deletes the result.  Also unrefs f. */
static cJSON *frame_json(struct sb_frame *f)
{
	cJSON *j;
	const char *end = NULL;

	assert_non_null(f);
	assert_int_equal(f->refs, 1);
	j = cJSON_ParseWithLengthOpts((const char *)sb_frame_data(f), f->len, &end, 0);
	if (!cJSON_IsObject(j))
		fail_msg("frame is not a JSON object: %.*s", (int)f->len, sb_frame_data(f));
	assert_ptr_equal(end, (const char *)sb_frame_data(f) + f->len);   /* nothing after it */
	sb_frame_unref(f);
	return j;
}

static const char *str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsString(v))
		fail_msg("field %s is not a string", k);
	return v->valuestring;
}

static double num_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v))
		fail_msg("field %s is not a number", k);
	return v->valuedouble;
}

static int nkeys(const cJSON *o)
{
	return cJSON_GetArraySize(o);
}

static void test_build_welcome(void **state)
{
	cJSON *j = frame_json(sb_proto_welcome("0123abcd", 25, 128, 65536, 1));
	const cJSON *lim;
	(void)state;

	assert_string_equal(str_of(j, "op"), "welcome");
	assert_string_equal(str_of(j, "session"), "0123abcd");
	assert_int_equal(num_of(j, "heartbeat_s"), 25);
	lim = cJSON_GetObjectItemCaseSensitive(j, "limits");
	assert_true(cJSON_IsObject(lim));
	assert_int_equal(num_of(lim, "max_subscriptions"), 128);
	assert_int_equal(num_of(lim, "max_frame_bytes"), 65536);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "auth")));
	cJSON_Delete(j);
	j = frame_json(sb_proto_welcome("s\"x", 5, 1, 256, 0));
	assert_string_equal(str_of(j, "session"), "s\"x");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "auth")));
	cJSON_Delete(j);
}

static void test_build_ack(void **state)
{
	cJSON *j;
	(void)state;

	j = frame_json(sb_proto_ack(1, "team.42", -1));
	assert_string_equal(str_of(j, "op"), "ack");
	assert_int_equal(num_of(j, "id"), 1);
	assert_string_equal(str_of(j, "channel"), "team.42");
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "recovered"));   /* only with since */
	assert_int_equal(nkeys(j), 3);
	cJSON_Delete(j);
	j = frame_json(sb_proto_ack(2, "deploy." UUID ".logs", 1));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "recovered")));
	cJSON_Delete(j);
	j = frame_json(sb_proto_ack(3, "deploy." UUID ".logs", 0));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "recovered")));
	cJSON_Delete(j);
	/* refresh/unsub acks: no channel */
	j = frame_json(sb_proto_ack(9007199254740991LL, NULL, -1));
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "channel"));
	assert_true(num_of(j, "id") == 9007199254740991.0);
	assert_int_equal(nkeys(j), 2);
	cJSON_Delete(j);
}

static void test_build_error(void **state)
{
	static const char *const names[] = {
		"bad_request", "unauthorized", "forbidden", "not_found", "too_many_subscriptions",
		"rate_limited", "token_expired", "internal",
	};
	cJSON *j;
	(void)state;

	for (int c = SB_CODE_BAD_REQUEST; c <= SB_CODE_INTERNAL; c++) {
		assert_string_equal(sb_code_name((enum sb_code)c), names[c]);
		j = frame_json(sb_proto_error(1, 7, (enum sb_code)c, "team.43", "m"));
		assert_string_equal(str_of(j, "op"), "error");
		assert_string_equal(str_of(j, "code"), names[c]);
		assert_int_equal(num_of(j, "id"), 7);
		assert_string_equal(str_of(j, "channel"), "team.43");
		assert_string_equal(str_of(j, "message"), "m");
		cJSON_Delete(j);
	}
	assert_string_equal(sb_code_name((enum sb_code)99), "internal");
	/* no id, no channel; a message with characters that need escaping */
	j = frame_json(sb_proto_error(0, 0, SB_CODE_FORBIDDEN, NULL,
				      "team \"43\" is\nnot in your token \\ \x01 \xff"));
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "id"));
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "channel"));
	assert_string_equal(str_of(j, "message"),
			    "team \"43\" is\nnot in your token \\ \x01 \xef\xbf\xbd");
	assert_int_equal(nkeys(j), 3);
	cJSON_Delete(j);
	/* a channel the client sent is escaped too */
	j = frame_json(sb_proto_error(1, 1, SB_CODE_BAD_REQUEST, "a\"},\"x\":{\"", "bad"));
	assert_string_equal(str_of(j, "channel"), "a\"},\"x\":{\"");
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "x"));
	cJSON_Delete(j);
}

static void test_build_pong(void **state)
{
	cJSON *j;
	(void)state;

	j = frame_json(sb_proto_pong(1, 4));
	assert_string_equal(str_of(j, "op"), "pong");
	assert_int_equal(num_of(j, "id"), 4);
	cJSON_Delete(j);
	j = frame_json(sb_proto_pong(0, 4));
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "id"));
	assert_int_equal(nkeys(j), 1);
	cJSON_Delete(j);
}

static void test_build_event(void **state)
{
	static const char data[] = "{\"status\":\"running\",\"n\":[1,2]}";
	cJSON *j;
	const cJSON *d;
	(void)state;

	j = frame_json(sb_proto_event("team.42", "app.status", "team/42/app/" UUID "/status", 1,
				      data, strlen(data)));
	assert_string_equal(str_of(j, "op"), "event");
	assert_string_equal(str_of(j, "channel"), "team.42");
	assert_string_equal(str_of(j, "event"), "app.status");
	assert_string_equal(str_of(j, "topic"), "team/42/app/" UUID "/status");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retained")));
	d = cJSON_GetObjectItemCaseSensitive(j, "data");
	assert_true(cJSON_IsObject(d));
	assert_string_equal(str_of(d, "status"), "running");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "n")), 2);
	assert_int_equal(nkeys(j), 6);
	cJSON_Delete(j);
	/* only data_len bytes of data are used */
	j = frame_json(sb_proto_event("user.u1", "notify", "user/u1/notify", 0, "[1]trailing", 3));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "retained")));
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "data")));
	cJSON_Delete(j);
	/* deleted: data is null */
	j = frame_json(sb_proto_event("team.42", "deleted", "team/42/app/" UUID "/status", 1, NULL, 0));
	assert_string_equal(str_of(j, "event"), "deleted");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "data")));
	cJSON_Delete(j);
}

static void test_build_gap(void **state)
{
	cJSON *j = frame_json(sb_proto_gap("deploy." UUID ".logs", 44, 97, 54));
	(void)state;

	assert_string_equal(str_of(j, "op"), "gap");
	assert_string_equal(str_of(j, "channel"), "deploy." UUID ".logs");
	assert_int_equal(num_of(j, "from"), 44);
	assert_int_equal(num_of(j, "to"), 97);
	assert_int_equal(num_of(j, "lines"), 54);
	cJSON_Delete(j);
}

static void test_build_batch(void **state)
{
	struct sb_buf b;
	cJSON *j;
	const cJSON *ev;
	static const char *const items[] = {
		"{\"seq\":42,\"msg\":\"a\"}", "{\"seq\":43,\"msg\":\"b\"}", "{\"seq\":44,\"msg\":\"c\"}",
	};
	(void)state;

	sb_proto_batch_begin(&b, "deploy." UUID ".logs", "deploy.log");
	for (size_t i = 0; i < 3; i++)
		sb_proto_batch_add(&b, i == 0, items[i], strlen(items[i]));
	j = frame_json(sb_proto_batch_end(&b));
	assert_string_equal(str_of(j, "op"), "batch");
	assert_string_equal(str_of(j, "channel"), "deploy." UUID ".logs");
	assert_string_equal(str_of(j, "event"), "deploy.log");
	ev = cJSON_GetObjectItemCaseSensitive(j, "events");
	assert_true(cJSON_IsArray(ev));
	assert_int_equal(cJSON_GetArraySize(ev), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(num_of(cJSON_GetArrayItem(ev, i), "seq"), 42 + i);
	cJSON_Delete(j);

	/* one item, and none */
	sb_proto_batch_begin(&b, "c", "e");
	sb_proto_batch_add(&b, 1, items[0], strlen(items[0]));
	j = frame_json(sb_proto_batch_end(&b));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "events")), 1);
	cJSON_Delete(j);
	sb_proto_batch_begin(&b, "c", "e");
	j = frame_json(sb_proto_batch_end(&b));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "events")), 0);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_hello),
		cmocka_unit_test(test_parse_sub),
		cmocka_unit_test(test_parse_unsub_refresh_ping),
		cmocka_unit_test(test_parse_length_bounds_input),
		cmocka_unit_test(test_parse_not_json),
		cmocka_unit_test(test_parse_nul_escapes),
		cmocka_unit_test(test_parse_trailing_bytes),
		cmocka_unit_test(test_parse_not_object),
		cmocka_unit_test(test_parse_op_errors),
		cmocka_unit_test(test_parse_id_errors),
		cmocka_unit_test(test_parse_number_ranges),
		cmocka_unit_test(test_parse_field_errors),
		cmocka_unit_test(test_build_welcome),
		cmocka_unit_test(test_build_ack),
		cmocka_unit_test(test_build_error),
		cmocka_unit_test(test_build_pong),
		cmocka_unit_test(test_build_event),
		cmocka_unit_test(test_build_gap),
		cmocka_unit_test(test_build_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
