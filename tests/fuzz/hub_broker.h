/* SPDX-License-Identifier: MIT
 *
 * hub_broker.h - fuzz_hub.c's fake MQTT broker (hub_broker.c), a richer
 * cousin of tests/unit/fake_broker.h: it grants the hub's subscriptions
 * when pumped, replays the retained messages of each new filter right
 * after its SUBACK (as Mosquitto does), echoes the hub's replay barriers
 * after that, delivers a publisher's message only when a granted filter
 * matches it, keeps retained messages, and loses what was in flight when
 * the link goes down.
 */
#ifndef SB_FUZZ_HUB_BROKER_H
#define SB_FUZZ_HUB_BROKER_H

#include <stddef.h>

#include "hub.h"

#define HB_Q 64
#define HB_RETAINED 32

struct hub_broker {
	struct sb_hub *hub;
	char *pend[HB_Q];        /* "+filter" / "-filter" requests, FIFO */
	char *granted[HB_Q];     /* what the hub is subscribed to */
	char *bar[HB_Q];         /* barriers to echo, "topic\npayload" */
	size_t npend, ngranted, nbar;
	struct { char topic[128]; char *payload; size_t len; } ret[HB_RETAINED];
	size_t nret;
	int hold;                /* grant nothing, echo nothing */
	int link_up;
	struct sb_msg *last;     /* for a QoS 1 redelivery */
};

/* The hub's side (its struct sb_hub_ops calls these). */
void hb_subscribe(struct hub_broker *b, const char *filter);
void hb_unsubscribe(struct hub_broker *b, const char *filter);
/* The hub published: a barrier is kept for the echo; anything else must be
 * a rejected report (checked: strict JSON). */
void hb_hub_published(struct hub_broker *b, const char *topic, const void *payload, size_t len);

/* The broker's turn: SUBACKs with their retained replays, then the
 * barrier echoes (grant_only: none). */
void hb_pump(struct hub_broker *b, int grant_only);
/* The link: down loses everything in flight; up tells the hub (and, with
 * lost, that the broker did not keep the session). */
void hb_link(struct hub_broker *b, int up, int lost);
/* A publisher's message (status: the topic's kind is retained), delivered
 * with the MQTT retain flag `flag` if the hub is subscribed. */
void hb_publish(struct hub_broker *b, const char *topic, const char *payload, size_t len,
		int status, int flag);
/* QoS 1: the last message delivered, once more. */
void hb_redeliver(struct hub_broker *b);
void hb_free(struct hub_broker *b);

extern int hb_trace;   /* print what reaches the hub */

#endif
