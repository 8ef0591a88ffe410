/* SPDX-License-Identifier: MIT
 *
 * mqtt_link.h - the bridge's one MQTT session (Eclipse Paho MQTTAsync,
 * paho-mqtt3as: TLS-capable), the adapter between the broker and the
 * inbox.  It knows nothing of the hub: what an event means is decided by
 * whoever drains the inbox (mqtt_events.c).
 *
 * The session is persistent (MQTT 3.1.1, clean session off, QoS 1
 * subscriptions and publishes; docs/protocol.md §10.1), so a link flap loses
 * nothing the broker accepted: the broker queues it and hands it over on
 * reconnect.  A process starts with a fresh session (the one a previous
 * run left holds that run's subscriptions and backlog, which a process
 * starting with nothing cannot use); later connections resume it, and
 * their connected event carries the broker's "session present" flag.
 * Reconnecting is the link's own (not Paho's automatic reconnect, whose
 * connected callback does not carry that flag).
 *
 * Redeliveries.  A resumed session makes the broker send again what it
 * has no PUBACK for; what the link already handed to the inbox is not
 * handed again (a status would otherwise go back to an older value).
 *
 * Takeovers.  Every connection claims the client id on
 * $statusbus/sync/<client id>/owner and watches that topic, which tells
 * when another process connected with the same id (mqtt_claim.h); counted
 * in sb_mqtt_link_takeovers.  The claim messages never reach the inbox.
 * A clean stop clears the claim.
 *
 * Thread boundary: Paho calls back on its own threads.  messageArrived
 * offers the message to the inbox (inbox.h), which copies it into a
 * refcounted sb_msg and wakes the service thread once per batch.  When the
 * inbox is full the callback waits for room up to limits.inbound_wait_ms,
 * then drops the message, counted (inbound_overflow) and logged at most
 * every 10 s; it always returns 1 (why not 0: see on_message in
 * mqtt_link.c).  Connection state, SUBACKs and failed publishes travel the
 * same inbox.  The takeover watch runs on Paho's threads only.
 * Everything else here runs on the service thread;
 * subscribe/unsubscribe/publish call Paho from it (Paho's API is
 * thread-safe) while the link is up as far as the drained events say.
 */
#ifndef SB_MQTT_LINK_H
#define SB_MQTT_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "inbox.h"

struct sb_mqtt_link;

/* Creates the Paho client from cfg, whose mqtt.client_id must be the
 * expanded id (sb_config_expand_client_id).  cfg and inbox are borrowed
 * and must outlive the link (Paho may push into the inbox until
 * sb_mqtt_link_destroy returns).  On failure `err` says why. */
enum sb_err sb_mqtt_link_create(struct sb_mqtt_link **out, const struct sb_config *cfg,
				struct sb_inbox *inbox, char *err, size_t errlen);
/* With presence channels (before sb_mqtt_link_start): the connection
 * carries the will "offline" on $statusbus/bridges/<client id>. */
void sb_mqtt_link_set_will(struct sb_mqtt_link *link, int on);
/* Starts connecting; a failed attempt or a lost link is retried with
 * backoff (mqtt.reconnect_min_s .. reconnect_max_s) from
 * sb_mqtt_link_tick.  SB_ERR_IO when Paho refused to start (retried too). */
enum sb_err sb_mqtt_link_start(struct sb_mqtt_link *link);

/* ---- service thread ---- */
/* Makes a due connection attempt.  Call it now and then, e.g. on every
 * drain. */
void sb_mqtt_link_tick(struct sb_mqtt_link *link);
/* The drainer saw a connected event: the link is up.  Returns 1 when this
 * process had a session at the broker before this connection (so a
 * connection without one lost what was published meanwhile), 0 on the
 * first connection. */
int sb_mqtt_link_note_connected(struct sb_mqtt_link *link, int session_present);
/* The drainer saw a lost event: the link is down until the next
 * connected event (subscribe/unsubscribe/publish do nothing meanwhile);
 * schedules the reconnection. */
void sb_mqtt_link_note_lost(struct sb_mqtt_link *link);
/* The drainer saw a connect_failed event: schedules the next attempt.
 * Returns 1 when the link is down (a failed attempt can trail a
 * connection that came up meanwhile). */
int sb_mqtt_link_note_connect_failed(struct sb_mqtt_link *link);

void sb_mqtt_link_subscribe(struct sb_mqtt_link *link, const char *filter);
/* The subscriptions the broker refused, to try again (mqtt_resub.h;
 * mqtt_events.c runs them).  Owned by the link. */
struct sb_mqtt_resub **sb_mqtt_link_resub(struct sb_mqtt_link *link);
void sb_mqtt_link_unsubscribe(struct sb_mqtt_link *link, const char *filter);
/* QoS 1, not retained; dropped while the link is down. */
void sb_mqtt_link_publish(struct sb_mqtt_link *link, const char *topic,
			  const void *payload, size_t len);
/* QoS 1, retained when `retain`: 0 once Paho took the message (it is then
 * the session's: sent, or sent again on a resumed session), -1 when the
 * link is down or Paho refused it (the caller tells its own client). */
int sb_mqtt_link_publish_ex(struct sb_mqtt_link *link, const char *topic,
			    const void *payload, size_t len, int retain);

/* Any thread: takeovers of the client id seen so far (see above). */
uint64_t sb_mqtt_link_takeovers(const struct sb_mqtt_link *link);

/* Clears the claim, disconnects (waiting up to timeout_ms) and frees
 * (but for a Paho client a Paho defect left unfreeable: see renew_client
 * in mqtt_link.c).  Accepts NULL. */
void sb_mqtt_link_destroy(struct sb_mqtt_link *link, int timeout_ms);

#endif
