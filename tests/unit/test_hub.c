/* SPDX-License-Identifier: MIT
 *
 * test_hub.c - unit tests for hub.c, the engine, driven the way
 * the adapters drive it but with a fake clock (sb_hub_params.now_ms and
 * wall_s) and fake sb_hub_ops that record MQTT (un)subscriptions, wake-ups
 * and timer deadlines.  Broker messages go in through sb_hub_on_message,
 * client frames through sb_hub_client_frame, and what a browser would
 * receive comes out of sb_hub_client_next and is parsed with cJSON.
 *
 * Covered: reference-counted MQTT subscriptions, snapshots from the
 * retained cache, broker replays not sent twice, deleted events, routing,
 * batching and conflation on the fake clock, log history and resume
 * (since) without duplicates or holes, slow clients (4029), hello timeout,
 * token expiry and refresh, subscription limits, QoS 1 duplicates.
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

#include "chanmap.h"
#include "config.h"
#include "hub.h"
#include "session_v1.h"
#include "jwt.h"

#define D1 "0b8f7c1e-1111-2222-3333-444455556666"
#define D2 "9f0e1d2c-aaaa-bbbb-cccc-ddddeeeeffff"
#define A1 "aaaaaaaa-0000-0000-0000-000000000001"
#define A2 "aaaaaaaa-0000-0000-0000-000000000002"
#define SECRET "unit-test secret, 32 bytes long!"
#define T0 1000000
#define W0 1700000000

/* ---- fake clock and ops ---------------------------------------------------------- */

static int64_t fake_now = T0, fake_wall = W0;
static int64_t now_fn(void) { return fake_now; }
static int64_t wall_fn(void) { return fake_wall; }

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
};

static int fidx(struct fake *k, const char *filter)
{
	for (size_t i = 0; i < k->nf; i++)
		if (strcmp(k->f[i].filter, filter) == 0)
			return (int)i;
	assert_true(k->nf < MAXF);
	snprintf(k->f[k->nf].filter, sizeof(k->f[0].filter), "%s", filter);
	return (int)k->nf++;
}

static void op_sub(void *ctx, const char *filter)
{
	struct fake *k = ctx;
	int i = fidx(k, filter);

	k->f[i].subs++;
	k->f[i].live++;
}

static void op_unsub(void *ctx, const char *filter)
{
	struct fake *k = ctx;
	int i = fidx(k, filter);

	k->f[i].unsubs++;
	k->f[i].live--;
}

static void op_wake(void *ctx, struct sb_client *c)
{
	(void)c;
	((struct fake *)ctx)->wakes++;
}

static void op_timer(void *ctx, int64_t deadline)
{
	struct fake *k = ctx;

	k->timer = deadline;
	k->timers++;
}

static void op_publish(void *ctx, const char *topic, const void *payload, size_t len)
{
	struct fake *k = ctx;

	k->published++;
	snprintf(k->pub_topic, sizeof(k->pub_topic), "%s", topic);
	assert_true(len < sizeof(k->pub_payload));
	memcpy(k->pub_payload, payload, len);
	k->pub_payload[len] = '\0';
}

static int subs_of(struct fake *k, const char *filter) { return k->f[fidx(k, filter)].subs; }
static int unsubs_of(struct fake *k, const char *filter) { return k->f[fidx(k, filter)].unsubs; }
static int live_of(struct fake *k, const char *filter) { return k->f[fidx(k, filter)].live; }

/* ---- environment ------------------------------------------------------------------ */

#include "core_fixture.h"

struct env {
	struct sb_config *cfg;
	struct sb_jwt_key *key;
	struct sb_hub *hub;
	const struct sb_session *v1;
	struct fake fake;
};

static const char *const TEAM_FILTERS[] = {
	"team/42/app/+/status", "team/42/db/+/status", "team/42/service/+/status",
	"team/42/server/+/reachability", "team/42/deploy/+/status", "team/42/incident/+",
	"team/42/maintenance/+",
};

/* `config`: JSON text; `auth`: 1 = HS256 key (SECRET), 0 = open mode */
static void env_init(struct env *e, const char *config, int auth)
{
	char err[512];
	struct sb_hub_params p;
	struct sb_hub_ops ops = { &e->fake, op_sub, op_unsub, op_wake, op_publish, op_timer };

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
}

/* The HTTP query as http_api.c answers it: body and status. */
static int http_query(struct sb_hub *hub, const char *token, const char *channel, int history,
		      int64_t since, char **body)
{
	enum sb_code code = SB_CODE_INTERNAL;

	if (sb_hub_query(hub, token, channel, history, since, body, &code) == SB_OK)
		return 200;
	return sb_code_http_status(code);
}

static void env_fini(struct env *e)
{
	sb_hub_destroy(e->hub);
	sb_jwt_key_destroy(e->key);
	sb_config_destroy(e->cfg);
}

static void publish(struct env *e, const char *topic, const char *payload, int retained)
{
	struct sb_msg *m = sb_msg_create(topic, strlen(topic), payload, strlen(payload), retained);

	assert_non_null(m);
	sb_hub_on_message(e->hub, m);
	sb_msg_unref(m);
}

static void log_line(struct env *e, const char *deploy, int64_t seq)
{
	char topic[128], payload[256];

	snprintf(topic, sizeof(topic), "deploy/%s/logs", deploy);
	snprintf(payload, sizeof(payload), "{\"seq\":%lld,\"ts\":\"2026-01-01T00:00:00Z\","
		 "\"level\":\"info\",\"stream\":\"stdout\",\"msg\":\"line %lld\"}",
		 (long long)seq, (long long)seq);
	publish(e, topic, payload, 0);
}

static void tx(struct env *e, struct sb_client *c, const char *text)
{
	sb_hub_client_frame(e->hub, c, text, strlen(text));
}

static void advance(struct env *e, int64_t ms)
{
	fake_now += ms;
	sb_hub_tick(e->hub);
}

/* The next frame for c, parsed (caller deletes), or NULL. */
static cJSON *pull(struct env *e, struct sb_client *c)
{
	struct sb_frame *f = sb_hub_client_next(e->hub, c);
	cJSON *j;
	const char *end = NULL;

	if (!f)
		return NULL;
	j = cJSON_ParseWithLengthOpts((const char *)sb_frame_data(f), f->len, &end, 0);
	if (!cJSON_IsObject(j) || end != (const char *)sb_frame_data(f) + f->len)
		fail_msg("frame is not one JSON object: %.*s", (int)f->len, sb_frame_data(f));
	sb_frame_unref(f);
	return j;
}

static const char *sget(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double nget(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v))
		fail_msg("%s is not a number", k);
	return v->valuedouble;
}

static int is_op(const cJSON *j, const char *op)
{
	return j && sget(j, "op") && strcmp(sget(j, "op"), op) == 0;
}

/* Pulls the next frame and expects its op. */
static cJSON *expect_op(struct env *e, struct sb_client *c, const char *op)
{
	cJSON *j = pull(e, c);

	if (!is_op(j, op)) {
		char *s = j ? cJSON_PrintUnformatted(j) : NULL;
		fail_msg("expected op %s, got %s", op, s ? s : "(nothing)");
	}
	return j;
}

static void expect_nothing(struct env *e, struct sb_client *c)
{
	cJSON *j = pull(e, c);

	if (j) {
		char *s = cJSON_PrintUnformatted(j);
		fail_msg("expected no frame, got %s", s);
	}
}

static void expect_error_code(struct env *e, struct sb_client *c, const char *code)
{
	cJSON *j = expect_op(e, c, "error");

	if (!sget(j, "code") || strcmp(sget(j, "code"), code) != 0)
		fail_msg("error code %s, want %s (%s)", sget(j, "code"), code, sget(j, "message"));
	cJSON_Delete(j);
}

/* A client after hello (open mode or with `token`), welcome consumed. */
static struct sb_client *client(struct env *e, const char *token)
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
static int sub_since(struct env *e, struct sb_client *c, int id, const char *channel,
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

static void sub(struct env *e, struct sb_client *c, int id, const char *channel)
{
	assert_int_equal(sub_since(e, c, id, channel, -1), -1);
}

static char *token(const char *sub, int64_t exp, const char *teams)
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
	int64_t seq[4096];
	size_t n;
	struct { int64_t from, to; } gap[16];
	size_t ngaps;
	size_t frames;
};

/* Pulls every frame of c, collecting log seqs (batch events) and gaps.
 * Other frames fail the test. */
static void read_logs(struct env *e, struct sb_client *c, struct logview *v)
{
	cJSON *j;

	while ((j = pull(e, c))) {
		v->frames++;
		if (is_op(j, "batch")) {
			const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "events"), *it;
			assert_string_equal(sget(j, "event"), "deploy.log");
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
static void expect_seqs(const struct logview *v, int64_t first, int64_t last)
{
	if (v->n != (size_t)(last - first + 1))
		fail_msg("got %zu lines, want %lld..%lld", v->n, (long long)first, (long long)last);
	for (size_t i = 0; i < v->n; i++)
		if (v->seq[i] != first + (int64_t)i)
			fail_msg("line %zu is seq %lld, want %lld", i, (long long)v->seq[i],
				 (long long)(first + (int64_t)i));
}

/* ---- reference counting --------------------------------------------------------------- */

static void test_filters_refcounted(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct sb_hub_gauges g;
	(void)state;

	env_init(&e, "{}", 0);
	/* the deploy owners' filter is always on */
	assert_int_equal(live_of(&e.fake, "team/+/deploy/+/status"), 1);
	a = client(&e, NULL);
	b = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(subs_of(&e.fake, TEAM_FILTERS[i]), 1);
	sub(&e, b, 1, "team.42");
	/* two browsers on one channel: still one MQTT subscription each */
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(subs_of(&e.fake, TEAM_FILTERS[i]), 1);
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.clients, 2);
	assert_int_equal(g.channels, 1);
	assert_int_equal(g.subscriptions, 2);
	assert_int_equal(g.mqtt_filters, 8);
	assert_int_equal(sb_hub_filters(e.hub, NULL, 0), 8);
	/* one unsubscribes: nothing changes on the MQTT side */
	tx(&e, a, "{\"op\":\"unsub\",\"id\":2,\"channel\":\"team.42\"}");
	cJSON_Delete(expect_op(&e, a, "ack"));
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(unsubs_of(&e.fake, TEAM_FILTERS[i]), 0);
	/* the last one goes away: every filter of the channel is unsubscribed */
	sb_hub_client_gone(e.hub, b);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(unsubs_of(&e.fake, TEAM_FILTERS[i]), 1);
		assert_int_equal(live_of(&e.fake, TEAM_FILTERS[i]), 0);
	}
	assert_int_equal(live_of(&e.fake, "team/+/deploy/+/status"), 1);
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.channels, 0);
	assert_int_equal(g.subscriptions, 0);
	assert_int_equal(g.mqtt_filters, 1);
	/* subscribing again subscribes again */
	sub(&e, a, 3, "team.42");
	assert_int_equal(subs_of(&e.fake, TEAM_FILTERS[0]), 2);
	env_fini(&e);
}

static void test_shared_filter_across_channels(void **state)
{
	struct env e;
	struct sb_client *a;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	/* deploy.<d> uses team/+/deploy/<d>/status, its own filter */
	sub(&e, a, 1, "deploy." D1);
	assert_int_equal(subs_of(&e.fake, "team/+/deploy/" D1 "/status"), 1);
	tx(&e, a, "{\"op\":\"unsub\",\"id\":2,\"channel\":\"deploy." D1 "\"}");
	cJSON_Delete(expect_op(&e, a, "ack"));
	assert_int_equal(live_of(&e.fake, "team/+/deploy/" D1 "/status"), 0);
	/* unsubscribing what is not subscribed is not_found */
	tx(&e, a, "{\"op\":\"unsub\",\"id\":3,\"channel\":\"deploy." D1 "\"}");
	expect_error_code(&e, a, "not_found");
	env_fini(&e);
}

static void test_mqtt_reconnect_resubscribes(void **state)
{
	struct env e;
	struct sb_client *a;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "user.u1");
	sb_hub_mqtt_state(e.hub, 1);
	assert_int_equal(sb_hub_mqtt_connected(e.hub), 1);
	assert_int_equal(subs_of(&e.fake, "user/u1/notify"), 2);
	assert_int_equal(subs_of(&e.fake, "team/+/deploy/+/status"), 2);
	sb_hub_mqtt_state(e.hub, 0);
	assert_int_equal(sb_hub_mqtt_connected(e.hub), 0);
	sb_hub_mqtt_state(e.hub, 1);
	assert_int_equal(subs_of(&e.fake, "user/u1/notify"), 3);
	assert_int_equal(sb_hub_metrics(e.hub)->mqtt_connects, 2);
	assert_int_equal(sb_hub_metrics(e.hub)->mqtt_disconnects, 1);
	env_fini(&e);
}

/* ---- snapshots, replays, deletes, routing ---------------------------------------------- */

static void test_snapshot_from_cache(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	expect_nothing(&e, a);
	/* the broker sends a status after the subscription */
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"running\"}", 1);
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(j, "channel"), "team.42");
	assert_string_equal(sget(j, "event"), "app.status");
	assert_string_equal(sget(j, "topic"), "team/42/app/" A1 "/status");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retained")));
	assert_string_equal(sget(cJSON_GetObjectItemCaseSensitive(j, "data"), "status"), "running");
	cJSON_Delete(j);
	/* a second browser joins: the MQTT subscription exists (no replay
	 * will come), the snapshot comes from the cache, right after the ack */
	b = client(&e, NULL);
	sub(&e, b, 1, "team.42");
	assert_int_equal(subs_of(&e.fake, TEAM_FILTERS[0]), 1);
	j = expect_op(&e, b, "event");
	assert_string_equal(sget(j, "topic"), "team/42/app/" A1 "/status");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retained")));
	assert_string_equal(sget(cJSON_GetObjectItemCaseSensitive(j, "data"), "status"), "running");
	cJSON_Delete(j);
	expect_nothing(&e, b);
	expect_nothing(&e, a);
	env_fini(&e);
}

static void test_snapshot_latest_value(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	cJSON *j;
	int n = 0;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"starting\"}", 0);
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"running\"}", 0);
	publish(&e, "team/42/db/" A2 "/status", "{\"status\":\"ok\"}", 0);
	b = client(&e, NULL);
	sub(&e, b, 1, "team.42");
	while ((j = pull(&e, b))) {
		assert_true(is_op(j, "event"));
		if (strcmp(sget(j, "topic"), "team/42/app/" A1 "/status") == 0)
			assert_string_equal(sget(cJSON_GetObjectItemCaseSensitive(j, "data"), "status"),
					    "running");
		n++;
		cJSON_Delete(j);
	}
	assert_int_equal(n, 2);     /* one per topic, the latest */
	env_fini(&e);
}

static void test_broker_replay_not_sent_twice(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	int deploys = 0, apps = 0;
	(void)state;

	env_init(&e, "{}", 0);
	/* before anyone subscribes, the always-on filter brings a deploy status */
	publish(&e, "team/42/deploy/" D1 "/status", "{\"state\":\"running\"}", 1);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	/* the snapshot has it at once */
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(j, "event"), "deploy.status");
	cJSON_Delete(j);
	/* the new MQTT subscription makes the broker replay every retained
	 * message under it: the identical one is recognised, the new one sent */
	publish(&e, "team/42/deploy/" D1 "/status", "{\"state\":\"running\"}", 1);
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"running\"}", 1);
	while ((j = pull(&e, a))) {
		deploys += strcmp(sget(j, "event"), "deploy.status") == 0;
		apps += strcmp(sget(j, "event"), "app.status") == 0;
		cJSON_Delete(j);
	}
	assert_int_equal(deploys, 0);
	assert_int_equal(apps, 1);
	assert_int_equal(sb_hub_metrics(e.hub)->retained_replays_skipped, 1);
	/* the same payload published live again (retain flag 0) is an event */
	publish(&e, "team/42/deploy/" D1 "/status", "{\"state\":\"running\"}", 0);
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(j, "event"), "deploy.status");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retained")));   /* a status */
	cJSON_Delete(j);
	env_fini(&e);
}

static void test_deleted_event(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct sb_hub_gauges g;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"running\"}", 0);
	publish(&e, "team/42/app/" A2 "/status", "{\"status\":\"running\"}", 0);
	cJSON_Delete(expect_op(&e, a, "event"));
	cJSON_Delete(expect_op(&e, a, "event"));
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.cache_topics, 2);
	/* an empty retained publish: the resource was deleted */
	publish(&e, "team/42/app/" A1 "/status", "", 0);
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(j, "event"), "deleted");
	assert_string_equal(sget(j, "topic"), "team/42/app/" A1 "/status");
	assert_string_equal(sget(j, "channel"), "team.42");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "data")));
	cJSON_Delete(j);
	sb_hub_gauges(e.hub, &g);
	assert_int_equal(g.cache_topics, 1);
	/* a new subscriber's snapshot no longer has it */
	b = client(&e, NULL);
	sub(&e, b, 1, "team.42");
	j = expect_op(&e, b, "event");
	assert_string_equal(sget(j, "topic"), "team/42/app/" A2 "/status");
	cJSON_Delete(j);
	expect_nothing(&e, b);
	/* an empty message on a non-retained kind means nothing */
	sub(&e, b, 2, "user.u1");
	publish(&e, "user/u1/notify", "", 0);
	expect_nothing(&e, b);
	env_fini(&e);
}

static void test_routing_only_subscribed(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	b = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	sub(&e, b, 1, "team.43");
	sub(&e, b, 2, "user.u2");
	publish(&e, "team/43/db/" A1 "/status", "{\"status\":\"ok\"}", 0);
	publish(&e, "team/42/app/" A1 "/stats", "{\"cpu\":1}", 0);     /* team.42.stats: nobody */
	publish(&e, "user/u1/notify", "{\"text\":\"hi\"}", 0);        /* user.u1: nobody */
	publish(&e, "public/main/status", "{\"status\":\"ok\"}", 1);
	expect_nothing(&e, a);
	j = expect_op(&e, b, "event");
	assert_string_equal(sget(j, "channel"), "team.43");
	assert_string_equal(sget(j, "event"), "db.status");
	cJSON_Delete(j);
	expect_nothing(&e, b);
	publish(&e, "user/u2/notify", "{\"text\":\"hi\"}", 0);
	j = expect_op(&e, b, "event");
	assert_string_equal(sget(j, "channel"), "user.u2");
	assert_string_equal(sget(j, "event"), "notify");
	assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "retained")));
	cJSON_Delete(j);
	/* team/42/deploy/<d>/status goes to both team.42 and deploy.<d> */
	sub(&e, b, 3, "deploy." D1);
	publish(&e, "team/42/deploy/" D1 "/status", "{\"state\":\"queued\"}", 0);
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(j, "channel"), "team.42");
	cJSON_Delete(j);
	j = expect_op(&e, b, "event");
	assert_string_equal(sget(j, "channel"), "deploy." D1);
	assert_string_equal(sget(j, "event"), "deploy.status");
	cJSON_Delete(j);
	env_fini(&e);
}

static void test_invalid_payload_not_forwarded(void **state)
{
	struct env e;
	struct sb_client *a;
	(void)state;

	env_init(&e, "{\"limits\":{\"max_payload_bytes\":64}}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	publish(&e, "team/42/app/" A1 "/status", "{not json", 0);
	publish(&e, "team/42/app/" A1 "/status",
		"{\"status\":\"0123456789012345678901234567890123456789012345678901234567890\"}", 0);
	expect_nothing(&e, a);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_invalid_json, 1);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_oversize, 1);
	env_fini(&e);
}

static void test_payload_with_trailing_bytes(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	/* a JSON value followed by more bytes is not JSON: it would be
	 * spliced raw into the frame */
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"ok\"} trailing", 0);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_invalid_json, 1);
	expect_nothing(&e, a);
	/* a valid one still goes through */
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"ok\"}", 0);
	j = expect_op(&e, a, "event");
	cJSON_Delete(j);
	env_fini(&e);
}

/* ---- batching and conflation --------------------------------------------------------- */

static void test_batch_at_max_events(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	const cJSON *ev;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 9; i++)
		log_line(&e, D1, i);
	expect_nothing(&e, a);
	log_line(&e, D1, 10);
	/* the tenth line flushes at once: one batch frame, in order */
	j = expect_op(&e, a, "batch");
	assert_string_equal(sget(j, "channel"), "deploy." D1 ".logs");
	assert_string_equal(sget(j, "event"), "deploy.log");
	ev = cJSON_GetObjectItemCaseSensitive(j, "events");
	assert_int_equal(cJSON_GetArraySize(ev), 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(nget(cJSON_GetArrayItem(ev, i), "seq"), i + 1);
		assert_string_equal(sget(cJSON_GetArrayItem(ev, i), "level"), "info");
	}
	cJSON_Delete(j);
	expect_nothing(&e, a);
	assert_int_equal(sb_hub_metrics(e.hub)->batches, 1);
	env_fini(&e);
}

static void test_batch_flushed_by_clock(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	assert_int_equal(sb_hub_next_deadline(e.hub), T0 + 1000);   /* the client sweep only */
	log_line(&e, D1, 1);
	/* first line sets the deadline: max_delay_ms = 100 after it */
	assert_int_equal(sb_hub_next_deadline(e.hub), T0 + 100);
	assert_int_equal(e.fake.timer, T0 + 100);
	fake_now += 40;
	log_line(&e, D1, 2);
	log_line(&e, D1, 3);
	assert_int_equal(sb_hub_next_deadline(e.hub), T0 + 100);   /* not pushed back */
	advance(&e, 59);                                           /* T0 + 99 */
	expect_nothing(&e, a);
	advance(&e, 1);                                            /* T0 + 100 */
	j = expect_op(&e, a, "batch");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "events")), 3);
	cJSON_Delete(j);
	expect_nothing(&e, a);
	/* nothing pending: back to the sweep deadline */
	assert_true(sb_hub_next_deadline(e.hub) > fake_now);
	assert_int_equal(sb_hub_next_deadline(e.hub), e.fake.timer);
	env_fini(&e);
}

static void test_flush_all(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	log_line(&e, D1, 1);
	log_line(&e, D1, 2);
	/* SIGTERM: pending batches go out now, then every client gets 1001 */
	sb_hub_flush_all(e.hub);
	sb_hub_close_all(e.hub, 1001, "bridge shutting down");
	assert_int_equal(sb_client_close_code(a, NULL), 1001);
	j = expect_op(&e, a, "batch");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "events")), 2);
	cJSON_Delete(j);
	env_fini(&e);
}

static void test_conflate_stats(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	char payload[64];
	int seen1 = 0, seen2 = 0;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42.stats");
	for (int i = 1; i <= 20; i++) {
		snprintf(payload, sizeof(payload), "{\"cpu\":%d}", i);
		publish(&e, "team/42/app/" A1 "/stats", payload, 0);
		if (i % 4 == 0) {
			snprintf(payload, sizeof(payload), "{\"cpu\":%d}", 100 + i);
			publish(&e, "team/42/app/" A2 "/stats", payload, 0);
		}
		fake_now += 10;            /* 200 ms in all: one interval */
	}
	expect_nothing(&e, a);
	assert_int_equal(sb_hub_next_deadline(e.hub), T0 + 250);
	advance(&e, T0 + 250 - fake_now);
	/* one event per topic, the latest value */
	while ((j = pull(&e, a))) {
		assert_true(is_op(j, "event"));
		assert_string_equal(sget(j, "event"), "app.stats");
		assert_string_equal(sget(j, "channel"), "team.42.stats");
		if (strcmp(sget(j, "topic"), "team/42/app/" A1 "/stats") == 0) {
			seen1++;
			assert_int_equal(nget(cJSON_GetObjectItemCaseSensitive(j, "data"), "cpu"), 20);
		} else {
			assert_string_equal(sget(j, "topic"), "team/42/app/" A2 "/stats");
			seen2++;
			assert_int_equal(nget(cJSON_GetObjectItemCaseSensitive(j, "data"), "cpu"), 120);
		}
		cJSON_Delete(j);
	}
	assert_int_equal(seen1, 1);
	assert_int_equal(seen2, 1);
	assert_int_equal(sb_hub_metrics(e.hub)->conflated_interval, 19 + 4);
	/* the next interval starts with the next message */
	publish(&e, "team/42/app/" A1 "/stats", "{\"cpu\":7}", 0);
	assert_int_equal(sb_hub_next_deadline(e.hub), fake_now + 250);
	advance(&e, 250);
	j = expect_op(&e, a, "event");
	assert_int_equal(nget(cJSON_GetObjectItemCaseSensitive(j, "data"), "cpu"), 7);
	cJSON_Delete(j);
	env_fini(&e);
}

/* ---- history and resume ------------------------------------------------------------------ */

static void test_resume_replays_missing_lines(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 30; i++)
		log_line(&e, D1, i);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 1, 30);
	/* a reconnecting browser saw up to 20 */
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 20), 1);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	expect_seqs(&v, 21, 30);
	assert_int_equal(v.ngaps, 0);
	assert_int_equal(sb_hub_metrics(e.hub)->history_served, 10);
	/* then live, no duplicate, no hole */
	for (int i = 31; i <= 35; i++)
		log_line(&e, D1, i);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	expect_seqs(&v, 31, 35);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 31, 35);
	env_fini(&e);
}

static void test_resume_with_pending_batch(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 25; i++)     /* 1-20 flushed, 21-25 pending */
		log_line(&e, D1, i);
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 15), 1);
	advance(&e, 100);
	for (int i = 26; i <= 40; i++)
		log_line(&e, D1, i);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	expect_seqs(&v, 16, 40);
	assert_int_equal(v.ngaps, 0);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 1, 40);
	env_fini(&e);
}

static void test_resume_after_leaving(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 10; i++)
		log_line(&e, D1, i);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 1, 10);
	/* the only subscriber leaves; the channel lingers with its history and
	 * its MQTT subscription, so lines published meanwhile are kept */
	sb_hub_client_gone(e.hub, a);
	assert_int_equal(live_of(&e.fake, "deploy/" D1 "/logs"), 1);
	for (int i = 11; i <= 17; i++)
		log_line(&e, D1, i);
	advance(&e, 5000);
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 10), 1);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	/* the lines published while nobody was subscribed are replayed */
	expect_seqs(&v, 11, 17);
	assert_int_equal(v.ngaps, 0);
	sb_hub_client_gone(e.hub, b);
	/* a minute after the last subscriber the channel goes for good */
	advance(&e, 60000);
	assert_int_equal(live_of(&e.fake, "deploy/" D1 "/logs"), 0);
	env_fini(&e);
}

static void test_resume_history_exceeded(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{\"limits\":{\"send_queue_bytes\":16777216,\"send_queue_frames\":100000}}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 1100; i++)
		log_line(&e, D1, i);
	sb_hub_client_gone(e.hub, a);
	/* history keeps the last 1000 lines: 101..1100 */
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 5), 0);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	/* one gap for what history no longer holds, then the lines */
	assert_int_equal(v.ngaps, 1);
	assert_int_equal(v.gap[0].from, 6);
	assert_int_equal(v.gap[0].to, 100);
	expect_seqs(&v, 101, 1100);
	/* the gap comes before the lines */
	env_fini(&e);
}

static void test_resume_gap_frame_first(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	cJSON *j;
	(void)state;

	env_init(&e, "{\"limits\":{\"send_queue_bytes\":16777216,\"send_queue_frames\":100000}}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 1010; i++)
		log_line(&e, D1, i);
	sb_hub_client_gone(e.hub, a);
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 0), 0);
	j = expect_op(&e, b, "gap");
	assert_int_equal(nget(j, "from"), 1);
	assert_int_equal(nget(j, "to"), 10);
	assert_string_equal(sget(j, "channel"), "deploy." D1 ".logs");
	cJSON_Delete(j);
	j = expect_op(&e, b, "batch");
	assert_int_equal(nget(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "events"), 0),
			      "seq"), 11);
	cJSON_Delete(j);
	env_fini(&e);
}

static void test_resume_up_to_date(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 20; i++)
		log_line(&e, D1, i);
	b = client(&e, NULL);
	assert_int_equal(sub_since(&e, b, 1, "deploy." D1 ".logs", 20), 1);
	expect_nothing(&e, b);
	log_line(&e, D1, 21);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	expect_seqs(&v, 21, 21);
	/* status channels ignore since: no "recovered" in the ack */
	assert_int_equal(sub_since(&e, b, 2, "team.42", 5), -1);
	env_fini(&e);
}

static void test_resume_since_inside_pending_batch(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 25; i++)     /* 1-20 flushed here, 21-25 pending */
		log_line(&e, D1, i);
	/* a browser coming from another bridge (docs/protocol.md §10) already has
	 * up to 23 */
	b = client(&e, NULL);
	sub_since(&e, b, 1, "deploy." D1 ".logs", 23);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, b, &v);
	/* the pending batch straddles since: only 24 and 25, no duplicate */
	expect_seqs(&v, 24, 25);
	env_fini(&e);
}

static void test_duplicate_log_line_dropped(void **state)
{
	struct env e;
	struct sb_client *a;
	struct logview v;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	log_line(&e, D1, 1);
	log_line(&e, D1, 2);
	log_line(&e, D1, 2);       /* QoS 1 redelivery */
	log_line(&e, D1, 3);
	log_line(&e, D1, 1);       /* a late replay */
	/* seq not first in the payload is read too */
	publish(&e, "deploy/" D1 "/logs", "{\"msg\":\"x\",\"seq\":3,\"level\":\"info\"}", 0);
	advance(&e, 100);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 1, 3);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_duplicate, 3);
	env_fini(&e);
}

/* ---- slow clients ------------------------------------------------------------------------- */

static void test_slow_client_closed_4029(void **state)
{
	struct env e;
	struct sb_client *slow, *fast;
	char payload[300];
	const char *reason = NULL;
	cJSON *j;
	int n = 0;
	(void)state;

	env_init(&e, "{\"limits\":{\"send_queue_bytes\":1024,\"send_queue_hard_bytes\":4096}}", 0);
	slow = client(&e, NULL);
	fast = client(&e, NULL);
	sub(&e, slow, 1, "user.u1");
	sub(&e, fast, 1, "user.u1");
	/* notifications are neither conflated nor droppable */
	for (int i = 0; i < 40; i++) {
		snprintf(payload, sizeof(payload), "{\"title\":\"n\",\"level\":\"info\",\"body\":\"%0200d\"}", i);
		publish(&e, "user/u1/notify", payload, 0);
		/* the fast one keeps up */
		while ((j = pull(&e, fast))) {
			n++;
			cJSON_Delete(j);
		}
	}
	assert_int_equal(n, 40);
	assert_int_equal(sb_client_close_code(fast, NULL), 0);
	assert_int_equal(sb_client_close_code(slow, &reason), 4029);
	assert_string_equal(reason, "client too slow");
	assert_int_equal(sb_hub_metrics(e.hub)->slow_closes, 1);
	/* nothing more is queued for it; the adapter closes once next is NULL */
	expect_nothing(&e, slow);
	publish(&e, "user/u1/notify", "{\"title\":\"x\",\"level\":\"info\"}", 0);
	expect_nothing(&e, slow);
	sb_hub_client_gone(e.hub, fast);
	sb_hub_client_gone(e.hub, slow);
	env_fini(&e);
}

/* Statuses share the channel's snapshot frames and are conflated per topic:
 * a client that does not read costs one small entry per topic, so a burst
 * of distinct statuses larger than the hard bound does not close it, and
 * when it reads it gets the latest of each. */
static void test_status_burst_does_not_close_a_client(void **state)
{
	struct env e;
	struct sb_client *c;
	char topic[128], payload[300];
	cJSON *j;
	int n = 0;
	(void)state;

	env_init(&e, "{\"limits\":{\"send_queue_bytes\":1024,\"send_queue_hard_bytes\":8192}}", 0);
	c = client(&e, NULL);
	sub(&e, c, 1, "team.42");
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 40; i++) {
			snprintf(topic, sizeof(topic), "team/42/app/aaaaaaaa-0000-0000-0000-%012d/status", i);
			snprintf(payload, sizeof(payload), "{\"status\":\"%s\",\"note\":\"%0200d\"}",
				 round ? "stopped" : "running", i);
			publish(&e, topic, payload, 0);
		}
	assert_int_equal(sb_client_close_code(c, NULL), 0);
	while ((j = pull(&e, c))) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "status")->valuestring, "stopped");
		n++;
		cJSON_Delete(j);
	}
	assert_int_equal(n, 40);
	sb_hub_client_gone(e.hub, c);
	env_fini(&e);
}

static void test_slow_client_status_conflated(void **state)
{
	struct env e;
	struct sb_client *a;
	char payload[64];
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "team.42");
	/* the browser does not read while one topic changes many times: its
	 * socket is full, so it is behind */
	sb_hub_client_choked(e.hub, a, 1);
	for (int i = 0; i < 50; i++) {
		snprintf(payload, sizeof(payload), "{\"status\":\"s%d\"}", i);
		publish(&e, "team/42/app/" A1 "/status", payload, 0);
	}
	/* it gets one event, the latest */
	j = expect_op(&e, a, "event");
	assert_string_equal(sget(cJSON_GetObjectItemCaseSensitive(j, "data"), "status"), "s49");
	cJSON_Delete(j);
	expect_nothing(&e, a);
	assert_int_equal(sb_hub_metrics(e.hub)->conflated_queue, 49);
	env_fini(&e);
}

/* ---- protocol, auth and limits ------------------------------------------------------------ */

static void test_ping_and_bad_frames(void **state)
{
	struct env e;
	struct sb_client *a;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	a = client(&e, NULL);
	tx(&e, a, "{\"op\":\"ping\",\"id\":4}");
	j = expect_op(&e, a, "pong");
	assert_int_equal(nget(j, "id"), 4);
	cJSON_Delete(j);
	tx(&e, a, "{\"op\":\"sub\",\"id\":5}");
	j = expect_op(&e, a, "error");
	assert_string_equal(sget(j, "code"), "bad_request");
	assert_int_equal(nget(j, "id"), 5);
	cJSON_Delete(j);
	tx(&e, a, "{\"op\":\"sub\",\"id\":6,\"channel\":\"team.+\"}");
	expect_error_code(&e, a, "bad_request");
	tx(&e, a, "{\"op\":\"sub\",\"id\":7,\"channel\":\"nope.x\"}");
	j = expect_op(&e, a, "error");
	assert_string_equal(sget(j, "code"), "not_found");
	assert_string_equal(sget(j, "channel"), "nope.x");
	cJSON_Delete(j);
	tx(&e, a, "{\"op\":\"hello\"}");
	expect_error_code(&e, a, "bad_request");            /* hello twice */
	sub(&e, a, 8, "team.42");
	tx(&e, a, "{\"op\":\"sub\",\"id\":9,\"channel\":\"team.42\"}");
	expect_error_code(&e, a, "bad_request");            /* already subscribed */
	assert_int_equal(sb_client_close_code(a, NULL), 0);  /* errors do not close */
	env_fini(&e);
}

static void test_sub_before_hello(void **state)
{
	struct env e;
	struct sb_client *c;
	cJSON *j;
	(void)state;

	env_init(&e, "{}", 0);
	c = sb_hub_client_new(e.hub, e.v1, NULL);
	tx(&e, c, "{\"op\":\"sub\",\"id\":1,\"channel\":\"team.42\"}");
	j = expect_op(&e, c, "error");
	assert_string_equal(sget(j, "code"), "unauthorized");
	assert_int_equal(nget(j, "id"), 1);
	cJSON_Delete(j);
	assert_int_equal(sb_client_close_code(c, NULL), 4001);
	/* and it did not subscribe */
	assert_int_equal(live_of(&e.fake, TEAM_FILTERS[0]), 0);
	/* further frames are ignored */
	tx(&e, c, "{\"op\":\"hello\"}");
	expect_nothing(&e, c);
	env_fini(&e);
}

static void test_hello_timeout(void **state)
{
	struct env e;
	struct sb_client *c, *ok;
	(void)state;

	env_init(&e, "{}", 0);
	c = sb_hub_client_new(e.hub, e.v1, NULL);
	ok = client(&e, NULL);
	for (int i = 0; i < 9; i++)
		advance(&e, 1000);
	assert_int_equal(sb_client_close_code(c, NULL), 0);   /* 9 s: still waiting */
	advance(&e, 1000);                                     /* 10 s */
	assert_int_equal(sb_client_close_code(c, NULL), 4001);
	assert_int_equal(sb_client_close_code(ok, NULL), 0);
	assert_true(e.fake.wakes > 0);
	env_fini(&e);
}

static void test_token_expiry(void **state)
{
	struct env e;
	struct sb_client *c;
	char *t;
	cJSON *j;
	(void)state;

	env_init(&e, "{\"auth\":{\"jwt_secret\":\"" SECRET "\"}}", 1);
	t = token("u1", W0 + 60, "\"42\"");
	c = client(&e, t);
	free(t);
	sub(&e, c, 1, "team.42");
	/* within exp + 30 s leeway: fine */
	fake_wall = W0 + 90;
	advance(&e, 1000);
	assert_int_equal(sb_client_close_code(c, NULL), 0);
	expect_nothing(&e, c);
	fake_wall = W0 + 91;
	advance(&e, 1000);
	j = expect_op(&e, c, "error");
	assert_string_equal(sget(j, "code"), "token_expired");
	cJSON_Delete(j);
	assert_int_equal(sb_client_close_code(c, NULL), 4001);
	env_fini(&e);
}

static void test_refresh_in_time(void **state)
{
	struct env e;
	struct sb_client *c;
	char *t, text[2048];
	cJSON *j;
	(void)state;

	env_init(&e, "{\"auth\":{\"jwt_secret\":\"" SECRET "\"}}", 1);
	t = token("u1", W0 + 60, "\"42\"");
	c = client(&e, t);
	free(t);
	fake_wall = W0 + 50;
	t = token("u1", W0 + 3600, "\"42\"");
	snprintf(text, sizeof(text), "{\"op\":\"refresh\",\"id\":9,\"token\":\"%s\"}", t);
	free(t);
	tx(&e, c, text);
	j = expect_op(&e, c, "ack");
	assert_int_equal(nget(j, "id"), 9);
	cJSON_Delete(j);
	fake_wall = W0 + 600;
	advance(&e, 1000);
	assert_int_equal(sb_client_close_code(c, NULL), 0);
	expect_nothing(&e, c);
	/* a refresh for another user is refused, the session stays */
	t = token("u2", W0 + 3600, "\"42\"");
	snprintf(text, sizeof(text), "{\"op\":\"refresh\",\"id\":10,\"token\":\"%s\"}", t);
	free(t);
	tx(&e, c, text);
	expect_error_code(&e, c, "forbidden");
	/* an expired one is token_expired */
	t = token("u1", W0 + 10, "\"42\"");
	snprintf(text, sizeof(text), "{\"op\":\"refresh\",\"id\":11,\"token\":\"%s\"}", t);
	free(t);
	tx(&e, c, text);
	expect_error_code(&e, c, "token_expired");
	env_fini(&e);
}

static void test_refresh_drops_team(void **state)
{
	struct env e;
	struct sb_client *c;
	char *t, text[2048];
	cJSON *j;
	(void)state;

	env_init(&e, "{\"auth\":{\"jwt_secret\":\"" SECRET "\"}}", 1);
	t = token("u1", W0 + 60, "\"42\",\"43\"");
	c = client(&e, t);
	free(t);
	sub(&e, c, 1, "team.42");
	sub(&e, c, 2, "team.43");
	assert_int_equal(live_of(&e.fake, "team/43/app/+/status"), 1);
	t = token("u1", W0 + 3600, "\"42\"");
	snprintf(text, sizeof(text), "{\"op\":\"refresh\",\"id\":3,\"token\":\"%s\"}", t);
	free(t);
	tx(&e, c, text);
	/* an error naming the subscription that went, then the ack */
	j = expect_op(&e, c, "error");
	assert_string_equal(sget(j, "code"), "forbidden");
	assert_string_equal(sget(j, "channel"), "team.43");
	cJSON_Delete(j);
	j = expect_op(&e, c, "ack");
	assert_int_equal(nget(j, "id"), 3);
	cJSON_Delete(j);
	assert_int_equal(live_of(&e.fake, "team/43/app/+/status"), 0);
	publish(&e, "team/43/app/" A1 "/status", "{\"status\":\"x\"}", 0);
	expect_nothing(&e, c);
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"x\"}", 0);
	j = expect_op(&e, c, "event");
	assert_string_equal(sget(j, "channel"), "team.42");
	cJSON_Delete(j);
	env_fini(&e);
}

static void test_auth_decisions(void **state)
{
	struct env e;
	struct sb_client *c, *anon;
	char *t, hello[2048];
	cJSON *j;
	(void)state;

	env_init(&e, "{\"auth\":{\"jwt_secret\":\"" SECRET "\"}}", 1);
	t = token("u1", W0 + 600, "\"42\"");
	c = client(&e, t);
	free(t);
	tx(&e, c, "{\"op\":\"sub\",\"id\":1,\"channel\":\"team.43\"}");
	j = expect_op(&e, c, "error");
	assert_string_equal(sget(j, "code"), "forbidden");
	assert_string_equal(sget(j, "message"), "team 43 is not in your token");
	cJSON_Delete(j);
	/* deploy owner learned from the always-on deploy status filter */
	tx(&e, c, "{\"op\":\"sub\",\"id\":2,\"channel\":\"deploy." D1 ".logs\"}");
	expect_error_code(&e, c, "not_found");
	publish(&e, "team/42/deploy/" D1 "/status", "{\"state\":\"running\"}", 1);
	publish(&e, "team/43/deploy/" D2 "/status", "{\"state\":\"running\"}", 1);
	sub(&e, c, 3, "deploy." D1 ".logs");
	tx(&e, c, "{\"op\":\"sub\",\"id\":4,\"channel\":\"deploy." D2 ".logs\"}");
	expect_error_code(&e, c, "forbidden");
	sub(&e, c, 5, "user.u1");
	tx(&e, c, "{\"op\":\"sub\",\"id\":6,\"channel\":\"user.u2\"}");
	expect_error_code(&e, c, "forbidden");
	/* no token: public only, the rest is unauthorized (not forbidden) */
	anon = client(&e, NULL);
	sub(&e, anon, 1, "public.main");
	tx(&e, anon, "{\"op\":\"sub\",\"id\":2,\"channel\":\"team.42\"}");
	expect_error_code(&e, anon, "unauthorized");
	assert_int_equal(sb_client_close_code(anon, NULL), 0);
	/* a bad token: error, then 4001 */
	c = sb_hub_client_new(e.hub, e.v1, NULL);
	snprintf(hello, sizeof(hello), "{\"op\":\"hello\",\"token\":\"a.b.c\"}");
	tx(&e, c, hello);
	expect_error_code(&e, c, "unauthorized");
	assert_int_equal(sb_client_close_code(c, NULL), 4001);
	assert_true(sb_hub_metrics(e.hub)->auth_failures >= 1);
	/* an expired token at hello: token_expired, 4001 */
	c = sb_hub_client_new(e.hub, e.v1, NULL);
	t = token("u1", W0 - 3600, "\"42\"");
	snprintf(hello, sizeof(hello), "{\"op\":\"hello\",\"token\":\"%s\"}", t);
	free(t);
	tx(&e, c, hello);
	expect_error_code(&e, c, "token_expired");
	assert_int_equal(sb_client_close_code(c, NULL), 4001);
	env_fini(&e);
}

static void test_max_subscriptions(void **state)
{
	struct env e;
	struct sb_client *c;
	cJSON *j;
	(void)state;

	env_init(&e, "{\"limits\":{\"max_subscriptions\":2}}", 0);
	c = client(&e, NULL);
	sub(&e, c, 1, "team.1");
	sub(&e, c, 2, "team.2");
	tx(&e, c, "{\"op\":\"sub\",\"id\":3,\"channel\":\"team.3\"}");
	j = expect_op(&e, c, "error");
	assert_string_equal(sget(j, "code"), "too_many_subscriptions");
	assert_int_equal(nget(j, "id"), 3);
	cJSON_Delete(j);
	assert_int_equal(live_of(&e.fake, "team/3/app/+/status"), 0);
	/* after an unsub there is room again */
	tx(&e, c, "{\"op\":\"unsub\",\"id\":4,\"channel\":\"team.1\"}");
	cJSON_Delete(expect_op(&e, c, "ack"));
	sub(&e, c, 5, "team.3");
	env_fini(&e);
}

static void test_slow_client_logs_gap(void **state)
{
	struct env e;
	struct sb_client *a;
	struct logview v;
	(void)state;

	/* room for a few batches only; the browser does not read meanwhile */
	env_init(&e, "{\"limits\":{\"send_queue_bytes\":8192,\"send_queue_hard_bytes\":32768}}", 0);
	a = client(&e, NULL);
	sub(&e, a, 1, "deploy." D1 ".logs");
	for (int i = 1; i <= 300; i++)
		log_line(&e, D1, i);
	/* log lines are droppable: no 4029 */
	assert_int_equal(sb_client_close_code(a, NULL), 0);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	/* one gap for the oldest lines, then the rest: no hole, nothing twice */
	assert_int_equal(v.ngaps, 1);
	assert_int_equal(v.gap[0].from, 1);
	assert_true(v.gap[0].to > 1 && v.gap[0].to < 300);
	expect_seqs(&v, v.gap[0].to + 1, 300);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_slow_lines, (uint64_t)v.gap[0].to);
	assert_int_equal(sb_hub_metrics(e.hub)->gaps, 1);
	/* once it has caught up, lines flow again */
	for (int i = 301; i <= 310; i++)
		log_line(&e, D1, i);
	memset(&v, 0, sizeof(v));
	read_logs(&e, a, &v);
	expect_seqs(&v, 301, 310);
	env_fini(&e);
}

static void test_rate_limit(void **state)
{
	struct env e;
	struct sb_client *c;
	int pongs = 0, limited = 0;
	cJSON *j;
	(void)state;

	env_init(&e, "{\"limits\":{\"max_msgs_per_s\":10}}", 0);
	c = client(&e, NULL);           /* hello used one token */
	for (int i = 0; i < 15; i++)
		tx(&e, c, "{\"op\":\"ping\"}");
	while ((j = pull(&e, c))) {
		if (is_op(j, "pong"))
			pongs++;
		else if (is_op(j, "error") && strcmp(sget(j, "code"), "rate_limited") == 0)
			limited++;
		cJSON_Delete(j);
	}
	assert_int_equal(pongs, 9);
	assert_int_equal(limited, 6);
	assert_int_equal(sb_client_close_code(c, NULL), 0);
	/* a second later the bucket has refilled */
	fake_now += 1000;
	tx(&e, c, "{\"op\":\"ping\"}");
	j = expect_op(&e, c, "pong");
	cJSON_Delete(j);
	/* a client that keeps flooding is closed with 4008 */
	for (int i = 0; i < 100 && !sb_client_close_code(c, NULL); i++)
		tx(&e, c, "{\"op\":\"ping\"}");
	assert_int_equal(sb_client_close_code(c, NULL), 4008);
	assert_true(sb_hub_metrics(e.hub)->rate_limited > 6);
	env_fini(&e);
}

static void test_rejected_republished(void **state)
{
	struct env e;
	cJSON *j;
	(void)state;

	env_init(&e, "{\"validation\":{\"republish_rejected\":true}}", 0);
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":", 0);
	assert_int_equal(e.fake.published, 1);
	assert_string_equal(e.fake.pub_topic, "$statusbus/rejected/team/42/app/" A1 "/status");
	j = cJSON_Parse(e.fake.pub_payload);
	assert_non_null(j);
	assert_string_equal(sget(j, "topic"), "team/42/app/" A1 "/status");
	assert_string_equal(sget(j, "reason"), "payload is not JSON");
	assert_string_equal(sget(j, "payload"), "{\"status\":");
	assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "truncated")));
	cJSON_Delete(j);
	assert_int_equal(sb_hub_metrics(e.hub)->rejected_published, 1);
	/* the bridge's own rejects are never taken as input */
	publish(&e, "$statusbus/rejected/team/42/app/" A1 "/status", "{}", 0);
	assert_int_equal(e.fake.published, 1);
	env_fini(&e);
}

static void test_http_fallbacks(void **state)
{
	struct env e;
	struct sb_client *a;
	char *body = NULL, *t;
	cJSON *j;
	const cJSON *ev;
	(void)state;

	env_init(&e, "{\"auth\":{\"jwt_secret\":\"" SECRET "\"}}", 1);
	t = token("u1", W0 + 600, "\"42\"");
	a = client(&e, t);
	sub(&e, a, 1, "team.42");
	publish(&e, "team/42/app/" A1 "/status", "{\"status\":\"running\"}", 0);
	publish(&e, "team/42/deploy/" D1 "/status", "{\"state\":\"running\"}", 1);
	/* snapshot: same events as the WebSocket snapshot */
	assert_int_equal(http_query(e.hub, t, "team.42", 0, 0, &body), 200);
	j = cJSON_Parse(body);
	assert_non_null(j);
	assert_string_equal(sget(j, "channel"), "team.42");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "live")));
	ev = cJSON_GetObjectItemCaseSensitive(j, "events");
	assert_int_equal(cJSON_GetArraySize(ev), 2);
	cJSON_Delete(j);
	free(body);
	/* same ACL: no token is 401, another team 403, unknown channel 404 */
	assert_int_equal(http_query(e.hub, NULL, "team.42", 0, 0, &body), 401);
	j = cJSON_Parse(body);
	assert_string_equal(sget(j, "error"), "unauthorized");
	cJSON_Delete(j);
	free(body);
	assert_int_equal(http_query(e.hub, t, "team.43", 0, 0, &body), 403);
	free(body);
	assert_int_equal(http_query(e.hub, t, "nope.x", 0, 0, &body), 404);
	free(body);
	assert_int_equal(http_query(e.hub, t, "team.+", 0, 0, &body), 400);
	free(body);
	assert_int_equal(http_query(e.hub, "x.y.z", "team.42", 0, 0, &body), 401);
	free(body);
	/* history of a logs channel after since */
	while ((j = pull(&e, a)))
		cJSON_Delete(j);
	sub(&e, a, 2, "deploy." D1 ".logs");
	for (int i = 1; i <= 12; i++)
		log_line(&e, D1, i);
	assert_int_equal(http_query(e.hub, t, "deploy." D1 ".logs", 1, 8, &body), 200);
	j = cJSON_Parse(body);
	assert_non_null(j);
	ev = cJSON_GetObjectItemCaseSensitive(j, "events");
	assert_int_equal(cJSON_GetArraySize(ev), 4);
	assert_int_equal(nget(cJSON_GetArrayItem(ev, 0), "seq"), 9);
	assert_int_equal(nget(j, "last_seq"), 12);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "gap")));
	cJSON_Delete(j);
	free(body);
	/* a status channel has no history */
	assert_int_equal(http_query(e.hub, t, "team.42", 1, 0, &body), 400);
	free(body);
	free(t);
	env_fini(&e);
}

static void test_max_connections(void **state)
{
	struct env e;
	struct sb_client *a, *b;
	(void)state;

	env_init(&e, "{\"limits\":{\"max_connections\":1}}", 0);
	a = sb_hub_client_new(e.hub, e.v1, NULL);
	assert_non_null(a);
	b = sb_hub_client_new(e.hub, e.v1, NULL);
	assert_null(b);
	assert_int_equal(sb_hub_metrics(e.hub)->connections_rejected, 1);
	sb_hub_client_gone(e.hub, a);
	a = sb_hub_client_new(e.hub, e.v1, NULL);
	assert_non_null(a);
	assert_int_equal(strlen(sb_client_session(a)), 32);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters_refcounted),
		cmocka_unit_test(test_shared_filter_across_channels),
		cmocka_unit_test(test_mqtt_reconnect_resubscribes),
		cmocka_unit_test(test_snapshot_from_cache),
		cmocka_unit_test(test_snapshot_latest_value),
		cmocka_unit_test(test_broker_replay_not_sent_twice),
		cmocka_unit_test(test_deleted_event),
		cmocka_unit_test(test_routing_only_subscribed),
		cmocka_unit_test(test_invalid_payload_not_forwarded),
		cmocka_unit_test(test_payload_with_trailing_bytes),
		cmocka_unit_test(test_batch_at_max_events),
		cmocka_unit_test(test_batch_flushed_by_clock),
		cmocka_unit_test(test_flush_all),
		cmocka_unit_test(test_conflate_stats),
		cmocka_unit_test(test_resume_replays_missing_lines),
		cmocka_unit_test(test_resume_with_pending_batch),
		cmocka_unit_test(test_resume_after_leaving),
		cmocka_unit_test(test_resume_history_exceeded),
		cmocka_unit_test(test_resume_gap_frame_first),
		cmocka_unit_test(test_resume_up_to_date),
		cmocka_unit_test(test_resume_since_inside_pending_batch),
		cmocka_unit_test(test_duplicate_log_line_dropped),
		cmocka_unit_test(test_slow_client_closed_4029),
		cmocka_unit_test(test_status_burst_does_not_close_a_client),
		cmocka_unit_test(test_slow_client_status_conflated),
		cmocka_unit_test(test_ping_and_bad_frames),
		cmocka_unit_test(test_sub_before_hello),
		cmocka_unit_test(test_hello_timeout),
		cmocka_unit_test(test_token_expiry),
		cmocka_unit_test(test_refresh_in_time),
		cmocka_unit_test(test_refresh_drops_team),
		cmocka_unit_test(test_auth_decisions),
		cmocka_unit_test(test_max_subscriptions),
		cmocka_unit_test(test_slow_client_logs_gap),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_rejected_republished),
		cmocka_unit_test(test_http_fallbacks),
		cmocka_unit_test(test_max_connections),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
