/* SPDX-License-Identifier: MIT
 *
 * test_mqtt_uris.c - mqtt_uris.c: one broker URI per connection attempt,
 * in the order of mqtt.uri, moving on after each attempt and wrapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mqtt_uris.h"

static void test_rotates_one_per_attempt(void **state)
{
	char *list[] = { "tcp://a:1", "tcp://b:2", "tcp://c:3" };
	struct sb_mqtt_uris u;

	(void)state;
	sb_mqtt_uris_init(&u, list, 3);
	assert_string_equal(sb_mqtt_uris_current(&u), "tcp://a:1");
	assert_string_equal(sb_mqtt_uris_next(&u), "tcp://a:1");
	assert_int_equal(sb_mqtt_uris_index(&u), 1);
	assert_string_equal(sb_mqtt_uris_next(&u), "tcp://b:2");
	assert_string_equal(sb_mqtt_uris_current(&u), "tcp://b:2");
	assert_int_equal(sb_mqtt_uris_index(&u), 2);
	assert_string_equal(sb_mqtt_uris_next(&u), "tcp://c:3");
	assert_string_equal(sb_mqtt_uris_next(&u), "tcp://a:1");
	assert_int_equal(u.attempts, 4);
}

static void test_single_uri_always(void **state)
{
	char *list[] = { "tcp://only:1" };
	struct sb_mqtt_uris u;

	(void)state;
	sb_mqtt_uris_init(&u, list, 1);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(sb_mqtt_uris_next(&u), "tcp://only:1");
		assert_int_equal(sb_mqtt_uris_index(&u), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotates_one_per_attempt),
		cmocka_unit_test(test_single_uri_always),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
