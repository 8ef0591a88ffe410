/* SPDX-License-Identifier: MIT
 *
 * test_pusher_codec.c - unit tests for pusher_codec.c, the Pusher Channels
 * protocol 7 wire format (docs/pusher.md), with no hub behind it.
 *
 * Channel name forms, socket ids, the HMAC-SHA256 signature (Pusher's
 * published example vector; every wrong key, secret, socket id and channel;
 * the comparison always through CRYPTO_memcmp over all 64 digits, checked
 * by interposing CRYPTO_memcmp), the client frame parser and the frame
 * builders.  The session on top is test_pusher.c and test_pusher_channels.c.
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
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "frame.h"
#include "pusher_codec.h"

#include "pusher_json.h"

#define KEY "app-key"
#define SECRET "app-secret"
#define A1 "aaaaaaaa-0000-0000-0000-000000000001"
#define D1 "0b8f7c1e-1111-2222-3333-444455556666"

#include "memcmp_spy.h"

/* ---- names and socket ids --------------------------------------------------------- */

static void test_name_forms(void **state)
{
	const char *base;
	(void)state;

	assert_int_equal(sb_pusher_name_parse("private-team.42", &base), SB_PUSHER_PRIVATE);
	assert_string_equal(base, "team.42");
	assert_int_equal(sb_pusher_name_parse("private-cache-team.42", &base), SB_PUSHER_PRIVATE_CACHE);
	assert_string_equal(base, "team.42");
	assert_int_equal(sb_pusher_name_parse("cache-public.acme", &base), SB_PUSHER_CACHE);
	assert_string_equal(base, "public.acme");
	assert_int_equal(sb_pusher_name_parse("public.acme", &base), SB_PUSHER_PUBLIC);
	assert_string_equal(base, "public.acme");
	assert_int_equal(sb_pusher_name_parse("presence-team.42", &base), SB_PUSHER_PRESENCE);
	assert_string_equal(base, "team.42");
	assert_int_equal(sb_pusher_name_parse("private-encrypted-team.42", &base),
			 SB_PUSHER_UNSUPPORTED);
	/* only a whole prefix counts */
	assert_int_equal(sb_pusher_name_parse("privateteam.42", &base), SB_PUSHER_PUBLIC);
	assert_int_equal(sb_pusher_name_parse("private-", &base), SB_PUSHER_PRIVATE);
	assert_string_equal(base, "");
	assert_string_equal(sb_pusher_name_prefix(SB_PUSHER_PUBLIC), "");
	assert_string_equal(sb_pusher_name_prefix(SB_PUSHER_PRIVATE), "private-");
	assert_string_equal(sb_pusher_name_prefix(SB_PUSHER_PRIVATE_CACHE), "private-cache-");
	assert_string_equal(sb_pusher_name_prefix(SB_PUSHER_CACHE), "cache-");
	assert_string_equal(sb_pusher_name_prefix(SB_PUSHER_PRESENCE), "presence-");
}

static void test_name_predicates(void **state)
{
	(void)state;

	assert_false(sb_pusher_name_is_private(SB_PUSHER_PUBLIC));
	assert_true(sb_pusher_name_is_private(SB_PUSHER_PRIVATE));
	assert_true(sb_pusher_name_is_private(SB_PUSHER_PRIVATE_CACHE));
	assert_false(sb_pusher_name_is_private(SB_PUSHER_CACHE));
	assert_true(sb_pusher_name_is_private(SB_PUSHER_PRESENCE));   /* signed */
	assert_false(sb_pusher_name_is_cache(SB_PUSHER_PRESENCE));
	assert_false(sb_pusher_name_is_private(SB_PUSHER_UNSUPPORTED));
	assert_false(sb_pusher_name_is_cache(SB_PUSHER_PUBLIC));
	assert_false(sb_pusher_name_is_cache(SB_PUSHER_PRIVATE));
	assert_true(sb_pusher_name_is_cache(SB_PUSHER_PRIVATE_CACHE));
	assert_true(sb_pusher_name_is_cache(SB_PUSHER_CACHE));
	assert_false(sb_pusher_name_is_cache(SB_PUSHER_UNSUPPORTED));
}

static void test_socket_id(void **state)
{
	char id[SB_PUSHER_SOCKET_ID_MAX];
	(void)state;

	sb_pusher_make_socket_id("0000007b000001c8ffffffffffffffff", id, sizeof(id));
	assert_string_equal(id, "123.456");
	sb_pusher_make_socket_id("ffffffffffffffff0000000000000000", id, sizeof(id));
	assert_string_equal(id, "4294967295.4294967295");
	assert_true(sb_pusher_socket_id_valid(id));
	sb_pusher_make_socket_id("short", id, sizeof(id));
	assert_true(sb_pusher_socket_id_valid(id));

	assert_true(sb_pusher_socket_id_valid("1.2"));
	assert_true(sb_pusher_socket_id_valid("12345678901234567890.1"));
	assert_false(sb_pusher_socket_id_valid("123456789012345678901.1"));
	assert_false(sb_pusher_socket_id_valid(""));
	assert_false(sb_pusher_socket_id_valid("1"));
	assert_false(sb_pusher_socket_id_valid("1."));
	assert_false(sb_pusher_socket_id_valid(".1"));
	assert_false(sb_pusher_socket_id_valid("1.2.3"));
	assert_false(sb_pusher_socket_id_valid("1.2 "));
	assert_false(sb_pusher_socket_id_valid("-1.2"));
	assert_false(sb_pusher_socket_id_valid("1:2"));
	assert_false(sb_pusher_socket_id_valid("a.b"));
}

/* ---- signatures -------------------------------------------------------------------- */

static void test_sign_pusher_example(void **state)
{
	char hex[65];
	(void)state;

	/* the example of Pusher's "Generating the authentication signature" */
	assert_int_equal(sb_pusher_sign("7ad3773142a6692b25b8", "1234.1234", "private-foobar", hex),
			 SB_OK);
	assert_string_equal(hex, "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");
}

static void test_sign_matches_openssl(void **state)
{
	unsigned char mac[32];
	unsigned int n = 0;
	char want[65], hex[65];
	const char *msg = "99.100:private-cache-deploy." D1 ".logs";
	(void)state;

	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)msg, strlen(msg),
	     mac, &n);
	for (unsigned int i = 0; i < n; i++)
		snprintf(want + 2 * i, 3, "%02x", mac[i]);
	assert_int_equal(sb_pusher_sign(SECRET, "99.100", "private-cache-deploy." D1 ".logs", hex),
			 SB_OK);
	assert_string_equal(hex, want);
}

static enum sb_err verify(const char *key, const char *secret, const char *sid,
			  const char *channel, const char *auth)
{
	char reason[256] = "";
	enum sb_err rc = sb_pusher_verify(key, secret, sid, channel, auth, reason, sizeof(reason));

	if (rc != SB_OK)
		assert_true(reason[0] != '\0');
	return rc;
}

static void test_verify(void **state)
{
	char hex[65], auth[128], bad[128];
	(void)state;

	assert_int_equal(sb_pusher_sign(SECRET, "1.2", "private-team.42", hex), SB_OK);
	snprintf(auth, sizeof(auth), KEY ":%s", hex);
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", auth), SB_OK);

	/* wrong key in auth, wrong secret, wrong socket id, wrong channel */
	snprintf(bad, sizeof(bad), "other-key:%s", hex);
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", bad), SB_ERR_DENIED);
	assert_int_equal(verify("other-key", SECRET, "1.2", "private-team.42", auth), SB_ERR_DENIED);
	assert_int_equal(verify(KEY, "other-secret", "1.2", "private-team.42", auth), SB_ERR_DENIED);
	assert_int_equal(verify(KEY, SECRET, "1.3", "private-team.42", auth), SB_ERR_DENIED);
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.43", auth), SB_ERR_DENIED);
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-cache-team.42", auth), SB_ERR_DENIED);
	assert_int_equal(verify(KEY, SECRET, "1.2", "team.42", auth), SB_ERR_DENIED);

	/* missing and malformed */
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", NULL), SB_ERR_DENIED);
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", ""), SB_ERR_DENIED);
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", hex), SB_ERR_DENIED);
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", KEY), SB_ERR_DENIED);
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", KEY ":"), SB_ERR_DENIED);
	snprintf(bad, sizeof(bad), KEY "%s", hex);           /* no colon */
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", bad), SB_ERR_DENIED);
	snprintf(bad, sizeof(bad), KEY ":%.63s", hex);       /* one digit short */
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", bad), SB_ERR_DENIED);
	snprintf(bad, sizeof(bad), KEY ":%s0", hex);         /* one digit more */
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", bad), SB_ERR_DENIED);
	snprintf(bad, sizeof(bad), KEY "::%s", hex);
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", bad), SB_ERR_DENIED);
	/* hex is lower case, as every Pusher server library writes it */
	snprintf(bad, sizeof(bad), KEY ":%s", hex);
	for (char *p = bad; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(verify(KEY, SECRET, "1.2", "private-team.42", bad), SB_ERR_DENIED);
}

/* A signature wrong in its first digit and one wrong in its last take the
 * same path: one CRYPTO_memcmp over all 64 digits each (no strcmp, no
 * early exit). */
static void test_verify_constant_time(void **state)
{
	char hex[65], bad[128];
	size_t kl = strlen(KEY ":");
	(void)state;

	assert_int_equal(sb_pusher_sign(SECRET, "7.8", "private-user.u1", hex), SB_OK);
	snprintf(bad, sizeof(bad), KEY ":%s", hex);

	memcmp_calls = 0;
	assert_int_equal(verify(KEY, SECRET, "7.8", "private-user.u1", bad), SB_OK);
	assert_int_equal(memcmp_calls, 1);
	assert_int_equal(memcmp_last_len, 64);

	bad[kl] = bad[kl] == '0' ? '1' : '0';
	memcmp_calls = 0;
	assert_int_equal(verify(KEY, SECRET, "7.8", "private-user.u1", bad), SB_ERR_DENIED);
	assert_int_equal(memcmp_calls, 1);
	assert_int_equal(memcmp_last_len, 64);
	bad[kl] = hex[0];

	bad[kl + 63] = bad[kl + 63] == '0' ? '1' : '0';
	memcmp_calls = 0;
	assert_int_equal(verify(KEY, SECRET, "7.8", "private-user.u1", bad), SB_ERR_DENIED);
	assert_int_equal(memcmp_calls, 1);
	assert_int_equal(memcmp_last_len, 64);
}

/* ---- client frames ------------------------------------------------------------------- */

static enum sb_err parse(const char *text, struct sb_pusher_msg *m)
{
	char reason[256] = "";
	enum sb_err rc = sb_pusher_parse(text, strlen(text), m, reason, sizeof(reason));

	if (rc != SB_OK)
		assert_true(reason[0] != '\0');
	return rc;
}

static void test_parse(void **state)
{
	struct sb_pusher_msg m;
	char big[600];
	(void)state;

	/* pusher-js: data as an object */
	assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"k:ab\","
			       "\"channel\":\"private-team.42\"}}", &m), SB_OK);
	assert_int_equal(m.op, SB_PUSHER_OP_SUBSCRIBE);
	assert_string_equal(m.channel, "private-team.42");
	assert_string_equal(m.auth, "k:ab");
	sb_pusher_msg_free(&m);
	/* other clients: data as a string of JSON; auth absent or null */
	assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":"
			       "\"{\\\"channel\\\":\\\"public.acme\\\"}\"}", &m), SB_OK);
	assert_string_equal(m.channel, "public.acme");
	assert_null(m.auth);
	sb_pusher_msg_free(&m);
	assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"x\","
			       "\"auth\":null,\"channel_data\":\"{}\"}}", &m), SB_OK);
	assert_null(m.auth);
	sb_pusher_msg_free(&m);
	assert_int_equal(parse("{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"x\"}}", &m),
			 SB_OK);
	assert_int_equal(m.op, SB_PUSHER_OP_UNSUBSCRIBE);
	assert_string_equal(m.channel, "x");
	sb_pusher_msg_free(&m);
	assert_int_equal(parse("{\"event\":\"pusher:ping\",\"data\":{}}", &m), SB_OK);
	assert_int_equal(m.op, SB_PUSHER_OP_PING);
	sb_pusher_msg_free(&m);
	assert_int_equal(parse("{\"event\":\"pusher:pong\"}", &m), SB_OK);
	assert_int_equal(m.op, SB_PUSHER_OP_PONG);
	sb_pusher_msg_free(&m);
	assert_int_equal(parse("{\"event\":\"client-typing\",\"channel\":\"private-team.42\","
			       "\"data\":{\"who\":\"me\"}}", &m), SB_OK);
	assert_int_equal(m.op, SB_PUSHER_OP_CLIENT_EVENT);
	assert_string_equal(m.channel, "private-team.42");
	assert_true(cJSON_IsObject(m.data));
	sb_pusher_msg_free(&m);
	assert_int_equal(parse("{\"event\":\"pusher:signin\",\"data\":{}}", &m), SB_OK);
	assert_int_equal(m.op, SB_PUSHER_OP_OTHER);
	sb_pusher_msg_free(&m);

	/* refused */
	assert_int_equal(parse("not json", &m), SB_ERR_INVAL);
	assert_int_equal(parse("[1,2]", &m), SB_ERR_INVAL);
	assert_int_equal(parse("{\"data\":{}}", &m), SB_ERR_INVAL);
	assert_int_equal(parse("{\"event\":7}", &m), SB_ERR_INVAL);
	assert_int_equal(parse("{\"event\":\"pusher:subscribe\"}", &m), SB_ERR_INVAL);
	assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":5}}", &m),
			 SB_ERR_INVAL);
	assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"x\","
			       "\"auth\":5}}", &m), SB_ERR_INVAL);
	assert_int_equal(parse("{\"event\":\"pusher:unsubscribe\",\"data\":\"nope\"}", &m),
			 SB_ERR_INVAL);
	assert_int_equal(parse("{\"event\":\"client-x\",\"data\":{}}", &m), SB_ERR_INVAL);
	/* cJSON would cut the name at the NUL: "private-team.42" */
	assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
			       "\"private-team.42\\u0000x\"}}", &m), SB_ERR_INVAL);
	assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":"
			       "\"{\\\"channel\\\":\\\"team.42\\\\u0000x\\\"}\"}", &m), SB_ERR_INVAL);
	/* a \u without four hex digits is a NUL for cJSON too (tests/fuzz) */
	assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
			       "\"private-team.42\\uzzzzx\"}}", &m), SB_ERR_INVAL);
	/* an escaped backslash before u0000 is not a NUL */
	assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":"
			       "\"x\\\\u0000\"}}", &m), SB_OK);
	assert_string_equal(m.channel, "x\\u0000");
	sb_pusher_msg_free(&m);
	memset(big, 'a', sizeof(big));
	memcpy(big, "{\"event\":\"", 10);
	memcpy(big + 10 + SB_PUSHER_MAX_EVENT_NAME + 1, "\"}", 3);
	assert_int_equal(parse(big, &m), SB_ERR_INVAL);
	snprintf(big, sizeof(big), "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"private-%0300d\"}}", 0);
	assert_int_equal(parse(big, &m), SB_ERR_INVAL);
}

/* ---- frames -------------------------------------------------------------------------- */

static cJSON *frame_json(struct sb_frame *f)
{
	cJSON *j;

	assert_non_null(f);
	j = cJSON_ParseWithLength((const char *)sb_frame_data(f), f->len);
	assert_non_null(j);
	sb_frame_unref(f);
	return j;
}

static void test_event_frames(void **state)
{
	cJSON *j, *d;
	const char *payload = "{\"ts\":\"t\",\"status\":\"running\",\"reason\":\"a \\\"quote\\\"\"}";
	(void)state;

	j = frame_json(sb_pusher_event_frame(SB_PUSHER_PRIVATE, "team.42", "app.status",
					     "team/42/app/" A1 "/status", 1, payload, strlen(payload)));
	assert_string_equal(str(j, "event"), "app.status");
	assert_string_equal(str(j, "channel"), "private-team.42");
	/* data is a string of JSON */
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "data")));
	d = data_of(j);
	assert_string_equal(str(d, "topic"), "team/42/app/" A1 "/status");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "retained")));
	assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(d, "data"), "reason"), "a \"quote\"");
	cJSON_Delete(d);
	cJSON_Delete(j);

	j = frame_json(sb_pusher_event_frame(SB_PUSHER_PRIVATE_CACHE, "team.42", "deleted",
					     "team/42/app/" A1 "/status", 1, NULL, 0));
	assert_string_equal(str(j, "channel"), "private-cache-team.42");
	assert_string_equal(str(j, "event"), "deleted");
	d = data_of(j);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "data")));
	cJSON_Delete(d);
	cJSON_Delete(j);

	j = frame_json(sb_pusher_event_frame(SB_PUSHER_PUBLIC, "public.acme", "public.status",
					     "public/acme/status", 0, "{}", 2));
	assert_string_equal(str(j, "channel"), "public.acme");
	d = data_of(j);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(d, "retained")));
	cJSON_Delete(d);
	cJSON_Delete(j);

	j = frame_json(sb_pusher_event_frame(SB_PUSHER_CACHE, "public.acme", "public.status",
					     "public/acme/status", 1, "{}", 2));
	assert_string_equal(str(j, "channel"), "cache-public.acme");
	cJSON_Delete(j);
}

static void test_batch_and_gap_frames(void **state)
{
	struct sb_msg *items[3];
	cJSON *j, *d;
	(void)state;

	for (int i = 0; i < 3; i++) {
		char p[64];
		snprintf(p, sizeof(p), "{\"seq\":%d,\"msg\":\"line %d\"}", 41 + i, 41 + i);
		items[i] = sb_msg_create("deploy/" D1 "/logs", strlen("deploy/" D1 "/logs"), p,
					 strlen(p), 0);
	}
	j = frame_json(sb_pusher_batch_frame(SB_PUSHER_PRIVATE, "deploy." D1 ".logs", "deploy.log",
					     items, 3));
	assert_string_equal(str(j, "event"), "deploy.log.batch");
	assert_string_equal(str(j, "channel"), "private-deploy." D1 ".logs");
	d = data_of(j);
	assert_true(cJSON_IsArray(d));
	assert_int_equal(cJSON_GetArraySize(d), 3);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 2), "seq")->valueint, 43);
	cJSON_Delete(d);
	cJSON_Delete(j);
	for (int i = 0; i < 3; i++)
		sb_msg_unref(items[i]);

	j = frame_json(sb_pusher_gap_frame(SB_PUSHER_PRIVATE_CACHE, "deploy." D1 ".logs", 44, 97, 54));
	assert_string_equal(str(j, "event"), "statusbus:gap");
	assert_string_equal(str(j, "channel"), "private-cache-deploy." D1 ".logs");
	assert_int_equal(data_int(j, "from"), 44);
	assert_int_equal(data_int(j, "to"), 97);
	assert_int_equal(data_int(j, "lines"), 54);
	cJSON_Delete(j);
}

/* The frames the session sends on its own (not per channel fan-out). */
static void test_protocol_frames(void **state)
{
	cJSON *j, *d, *obj;
	(void)state;

	j = frame_json(sb_pusher_connection_established_frame("123.456", 120));
	assert_string_equal(str(j, "event"), "pusher:connection_established");
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "channel"));
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "data")));
	d = data_of(j);
	assert_string_equal(str(d, "socket_id"), "123.456");
	assert_int_equal(data_int(j, "activity_timeout"), 120);
	cJSON_Delete(d);
	cJSON_Delete(j);

	/* the name the client subscribed with */
	j = frame_json(sb_pusher_subscription_succeeded_frame(SB_PUSHER_PRIVATE_CACHE, "team.42"));
	assert_string_equal(str(j, "event"), "pusher_internal:subscription_succeeded");
	assert_string_equal(str(j, "channel"), "private-cache-team.42");
	assert_string_equal(str(j, "data"), "{}");
	cJSON_Delete(j);

	j = frame_json(sb_pusher_cache_miss_frame(SB_PUSHER_CACHE, "public.acme"));
	assert_string_equal(str(j, "event"), "pusher:cache_miss");
	assert_string_equal(str(j, "channel"), "cache-public.acme");
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "data"));
	cJSON_Delete(j);

	/* the name as sent, prefix and all; the error text escaped */
	j = frame_json(sb_pusher_subscription_error_frame("private-team.42", "AuthError",
							  "bad \"sig\"", 401));
	assert_string_equal(str(j, "event"), "pusher:subscription_error");
	assert_string_equal(str(j, "channel"), "private-team.42");
	d = data_of(j);
	assert_string_equal(str(d, "type"), "AuthError");
	assert_string_equal(str(d, "error"), "bad \"sig\"");
	assert_int_equal(data_int(j, "status"), 401);
	cJSON_Delete(d);
	cJSON_Delete(j);

	j = frame_json(sb_pusher_ping_frame());
	assert_string_equal(str(j, "event"), "pusher:ping");
	assert_string_equal(str(j, "data"), "{}");
	cJSON_Delete(j);
	j = frame_json(sb_pusher_pong_frame());
	assert_string_equal(str(j, "event"), "pusher:pong");
	assert_string_equal(str(j, "data"), "{}");
	cJSON_Delete(j);

	/* pusher:error: data is an object; a negative code is null */
	j = frame_json(sb_pusher_error_frame(SB_PUSHER_CLOSE_APP_UNKNOWN, "Application does not exist"));
	assert_string_equal(str(j, "event"), "pusher:error");
	obj = cJSON_GetObjectItemCaseSensitive(j, "data");
	assert_true(cJSON_IsObject(obj));
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(obj, "code")->valueint, 4001);
	assert_string_equal(str(obj, "message"), "Application does not exist");
	cJSON_Delete(j);
	j = frame_json(sb_pusher_error_frame(-1, "Unsupported event x"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "data"), "code")));
	cJSON_Delete(j);
}

/* A relayed client event carries its data as a string of JSON, whichever
 * way the sender wrote it. */
static void test_client_event_frame(void **state)
{
	cJSON *src, *j, *d;
	(void)state;

	src = cJSON_Parse("{\"who\":\"a\"}");
	j = frame_json(sb_pusher_client_event_frame("client-typing", "private-team.42", src));
	assert_string_equal(str(j, "event"), "client-typing");
	assert_string_equal(str(j, "channel"), "private-team.42");
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "data")));
	d = data_of(j);
	assert_string_equal(str(d, "who"), "a");
	cJSON_Delete(d);
	cJSON_Delete(j);
	cJSON_Delete(src);

	/* a string is passed on as it is */
	src = cJSON_CreateString("{\"n\":1}");
	j = frame_json(sb_pusher_client_event_frame("client-x", "private-team.42", src));
	assert_string_equal(str(j, "data"), "{\"n\":1}");
	cJSON_Delete(j);
	cJSON_Delete(src);

	j = frame_json(sb_pusher_client_event_frame("client-x", "private-team.42", NULL));
	assert_string_equal(str(j, "data"), "null");
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_forms),
		cmocka_unit_test(test_name_predicates),
		cmocka_unit_test(test_socket_id),
		cmocka_unit_test(test_sign_pusher_example),
		cmocka_unit_test(test_sign_matches_openssl),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_constant_time),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_event_frames),
		cmocka_unit_test(test_batch_and_gap_frames),
		cmocka_unit_test(test_protocol_frames),
		cmocka_unit_test(test_client_event_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
