/* SPDX-License-Identifier: MIT
 *
 * mqtt_claim.h - the bridge's claim on its MQTT client id, which tells a
 * takeover (docs/protocol.md §10.1).  MQTT 3.1.1 gives no reason when the
 * broker closes a connection because another client connected with the
 * same id, so the link tells it by construction: at each connection it
 * subscribes to $statusbus/sync/<client id>/owner and publishes there,
 * retained, this process's claim (a random nonce, the host name, the pid).
 * Once its own claim has come back (the broker holds it), another claim
 * on that topic, replayed at a reconnection or delivered live, can only
 * come from another process that connected with the id since: a takeover,
 * logged once per connection and counted.  A claim seen before our own is
 * a previous run's, as a rule: logged, not counted.  An empty message (a
 * clean stop clears the claim) is no claim.
 *
 * No Paho here: mqtt_link.c subscribes, publishes and hands in what
 * arrives on the topic.  Paho's receive thread only, but for the counter
 * (any thread).
 */
#ifndef SB_MQTT_CLAIM_H
#define SB_MQTT_CLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "sb_common.h"

struct sb_mqtt_claim {
	const char *client_id;        /* borrowed */
	char *topic;                  /* $statusbus/sync/<client id>/owner */
	size_t topic_len;
	char text[192];               /* this process's claim (JSON) */
	size_t len;
	int confirmed;                /* our claim came back once */
	int counted;                  /* a takeover counted on this connection */
	uint64_t takeovers;           /* atomic */
};

/* Makes this process's claim on client_id (borrowed, outlives c).  Free
 * with sb_mqtt_claim_fini. */
enum sb_err sb_mqtt_claim_init(struct sb_mqtt_claim *c, const char *client_id);
void sb_mqtt_claim_fini(struct sb_mqtt_claim *c);

/* 1 when topic[0..len) is the claim topic. */
int sb_mqtt_claim_is_topic(const struct sb_mqtt_claim *c, const char *topic, size_t len);
/* A new connection: a takeover may be counted on it again. */
void sb_mqtt_claim_connected(struct sb_mqtt_claim *c);
/* A message on the claim topic: confirms ours, or tells a takeover (logged
 * and counted, once per connection), or a previous run's claim (logged). */
void sb_mqtt_claim_seen(struct sb_mqtt_claim *c, const void *payload, size_t len);
/* Any thread: takeovers counted so far. */
uint64_t sb_mqtt_claim_takeovers(const struct sb_mqtt_claim *c);

#endif
