/* SPDX-License-Identifier: MIT
 *
 * test_client.c - unit tests for client.c, a connection's queue and close
 * verdict: a slow client closed with 4029 when frames that may not be
 * dropped pass the hard bound, statuses conflated per topic in the queue so
 * a burst does not close anyone, log lines dropped for a slow reader and
 * reported as one gap, the rest read back (through the coalescing of queued
 * batches) with no hole and nothing twice, the per-client token bucket
 * (rate_limited, then 4008), and max_connections with the connection's
 * session id.  The environment is hub_fixture.h.
 */
#include "hub_fixture.h"

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

/* ---- rate and connection limits ----------------------------------------------------------- */

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
		cmocka_unit_test(test_slow_client_closed_4029),
		cmocka_unit_test(test_status_burst_does_not_close_a_client),
		cmocka_unit_test(test_slow_client_status_conflated),
		cmocka_unit_test(test_slow_client_logs_gap),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_max_connections),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
