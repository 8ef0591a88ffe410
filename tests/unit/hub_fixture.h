/* SPDX-License-Identifier: MIT
 *
 * hub_fixture.h - the engine tests' environment (test_hub.c, test_channel.c,
 * test_client.c, test_session_v1.c, test_query.c): a real hub with the
 * statusbus.v1 session, driven the way the adapters drive it but with a fake
 * clock (sb_hub_params.now_ms and wall_s) and fake sb_hub_ops that record
 * MQTT (un)subscriptions, wake-ups, publishes and timer deadlines.  Broker
 * messages go in through sb_hub_on_message, client frames through
 * sb_hub_client_frame, and what a browser would receive comes out of
 * sb_hub_client_next and is parsed with cJSON.
 *
 * Header-only (each test is its own executable).  The helpers are static
 * inline so that an executable that needs only some of them builds without
 * warnings.
 */
#ifndef SB_TEST_HUB_FIXTURE_H
#define SB_TEST_HUB_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "chanmap.h"
#include "config.h"
#include "hub.h"
#include "session_v1.h"
#include "jwt.h"

#include "core_fixture.h"
#include "fake_broker.h"

#define D1 "0b8f7c1e-1111-2222-3333-444455556666"
#define D2 "9f0e1d2c-aaaa-bbbb-cccc-ddddeeeeffff"
#define A1 "aaaaaaaa-0000-0000-0000-000000000001"
#define A2 "aaaaaaaa-0000-0000-0000-000000000002"
#define SECRET "unit-test secret, 32 bytes long!"
#define T0 1000000
#define W0 1700000000

/* ---- fake clock and ops ---------------------------------------------------------- */

static int64_t fake_now = T0, fake_wall = W0;
static inline int64_t now_fn(void) { return fake_now; }
static inline int64_t wall_fn(void) { return fake_wall; }

#define MAXF 64
struct fake {
	struct { char filter[160]; int live, subs, unsubs; } f[MAXF];
	size_t nf;
	int wakes;
	int64_t timer;
	int timers;
	int published;
	char pub_topic[600];
	char pub_payload[4096];
	int retained;                /* publish_retained calls (presence) */
	char ret_topic[600];
	char ret_payload[4096];
	struct fake_broker broker;   /* grants, barriers (fake_broker.h) */
};

static inline int fidx(struct fake *k, const char *filter)
{
	for (size_t i = 0; i < k->nf; i++)
		if (strcmp(k->f[i].filter, filter) == 0)
			return (int)i;
	assert_true(k->nf < MAXF);
	snprintf(k->f[k->nf].filter, sizeof(k->f[0].filter), "%s", filter);
	return (int)k->nf++;
}

static inline void op_sub(void *ctx, const char *filter)
{
	struct fake *k = ctx;
	int i = fidx(k, filter);

	k->f[i].subs++;
	k->f[i].live++;
	fb_subscribe(&k->broker, filter);
}

static inline void op_unsub(void *ctx, const char *filter)
{
	struct fake *k = ctx;
	int i = fidx(k, filter);

	k->f[i].unsubs++;
	k->f[i].live--;
}

static inline void op_wake(void *ctx, struct sb_client *c)
{
	(void)c;
	((struct fake *)ctx)->wakes++;
}

static inline void op_timer(void *ctx, int64_t deadline)
{
	struct fake *k = ctx;

	k->timer = deadline;
	k->timers++;
}

static inline void op_publish(void *ctx, const char *topic, const void *payload, size_t len)
{
	struct fake *k = ctx;

	if (fb_publish(&k->broker, topic, payload, len))
		return;   /* a replay barrier: the fake broker echoes it */
	k->published++;
	snprintf(k->pub_topic, sizeof(k->pub_topic), "%s", topic);
	assert_true(len < sizeof(k->pub_payload));
	memcpy(k->pub_payload, payload, len);
	k->pub_payload[len] = '\0';
}

static inline void op_retained(void *ctx, const char *topic, const void *payload, size_t len)
{
	struct fake *k = ctx;

	k->retained++;
	snprintf(k->ret_topic, sizeof(k->ret_topic), "%s", topic);
	assert_true(len < sizeof(k->ret_payload));
	memcpy(k->ret_payload, payload, len);
	k->ret_payload[len] = '\0';
}

static inline int subs_of(struct fake *k, const char *filter) { return k->f[fidx(k, filter)].subs; }
static inline int unsubs_of(struct fake *k, const char *filter) { return k->f[fidx(k, filter)].unsubs; }
static inline int live_of(struct fake *k, const char *filter) { return k->f[fidx(k, filter)].live; }

/* ---- environment ------------------------------------------------------------------ */

struct env {
	struct sb_config *cfg;
	struct sb_jwt_key *key;
	struct sb_hub *hub;
	const struct sb_session *v1;
	struct fake fake;
};

static const char *const TEAM_FILTERS[] __attribute__((unused)) = {
	"team/42/app/+/status", "team/42/db/+/status", "team/42/service/+/status",
	"team/42/server/+/reachability", "team/42/deploy/+/status", "team/42/incident/+",
	"team/42/maintenance/+",
};
/* TEAM_FILTERS[i] rides on the bridge's own team/+/<kind>/+/status
 * (filters.h: carried, not subscribed at the broker) */
static int team_filter_carried(size_t i) __attribute__((unused));
static int team_filter_carried(size_t i) { return i <= 2 || i == 4; }

/* `config`: JSON text; `auth`: 1 = HS256 key (SECRET), 0 = open mode */
static inline void env_init(struct env *e, const char *config, int auth)
{
	char err[512];
	struct sb_hub_params p;
	struct sb_hub_ops ops = { &e->fake, op_sub, op_unsub, op_wake, op_publish, op_timer,
				  op_retained };

	memset(e, 0, sizeof(*e));
	fake_now = T0;
	fake_wall = W0;
	if (sb_config_parse(&e->cfg, config, "test.json", err, sizeof(err)) != SB_OK)
		fail_msg("config: %s", err);
	if (auth)
		assert_int_equal(sb_jwt_key_create_hmac(&e->key, (const unsigned char *)SECRET,
							strlen(SECRET)), SB_OK);
	memset(&p, 0, sizeof(p));
	p.cfg = e->cfg;
	p.map = map;
	p.kinds = kinds;
	p.schemas = NULL;
	p.jwt_key = e->key;
	p.now_ms = now_fn;
	p.wall_s = wall_fn;
	ops.ctx = &e->fake;
	assert_int_equal(sb_hub_create(&e->hub, &p, &ops), SB_OK);
	e->v1 = sb_session_v1_add(e->hub);
	assert_non_null(e->v1);
	e->fake.broker.hub = e->hub;
	sb_hub_mqtt_state(e->hub, 1);
	fb_pump(&e->fake.broker);
}


static inline void env_fini(struct env *e)
{
	sb_hub_destroy(e->hub);
	sb_jwt_key_destroy(e->key);
	sb_config_destroy(e->cfg);
	fb_free(&e->fake.broker);
}

static inline void publish(struct env *e, const char *topic, const char *payload, int retained)
{
	struct sb_msg *m = sb_msg_create(topic, strlen(topic), payload, strlen(payload), retained);

	assert_non_null(m);
	sb_hub_on_message(e->hub, m);
	sb_msg_unref(m);
}

static inline void log_line(struct env *e, const char *deploy, int64_t seq)
{
	char topic[128], payload[256];

	snprintf(topic, sizeof(topic), "deploy/%s/logs", deploy);
	snprintf(payload, sizeof(payload), "{\"seq\":%lld,\"ts\":\"2026-01-01T00:00:00Z\","
		 "\"level\":\"info\",\"stream\":\"stdout\",\"msg\":\"line %lld\"}",
		 (long long)seq, (long long)seq);
	publish(e, topic, payload, 0);
}

static inline void tx(struct env *e, struct sb_client *c, const char *text)
{
	sb_hub_client_frame(e->hub, c, text, strlen(text));
	fb_pump(&e->fake.broker);   /* a sub is granted at once */
}

static inline void advance(struct env *e, int64_t ms)
{
	fake_now += ms;
	sb_hub_tick(e->hub);
}

/* The next frame for c, parsed (caller deletes), or NULL. */
static inline cJSON *pull(struct env *e, struct sb_client *c)
{
	struct sb_frame *f;
	cJSON *j;

	fb_pump(&e->fake.broker);   /* the broker's turn: grants, barriers */
	f = sb_hub_client_next(e->hub, c);	const char *end = NULL;

	if (!f)
		return NULL;
	j = cJSON_ParseWithLengthOpts((const char *)sb_frame_data(f), f->len, &end, 0);
	if (!cJSON_IsObject(j) || end != (const char *)sb_frame_data(f) + f->len)
		fail_msg("frame is not one JSON object: %.*s", (int)f->len, sb_frame_data(f));
	sb_frame_unref(f);
	return j;
}

static inline const char *sget(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline double nget(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v))
		fail_msg("%s is not a number", k);
	return v->valuedouble;
}

static inline int is_op(const cJSON *j, const char *op)
{
	return j && sget(j, "op") && strcmp(sget(j, "op"), op) == 0;
}

/* Pulls the next frame and expects its op. */
static inline cJSON *expect_op(struct env *e, struct sb_client *c, const char *op)
{
	cJSON *j = pull(e, c);

	if (!is_op(j, op)) {
		char *s = j ? cJSON_PrintUnformatted(j) : NULL;
		fail_msg("expected op %s, got %s", op, s ? s : "(nothing)");
	}
	return j;
}

static inline void expect_nothing(struct env *e, struct sb_client *c)
{
	cJSON *j = pull(e, c);

	if (j) {
		char *s = cJSON_PrintUnformatted(j);
		fail_msg("expected no frame, got %s", s);
	}
}

static inline void expect_error_code(struct env *e, struct sb_client *c, const char *code)
{
	cJSON *j = expect_op(e, c, "error");

	if (!sget(j, "code") || strcmp(sget(j, "code"), code) != 0)
		fail_msg("error code %s, want %s (%s)", sget(j, "code"), code, sget(j, "message"));
	cJSON_Delete(j);
}

/* A client after hello (open mode or with `token`), welcome consumed. */
static inline struct sb_client *client(struct env *e, const char *token)
{
	struct sb_client *c = sb_hub_client_new(e->hub, e->v1, NULL);
	char hello[4096];
	cJSON *j;

	assert_non_null(c);
	if (token)
		snprintf(hello, sizeof(hello), "{\"op\":\"hello\",\"token\":\"%s\"}", token);
	else
		snprintf(hello, sizeof(hello), "{\"op\":\"hello\"}");
	tx(e, c, hello);
	j = expect_op(e, c, "welcome");
	cJSON_Delete(j);
	assert_int_equal(sb_client_close_code(c, NULL), 0);
	return c;
}

/* Subscribes and consumes the ack; returns its "recovered" (-1 = absent). */
static inline int sub_since(struct env *e, struct sb_client *c, int id, const char *channel,
			    long long since)
{
	char text[512];
	cJSON *j;
	const cJSON *r;
	int rec;

	if (since >= 0)
		snprintf(text, sizeof(text), "{\"op\":\"sub\",\"id\":%d,\"channel\":\"%s\",\"since\":%lld}",
			 id, channel, since);
	else
		snprintf(text, sizeof(text), "{\"op\":\"sub\",\"id\":%d,\"channel\":\"%s\"}", id, channel);
	tx(e, c, text);
	j = expect_op(e, c, "ack");
	assert_int_equal(nget(j, "id"), id);
	assert_string_equal(sget(j, "channel"), channel);
	r = cJSON_GetObjectItemCaseSensitive(j, "recovered");
	rec = r ? cJSON_IsTrue(r) : -1;
	cJSON_Delete(j);
	return rec;
}

static inline void sub(struct env *e, struct sb_client *c, int id, const char *channel)
{
	assert_int_equal(sub_since(e, c, id, channel, -1), -1);
}

static inline char *token(const char *sub, int64_t exp, const char *teams)
{
	char claims[512], *t = NULL;

	snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":%lld,\"teams\":[%s]}", sub,
		 (long long)exp, teams);
	assert_int_equal(sb_jwt_sign_hs256(&t, (const unsigned char *)SECRET, strlen(SECRET), claims),
			 SB_OK);
	return t;
}

/* ---- log reading ------------------------------------------------------------------ */

struct logview {
	const char *event;   /* the batches' event name; NULL: "deploy.log" */
	int64_t seq[4096];
	size_t n;
	struct { int64_t from, to; } gap[16];
	size_t ngaps;
	size_t frames;
};

/* Pulls every frame of c, collecting log seqs (batch events) and gaps.
 * Other frames fail the test. */
static inline void read_logs(struct env *e, struct sb_client *c, struct logview *v)
{
	cJSON *j;

	while ((j = pull(e, c))) {
		v->frames++;
		if (is_op(j, "batch")) {
			const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "events"), *it;
			assert_string_equal(sget(j, "event"), v->event ? v->event : "deploy.log");
			cJSON_ArrayForEach(it, ev) {
				assert_true(v->n < 4096);
				v->seq[v->n++] = (int64_t)nget(it, "seq");
			}
		} else if (is_op(j, "gap")) {
			assert_true(v->ngaps < 16);
			v->gap[v->ngaps].from = (int64_t)nget(j, "from");
			v->gap[v->ngaps].to = (int64_t)nget(j, "to");
			assert_int_equal(nget(j, "lines"), v->gap[v->ngaps].to - v->gap[v->ngaps].from + 1);
			v->ngaps++;
		} else {
			fail_msg("unexpected frame op %s", sget(j, "op"));
		}
		cJSON_Delete(j);
	}
}

/* The seqs are exactly first..last, in order, once each. */
static inline void expect_seqs(const struct logview *v, int64_t first, int64_t last)
{
	if (v->n != (size_t)(last - first + 1))
		fail_msg("got %zu lines, want %lld..%lld", v->n, (long long)first, (long long)last);
	for (size_t i = 0; i < v->n; i++)
		if (v->seq[i] != first + (int64_t)i)
			fail_msg("line %zu is seq %lld, want %lld", i, (long long)v->seq[i],
				 (long long)(first + (int64_t)i));
}

#endif
