/* SPDX-License-Identifier: MIT
 *
 * fake_broker.h - the broker as the engine's unit tests need it: it grants
 * every MQTT subscription the hub asks for and echoes the hub's replay
 * barriers ($statusbus/sync/...), in order, when pumped.  Tests pump it
 * where the real broker would get a turn (before reading a client's
 * frames), so an ack that waits for the broker (docs/protocol.md §5) comes
 * as it does in production.  fb_hold() stops the grants (a broker that
 * does not answer), to test what waits for them.  Header-only.
 */
#ifndef SB_TEST_FAKE_BROKER_H
#define SB_TEST_FAKE_BROKER_H

#include <stdlib.h>
#include <string.h>

#include "hub.h"

struct fake_broker {
	struct sb_hub *hub;
	char **subs;            /* filters to grant, FIFO */
	size_t nsubs, granted, cap;
	char **barriers;        /* "topic\npayload", FIFO */
	size_t nbar, echoed, capb;
	int hold;               /* 1: grant nothing, echo nothing */
	int barriers_seen;
};

static inline void fb_push(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = realloc(*v, *cap * sizeof(**v));
		if (!*v)
			abort();
	}
	(*v)[(*n)++] = strdup(s);
}

/* The hub asked for filter. */
static inline void fb_subscribe(struct fake_broker *b, const char *filter)
{
	fb_push(&b->subs, &b->nsubs, &b->cap, filter);
}

/* The hub published: 1 when it was a barrier (kept for the echo). */
static inline int fb_publish(struct fake_broker *b, const char *topic, const void *payload,
			     size_t len)
{
	char buf[256];

	if (strncmp(topic, "$statusbus/sync/", 16) != 0 || len > 64)
		return 0;
	snprintf(buf, sizeof(buf), "%s\n%.*s", topic, (int)len, (const char *)payload);
	fb_push(&b->barriers, &b->nbar, &b->capb, buf);
	b->barriers_seen++;
	return 1;
}

/* The broker's turn: grants what was asked, then echoes barriers, until
 * nothing is left. */
static inline void fb_pump(struct fake_broker *b)
{
	while (!b->hold && (b->granted < b->nsubs || b->echoed < b->nbar)) {
		if (b->granted < b->nsubs) {
			sb_hub_mqtt_suback(b->hub, b->subs[b->granted++]);
		} else {
			const char *t = b->barriers[b->echoed++], *nl = strchr(t, '\n');
			struct sb_msg *m = sb_msg_create(t, (size_t)(nl - t), nl + 1, strlen(nl + 1), 0);
			sb_hub_on_message(b->hub, m);
			sb_msg_unref(m);
		}
	}
}

/* Grants what was asked, and nothing else: the retained replay of a new
 * subscription comes between its grant and the barrier sent after it. */
static inline void fb_grant(struct fake_broker *b)
{
	while (b->granted < b->nsubs)
		sb_hub_mqtt_suback(b->hub, b->subs[b->granted++]);
}

static inline void fb_hold(struct fake_broker *b, int hold)
{
	b->hold = hold;
}

static inline void fb_free(struct fake_broker *b)
{
	for (size_t i = 0; i < b->nsubs; i++)
		free(b->subs[i]);
	for (size_t i = 0; i < b->nbar; i++)
		free(b->barriers[i]);
	free(b->subs);
	free(b->barriers);
	memset(b, 0, sizeof(*b));
}

#endif
