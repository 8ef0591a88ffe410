/* SPDX-License-Identifier: MIT
 *
 * mqtt_events.h - what the MQTT link's inbox events mean to the bridge:
 * the composition root's wiring of inbox.h's ops table to the hub (and
 * back to the link for its first-connect retry).  Service thread only.
 *
 *   message        -> sb_hub_on_message
 *   connected      -> the link notes it is up; sb_hub_mqtt_state(1) (the
 *                     hub resubscribes); then, when the broker had no
 *                     session for a process that had one,
 *                     sb_hub_mqtt_session_lost
 *   lost           -> the link notes it is down and schedules the
 *                     reconnection; sb_hub_mqtt_state(0)
 *   connect_failed -> retry scheduled by the link; sb_hub_mqtt_state(0)
 *   suback         -> sb_hub_mqtt_suback, or a logged refusal
 *   publish_failed -> logged
 *   dropped        -> sb_hub_count_inbound_drop (inbound_overflow: the
 *                     inbox stayed full past limits.inbound_wait_ms, or
 *                     out of memory)
 */
#ifndef SB_MQTT_EVENTS_H
#define SB_MQTT_EVENTS_H

#include <stddef.h>

#include "hub.h"
#include "inbox.h"
#include "mqtt_link.h"

/* Makes the link's due connection attempt, then drains up to `max` inbox events into
 * the hub; returns how many were drained.  Called when the inbox wakes the
 * service thread, and now and then as a timer. */
size_t sb_mqtt_events_drain(struct sb_inbox *inbox, struct sb_mqtt_link *link,
			    struct sb_hub *hub, size_t max);

#endif
