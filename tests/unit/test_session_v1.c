/* SPDX-License-Identifier: MIT
 *
 * test_session_v1.c - unit tests for the statusbus.v1 session
 * (session_v1.c) and the decisions behind its requests (auth.c): ping, bad
 * frames and their error codes, sub before hello, the hello timeout, token
 * expiry while connected, refresh (in time, for another user, expired, and
 * one that drops a team and its subscription), the channel ACL (forbidden
 * vs unauthorized, deploy owners, user channels, bad and expired tokens at
 * hello) and max_subscriptions.  The environment is hub_fixture.h.
 */
#include "hub_fixture.h"

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
	assert_int_equal(live_of(&e.fake, "team/43/server/+/reachability"), 1);
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
	assert_int_equal(live_of(&e.fake, "team/43/server/+/reachability"), 0);
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
	/* an unknown deploy: its status may be on its way, so the answer
	 * waits for it until limits.subscribe_timeout_ms */
	expect_nothing(&e, c);
	advance(&e, 5000);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_and_bad_frames),
		cmocka_unit_test(test_sub_before_hello),
		cmocka_unit_test(test_hello_timeout),
		cmocka_unit_test(test_token_expiry),
		cmocka_unit_test(test_refresh_in_time),
		cmocka_unit_test(test_refresh_drops_team),
		cmocka_unit_test(test_auth_decisions),
		cmocka_unit_test(test_max_subscriptions),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
