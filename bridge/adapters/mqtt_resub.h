/* SPDX-License-Identifier: MIT
 *
 * mqtt_resub.h - subscriptions the broker refused in its SUBACK (return
 * code 0x80), subscribed again after 1 s, doubling per filter up to 30 s,
 * while the hub still uses the filter.  NATS Server 2.9's MQTT listener
 * refuses a subscription whose JetStream consumer it could not create in
 * time (a cluster still electing, a node busy); without a retry the
 * filter would stay dead until the next reconnection.  The link's
 * (re)connection subscribes every filter anyway: it clears the list.
 * Service thread only.
 */
#ifndef SB_MQTT_RESUB_H
#define SB_MQTT_RESUB_H

#include <stddef.h>
#include <stdint.h>

struct sb_mqtt_resub;

/* `filter` was refused: schedules its next attempt; returns the delay in
 * ms (0: out of memory, not retried before the next reconnection). */
int64_t sb_mqtt_resub_refused(struct sb_mqtt_resub **r, const char *filter, int64_t now_ms);
/* `filter` was granted: forgets its attempts. */
void sb_mqtt_resub_granted(struct sb_mqtt_resub *r, const char *filter);
/* Calls fn(arg, filter) for every attempt due at now_ms. */
void sb_mqtt_resub_run(struct sb_mqtt_resub *r, int64_t now_ms,
		       void (*fn)(void *arg, const char *filter), void *arg);
/* The link went down or came up: nothing is pending. */
void sb_mqtt_resub_clear(struct sb_mqtt_resub *r);
void sb_mqtt_resub_free(struct sb_mqtt_resub *r);

#endif
