/* SPDX-License-Identifier: MIT
 *
 * mqtt_dedup.h - drops a live (not retained) MQTT message whose topic and
 * payload equal one taken within the last SB_MQTT_DEDUP_MS.  NATS Server
 * 2.9's MQTT listener delivers one copy per matching subscription to a
 * session whose filters overlap (team/42/deploy/+/status and the owners'
 * team/+/deploy/+/status), and a node taking over a session may send again
 * what the dead node had delivered; Mosquitto sends one copy.  The side
 * effect (docs/scaling.md): a publisher that sends the very same payload
 * twice on one topic within the window has the second dropped; statuses
 * carry their `ts` and log lines their `seq`, so only a true repeat is.
 *
 * Keyed by a 64-bit hash of topic and payload (the caller's), in a fixed
 * table (SB_MQTT_DEDUP_SLOTS, allocated at the first use): when more
 * distinct messages than it holds arrive within the window some repeats
 * go through (never a message dropped that was not seen).  Pure module;
 * one thread.
 */
#ifndef SB_MQTT_DEDUP_H
#define SB_MQTT_DEDUP_H

#include <stdint.h>

#define SB_MQTT_DEDUP_MS 5000    /* what deploy/bridge/fleet.json sets (mqtt.dedup_ms) */
#define SB_MQTT_DEDUP_SLOTS 65536

struct sb_mqtt_dedup;

/* Returns 1 when `hash` (nonzero) was seen within window_ms
 * (mqtt.dedup_ms) before now_ms (a repeat: drop it), else records it and
 * returns 0.  *d is allocated at the first call (out of
 * memory: 0, nothing dropped). */
int sb_mqtt_dedup_seen(struct sb_mqtt_dedup **d, uint64_t hash, int64_t now_ms,
		       int64_t window_ms);
/* Accepts NULL. */
void sb_mqtt_dedup_free(struct sb_mqtt_dedup *d);

#endif
