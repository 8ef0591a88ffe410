/* SPDX-License-Identifier: MIT
 *
 * mqtt_link.h - the bridge's one MQTT session (Eclipse Paho MQTTAsync,
 * paho-mqtt3as: TLS-capable), adapter between the broker and the hub.
 *
 * Thread boundary: Paho calls back on its own thread.  messageArrived
 * copies the message into a refcounted sb_msg, pushes it on a
 * mutex-protected queue, calls the wakeup function (lws_cancel_service),
 * frees Paho's message and returns 1.  Connection state changes travel the
 * same queue.  Everything else - sb_mqtt_link_drain and the hub - runs on
 * the service thread.  subscribe/unsubscribe/publish may be called from the
 * service thread (Paho's API is thread-safe).
 */
#ifndef SB_MQTT_LINK_H
#define SB_MQTT_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "hub.h"

struct sb_mqtt_link;

/* Creates the Paho client from cfg (borrowed, must outlive the link).
 * `wakeup(ctx)` is called from Paho's thread whenever something was
 * queued.  On failure `err` says why. */
enum sb_err sb_mqtt_link_create(struct sb_mqtt_link **out, const struct sb_config *cfg,
				void (*wakeup)(void *ctx), void *ctx,
				char *err, size_t errlen);
/* Starts connecting; reconnects forever with backoff
 * (mqtt.reconnect_min_s .. reconnect_max_s). */
enum sb_err sb_mqtt_link_start(struct sb_mqtt_link *link);
/* Service thread: hands queued messages and state changes to the hub, at
 * most `max` messages; returns how many were handled.  Also retries a
 * failed initial connection when its backoff expired. */
size_t sb_mqtt_link_drain(struct sb_mqtt_link *link, struct sb_hub *hub, size_t max);
/* ms until sb_mqtt_link_drain has a retry to make, or -1. */
int64_t sb_mqtt_link_retry_in_ms(const struct sb_mqtt_link *link);

void sb_mqtt_link_subscribe(struct sb_mqtt_link *link, const char *filter);
void sb_mqtt_link_unsubscribe(struct sb_mqtt_link *link, const char *filter);
/* QoS 0, not retained; dropped (and logged) while disconnected. */
void sb_mqtt_link_publish(struct sb_mqtt_link *link, const char *topic,
			  const void *payload, size_t len);
uint64_t sb_mqtt_link_reconnects(const struct sb_mqtt_link *link);

/* Disconnects (waiting up to timeout_ms) and frees.  Accepts NULL. */
void sb_mqtt_link_destroy(struct sb_mqtt_link *link, int timeout_ms);

#endif
