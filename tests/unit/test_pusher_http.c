/* SPDX-License-Identifier: MIT
 *
 * test_pusher_http.c - unit tests for pusher_http.c (the Pusher HTTP API's
 * paths, query parameters, authentication and POST bodies) and relay.c
 * (the pusher/<channel>/<event> topics and payloads its events travel in).
 *
 * The signature is checked against an independent computation (OpenSSL's
 * HMAC over the string built here by hand, the way Pusher's documentation
 * and its server SDKs build it), every refusal against its status and
 * message, and the comparison through CRYPTO_memcmp over all 64 digits
 * (interposed here).
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

#include "chanmap.h"
#include "frame.h"
#include "ingest.h"
#include "proto_v1.h"
#include "pusher_codec.h"
#include "pusher_http.h"
#include "relay.h"

#define KEY "278d425bdf160c739803"
#define SECRET "7ad3773142a6692b25b8"
#define NOW 1353088179

#include "memcmp_spy.h"

static void hmac_hex(const char *msg, char out[65])
{
	unsigned char mac[32];
	unsigned int n = 0;

	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)msg, strlen(msg), mac,
	     &n);
	for (unsigned int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", mac[i]);
}

static void md5_hex(const char *s, char out[33])
{
	unsigned char md[16];
	unsigned int n = 0;

	EVP_Digest(s, strlen(s), md, &n, EVP_md5(), NULL);
	for (unsigned int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void add(struct sb_pusher_http_req *r, const char *frag)
{
	struct sb_pusher_http_error e;

	assert_int_equal(sb_pusher_http_add_param(r, frag, strlen(frag), &e), SB_OK);
}

/* A POST request signed as the SDKs sign it; sig NULL = the right one. */
static void signed_post(struct sb_pusher_http_req *r, const char *body, long ts, const char *sig)
{
	char md5[33], q[512], want[65], frag[600];

	md5_hex(body, md5);
	sb_pusher_http_req_init(r, "POST", "/apps/3/events", body, strlen(body));
	snprintf(q, sizeof(q), "POST\n/apps/3/events\nauth_key=" KEY "&auth_timestamp=%ld"
		 "&auth_version=1.0&body_md5=%s", ts, md5);
	hmac_hex(q, want);
	/* in another order than sorted: the bridge sorts */
	snprintf(frag, sizeof(frag), "body_md5=%s", md5);
	add(r, frag);
	snprintf(frag, sizeof(frag), "auth_signature=%s", sig ? sig : want);
	add(r, frag);
	add(r, "auth_version=1.0");
	snprintf(frag, sizeof(frag), "AUTH_TIMESTAMP=%ld", ts);   /* keys are lower-cased */
	add(r, frag);
	add(r, "auth_key=" KEY);
}

static void expect(enum sb_err rc, const struct sb_pusher_http_error *e, int status,
		   const char *text)
{
	assert_int_not_equal(rc, SB_OK);
	assert_int_equal(e->status, status);
	if (!strstr(e->message, text))
		fail_msg("\"%s\" does not say \"%s\"", e->message, text);
}

static void test_route(void **state)
{
	struct sb_pusher_http_error e;
	char ch[SB_PUSHER_HTTP_MAX_CHANNEL + 1];
	char long_name[300];

	(void)state;
	assert_int_equal(sb_pusher_http_route("POST", "/apps/3/events", "3", ch, &e), SB_PUSHER_HTTP_EVENTS);
	assert_int_equal(sb_pusher_http_route("POST", "/apps/3/batch_events", "3", ch, &e), SB_PUSHER_HTTP_BATCH);
	assert_int_equal(sb_pusher_http_route("GET", "/apps/3/channels", "3", ch, &e), SB_PUSHER_HTTP_CHANNELS);
	assert_int_equal(sb_pusher_http_route("GET", "/apps/3/channels/private-team.42", "3", ch, &e),
			 SB_PUSHER_HTTP_CHANNEL);
	assert_string_equal(ch, "private-team.42");
	assert_int_equal(sb_pusher_http_route("GET", "/apps/3/channels/presence-x/users", "3", ch, &e),
			 SB_PUSHER_HTTP_USERS);
	assert_string_equal(ch, "presence-x");
	/* another app, a prefix of the app id, no such endpoint, wrong method */
	assert_int_equal(sb_pusher_http_route("POST", "/apps/4/events", "3", ch, &e), SB_PUSHER_HTTP_NONE);
	assert_int_equal(e.status, 404);
	assert_int_equal(sb_pusher_http_route("POST", "/apps/33/events", "3", ch, &e), SB_PUSHER_HTTP_NONE);
	assert_int_equal(e.status, 404);
	assert_int_equal(sb_pusher_http_route("GET", "/apps/3/other", "3", ch, &e), SB_PUSHER_HTTP_NONE);
	assert_int_equal(e.status, 404);
	assert_int_equal(sb_pusher_http_route("GET", "/apps/3/channels/x/members", "3", ch, &e), SB_PUSHER_HTTP_NONE);
	assert_int_equal(e.status, 404);
	assert_int_equal(sb_pusher_http_route("GET", "/apps/3/events", "3", ch, &e), SB_PUSHER_HTTP_NONE);
	assert_int_equal(e.status, 405);
	assert_int_equal(sb_pusher_http_route("POST", "/apps/3/channels", "3", ch, &e), SB_PUSHER_HTTP_NONE);
	assert_int_equal(e.status, 405);
	assert_int_equal(sb_pusher_http_route("GET", "/apps/3/channels/a+b", "3", ch, &e), SB_PUSHER_HTTP_NONE);
	assert_int_equal(e.status, 400);
	assert_int_equal(sb_pusher_http_route("GET", "/apps/3/channels/", "3", ch, &e), SB_PUSHER_HTTP_NONE);
	assert_int_equal(e.status, 400);
	memset(long_name, 'a', 201);
	snprintf(long_name, sizeof(long_name), "/apps/3/channels/%0201d", 0);
	assert_int_equal(sb_pusher_http_route("GET", long_name, "3", ch, &e), SB_PUSHER_HTTP_NONE);
	assert_int_equal(e.status, 400);
	assert_true(sb_pusher_http_is_api("/apps/"));
	assert_false(sb_pusher_http_is_api("/app/x"));
}

static void test_params(void **state)
{
	struct sb_pusher_http_req r;
	struct sb_pusher_http_error e;
	char big[SB_PUSHER_HTTP_MAX_PARAM + 2];

	(void)state;
	sb_pusher_http_req_init(&r, "GET", "/apps/3/channels", NULL, 0);
	add(&r, "Filter_By_Prefix=private-");
	add(&r, "flag");
	assert_string_equal(sb_pusher_http_param(&r, "filter_by_prefix"), "private-");
	assert_string_equal(sb_pusher_http_param(&r, "flag"), "");
	assert_null(sb_pusher_http_param(&r, "info"));
	expect(sb_pusher_http_add_param(&r, "FLAG=1", 6, &e), &e, 400, "given twice");
	expect(sb_pusher_http_add_param(&r, "=1", 2, &e), &e, 400, "malformed");
	expect(sb_pusher_http_add_param(&r, "a\0b=1", 5, &e), &e, 400, "malformed");
	memset(big, 'x', sizeof(big));
	expect(sb_pusher_http_add_param(&r, big, SB_PUSHER_HTTP_MAX_PARAM + 1, &e), &e, 400, "over");
	for (int i = (int)r.nparams; i < SB_PUSHER_HTTP_MAX_PARAMS; i++) {
		char f[16];
		snprintf(f, sizeof(f), "p%d=1", i);
		add(&r, f);
	}
	expect(sb_pusher_http_add_param(&r, "one=more", 8, &e), &e, 400, "More than");
	sb_pusher_http_req_free(&r);
}

static void test_string_to_sign(void **state)
{
	struct sb_pusher_http_req r;
	char *s;

	(void)state;
	/* Pusher's documented example: keys sorted, values unescaped */
	sb_pusher_http_req_init(&r, "POST", "/apps/3/events", NULL, 0);
	add(&r, "body_md5=ec365a775a4cd0599faeb73354201b6f");
	add(&r, "auth_version=1.0");
	add(&r, "auth_key=" KEY);
	add(&r, "auth_timestamp=1353088179");
	add(&r, "auth_signature=whatever");
	s = sb_pusher_http_string_to_sign(&r);
	assert_string_equal(s, "POST\n/apps/3/events\nauth_key=" KEY "&auth_timestamp=1353088179"
			    "&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f");
	{
		/* and the signature Pusher's documentation gives for it */
		char hex[65];
		assert_int_equal(sb_pusher_hmac_hex(SECRET, s, strlen(s), hex), SB_OK);
		assert_string_equal(hex, "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c");
	}
	free(s);
	sb_pusher_http_req_free(&r);
}

static void test_authenticate(void **state)
{
	const char *body = "{\"name\":\"foo\",\"channels\":[\"project-3\"],\"data\":\"{\\\"some\\\":\\\"data\\\"}\"}";
	struct sb_pusher_http_req r;
	struct sb_pusher_http_error e;
	char md5[33];

	(void)state;
	/* the same body, key, secret and time as Pusher's documented example */
	md5_hex(body, md5);
	assert_string_equal(md5, "ec365a775a4cd0599faeb73354201b6f");
	signed_post(&r, body, NOW, NULL);
	memcmp_calls = 0;
	assert_int_equal(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW, &e), SB_OK);
	assert_int_equal(memcmp_calls, 1);
	assert_int_equal(memcmp_last_len, 64);
	/* the window: 600 s either way */
	assert_int_equal(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW + 600, &e), SB_OK);
	assert_int_equal(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW - 600, &e), SB_OK);
	expect(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW + 601, &e), &e, 401, "Timestamp expired");
	expect(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW - 601, &e), &e, 401, "Timestamp expired");
	expect(sb_pusher_http_authenticate(&r, "other", SECRET, NOW, &e), &e, 401, "Unknown auth_key");
	memcmp_calls = 0;
	expect(sb_pusher_http_authenticate(&r, KEY, "other-secret", NOW, &e), &e, 401, "Invalid signature");
	assert_int_equal(memcmp_calls, 1);
	assert_int_equal(memcmp_last_len, 64);
	assert_non_null(strstr(e.message, "auth_key=" KEY "&auth_timestamp="));
	assert_null(strstr(e.message, SECRET));
	sb_pusher_http_req_free(&r);

	/* the body is covered: another body, same query */
	signed_post(&r, body, NOW, NULL);
	r.body = "{}";
	r.body_len = 2;
	expect(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW, &e), &e, 401, "body_md5 does not match");
	sb_pusher_http_req_free(&r);

	/* upper-case hex is the same signature; a short or wrong one is not */
	{
		char q[512], want[65];
		snprintf(q, sizeof(q), "POST\n/apps/3/events\nauth_key=" KEY "&auth_timestamp=%d"
			 "&auth_version=1.0&body_md5=%s", NOW, md5);
		hmac_hex(q, want);
		for (char *p = want; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
		signed_post(&r, body, NOW, want);
		assert_int_equal(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW, &e), SB_OK);
		sb_pusher_http_req_free(&r);
	}
	signed_post(&r, body, NOW, "abc");
	expect(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW, &e), &e, 401, "64 hex digits");
	sb_pusher_http_req_free(&r);

	/* missing pieces */
	sb_pusher_http_req_init(&r, "GET", "/apps/3/channels", NULL, 0);
	expect(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW, &e), &e, 401, "Missing");
	add(&r, "auth_key=" KEY);
	add(&r, "auth_timestamp=soon");
	add(&r, "auth_version=1.0");
	add(&r, "auth_signature=" "0000000000000000000000000000000000000000000000000000000000000000");
	expect(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW, &e), &e, 401, "Unix seconds");
	sb_pusher_http_req_free(&r);
	sb_pusher_http_req_init(&r, "POST", "/apps/3/events", body, strlen(body));
	add(&r, "auth_key=" KEY);
	add(&r, "auth_timestamp=1353088179");
	add(&r, "auth_version=1.0");
	add(&r, "auth_signature=" "0000000000000000000000000000000000000000000000000000000000000000");
	expect(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW, &e), &e, 401, "body_md5 is required");
	sb_pusher_http_req_free(&r);
	sb_pusher_http_req_init(&r, "GET", "/apps/3/channels", NULL, 0);
	add(&r, "auth_key=" KEY);
	add(&r, "auth_timestamp=1353088179");
	add(&r, "auth_version=2.0");
	add(&r, "auth_signature=" "0000000000000000000000000000000000000000000000000000000000000000");
	expect(sb_pusher_http_authenticate(&r, KEY, SECRET, NOW, &e), &e, 401, "auth_version");
	sb_pusher_http_req_free(&r);
}

static struct sb_chanmap *map(void)
{
	struct sb_chanmap *m = NULL;
	char err[256];

	assert_int_equal(sb_chanmap_default(&m, err, sizeof(err)), SB_OK);
	return m;
}

static const struct sb_pusher_http_limits LIM = { 10240, 100, 10 };

static enum sb_err parse(const char *body, int batch, const struct sb_chanmap *m,
			 struct sb_pusher_http_event **ev, size_t *n, struct sb_pusher_http_error *e)
{
	return sb_pusher_http_parse_events(body, strlen(body), batch, &LIM, m, ev, n, e);
}

static void test_events(void **state)
{
	struct sb_chanmap *m = map();
	struct sb_pusher_http_event *ev;
	struct sb_pusher_http_error e;
	size_t n;

	(void)state;
	assert_int_equal(parse("{\"name\":\"order.shipped\",\"data\":\"{\\\"id\\\":5}\","
			       "\"channels\":[\"private-team.42\",\"team.42\",\"cache-public.acme\","
			       "\"private-cache-public.acme\",\"private-team.43\"],\"socket_id\":\"1.2\","
			       "\"info\":\"subscription_count\"}", 0, m, &ev, &n, &e), SB_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ev[0].name, "order.shipped");
	assert_string_equal(ev[0].data, "{\"id\":5}");
	assert_int_equal(ev[0].dlen, 8);
	assert_string_equal(ev[0].socket_id, "1.2");
	assert_int_equal(ev[0].info, SB_PUSHER_HTTP_INFO_SUBSCRIPTION_COUNT);
	/* one target per statusbus channel, kept when any name was cache- */
	assert_int_equal(ev[0].nto, 3);
	assert_string_equal(ev[0].to[0].name, "private-team.42");
	assert_string_equal(ev[0].to[0].base, "team.42");
	assert_false(ev[0].to[0].cached);
	assert_string_equal(ev[0].to[1].base, "public.acme");
	assert_true(ev[0].to[1].cached);
	assert_string_equal(ev[0].to[2].base, "team.43");
	sb_pusher_http_events_free(ev, n);

	/* data that is not a string is taken as its JSON text */
	assert_int_equal(parse("{\"name\":\"x\",\"data\":{\"a\":[1,true]},\"channel\":\"team.42\"}",
			       0, m, &ev, &n, &e), SB_OK);
	assert_string_equal(ev[0].data, "{\"a\":[1,true]}");
	assert_null(ev[0].socket_id);
	sb_pusher_http_events_free(ev, n);

	assert_int_equal(parse("{\"batch\":[{\"name\":\"a\",\"data\":\"1\",\"channel\":\"team.42\"},"
			       "{\"name\":\"b\",\"data\":\"2\",\"channel\":\"public.x\",\"socket_id\":\"3.4\"}]}",
			       1, m, &ev, &n, &e), SB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ev[1].name, "b");
	assert_string_equal(ev[1].to[0].base, "public.x");
	assert_string_equal(ev[1].socket_id, "3.4");
	sb_pusher_http_events_free(ev, n);
	sb_chanmap_destroy(m);
}

static void test_event_refusals(void **state)
{
	static const struct { int batch; const char *body; int status; const char *says; } cases[] = {
		{ 0, "", 400, "JSON object" },
		{ 0, "[1]", 400, "JSON object" },
		{ 0, "{\"name\":", 400, "JSON object" },
		{ 0, "{\"data\":\"x\",\"channel\":\"team.42\"}", 400, "needs a name" },
		{ 0, "{\"name\":\"\",\"data\":\"x\",\"channel\":\"team.42\"}", 400, "needs a name" },
		{ 0, "{\"name\":\"a/b\",\"data\":\"x\",\"channel\":\"team.42\"}", 400, "Invalid event name" },
		{ 0, "{\"name\":\"a+b\",\"data\":\"x\",\"channel\":\"team.42\"}", 400, "Invalid event name" },
		{ 0, "{\"name\":\"a#\",\"data\":\"x\",\"channel\":\"team.42\"}", 400, "Invalid event name" },
		{ 0, "{\"name\":\"a\\nb\",\"data\":\"x\",\"channel\":\"team.42\"}", 400, "Invalid event name" },
		{ 0, "{\"name\":\"pusher:x\",\"data\":\"x\",\"channel\":\"team.42\"}", 400, "Invalid event name" },
		{ 0, "{\"name\":\"pusher_internal:subscription_succeeded\",\"data\":\"x\",\"channel\":\"team.42\"}", 400, "Invalid event name" },
		{ 0, "{\"name\":\"a\",\"channel\":\"team.42\"}", 400, "no data" },
		{ 0, "{\"name\":\"a\",\"data\":null,\"channel\":\"team.42\"}", 400, "no data" },
		{ 0, "{\"name\":\"a\",\"data\":\"a\\u0000b\",\"channel\":\"team.42\"}", 400, "u0000" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\"}", 400, "not both" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"team.42\",\"channels\":[\"team.42\"]}", 400, "not both" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":5}", 400, "channel must be a string" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channels\":\"team.42\"}", 400, "array of strings" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channels\":[5]}", 400, "array of strings" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channels\":[]}", 400, "empty" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"team/42\"}", 400, "Invalid channel name" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"team.4+\"}", 400, "Invalid channel name" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"\"}", 400, "Invalid channel name" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"presence-team.42\"}", 400, "presence" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"private-encrypted-team.42\"}", 400, "encrypted" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"nosuch.1\"}", 400, "channel map" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"team..42\"}", 400, "team..42" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"team.42\",\"socket_id\":\"1\"}", 400, "socket id" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"team.42\",\"socket_id\":1.2}", 400, "socket id" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"team.42\",\"info\":\"user_count\"}", 400, "presence" },
		{ 0, "{\"name\":\"a\",\"data\":\"x\",\"channel\":\"team.42\",\"info\":5}", 400, "info" },
		{ 1, "{}", 400, "non-empty batch" },
		{ 1, "{\"batch\":[]}", 400, "non-empty batch" },
		{ 1, "{\"batch\":[5]}", 400, "JSON object" },
		{ 1, "{\"batch\":[{\"name\":\"a\",\"data\":\"x\",\"channels\":[\"team.42\"]}]}", 400, "one channel" },
		{ 1, "{\"batch\":[{\"name\":\"a\",\"data\":\"x\",\"channel\":\"team.42\"},{\"name\":\"a/\",\"data\":\"x\",\"channel\":\"team.42\"}]}", 400, "Invalid event name" },
	};
	struct sb_chanmap *m = map();
	struct sb_pusher_http_event *ev;
	struct sb_pusher_http_error e;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sb_err rc = parse(cases[i].body, cases[i].batch, m, &ev, &n, &e);

		if (rc == SB_OK || e.status != cases[i].status || !strstr(e.message, cases[i].says))
			fail_msg("case %zu (%s): rc %d status %d \"%s\"", i, cases[i].body, rc, e.status,
				 e.message);
		assert_null(ev);
		assert_int_equal(n, 0);
	}
	sb_chanmap_destroy(m);
}

static void test_limits(void **state)
{
	struct sb_chanmap *m = map();
	struct sb_pusher_http_event *ev;
	struct sb_pusher_http_error e;
	struct sb_buf b;
	size_t n;

	(void)state;
	/* data: 10240 bytes pass, 10241 are 413 */
	for (int over = 0; over < 2; over++) {
		sb_buf_init(&b);
		sb_buf_puts(&b, "{\"name\":\"a\",\"channel\":\"team.42\",\"data\":\"");
		for (int i = 0; i < 10240 + over; i++)
			sb_buf_puts(&b, "x");
		sb_buf_puts(&b, "\"}");
		if (over) {
			expect(parse(sb_buf_str(&b), 0, m, &ev, &n, &e), &e, 413, "Payload too large");
		} else {
			assert_int_equal(parse(sb_buf_str(&b), 0, m, &ev, &n, &e), SB_OK);
			sb_pusher_http_events_free(ev, n);
		}
		sb_buf_free(&b);
	}
	/* channels: 100 pass, 101 are refused */
	for (int over = 0; over < 2; over++) {
		sb_buf_init(&b);
		sb_buf_puts(&b, "{\"name\":\"a\",\"data\":\"x\",\"channels\":[");
		for (int i = 0; i < 100 + over; i++)
			sb_buf_printf(&b, "%s\"team.%d\"", i ? "," : "", i);
		sb_buf_puts(&b, "]}");
		if (over) {
			expect(parse(sb_buf_str(&b), 0, m, &ev, &n, &e), &e, 400, "Too many channels");
		} else {
			assert_int_equal(parse(sb_buf_str(&b), 0, m, &ev, &n, &e), SB_OK);
			assert_int_equal(ev[0].nto, 100);
			sb_pusher_http_events_free(ev, n);
		}
		sb_buf_free(&b);
	}
	/* batch: 10 pass, 11 are refused */
	for (int over = 0; over < 2; over++) {
		sb_buf_init(&b);
		sb_buf_puts(&b, "{\"batch\":[");
		for (int i = 0; i < 10 + over; i++)
			sb_buf_printf(&b, "%s{\"name\":\"e%d\",\"data\":\"x\",\"channel\":\"team.42\"}",
				      i ? "," : "", i);
		sb_buf_puts(&b, "]}");
		if (over) {
			expect(parse(sb_buf_str(&b), 1, m, &ev, &n, &e), &e, 400, "Batch too large");
		} else {
			assert_int_equal(parse(sb_buf_str(&b), 1, m, &ev, &n, &e), SB_OK);
			assert_int_equal(n, 10);
			sb_pusher_http_events_free(ev, n);
		}
		sb_buf_free(&b);
	}
	sb_chanmap_destroy(m);
}

static void test_info(void **state)
{
	struct sb_pusher_http_error e;
	unsigned info;

	(void)state;
	assert_int_equal(sb_pusher_http_info(NULL, 0, &info, &e), SB_OK);
	assert_int_equal(info, 0);
	assert_int_equal(sb_pusher_http_info("subscription_count", 0, &info, &e), SB_OK);
	assert_int_equal(info, SB_PUSHER_HTTP_INFO_SUBSCRIPTION_COUNT);
	assert_int_equal(sb_pusher_http_info("user_count,subscription_count", 1, &info, &e), SB_OK);
	assert_int_equal(info, SB_PUSHER_HTTP_INFO_SUBSCRIPTION_COUNT | SB_PUSHER_HTTP_INFO_USER_COUNT);
	expect(sb_pusher_http_info("user_count", 0, &info, &e), &e, 400, "presence");
	expect(sb_pusher_http_info("subscription_count,members", 1, &info, &e), &e, 400, "members");
	assert_true(sb_pusher_http_channel_valid("private-a_b-c=d@e,f.g;h"));
	assert_false(sb_pusher_http_channel_valid("a b"));
	assert_false(sb_pusher_http_channel_valid(""));
}

/* ---- relay.c ---------------------------------------------------------------------------- */

static void test_relay(void **state)
{
	char topic[64], *env, *data, why[128];
	struct sb_relay_env re;
	struct sb_buf b;
	size_t len, dlen;
	cJSON *doc;

	(void)state;
	assert_int_equal(sb_relay_topic(topic, sizeof(topic), "team.42", "order.shipped"), SB_OK);
	assert_string_equal(topic, "pusher/team.42/order.shipped");
	assert_int_equal(sb_relay_topic(topic, 10, "team.42", "x"), SB_ERR_LIMIT);
	assert_string_equal(sb_relay_event("pusher/team.42/order.shipped"), "order.shipped");
	assert_null(sb_relay_event("pusher/team.42"));
	assert_null(sb_relay_event("pusher//x"));
	assert_null(sb_relay_event("pusher/a/b/c"));
	assert_null(sb_relay_event("team/42/app/x/status"));
	assert_true(sb_relay_event_valid("naïve.event", strlen("naïve.event")));
	assert_false(sb_relay_event_valid("\xff", 1));
	assert_false(sb_relay_event_valid("a\x7f", 2));
	data = sb_relay_filter("team.42");
	assert_string_equal(data, "pusher/team.42/+");
	free(data);

	/* the payload: data as a JSON string, socket_id and cached when given */
	env = sb_relay_envelope("{\"a\":\"\\\"q\\\"\"}", 13, "1.2", 1, &len);
	assert_string_equal(env, "{\"data\":\"{\\\"a\\\":\\\"\\\\\\\"q\\\\\\\"\\\"}\",\"socket_id\":\"1.2\",\"cached\":true}");
	assert_int_equal(len, strlen(env));
	doc = cJSON_Parse(env);
	assert_int_equal(sb_relay_parse(doc, &re, why, sizeof(why)), SB_OK);
	assert_true(re.cached);
	assert_string_equal(re.socket_id, "1.2");
	cJSON_Delete(doc);
	data = sb_relay_data(env, len, &dlen);
	assert_string_equal(data, "{\"a\":\"\\\"q\\\"\"}");
	free(data);
	/* Pusher clients get the string as sent; statusbus.v1 the JSON value */
	sb_buf_init(&b);
	assert_int_equal(sb_relay_put_data(&b, env, len, 0), SB_OK);
	assert_string_equal(sb_buf_str(&b), "\"{\\\"a\\\":\\\"\\\\\\\"q\\\\\\\"\\\"}\"");
	sb_buf_free(&b);
	sb_buf_init(&b);
	assert_int_equal(sb_relay_put_data(&b, env, len, 1), SB_OK);
	assert_string_equal(sb_buf_str(&b), "{\"a\":\"\\\"q\\\"\"}");
	sb_buf_free(&b);
	free(env);
	env = sb_relay_envelope("not json", 8, NULL, 0, &len);
	assert_string_equal(env, "{\"data\":\"not json\"}");
	sb_buf_init(&b);
	assert_int_equal(sb_relay_put_data(&b, env, len, 1), SB_OK);
	assert_string_equal(sb_buf_str(&b), "\"not json\"");
	sb_buf_free(&b);
	free(env);

	/* what a payload must be */
	static const char *const bad[] = {
		"{}", "[]", "{\"data\":5}", "{\"data\":\"x\",\"socket_id\":\"x\"}",
		"{\"data\":\"x\",\"socket_id\":12}", "{\"data\":\"x\",\"cached\":1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = cJSON_Parse(bad[i]);
		assert_int_equal(sb_relay_parse(doc, &re, why, sizeof(why)), SB_ERR_INVAL);
		cJSON_Delete(doc);
	}
}

/* The ingest verdict on relay topics: kept when cached or retained, the
 * origin socket, the topic's shape, NUL in the data. */
static void test_ingest_relay(void **state)
{
	struct sb_kinds *k = NULL;
	struct sb_ingest_rules rules = { 0 };
	struct sb_ingest_result v;
	char err[256];
	static const char *t = "pusher/team.42/order.shipped";

	(void)state;
	assert_int_equal(sb_kinds_load(&k, SB_SOURCE_DIR "/schemas/topics.json", err, sizeof(err)), SB_OK);
	rules.kinds = k;
	rules.max_payload_bytes = 65536;
#define CHECK(topic, p, retained) sb_ingest_check(&rules, topic, strlen(topic), p, strlen(p), retained, &v)
	CHECK(t, "{\"data\":\"x\",\"socket_id\":\"1.2\"}", 0);
	assert_int_equal(v.verdict, SB_INGEST_ACCEPT);
	assert_true(v.kind->relay);
	assert_false(v.keep);
	assert_string_equal(v.origin, "1.2");
	CHECK(t, "{\"data\":\"x\",\"cached\":true}", 0);
	assert_true(v.keep);
	assert_string_equal(v.origin, "");
	CHECK(t, "{\"data\":\"x\"}", 1);   /* the broker's retained replay */
	assert_true(v.keep);
	CHECK(t, "{\"data\":\"a\\u0000b\"}", 0);
	assert_int_equal(v.verdict, SB_INGEST_REJECT);
	CHECK(t, "{\"data\":5}", 0);
	assert_int_equal(v.verdict, SB_INGEST_REJECT);
	assert_int_equal(v.reason, SB_INGEST_SCHEMA);
	CHECK("pusher/team.42/pusher:x", "{\"data\":\"x\"}", 0);
	assert_int_equal(v.verdict, SB_INGEST_REJECT);
	assert_int_equal(v.reason, SB_INGEST_UNKNOWN_TOPIC);
	/* an empty payload clears what was kept there */
	CHECK(t, "", 0);
	assert_int_equal(v.verdict, SB_INGEST_DELETE);
	/* statuses are kept as before */
	CHECK("public/p/status", "{\"status\":\"operational\"}", 0);
	assert_true(v.keep);
	assert_false(v.kind->relay);
#undef CHECK
	assert_true(sb_ingest_json_strict("{\"a\":1}", 7));
	assert_false(sb_ingest_json_strict("{\"a\":01}", 8));
	assert_false(sb_ingest_json_strict("nope", 4));
	sb_kinds_destroy(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_string_to_sign),
		cmocka_unit_test(test_authenticate),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_event_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_ingest_relay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
