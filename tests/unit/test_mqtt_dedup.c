/* SPDX-License-Identifier: MIT
 *
 * test_mqtt_dedup.c - mqtt_dedup.c: a repeat within the window is seen,
 * one after it is not, a full probe window gives way to the newest, and
 * nothing is ever reported seen that was not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mqtt_dedup.h"

static void test_repeat_within_window(void **state)
{
	struct sb_mqtt_dedup *d = NULL;

	(void)state;
	assert_int_equal(sb_mqtt_dedup_seen(&d, 42, 1000, SB_MQTT_DEDUP_MS), 0);
	assert_int_equal(sb_mqtt_dedup_seen(&d, 42, 1000 + SB_MQTT_DEDUP_MS - 1, SB_MQTT_DEDUP_MS), 1);
	assert_int_equal(sb_mqtt_dedup_seen(&d, 43, 1001, SB_MQTT_DEDUP_MS), 0);
	/* the window counts from the first copy */
	assert_int_equal(sb_mqtt_dedup_seen(&d, 42, 1000 + SB_MQTT_DEDUP_MS, SB_MQTT_DEDUP_MS), 0);
	assert_int_equal(sb_mqtt_dedup_seen(&d, 42, 1000 + SB_MQTT_DEDUP_MS + 1, SB_MQTT_DEDUP_MS), 1);
	assert_int_equal(sb_mqtt_dedup_seen(&d, 0, 1, SB_MQTT_DEDUP_MS), 0);   /* 0: no hash */
	assert_int_equal(sb_mqtt_dedup_seen(&d, 0, 1, SB_MQTT_DEDUP_MS), 0);
	sb_mqtt_dedup_free(d);
}

static void test_many_distinct_never_false(void **state)
{
	struct sb_mqtt_dedup *d = NULL;
	uint64_t x = 88172645463325252ULL;
	int repeats = 0;

	(void)state;
	/* twice the table within one window: each is new */
	for (int i = 0; i < 2 * SB_MQTT_DEDUP_SLOTS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		assert_int_equal(sb_mqtt_dedup_seen(&d, x | 1, 10, SB_MQTT_DEDUP_MS), 0);
	}
	/* the newest ones are still known */
	for (int i = 0; i < 100; i++)
		assert_int_equal(sb_mqtt_dedup_seen(&d, (uint64_t)(1000003 * (i + 1)) | 1, 20, SB_MQTT_DEDUP_MS), 0);
	for (int i = 0; i < 100; i++)
		repeats += sb_mqtt_dedup_seen(&d, (uint64_t)(1000003 * (i + 1)) | 1, 30, SB_MQTT_DEDUP_MS);
	assert_int_equal(repeats, 100);
	sb_mqtt_dedup_free(d);
}

/* mqtt.dedup_ms 0 (the default, for Mosquitto): nothing is ever a repeat */
static void test_off(void **state)
{
	struct sb_mqtt_dedup *d = NULL;
	(void)state;

	assert_int_equal(sb_mqtt_dedup_seen(&d, 42, 1000, 0), 0);
	assert_int_equal(sb_mqtt_dedup_seen(&d, 42, 1000, 0), 0);
	assert_null(d);
	assert_int_equal(sb_mqtt_dedup_seen(&d, 42, 1000, 100), 0);
	assert_int_equal(sb_mqtt_dedup_seen(&d, 42, 1099, 100), 1);
	assert_int_equal(sb_mqtt_dedup_seen(&d, 42, 1100, 100), 0);
	sb_mqtt_dedup_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_repeat_within_window),
		cmocka_unit_test(test_many_distinct_never_false),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
