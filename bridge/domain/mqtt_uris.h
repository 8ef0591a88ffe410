/* SPDX-License-Identifier: MIT
 *
 * mqtt_uris.h - which broker URI the next MQTT connection attempt uses
 * when mqtt.uri lists several (the nodes of a clustered broker,
 * docs/protocol.md §10): one URI per attempt, in the order given, moving
 * on after every attempt, failed or lost, so that a dead node costs one
 * attempt and the link (with its persistent session, which the cluster
 * replicates) continues on the next node.  The link names the node it uses
 * in its log.  Pure module; the caller serializes.
 */
#ifndef SB_MQTT_URIS_H
#define SB_MQTT_URIS_H

#include <stddef.h>

struct sb_mqtt_uris {
	char *const *uris;    /* borrowed: the config's mqtt.uri list */
	size_t n;
	size_t next;          /* index of the next attempt's URI */
	size_t cur;           /* index of the last attempt's URI */
	unsigned long attempts;
};

/* uris[0 .. n-1], n >= 1, borrowed. */
void sb_mqtt_uris_init(struct sb_mqtt_uris *u, char *const *uris, size_t n);
/* The URI for a new connection attempt: the first on the first call, then
 * each in turn, wrapping around. */
const char *sb_mqtt_uris_next(struct sb_mqtt_uris *u);
/* The URI of the last attempt (the first before any). */
const char *sb_mqtt_uris_current(const struct sb_mqtt_uris *u);
/* 1-based position of the current URI in the list, for log lines. */
size_t sb_mqtt_uris_index(const struct sb_mqtt_uris *u);

#endif
