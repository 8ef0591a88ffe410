/* SPDX-License-Identifier: MIT
 *
 * mqtt_dedup.c - repeats of a live message within a few seconds (see
 * mqtt_dedup.h): open addressing over a fixed table, a short probe; an
 * expired slot is free.
 */
#include "mqtt_dedup.h"

#include <stdlib.h>

#define PROBE 8

struct slot {
	uint64_t hash;    /* 0 = empty */
	int64_t at_ms;
};

struct sb_mqtt_dedup {
	struct slot s[SB_MQTT_DEDUP_SLOTS];
};

int sb_mqtt_dedup_seen(struct sb_mqtt_dedup **dp, uint64_t hash, int64_t now_ms,
		       int64_t window_ms)
{
	struct slot *free_slot = NULL, *oldest = NULL;
	size_t i0;

	if (!hash || window_ms <= 0)
		return 0;
	if (!*dp && !(*dp = calloc(1, sizeof(**dp))))
		return 0;
	i0 = (size_t)(hash ^ (hash >> 29)) % SB_MQTT_DEDUP_SLOTS;
	for (size_t k = 0; k < PROBE; k++) {
		struct slot *s = &(*dp)->s[(i0 + k) % SB_MQTT_DEDUP_SLOTS];

		if (!s->hash || now_ms - s->at_ms >= window_ms) {
			if (!free_slot)
				free_slot = s;
		} else if (s->hash == hash) {
			return 1;
		} else if (!oldest || s->at_ms < oldest->at_ms) {
			oldest = s;
		}
	}
	if (!free_slot)
		free_slot = oldest;   /* full: the oldest entry makes room */
	free_slot->hash = hash;
	free_slot->at_ms = now_ms;
	return 0;
}

void sb_mqtt_dedup_free(struct sb_mqtt_dedup *d)
{
	free(d);
}
