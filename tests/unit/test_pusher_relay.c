/* SPDX-License-Identifier: MIT
 *
 * test_pusher_relay.c - the engine's side of the Pusher HTTP API's relay
 * (docs/protocol.md §9.1): a message on pusher/<channel>/<event> reaches
 * that channel's subscribers with the Pusher event's own name and data,
 * under each one's channel name, and a statusbus.v1 subscriber as an event;
 * the connection whose socket id the message names is skipped; cached
 * events are kept for cache- subscribers; relay events are never batched
 * nor conflated; a malformed one reaches nobody.  Every channel follows
 * its relay filter when Pusher is on.
 */
#include "pusher_fixture.h"

#include "relay.h"

#define T42 "pusher/team.42/order.shipped"

static void relay(struct env *e, const char *topic, const char *data, const char *sid, int cached)
{
	size_t len;
	char *p = sb_relay_envelope(data, strlen(data), sid, cached, &len);

	assert_non_null(p);
	publish(e, topic, p, 0);
	free(p);
}

static void expect_event(struct env *e, struct conn *k, const char *event, const char *channel,
			 const char *data)
{
	cJSON *j = expect(e, k, event, channel);

	assert_string_equal(str(j, "data"), data);
	cJSON_Delete(j);
}

static void test_relay_reaches_every_form_but_the_sender(void **state)
{
	struct env e;
	struct conn a, b, c;
	char filter[64];

	(void)state;
	env_init(&e, NULL, NULL);
	a = open_conn(&e);
	b = open_conn(&e);
	c = open_conn(&e);
	subscribe_signed(&a, "private-team.42");
	expect_subscribed(&e, &a, "private-team.42");
	subscribe_signed(&b, "private-team.42");
	expect_subscribed(&e, &b, "private-team.42");
	subscribe_signed(&c, "private-cache-team.42");
	expect_subscribed(&e, &c, "private-cache-team.42");
	cJSON_Delete(expect(&e, &c, "pusher:cache_miss", "private-cache-team.42"));
	/* the channel follows its relay filter (Pusher is on) */
	snprintf(filter, sizeof(filter), "pusher/team.42/+");
	{
		int found = 0;
		for (size_t i = 0; i < e.broker.nsubs; i++)
			found |= !strcmp(e.broker.subs[i], filter);
		assert_true(found);
	}

	relay(&e, T42, "{\"id\":5}", sb_pusher_socket_id(a.pc), 0);
	expect_none(&e, &a);
	expect_event(&e, &b, "order.shipped", "private-team.42", "{\"id\":5}");
	expect_event(&e, &c, "order.shipped", "private-cache-team.42", "{\"id\":5}");
	/* a socket id that is nobody's here skips nobody */
	relay(&e, T42, "x", "99.99", 0);
	expect_event(&e, &a, "order.shipped", "private-team.42", "x");
	expect_event(&e, &b, "order.shipped", "private-team.42", "x");
	expect_event(&e, &c, "order.shipped", "private-cache-team.42", "x");
	/* a sender that left: its socket id names nobody any more */
	conn_close(&e, &a);
	relay(&e, T42, "y", "1.1", 0);
	expect_event(&e, &b, "order.shipped", "private-team.42", "y");
	conn_close(&e, &b);
	conn_close(&e, &c);
	env_free(&e);
}

static void test_relay_cached_for_cache_subscribers(void **state)
{
	struct env e;
	struct conn a, b, c;

	(void)state;
	env_init(&e, NULL, NULL);
	a = open_conn(&e);
	subscribe_signed(&a, "private-team.42");
	expect_subscribed(&e, &a, "private-team.42");
	relay(&e, T42, "{\"v\":1}", NULL, 1);
	relay(&e, T42, "{\"v\":2}", NULL, 1);
	relay(&e, "pusher/team.42/other", "{\"v\":3}", NULL, 0);   /* not kept */
	expect_event(&e, &a, "order.shipped", "private-team.42", "{\"v\":1}");
	expect_event(&e, &a, "order.shipped", "private-team.42", "{\"v\":2}");
	expect_event(&e, &a, "other", "private-team.42", "{\"v\":3}");
	/* a cache- subscriber gets the last kept one; a plain one nothing */
	b = open_conn(&e);
	subscribe_signed(&b, "private-cache-team.42");
	expect_subscribed(&e, &b, "private-cache-team.42");
	expect_event(&e, &b, "order.shipped", "private-cache-team.42", "{\"v\":2}");
	expect_none(&e, &b);
	c = open_conn(&e);
	subscribe_signed(&c, "private-team.42");
	expect_subscribed(&e, &c, "private-team.42");
	expect_none(&e, &c);
	/* an empty publish clears it: a deleted event, then nothing kept */
	publish(&e, T42, "", 1);
	cJSON_Delete(expect(&e, &b, "deleted", "private-cache-team.42"));
	conn_close(&e, &b);
	b = open_conn(&e);
	subscribe_signed(&b, "private-cache-team.42");
	expect_subscribed(&e, &b, "private-cache-team.42");
	cJSON_Delete(expect(&e, &b, "pusher:cache_miss", "private-cache-team.42"));
	conn_close(&e, &a);
	conn_close(&e, &b);
	conn_close(&e, &c);
	env_free(&e);
}

static void test_relay_is_immediate_on_any_channel(void **state)
{
	struct env e;
	struct conn a;

	(void)state;
	env_init(&e, NULL, NULL);
	a = open_conn(&e);
	/* team.<t>.stats conflates every 250 ms: a relayed event does not wait */
	subscribe_signed(&a, "private-team.42.stats");
	expect_subscribed(&e, &a, "private-team.42.stats");
	relay(&e, "pusher/team.42.stats/alert", "{\"cpu\":99}", NULL, 0);
	expect_event(&e, &a, "alert", "private-team.42.stats", "{\"cpu\":99}");
	/* what the relay refuses reaches nobody */
	publish(&e, "pusher/team.42.stats/alert", "{\"data\":5}", 0);
	publish(&e, "pusher/team.42.stats/alert", "{\"data\":\"x\",\"socket_id\":\"x\"}", 0);
	publish(&e, "pusher/team.42.stats/alert", "not json", 0);
	publish(&e, "pusher/team.42.stats/pusher:x", "{\"data\":\"x\"}", 0);
	expect_none(&e, &a);
	assert_int_equal(sb_hub_metrics(e.hub)->drop_schema + sb_hub_metrics(e.hub)->drop_invalid_json +
			 sb_hub_metrics(e.hub)->drop_unknown_topic, 4);
	conn_close(&e, &a);
	env_free(&e);
}

/* The channel counts the HTTP API's queries read. */
static void test_channel_counts(void **state)
{
	struct env e;
	struct conn a, b;
	size_t counts[SB_HUB_MAX_ENCODERS];

	(void)state;
	env_init(&e, NULL, NULL);
	a = open_conn(&e);
	b = open_conn(&e);
	subscribe_signed(&a, "private-team.42");
	expect_subscribed(&e, &a, "private-team.42");
	subscribe_signed(&b, "private-cache-team.42");
	expect_subscribed(&e, &b, "private-cache-team.42");
	assert_int_equal(sb_hub_chan_subscribers(e.hub, "team.42", counts), 2);
	assert_int_equal(counts[sb_pusher_encoder(e.p, SB_PUSHER_PRIVATE)], 1);
	assert_int_equal(counts[sb_pusher_encoder(e.p, SB_PUSHER_PRIVATE_CACHE)], 1);
	assert_int_equal(counts[sb_pusher_encoder(e.p, SB_PUSHER_CACHE)], 0);
	assert_int_equal(sb_pusher_encoder(e.p, SB_PUSHER_UNSUPPORTED), -1);
	assert_int_equal(sb_hub_chan_subscribers(e.hub, "team.43", counts), 0);
	assert_ptr_equal(sb_hub_chanmap(e.hub), map);
	conn_close(&e, &a);
	conn_close(&e, &b);
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_reaches_every_form_but_the_sender),
		cmocka_unit_test(test_relay_cached_for_cache_subscribers),
		cmocka_unit_test(test_relay_is_immediate_on_any_channel),
		cmocka_unit_test(test_channel_counts),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
