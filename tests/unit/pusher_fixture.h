/* SPDX-License-Identifier: MIT
 *
 * pusher_fixture.h - the Pusher session tests' environment: a real hub in
 * auth mode with a Pusher side on top, driven like ws_server.c drives it,
 * on a fake clock; connections, subscribe helpers and frame expectations.
 * Header-only (each test is its own executable); used by test_pusher.c
 * and test_pusher_channels.c.  The helpers are static inline so that an
 * executable that needs only some of them builds without warnings.
 */
#ifndef SB_TEST_PUSHER_FIXTURE_H
#define SB_TEST_PUSHER_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "config.h"
#include "hub.h"
#include "jwt.h"
#include "proto_v1.h"
#include "session_pusher.h"

#include "core_fixture.h"
#include "fake_broker.h"
#include "pusher_json.h"

#define KEY "app-key"
#define SECRET "app-secret"
#define JWT_SECRET "unit-test secret, 32 bytes long!"
#define A1 "aaaaaaaa-0000-0000-0000-000000000001"
#define A2 "aaaaaaaa-0000-0000-0000-000000000002"
#define D1 "0b8f7c1e-1111-2222-3333-444455556666"
#define T0 1000000

/* ---- fake clock ---------------------------------------------------------------- */

static int64_t fake_now = T0;
static inline int64_t now_fn(void) { return fake_now; }
static inline int64_t wall_fn(void) { return 1700000000; }

static inline void op_wake(void *ctx, struct sb_client *c) { (void)ctx; (void)c; }

static inline void op_sub(void *ctx, const char *filter)
{
	fb_subscribe(ctx, filter);
}

static inline void op_publish(void *ctx, const char *topic, const void *p, size_t len)
{
	fb_publish(ctx, topic, p, len);
}

/* ---- environment ------------------------------------------------------------------ */

struct env {
	struct sb_config *cfg;
	struct sb_jwt_key *key;
	struct sb_hub *hub;
	struct sb_pusher *p;
	struct fake_broker broker;
};

struct conn {
	struct sb_client *c;
	struct sb_pusher_conn *pc;
};

/* `pusher_extra` and `limits` are spliced into the config's sections. */
static inline void env_init(struct env *e, const char *pusher_extra, const char *limits)
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
	ops.ctx = &e->broker;
	ops.wake = op_wake;
	ops.mqtt_subscribe = op_sub;
	ops.publish = op_publish;
	assert_int_equal(sb_hub_create(&e->hub, &hp, &ops), SB_OK);
	e->broker.hub = e->hub;
	sb_hub_mqtt_state(e->hub, 1);
	fb_pump(&e->broker);
	assert_int_equal(sb_pusher_create(&e->p, e->hub, e->cfg), SB_OK);
	sb_pusher_set_clock(e->p, now_fn);
}

static inline void conn_close(struct env *e, struct conn *k)
{
	sb_pusher_conn_gone(k->pc);
	sb_hub_client_gone(e->hub, k->c);
	k->pc = NULL;
	k->c = NULL;
}

static inline void env_free(struct env *e)
{
	sb_hub_destroy(e->hub);     /* frees any client left */
	sb_pusher_destroy(e->p);
	sb_jwt_key_destroy(e->key);
	sb_config_destroy(e->cfg);
	fb_free(&e->broker);
}

/* The next frame c would receive, parsed (caller deletes), or NULL. */
static inline cJSON *next(struct env *e, struct conn *k)
{
	struct sb_frame *f;
	cJSON *j;

	fb_pump(&e->broker);   /* the broker's turn: grants, barriers */
	f = sb_hub_client_next(e->hub, k->c);
	if (!f)
		return NULL;
	j = cJSON_ParseWithLength((const char *)sb_frame_data(f), f->len);
	if (!j)
		fail_msg("frame is not JSON: %.*s", (int)f->len, sb_frame_data(f));
	sb_frame_unref(f);
	return j;
}

/* Takes the next frame and checks its event (and channel when given). */
static inline cJSON *expect(struct env *e, struct conn *k, const char *event,
			    const char *channel)
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

static inline void expect_none(struct env *e, struct conn *k)
{
	cJSON *j = next(e, k);

	if (j) {
		char *s = cJSON_PrintUnformatted(j);
		fail_msg("unexpected frame %s", s);
	}
}

/* A connection that passed the handshake, its connection_established read. */
static inline struct conn open_conn(struct env *e)
{
	struct conn k;
	cJSON *j;

	k.c = sb_hub_client_new(e->hub, sb_pusher_session(e->p), (void *)1);
	assert_non_null(k.c);
	k.pc = sb_pusher_open(e->p, k.c, "/app/" KEY, "7");
	assert_non_null(k.pc);
	j = expect(e, &k, "pusher:connection_established", NULL);
	cJSON_Delete(j);
	return k;
}

static inline void frame(struct conn *k, const char *text)
{
	sb_pusher_frame(k->pc, text, strlen(text));
}

static inline void auth_for(struct conn *k, const char *channel, char *out, size_t len)
{
	char hex[65];

	assert_int_equal(sb_pusher_sign(SECRET, sb_pusher_socket_id(k->pc), channel, hex), SB_OK);
	snprintf(out, len, KEY ":%s", hex);
}

static inline void subscribe(struct conn *k, const char *channel, const char *auth)
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

static inline void subscribe_signed(struct conn *k, const char *channel)
{
	char auth[128];

	auth_for(k, channel, auth, sizeof(auth));
	subscribe(k, channel, auth);
}

static inline void expect_subscribed(struct env *e, struct conn *k, const char *channel)
{
	cJSON *j = expect(e, k, "pusher_internal:subscription_succeeded", channel);

	assert_string_equal(str(j, "data"), "{}");
	cJSON_Delete(j);
}

static inline void expect_sub_error(struct env *e, struct conn *k, const char *channel,
				    int status)
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

static inline void publish(struct env *e, const char *topic, const char *payload,
			   int retained)
{
	struct sb_msg *m = sb_msg_create(topic, strlen(topic), payload, strlen(payload), retained);

	assert_non_null(m);
	sb_hub_on_message(e->hub, m);
	sb_msg_unref(m);
}

/* An app.status event for channel with the given status. */
static inline void expect_status(struct env *e, struct conn *k, const char *channel,
				 const char *app, const char *status)
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

#endif
