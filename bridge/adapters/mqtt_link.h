/* SPDX-License-Identifier: MIT
 *
 * mqtt_link.h - the bridge's one MQTT session (Eclipse Paho MQTTAsync,
 * paho-mqtt3as: TLS-capable), the adapter between the broker and the
 * inbox.  It knows nothing of the hub: what an event means is decided by
 * whoever drains the inbox (mqtt_events.c).
 *
 * Thread boundary: Paho calls back on its own thread.  messageArrived
 * offers the message to the inbox (inbox.h), which copies it into a
 * refcounted sb_msg and wakes the service thread once per batch.  When the
 * inbox is full the callback waits for room up to limits.inbound_wait_ms,
 * then drops the message, counted (inbound_overflow) and logged at most
 * every 10 s; it always returns 1 (why not 0: see on_message in
 * mqtt_link.c).  Connection state, SUBACKs and failed publishes travel the
 * same inbox.  Everything else here runs on the service thread;
 * subscribe/unsubscribe/publish call Paho from it (Paho's API is
 * thread-safe) while the link is up as far as the drained events say.
 */
#ifndef SB_MQTT_LINK_H
#define SB_MQTT_LINK_H

#include <stddef.h>

#include "config.h"
#include "inbox.h"

struct sb_mqtt_link;

/* Creates the Paho client from cfg.  cfg and inbox are borrowed and must
 * outlive the link (Paho may push into the inbox until
 * sb_mqtt_link_destroy returns).  On failure `err` says why. */
enum sb_err sb_mqtt_link_create(struct sb_mqtt_link **out, const struct sb_config *cfg,
				struct sb_inbox *inbox, char *err, size_t errlen);
/* Starts connecting; Paho reconnects a lost link by itself with backoff
 * (mqtt.reconnect_min_s .. reconnect_max_s). */
enum sb_err sb_mqtt_link_start(struct sb_mqtt_link *link);

/* ---- service thread ---- */
/* Makes a due retry of a failed first connection (Paho retries only links
 * that were up once).  Call it now and then, e.g. on every drain. */
void sb_mqtt_link_tick(struct sb_mqtt_link *link);
/* The drainer saw a connected event: the link is up; resets the
 * first-connect backoff. */
void sb_mqtt_link_note_connected(struct sb_mqtt_link *link);
/* The drainer saw a lost event: the link is down until the next
 * connected event (subscribe/unsubscribe/publish do nothing meanwhile). */
void sb_mqtt_link_note_lost(struct sb_mqtt_link *link);
/* The drainer saw a connect_failed event: schedules the next first-connect
 * attempt.  Returns 1 when the link is down (a failed attempt can trail a
 * connection that came up meanwhile). */
int sb_mqtt_link_note_connect_failed(struct sb_mqtt_link *link);

void sb_mqtt_link_subscribe(struct sb_mqtt_link *link, const char *filter);
void sb_mqtt_link_unsubscribe(struct sb_mqtt_link *link, const char *filter);
/* QoS 0, not retained; dropped while the link is down. */
void sb_mqtt_link_publish(struct sb_mqtt_link *link, const char *topic,
			  const void *payload, size_t len);

/* Disconnects (waiting up to timeout_ms) and frees.  Accepts NULL. */
void sb_mqtt_link_destroy(struct sb_mqtt_link *link, int timeout_ms);

#endif
