/* SPDX-License-Identifier: MIT
 *
 * test_pusher.c - unit tests for pusher.c, the Pusher Channels
 * protocol 7 side of the bridge (DESIGN.md section 9).
 *
 * The pure parts first: channel name forms, socket ids, the HMAC-SHA256
 * signature (Pusher's published example vector; every wrong key, secret,
 * socket id and channel; the comparison always through CRYPTO_memcmp over
 * all 64 digits, checked by interposing CRYPTO_memcmp), the client frame
 * codec and the frame builders.  Then the protocol against a real hub in
 * auth mode, driven like ws_server.c drives it, with a fake clock: the
 * handshake and its close codes, private channels (trust for one
 * subscription only, the signature bound to the socket id), public and
 * cache channels, events, batches, unsubscribe, ping/pong and the activity
 * check (4201), client events, limits and the close code mapping.
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
#include <openssl/hmac.h>

#include "chanmap.h"
#include "config.h"
#include "hub.h"
#include "jwt.h"
#include "proto_v1.h"
#include "pusher.h"

#define KEY "app-key"
#define SECRET "app-secret"
#define JWT_SECRET "unit-test secret, 32 bytes long!"
#define A1 "aaaaaaaa-0000-0000-0000-000000000001"
#define A2 "aaaaaaaa-0000-0000-0000-000000000002"
#define D1 "0b8f7c1e-1111-2222-3333-444455556666"
#define T0 1000000

/* ---- CRYPTO_memcmp interposed: the executable's definition wins over
 * libcrypto's, so every comparison the verifier makes is seen here ---- */

static int memcmp_calls;
static size_t memcmp_last_len;

int CRYPTO_memcmp(const void *in_a, const void *in_b, size_t len)
{
	const unsigned char *a = in_a, *b = in_b;
	unsigned char x = 0;

	memcmp_calls++;
	memcmp_last_len = len;
	for (size_t i = 0; i < len; i++)
		x |= a[i] ^ b[i];
	return x;
}

/* ---- fake clock ---------------------------------------------------------------- */

static int64_t fake_now = T0;
static int64_t now_fn(void) { return fake_now; }
static int64_t wall_fn(void) { return 1700000000; }

static void op_wake(void *ctx, struct sb_client *c) { (void)ctx; (void)c; }

/* ---- environment ------------------------------------------------------------------ */

#include "core_fixture.h"

struct env {
	struct sb_config *cfg;
	struct sb_jwt_key *key;
	struct sb_hub *hub;
	struct sb_pusher *p;
};

struct conn {
	struct sb_client *c;
	struct sb_pusher_conn *pc;
};

/* `pusher_extra` and `limits` are spliced into the config's sections. */
static void env_init(struct env *e, const char *pusher_extra, const char *limits)
{
	char text[1024], err[256];
	struct sb_hub_params hp;
	struct sb_hub_ops ops;

	memset(e, 0, sizeof(*e));
	fake_now = T0;
	snprintf(text, sizeof(text),
		 "{\"auth\":{\"jwt_secret\":\"" JWT_SECRET "\"},"
		 "\"pusher\":{\"app_id\":\"1\",\"key\":\"" KEY "\",\"secret\":\"" SECRET "\"%s%s},"
		 "\"limits\":{\"max_subscriptions\":8%s%s}}",
		 pusher_extra ? "," : "", pusher_extra ? pusher_extra : "",
		 limits ? "," : "", limits ? limits : "");
	if (sb_config_parse(&e->cfg, text, "t.json", err, sizeof(err)) != SB_OK)
		fail_msg("config: %s", err);
	assert_int_equal(sb_jwt_key_create_hmac(&e->key, (const unsigned char *)JWT_SECRET,
						strlen(JWT_SECRET)), SB_OK);
	memset(&hp, 0, sizeof(hp));
	hp.cfg = e->cfg;
	hp.map = map;
	hp.kinds = kinds;
	hp.jwt_key = e->key;    /* auth mode: the hub's ACL is on */
	hp.now_ms = now_fn;
	hp.wall_s = wall_fn;
	memset(&ops, 0, sizeof(ops));
	ops.wake = op_wake;
	assert_int_equal(sb_hub_create(&e->hub, &hp, &ops), SB_OK);
	assert_int_equal(sb_pusher_create(&e->p, e->hub, e->cfg), SB_OK);
	sb_pusher_set_clock(e->p, now_fn);
}

static void conn_close(struct env *e, struct conn *k)
{
	sb_pusher_conn_gone(k->pc);
	sb_hub_client_gone(e->hub, k->c);
	k->pc = NULL;
	k->c = NULL;
}

static void env_free(struct env *e)
{
	sb_hub_destroy(e->hub);     /* frees any client left */
	sb_pusher_destroy(e->p);
	sb_jwt_key_destroy(e->key);
	sb_config_destroy(e->cfg);
}

/* The next frame c would receive, parsed (caller deletes), or NULL. */
static cJSON *next(struct env *e, struct conn *k)
{
	struct sb_frame *f = sb_hub_client_next(e->hub, k->c);
	cJSON *j;

	if (!f)
		return NULL;
	j = cJSON_ParseWithLength((const char *)sb_frame_data(f), f->len);
	if (!j)
		fail_msg("frame is not JSON: %.*s", (int)f->len, sb_frame_data(f));
	sb_frame_unref(f);
	return j;
}

static const char *str(const cJSON *j, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The frame's data: a JSON string decoded (Pusher), or the object itself
 * (pusher:error); caller deletes. */
static cJSON *data_of(const cJSON *frame)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(frame, "data");

	if (cJSON_IsString(d))
		return cJSON_Parse(d->valuestring);
	return d ? cJSON_Duplicate(d, 1) : NULL;
}

/* Takes the next frame and checks its event (and channel when given). */
static cJSON *expect(struct env *e, struct conn *k, const char *event, const char *channel)
{
	cJSON *j = next(e, k);

	if (!j)
		fail_msg("no frame; wanted %s", event);
	if (strcmp(str(j, "event") ? str(j, "event") : "", event) != 0) {
		char *s = cJSON_PrintUnformatted(j);
		fail_msg("got %s; wanted event %s", s, event);
	}
	if (channel)
		assert_string_equal(str(j, "channel") ? str(j, "channel") : "(none)", channel);
	else
		assert_null(cJSON_GetObjectItemCaseSensitive(j, "channel"));
	return j;
}

static void expect_none(struct env *e, struct conn *k)
{
	cJSON *j = next(e, k);

	if (j) {
		char *s = cJSON_PrintUnformatted(j);
		fail_msg("unexpected frame %s", s);
	}
}

static int data_int(const cJSON *frame, const char *k)
{
	cJSON *d = data_of(frame);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, k);
	int n = cJSON_IsNumber(v) ? v->valueint : -1;

	cJSON_Delete(d);
	return n;
}

/* A connection that passed the handshake, its connection_established read. */
static struct conn open_conn(struct env *e)
{
	struct conn k;
	cJSON *j;

	k.c = sb_hub_client_new(e->hub, SB_PROTO_PUSHER, (void *)1);
	assert_non_null(k.c);
	k.pc = sb_pusher_open(e->p, k.c, "/app/" KEY, "7");
	assert_non_null(k.pc);
	j = expect(e, &k, "pusher:connection_established", NULL);
	cJSON_Delete(j);
	return k;
}

static void frame(struct conn *k, const char *text)
{
	sb_pusher_frame(k->pc, text, strlen(text));
}

static void auth_for(struct conn *k, const char *channel, char *out, size_t len)
{
	char hex[65];

	assert_int_equal(sb_pusher_sign(SECRET, sb_pusher_socket_id(k->pc), channel, hex), SB_OK);
	snprintf(out, len, KEY ":%s", hex);
}

static void subscribe(struct conn *k, const char *channel, const char *auth)
{
	char text[1024];

	if (auth)
		snprintf(text, sizeof(text),
			 "{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"%s\",\"channel\":\"%s\"}}",
			 auth, channel);
	else
		snprintf(text, sizeof(text),
			 "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\"}}", channel);
	frame(k, text);
}

static void subscribe_signed(struct conn *k, const char *channel)
{
	char auth[128];

	auth_for(k, channel, auth, sizeof(auth));
	subscribe(k, channel, auth);
}

static void expect_subscribed(struct env *e, struct conn *k, const char *channel)
{
	cJSON *j = expect(e, k, "pusher_internal:subscription_succeeded", channel);

	assert_string_equal(str(j, "data"), "{}");
	cJSON_Delete(j);
}

static void expect_sub_error(struct env *e, struct conn *k, const char *channel, int status)
{
	cJSON *j = expect(e, k, "pusher:subscription_error", channel);
	cJSON *d = data_of(j);

	assert_non_null(d);
	assert_string_equal(str(d, "type"), status == 501 ? "UnsupportedChannel" :
			    status == 429 ? "LimitReached" : status == 400 || status == 409 ?
			    "InvalidChannel" : "AuthError");
	assert_non_null(str(d, "error"));
	assert_int_equal(data_int(j, "status"), status);
	cJSON_Delete(d);
	cJSON_Delete(j);
}

static void publish(struct env *e, const char *topic, const char *payload, int retained)
{
	struct sb_msg *m = sb_msg_create(topic, strlen(topic), payload, strlen(payload), retained);

	assert_non_null(m);
	sb_hub_on_message(e->hub, m);
	sb_msg_unref(m);
}

/* An app.status event for channel with the given status. */
static void expect_status(struct env *e, struct conn *k, const char *channel, const char *app,
			  const char *status)
{
	cJSON *j = expect(e, k, "app.status", channel);
	cJSON *d = data_of(j);
	char topic[128];

	snprintf(topic, sizeof(topic), "team/42/app/%s/status", app);
	assert_non_null(d);
	assert_string_equal(str(d, "topic"), topic);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "retained")));
	assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(d, "data"), "status"), status);
	cJSON_Delete(d);
	cJSON_Delete(j);
}

#define STATUS(s) "{\"ts\":\"2026-01-01T00:00:00Z\",\"status\":\"" s "\"}"

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
	assert_int_equal(sb_pusher_name_parse("presence-team.42", &base), SB_PUSHER_UNSUPPORTED);
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

/* ---- handshake ------------------------------------------------------------------------- */

static void test_handshake(void **state)
{
	struct env e;
	struct conn k;
	cJSON *j, *d;
	(void)state;

	env_init(&e, "\"activity_timeout_s\":30", NULL);
	k.c = sb_hub_client_new(e.hub, SB_PROTO_PUSHER, (void *)1);
	k.pc = sb_pusher_open(e.p, k.c, "/app/" KEY, "7");
	j = expect(&e, &k, "pusher:connection_established", NULL);
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "data")));
	d = data_of(j);
	assert_true(sb_pusher_socket_id_valid(str(d, "socket_id")));
	assert_string_equal(str(d, "socket_id"), sb_pusher_socket_id(k.pc));
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(d, "activity_timeout")->valueint, 30);
	cJSON_Delete(d);
	cJSON_Delete(j);
	expect_none(&e, &k);
	/* no statusbus hello is expected: still open after the hello timeout */
	fake_now += 60000;
	sb_hub_tick(e.hub);
	assert_int_equal(sb_client_close_code(k.c, NULL), 0);
	assert_int_equal(sb_pusher_stats(e.p)->connections, 1);
	conn_close(&e, &k);
	env_free(&e);
}

static void refused(struct env *e, const char *path, const char *protocol, int code)
{
	struct conn k;
	cJSON *j, *d;
	const char *reason = NULL;

	k.c = sb_hub_client_new(e->hub, SB_PROTO_PUSHER, (void *)1);
	k.pc = sb_pusher_open(e->p, k.c, path, protocol);
	assert_non_null(k.pc);
	j = expect(e, &k, "pusher:error", NULL);
	d = cJSON_GetObjectItemCaseSensitive(j, "data");
	assert_true(cJSON_IsObject(d));
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(d, "code")->valueint, code);
	assert_non_null(str(d, "message"));
	cJSON_Delete(j);
	expect_none(e, &k);
	/* then the hub closes it, with that code */
	assert_int_equal(sb_client_close_code(k.c, NULL), code);
	assert_int_equal(sb_pusher_close_code(k.pc, sb_client_close_code(k.c, NULL), &reason), code);
	assert_non_null(reason);
	/* and nothing it sends is acted on */
	subscribe(&k, "public.acme", NULL);
	expect_none(e, &k);
	assert_int_equal(sb_pusher_timer(k.pc, fake_now), -1);
	conn_close(e, &k);
}

static void test_handshake_refused(void **state)
{
	struct env e;
	(void)state;

	env_init(&e, NULL, NULL);
	refused(&e, "/app/wrong-key", "7", SB_PUSHER_CLOSE_APP_UNKNOWN);
	refused(&e, "/app/", "7", SB_PUSHER_CLOSE_APP_UNKNOWN);
	refused(&e, "/app/" KEY "/x", "7", SB_PUSHER_CLOSE_APP_UNKNOWN);
	refused(&e, "/app/" KEY, NULL, SB_PUSHER_CLOSE_NO_PROTOCOL);
	refused(&e, "/app/" KEY, "", SB_PUSHER_CLOSE_NO_PROTOCOL);
	refused(&e, "/app/" KEY, "seven", SB_PUSHER_CLOSE_BAD_VERSION);
	refused(&e, "/app/" KEY, "7.0", SB_PUSHER_CLOSE_BAD_VERSION);
	refused(&e, "/app/" KEY, "6", SB_PUSHER_CLOSE_UNSUPPORTED_PROTOCOL);
	refused(&e, "/app/" KEY, "8", SB_PUSHER_CLOSE_UNSUPPORTED_PROTOCOL);
	assert_int_equal(sb_pusher_stats(e.p)->refused, 9);
	assert_int_equal(sb_pusher_stats(e.p)->connections, 0);
	env_free(&e);
}

/* ---- private channels ---------------------------------------------------------------------- */

static void test_private_channel(void **state)
{
	struct env e;
	struct conn k;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	/* a plain private channel gets live events, no snapshot */
	expect_none(&e, &k);
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_status(&e, &k, "private-team.42", A1, "running");
	publish(&e, "team/43/app/" A1 "/status", STATUS("running"), 1);
	expect_none(&e, &k);
	assert_int_equal(sb_pusher_stats(e.p)->subscriptions, 1);
	conn_close(&e, &k);
	env_free(&e);
}

static void test_bad_signature_gets_no_data(void **state)
{
	struct env e;
	struct conn k;
	char hex[65], auth[128];
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	/* signed with another secret */
	assert_int_equal(sb_pusher_sign("not-the-secret", sb_pusher_socket_id(k.pc),
					"private-team.42", hex), SB_OK);
	snprintf(auth, sizeof(auth), KEY ":%s", hex);
	subscribe(&k, "private-team.42", auth);
	expect_sub_error(&e, &k, "private-team.42", 401);
	/* no signature at all */
	subscribe(&k, "private-team.42", NULL);
	expect_sub_error(&e, &k, "private-team.42", 401);
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_none(&e, &k);
	assert_int_equal(sb_pusher_stats(e.p)->signature_failures, 2);
	/* still usable */
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	conn_close(&e, &k);
	env_free(&e);
}

/* A signature authorizes its one channel on its one socket. */
static void test_trust_is_per_channel(void **state)
{
	struct env e;
	struct conn a, b;
	char auth42[128];
	(void)state;

	env_init(&e, NULL, NULL);
	a = open_conn(&e);
	b = open_conn(&e);
	assert_string_not_equal(sb_pusher_socket_id(a.pc), sb_pusher_socket_id(b.pc));
	auth_for(&a, "private-team.42", auth42, sizeof(auth42));
	subscribe(&a, "private-team.42", auth42);
	expect_subscribed(&e, &a, "private-team.42");
	/* the 42 signature does not open 43 */
	subscribe(&a, "private-team.43", auth42);
	expect_sub_error(&e, &a, "private-team.43", 401);
	/* nor does having subscribed a private channel make the client trusted:
	 * team.43 without the prefix goes through the hub's ACL (no token) */
	subscribe(&a, "team.43", NULL);
	expect_sub_error(&e, &a, "team.43", 401);
	subscribe(&a, "user.u1", NULL);
	expect_sub_error(&e, &a, "user.u1", 401);
	/* a's signature on b's socket */
	subscribe(&b, "private-team.42", auth42);
	expect_sub_error(&e, &b, "private-team.42", 401);
	/* its own signature */
	subscribe_signed(&a, "private-team.43");
	expect_subscribed(&e, &a, "private-team.43");
	publish(&e, "team/43/app/" A1 "/status", STATUS("running"), 1);
	publish(&e, "team/42/app/" A2 "/status", STATUS("stopped"), 1);
	expect_none(&e, &b);
	conn_close(&e, &a);
	conn_close(&e, &b);
	env_free(&e);
}

/* What the app backend signs decides, not the hub's JWT ACL: a deploy the
 * bridge does not know yet is subscribable as private-. */
static void test_private_bypasses_jwt_acl_only_for_that_channel(void **state)
{
	struct env e;
	struct conn k;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-deploy." D1);
	expect_subscribed(&e, &k, "private-deploy." D1);
	subscribe(&k, "deploy." D1 ".logs", NULL);
	expect_sub_error(&e, &k, "deploy." D1 ".logs", 401);
	subscribe_signed(&k, "private-nosuch.channel");
	expect_sub_error(&e, &k, "private-nosuch.channel", 404);
	subscribe_signed(&k, "private-team.4/2");
	expect_sub_error(&e, &k, "private-team.4/2", 400);
	subscribe_signed(&k, "private-team.+");
	expect_sub_error(&e, &k, "private-team.+", 400);
	conn_close(&e, &k);
	env_free(&e);
}

/* ---- public and cache channels --------------------------------------------------------------- */

static void test_public_channel(void **state)
{
	struct env e;
	struct conn k;
	cJSON *j;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe(&k, "public.acme", NULL);
	expect_subscribed(&e, &k, "public.acme");
	publish(&e, "public/acme/status", "{\"ts\":\"2026-01-01T00:00:00Z\",\"status\":\"ok\"}", 1);
	j = expect(&e, &k, "public.status", "public.acme");
	cJSON_Delete(j);
	subscribe(&k, "presence-team.42", NULL);
	expect_sub_error(&e, &k, "presence-team.42", 501);
	subscribe(&k, "private-encrypted-team.42", NULL);
	expect_sub_error(&e, &k, "private-encrypted-team.42", 501);
	conn_close(&e, &k);
	env_free(&e);
}

/* Every subscriber sees the name it subscribed with, whatever the others
 * on the same statusbus channel chose; cache- names get the snapshot. */
static void test_cache_channels(void **state)
{
	struct env e;
	struct conn a, b, c, d;
	cJSON *j;
	(void)state;

	env_init(&e, NULL, NULL);
	a = open_conn(&e);
	subscribe_signed(&a, "private-team.42");
	expect_subscribed(&e, &a, "private-team.42");
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_status(&e, &a, "private-team.42", A1, "running");

	b = open_conn(&e);
	subscribe_signed(&b, "private-cache-team.42");
	expect_subscribed(&e, &b, "private-cache-team.42");
	expect_status(&e, &b, "private-cache-team.42", A1, "running");   /* the snapshot */
	expect_none(&e, &b);

	/* nothing known: cache_miss */
	subscribe_signed(&b, "private-cache-team.77");
	expect_subscribed(&e, &b, "private-cache-team.77");
	j = expect(&e, &b, "pusher:cache_miss", "private-cache-team.77");
	cJSON_Delete(j);

	/* one live status, each under its own name */
	publish(&e, "team/42/app/" A1 "/status", STATUS("stopped"), 1);
	expect_status(&e, &a, "private-team.42", A1, "stopped");
	expect_status(&e, &b, "private-cache-team.42", A1, "stopped");

	/* public channels, plain and cache- */
	c = open_conn(&e);
	d = open_conn(&e);
	subscribe(&c, "public.acme", NULL);
	expect_subscribed(&e, &c, "public.acme");
	publish(&e, "public/acme/status", "{\"ts\":\"2026-01-01T00:00:00Z\",\"status\":\"ok\"}", 1);
	j = expect(&e, &c, "public.status", "public.acme");
	cJSON_Delete(j);
	subscribe(&d, "cache-public.acme", NULL);
	expect_subscribed(&e, &d, "cache-public.acme");
	j = expect(&e, &d, "public.status", "cache-public.acme");
	cJSON_Delete(j);
	/* cache- without a signature is still only for public channels */
	subscribe(&d, "cache-team.42", NULL);
	expect_sub_error(&e, &d, "cache-team.42", 401);
	/* one statusbus channel once per connection */
	subscribe_signed(&a, "private-cache-team.42");
	expect_sub_error(&e, &a, "private-cache-team.42", 409);

	conn_close(&e, &a);
	conn_close(&e, &b);
	conn_close(&e, &c);
	conn_close(&e, &d);
	env_free(&e);
}

static void test_resubscribe_is_answered_again(void **state)
{
	struct env e;
	struct conn k;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_status(&e, &k, "private-team.42", A1, "running");
	expect_none(&e, &k);
	conn_close(&e, &k);
	env_free(&e);
}

static void test_unsubscribe(void **state)
{
	struct env e;
	struct conn k;
	struct sb_hub_gauges g;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.subscriptions, 1);
	frame(&k, "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"private-team.42\"}}");
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.subscriptions, 0);
	publish(&e, "team/42/app/" A1 "/status", STATUS("running"), 1);
	expect_none(&e, &k);
	/* unknown names are ignored, as Pusher does */
	frame(&k, "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"private-team.42\"}}");
	frame(&k, "{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"nope\"}}");
	expect_none(&e, &k);
	/* and it can come back */
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	conn_close(&e, &k);
	env_free(&e);
}

/* ---- batches ------------------------------------------------------------------------------------ */

static void test_log_batch_is_one_event(void **state)
{
	struct env e;
	struct conn k;
	cJSON *j, *d;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-deploy." D1 ".logs");
	expect_subscribed(&e, &k, "private-deploy." D1 ".logs");
	for (int i = 1; i <= 10; i++) {
		char p[160];
		snprintf(p, sizeof(p), "{\"seq\":%d,\"ts\":\"2026-01-01T00:00:00Z\",\"level\":\"info\","
			 "\"stream\":\"stdout\",\"msg\":\"line %d\"}", i, i);
		publish(&e, "deploy/" D1 "/logs", p, 0);
	}
	j = expect(&e, &k, "deploy.log.batch", "private-deploy." D1 ".logs");
	d = data_of(j);
	assert_true(cJSON_IsArray(d));
	assert_int_equal(cJSON_GetArraySize(d), 10);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 0), "seq")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 9), "seq")->valueint, 10);
	cJSON_Delete(d);
	cJSON_Delete(j);
	/* a partial batch flushes on the clock */
	publish(&e, "deploy/" D1 "/logs", "{\"seq\":11,\"ts\":\"2026-01-01T00:00:00Z\",\"level\":\"info\","
		"\"stream\":\"stdout\",\"msg\":\"line 11\"}", 0);
	expect_none(&e, &k);
	fake_now += 200;
	sb_hub_tick(e.hub);
	j = expect(&e, &k, "deploy.log.batch", "private-deploy." D1 ".logs");
	cJSON_Delete(j);
	conn_close(&e, &k);
	env_free(&e);
}

/* ---- ping, activity check, close codes --------------------------------------------------------- */

static void test_ping_pong_and_unknown(void **state)
{
	struct env e;
	struct conn k;
	cJSON *j;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	frame(&k, "{\"event\":\"pusher:ping\",\"data\":{}}");
	j = expect(&e, &k, "pusher:pong", NULL);
	cJSON_Delete(j);
	frame(&k, "{\"event\":\"pusher:signin\",\"data\":{}}");
	j = expect(&e, &k, "pusher:error", NULL);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(j, "data"), "code")));
	cJSON_Delete(j);
	frame(&k, "{nope");
	j = expect(&e, &k, "pusher:error", NULL);
	cJSON_Delete(j);
	assert_int_equal(sb_client_close_code(k.c, NULL), 0);
	conn_close(&e, &k);
	env_free(&e);
}

static void test_activity_check(void **state)
{
	struct env e;
	struct conn k;
	cJSON *j;
	const char *reason = NULL;
	(void)state;

	env_init(&e, "\"activity_timeout_s\":20", NULL);
	k = open_conn(&e);
	assert_int_equal(sb_pusher_timer(k.pc, fake_now), 20000);
	/* client traffic pushes the deadline out */
	fake_now += 15000;
	frame(&k, "{\"event\":\"pusher:ping\",\"data\":{}}");
	j = expect(&e, &k, "pusher:pong", NULL);
	cJSON_Delete(j);
	assert_int_equal(sb_pusher_timer(k.pc, fake_now), 20000);
	/* silence: pusher:ping, then 30 s for any reply */
	fake_now += 20000;
	assert_int_equal(sb_pusher_timer(k.pc, fake_now), SB_PUSHER_PONG_TIMEOUT_MS);
	j = expect(&e, &k, "pusher:ping", NULL);
	assert_string_equal(str(j, "data"), "{}");
	cJSON_Delete(j);
	fake_now += 10000;
	assert_int_equal(sb_pusher_timer(k.pc, fake_now), 20000);
	frame(&k, "{\"event\":\"pusher:pong\",\"data\":{}}");
	expect_none(&e, &k);
	assert_int_equal(sb_pusher_timer(k.pc, fake_now), 20000);
	/* silence again, no pong: 4201 */
	fake_now += 20000;
	assert_int_equal(sb_pusher_timer(k.pc, fake_now), SB_PUSHER_PONG_TIMEOUT_MS);
	j = expect(&e, &k, "pusher:ping", NULL);
	cJSON_Delete(j);
	fake_now += SB_PUSHER_PONG_TIMEOUT_MS;
	assert_int_equal(sb_pusher_timer(k.pc, fake_now), -1);
	assert_int_equal(sb_client_close_code(k.c, NULL), SB_PUSHER_CLOSE_PONG_TIMEOUT);
	assert_int_equal(sb_pusher_close_code(k.pc, SB_PUSHER_CLOSE_PONG_TIMEOUT, &reason),
			 SB_PUSHER_CLOSE_PONG_TIMEOUT);
	assert_string_equal(reason, "Pong reply not received");
	assert_int_equal(sb_pusher_stats(e.p)->pings_sent, 2);
	assert_int_equal(sb_pusher_stats(e.p)->pong_timeouts, 1);
	conn_close(&e, &k);
	env_free(&e);
}

static void test_close_codes(void **state)
{
	struct env e;
	struct conn k;
	const char *reason;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	reason = "x";
	assert_int_equal(sb_pusher_close_code(k.pc, SB_CLOSE_GOING_AWAY, &reason), 4200);
	assert_string_not_equal(reason, "x");
	assert_int_equal(sb_pusher_close_code(k.pc, SB_CLOSE_SLOW, NULL), 4100);
	assert_int_equal(sb_pusher_close_code(k.pc, SB_CLOSE_LIMIT, NULL), 4100);
	assert_int_equal(sb_pusher_close_code(k.pc, SB_CLOSE_UNAUTHORIZED, NULL), 4009);
	assert_int_equal(sb_pusher_close_code(k.pc, SB_CLOSE_TOO_LARGE, NULL), 1009);
	assert_int_equal(sb_pusher_close_code(k.pc, SB_CLOSE_PROTOCOL, NULL), 1003);
	assert_int_equal(sb_pusher_close_code(NULL, SB_CLOSE_GOING_AWAY, NULL), 4200);
	/* graceful shutdown: the hub closes everyone with 1001, Pusher sees 4200 */
	sb_hub_close_all(e.hub, SB_CLOSE_GOING_AWAY, "bridge shutting down");
	assert_int_equal(sb_pusher_close_code(k.pc, sb_client_close_code(k.c, NULL), NULL), 4200);
	conn_close(&e, &k);
	env_free(&e);
}

/* ---- client events ------------------------------------------------------------------------------- */

static void test_client_events_refused(void **state)
{
	struct env e;
	struct conn k;
	cJSON *j;
	(void)state;

	env_init(&e, NULL, NULL);
	k = open_conn(&e);
	subscribe_signed(&k, "private-team.42");
	expect_subscribed(&e, &k, "private-team.42");
	frame(&k, "{\"event\":\"client-typing\",\"channel\":\"private-team.42\",\"data\":{}}");
	j = expect(&e, &k, "pusher:error", NULL);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"),
							  "code")->valueint, 4301);
	cJSON_Delete(j);
	assert_int_equal(sb_client_close_code(k.c, NULL), 0);
	assert_int_equal(sb_pusher_stats(e.p)->client_events_refused, 1);
	conn_close(&e, &k);
	env_free(&e);
}

static void test_client_events_relayed(void **state)
{
	struct env e;
	struct conn a, b, c;
	cJSON *j, *d;
	(void)state;

	env_init(&e, "\"client_events\":true", NULL);
	a = open_conn(&e);
	b = open_conn(&e);
	c = open_conn(&e);
	subscribe_signed(&a, "private-team.42");
	expect_subscribed(&e, &a, "private-team.42");
	subscribe_signed(&b, "private-team.42");
	expect_subscribed(&e, &b, "private-team.42");
	subscribe(&c, "public.acme", NULL);
	expect_subscribed(&e, &c, "public.acme");
	frame(&a, "{\"event\":\"client-typing\",\"channel\":\"private-team.42\",\"data\":{\"who\":\"a\"}}");
	j = expect(&e, &b, "client-typing", "private-team.42");
	d = data_of(j);
	assert_string_equal(str(d, "who"), "a");
	cJSON_Delete(d);
	cJSON_Delete(j);
	expect_none(&e, &a);   /* not echoed */
	expect_none(&e, &c);
	/* only on private channels the sender subscribed */
	frame(&c, "{\"event\":\"client-x\",\"channel\":\"public.acme\",\"data\":{}}");
	j = expect(&e, &c, "pusher:error", NULL);
	cJSON_Delete(j);
	frame(&c, "{\"event\":\"client-x\",\"channel\":\"private-team.42\",\"data\":{}}");
	j = expect(&e, &c, "pusher:error", NULL);
	cJSON_Delete(j);
	expect_none(&e, &a);
	expect_none(&e, &b);
	/* Pusher's 10 per second */
	for (int i = 0; i < 9; i++)
		frame(&a, "{\"event\":\"client-x\",\"channel\":\"private-team.42\",\"data\":\"{}\"}");
	for (int i = 0; i < 9; i++) {
		j = expect(&e, &b, "client-x", "private-team.42");
		cJSON_Delete(j);
	}
	frame(&a, "{\"event\":\"client-x\",\"channel\":\"private-team.42\",\"data\":{}}");
	j = expect(&e, &a, "pusher:error", NULL);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "data"),
							  "code")->valueint, 4301);
	cJSON_Delete(j);
	expect_none(&e, &b);
	/* b leaves: nobody to relay to, and no dangling pointer to it */
	conn_close(&e, &b);
	fake_now += 2000;
	frame(&a, "{\"event\":\"client-x\",\"channel\":\"private-team.42\",\"data\":{}}");
	expect_none(&e, &a);
	assert_int_equal(sb_pusher_stats(e.p)->client_events, 10);
	conn_close(&e, &a);
	conn_close(&e, &c);
	env_free(&e);
}

/* ---- limits ----------------------------------------------------------------------------------------- */

static void test_subscription_limit(void **state)
{
	struct env e;
	struct conn k;
	char name[64];
	(void)state;

	env_init(&e, NULL, NULL);   /* max_subscriptions 8 */
	k = open_conn(&e);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "private-team.t%d", i);
		subscribe_signed(&k, name);
		expect_subscribed(&e, &k, name);
	}
	subscribe_signed(&k, "private-team.t8");
	expect_sub_error(&e, &k, "private-team.t8", 429);
	conn_close(&e, &k);
	env_free(&e);
}

static void test_rate_limit(void **state)
{
	struct env e;
	struct conn k;
	cJSON *j;
	int pongs = 0, errors = 0;
	(void)state;

	/* 10 frames/s plus a burst of max_subscriptions (8) */
	env_init(&e, NULL, "\"max_msgs_per_s\":10");
	k = open_conn(&e);
	for (int i = 0; i < 18; i++)
		frame(&k, "{\"event\":\"pusher:ping\",\"data\":{}}");
	subscribe(&k, "public.acme", NULL);
	while ((j = next(&e, &k))) {
		if (!strcmp(str(j, "event"), "pusher:pong"))
			pongs++;
		else if (!strcmp(str(j, "event"), "pusher:error"))
			errors++;
		else
			assert_string_equal(str(j, "event"), "pusher:subscription_error");
		cJSON_Delete(j);
	}
	assert_int_equal(pongs, 18);
	assert_int_equal(errors, 0);
	for (int i = 0; i < 5; i++)
		frame(&k, "{\"event\":\"pusher:ping\",\"data\":{}}");
	for (int i = 0; i < 5; i++) {
		j = expect(&e, &k, "pusher:error", NULL);
		cJSON_Delete(j);
	}
	assert_int_equal(sb_client_close_code(k.c, NULL), 0);
	/* a client that keeps going is closed */
	for (int i = 0; i < 40; i++)
		frame(&k, "{\"event\":\"pusher:ping\",\"data\":{}}");
	assert_int_equal(sb_client_close_code(k.c, NULL), SB_PUSHER_CLOSE_RATE_LIMIT);
	/* after a second the budget is back (for a new connection) */
	conn_close(&e, &k);
	fake_now += 1000;
	k = open_conn(&e);
	frame(&k, "{\"event\":\"pusher:ping\",\"data\":{}}");
	j = expect(&e, &k, "pusher:pong", NULL);
	cJSON_Delete(j);
	conn_close(&e, &k);
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_forms),
		cmocka_unit_test(test_socket_id),
		cmocka_unit_test(test_sign_pusher_example),
		cmocka_unit_test(test_sign_matches_openssl),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_constant_time),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_event_frames),
		cmocka_unit_test(test_batch_and_gap_frames),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_handshake_refused),
		cmocka_unit_test(test_private_channel),
		cmocka_unit_test(test_bad_signature_gets_no_data),
		cmocka_unit_test(test_trust_is_per_channel),
		cmocka_unit_test(test_private_bypasses_jwt_acl_only_for_that_channel),
		cmocka_unit_test(test_public_channel),
		cmocka_unit_test(test_cache_channels),
		cmocka_unit_test(test_resubscribe_is_answered_again),
		cmocka_unit_test(test_unsubscribe),
		cmocka_unit_test(test_log_batch_is_one_event),
		cmocka_unit_test(test_ping_pong_and_unknown),
		cmocka_unit_test(test_activity_check),
		cmocka_unit_test(test_close_codes),
		cmocka_unit_test(test_client_events_refused),
		cmocka_unit_test(test_client_events_relayed),
		cmocka_unit_test(test_subscription_limit),
		cmocka_unit_test(test_rate_limit),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
