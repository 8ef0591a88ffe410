/* SPDX-License-Identifier: MIT
 *
 * test_query.c - unit tests for query.c, the HTTP fallbacks answered the
 * way http_api.c answers them (sb_hub_query, then sb_code_http_status):
 * a channel's snapshot with the same events as the WebSocket one, the same
 * ACL as a subscription (401, 403, 404, 400), and a logs channel's history
 * after since.  The environment is hub_fixture.h.
 */
#include "hub_fixture.h"

/* The HTTP query as http_api.c answers it: body and status. */
static int http_query(struct sb_hub *hub, const char *token, const char *channel, int history,
		      int64_t since, char **body)
{
	enum sb_code code = SB_CODE_INTERNAL;

	if (sb_hub_query(hub, token, channel, history, since, body, &code, NULL) == SB_OK)
		return 200;
	return sb_code_http_status(code);
}

/* ---- HTTP snapshot and history ------------------------------------------------------------ */

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

static void no_wake(void *arg)
{
	(void)arg;
	fail_msg("the query was parked, then woken");
}

/* deploy.<d>'s only filter rides on the owners' team/+/deploy/+/status
 * (filters.h: carried): a first query for it is answered at once, live,
 * not parked for a barrier that will never come. */
static void test_query_of_a_carried_channel_is_answered_at_once(void **state)
{
	struct env e;
	struct sb_hub_waiter w;
	enum sb_code code = SB_CODE_INTERNAL;
	char *body = NULL;
	cJSON *j;
	(void)state;

	memset(&w, 0, sizeof(w));
	w.ready = no_wake;
	env_init(&e, "{}", 0);
	publish(&e, "team/42/deploy/" D1 "/status", "{\"status\":\"running\"}", 1);
	assert_int_equal(sb_hub_query(e.hub, NULL, "deploy." D1, 0, 0, &body, &code, &w), SB_OK);
	j = cJSON_Parse(body);
	assert_non_null(j);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "live")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "events")), 1);
	cJSON_Delete(j);
	free(body);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_fallbacks),
		cmocka_unit_test(test_query_of_a_carried_channel_is_answered_at_once),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
