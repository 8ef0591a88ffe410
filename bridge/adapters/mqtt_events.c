/* SPDX-License-Identifier: MIT
 *
 * mqtt_events.c - inbox events to hub calls (see mqtt_events.h).  The
 * link's events are logged here, on the service thread, in order with
 * what the hub logs about them.
 */
#include "mqtt_events.h"

#include <string.h>

#include "mqtt_resub.h"
#include "sb_common.h"

struct ctx {
	struct sb_mqtt_link *link;
	struct sb_hub *hub;
};

static void on_message(void *p, struct sb_msg *m)
{
	struct ctx *c = p;

	sb_hub_on_message(c->hub, m);
}

/* The session is persistent (mqtt_link.h): without one at a reconnect
 * (the broker restarted without persistence, expired it, or another client
 * took the id with a clean session), what was published while the link
 * was down is gone.  A process's first connection starts a fresh session
 * on purpose: it was owed nothing. */
static void on_connected(void *p, int session_present, const char *cause)
{
	struct ctx *c = p;
	int had = sb_mqtt_link_note_connected(c->link, session_present);

	SB_UNUSED(cause);
	sb_mqtt_resub_clear(*sb_mqtt_link_resub(c->link));   /* every filter again: */
	sb_hub_mqtt_state(c->hub, 1);   /* resubscribes: the retained replay */
	if (had && !session_present)
		sb_hub_mqtt_session_lost(c->hub);
}

static void on_lost(void *p, const char *cause)
{
	struct ctx *c = p;

	sb_log(SB_LOG_WARN, "mqtt: connection lost: %s", cause ? cause : "unknown cause");
	sb_mqtt_link_note_lost(c->link);
	sb_mqtt_resub_clear(*sb_mqtt_link_resub(c->link));
	sb_hub_mqtt_state(c->hub, 0);
}

static void on_connect_failed(void *p, const char *cause)
{
	struct ctx *c = p;

	sb_log(SB_LOG_WARN, "mqtt: connect failed: %s", cause ? cause : "no reason given");
	if (sb_mqtt_link_note_connect_failed(c->link))
		sb_hub_mqtt_state(c->hub, 0);
}

static void on_suback(void *p, const char *filter, int granted_qos, const char *cause)
{
	struct ctx *c = p;

	int64_t again;

	if (granted_qos >= 0) {
		sb_mqtt_resub_granted(*sb_mqtt_link_resub(c->link), filter);
		sb_hub_mqtt_suback(c->hub, filter);
		return;
	}
	again = sb_mqtt_resub_refused(sb_mqtt_link_resub(c->link), filter, sb_now_ms());
	sb_log(SB_LOG_ERR, "mqtt: subscribe %s failed: %s; %s %lld ms", filter,
	       cause ? cause : "refused by the broker",
	       again ? "trying again in" : "out of memory: not tried again before a reconnection,",
	       (long long)again);
}

/* A refused subscription is tried again only while the hub still uses
 * the filter. */
static void resubscribe(void *p, const char *filter)
{
	struct ctx *c = p;
	const char *in_use[4096];
	size_t n = sb_hub_filters(c->hub, in_use, SB_ARRAY_LEN(in_use));

	for (size_t i = 0; i < n; i++)
		if (n > SB_ARRAY_LEN(in_use) || strcmp(in_use[i], filter) == 0) {
			sb_log(SB_LOG_INFO, "mqtt: subscribing %s again", filter);
			sb_mqtt_link_subscribe(c->link, filter);
			return;
		}
	sb_mqtt_resub_granted(*sb_mqtt_link_resub(c->link), filter);   /* no longer wanted */
}

static void on_publish_failed(void *p, const char *cause)
{
	SB_UNUSED(p);
	sb_log(SB_LOG_WARN, "mqtt: publish failed: %s", cause ? cause : "no reason given");
}

static void on_dropped(void *p, uint64_t n)
{
	struct ctx *c = p;

	sb_hub_count_inbound_drop(c->hub, n);
}

static const struct sb_inbox_ops ops = {
	.message = on_message,
	.connected = on_connected,
	.lost = on_lost,
	.connect_failed = on_connect_failed,
	.suback = on_suback,
	.publish_failed = on_publish_failed,
	.dropped = on_dropped,
};

size_t sb_mqtt_events_drain(struct sb_inbox *inbox, struct sb_mqtt_link *link,
			    struct sb_hub *hub, size_t max)
{
	struct ctx c = { link, hub };

	size_t n;

	sb_mqtt_link_tick(link);
	n = sb_inbox_drain(inbox, &ops, &c, max);
	sb_mqtt_resub_run(*sb_mqtt_link_resub(link), sb_now_ms(), resubscribe, &c);
	return n;
}
