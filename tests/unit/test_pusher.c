/* SPDX-License-Identifier: MIT
 *
 * test_pusher.c - unit tests for pusher.c, the Pusher Channels protocol 7
 * session (docs/pusher.md): the connection itself, against a real hub in
 * auth mode with a fake clock (pusher_fixture.h).  The handshake and its
 * close codes, ping/pong and the activity check (4201), the close code
 * mapping, client events and the rate limit.  Subscriptions are
 * test_pusher_channels.c; the wire format is test_pusher_codec.c.
 */
#include "pusher_fixture.h"

/* ---- handshake ------------------------------------------------------------------------- */

static void test_handshake(void **state)
{
	struct env e;
	struct conn k;
	cJSON *j, *d;
	(void)state;

	env_init(&e, "\"activity_timeout_s\":30", NULL);
	k.c = sb_hub_client_new(e.hub, sb_pusher_session(e.p), (void *)1);
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

	k.c = sb_hub_client_new(e->hub, sb_pusher_session(e->p), (void *)1);
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
	static const struct {
		const char *path, *protocol;
		int code;
	} cases[] = {
		{ "/app/wrong-key", "7", SB_PUSHER_CLOSE_APP_UNKNOWN },
		{ "/app/", "7", SB_PUSHER_CLOSE_APP_UNKNOWN },
		{ "/app/" KEY "/x", "7", SB_PUSHER_CLOSE_APP_UNKNOWN },
		{ "/app/" KEY, NULL, SB_PUSHER_CLOSE_NO_PROTOCOL },
		{ "/app/" KEY, "", SB_PUSHER_CLOSE_NO_PROTOCOL },
		{ "/app/" KEY, "seven", SB_PUSHER_CLOSE_BAD_VERSION },
		{ "/app/" KEY, "7.0", SB_PUSHER_CLOSE_BAD_VERSION },
		{ "/app/" KEY, "6", SB_PUSHER_CLOSE_UNSUPPORTED_PROTOCOL },
		{ "/app/" KEY, "8", SB_PUSHER_CLOSE_UNSUPPORTED_PROTOCOL },
		/* ?protocol= is a number read from the network: its range walked */
		{ "/app/" KEY, "-7", SB_PUSHER_CLOSE_BAD_VERSION },
		{ "/app/" KEY, "+7", SB_PUSHER_CLOSE_BAD_VERSION },
		{ "/app/" KEY, " 7", SB_PUSHER_CLOSE_BAD_VERSION },
		{ "/app/" KEY, "7 ", SB_PUSHER_CLOSE_BAD_VERSION },
		{ "/app/" KEY, "7e0", SB_PUSHER_CLOSE_BAD_VERSION },
		{ "/app/" KEY, "0", SB_PUSHER_CLOSE_UNSUPPORTED_PROTOCOL },
		{ "/app/" KEY, "999999999", SB_PUSHER_CLOSE_UNSUPPORTED_PROTOCOL },
		{ "/app/" KEY, "4294967303", SB_PUSHER_CLOSE_BAD_VERSION },   /* 2^32 + 7 */
		{ "/app/" KEY, "99999999999999999999999", SB_PUSHER_CLOSE_BAD_VERSION },
	};
	struct env e;
	(void)state;

	env_init(&e, NULL, NULL);
	for (size_t i = 0; i < SB_ARRAY_LEN(cases); i++)
		refused(&e, cases[i].path, cases[i].protocol, cases[i].code);
	assert_int_equal(sb_pusher_stats(e.p)->refused, SB_ARRAY_LEN(cases));
	assert_int_equal(sb_pusher_stats(e.p)->connections, 0);
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
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_handshake_refused),
		cmocka_unit_test(test_ping_pong_and_unknown),
		cmocka_unit_test(test_activity_check),
		cmocka_unit_test(test_close_codes),
		cmocka_unit_test(test_client_events_refused),
		cmocka_unit_test(test_client_events_relayed),
		cmocka_unit_test(test_rate_limit),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
