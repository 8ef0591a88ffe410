/* SPDX-License-Identifier: MIT
 *
 * channel.h - one live channel: its subscribers, the MQTT filters it holds,
 * the last-known status of its retained topics with their frames cached
 * per encoder (built once per encoder when first needed, like Centrifuge's
 * preparedKey), the pending batch or conflation window, the log history,
 * and the linger after its last subscriber left.  Fan-out is here: one
 * frame per encoder in use, shared by reference by every subscriber.
 *
 * Engine-internal (see hub_internal.h for ownership).
 */
#ifndef SB_CHANNEL_H
#define SB_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "chanmap.h"
#include "dict.h"
#include "frame.h"
#include "history.h"
#include "timer.h"

#ifndef SB_HUB_MAX_ENCODERS
#define SB_HUB_MAX_ENCODERS 8
#endif

struct sb_hub;
struct sb_client;
struct sb_sub;

struct sb_chan {
	char *name;
	uint32_t atom;                   /* name's, in hub->atoms */
	struct sb_chan_ref ref;
	char **filters;
	size_t nfilters;
	struct sb_sub **subs;
	size_t nsubs, capsubs;
	size_t nenc[SB_HUB_MAX_ENCODERS];                  /* subscribers per encoder */
	struct sb_dict *snap;            /* topic -> sb_msg (retained) */
	struct sb_dict *snapf[SB_HUB_MAX_ENCODERS];        /* per encoder: topic -> frame, lazy */
	/* batch */
	struct sb_msg **pending;
	size_t npending;
	const struct sb_kind *pending_kind;
	int64_t batch_deadline;
	/* conflate */
	struct sb_dict *latest;          /* topic -> sb_msg */
	int64_t conflate_deadline;
	/* logs */
	struct sb_history hist;
	int64_t last_seq;                /* highest seq seen */
	int64_t flushed_seq;             /* highest seq sent to subscribers */
	/* lines after last_seq may be lost unnoticed: no line seen yet (where
	 * the stream starts is unknown), or sb_chan_mark_broken; the next
	 * line settles it; clear from the start for a deploy followed before
	 * it began (follow.c): its first line is line 1 */
	int seq_unsure;
	int64_t linger_until;            /* 0 = has subscribers */
	/* followed for an active deploy (follow.c): kept without subscribers,
	 * never lingering; releasing the hold lingers as usual */
	int held;
	int owner_held;                  /* sb_owners_hold on its resource */
	struct sb_timer timer;
};

/* The channel `name` (ref parsed from it), created with its snapshot from
 * the cache and its filters subscribed when it does not exist yet.  NULL
 * when out of memory. */
struct sb_chan *sb_chan_get(struct sb_hub *h, const struct sb_chan_ref *ref, const char *name);
/* Its last subscriber left (or its hold ended): linger (history
 * channels) or free; nothing while it has subscribers or is held. */
/* The resource (kind, id) lost its owner (owners.h, contested): every
 * subscription of its channels is asked the ACL again and dropped with an
 * error when no longer allowed. */
void sb_chan_recheck_owned(struct sb_hub *h, const char *kind, const char *id);
void sb_chan_release(struct sb_hub *h, struct sb_chan *ch);
/* Keeps ch (no subscribers) for SB_LINGER_MS: resumes, the next poll
 * (nothing to do while it is held). */
void sb_chan_linger(struct sb_hub *h, struct sb_chan *ch);
/* Frees ch (unsubscribing its filters); the caller took it out of h->chans. */
void sb_chan_free(struct sb_hub *h, struct sb_chan *ch);
/* Adds / removes a subscriber slot. */
enum sb_err sb_chan_add_sub(struct sb_chan *ch, struct sb_sub *s);
void sb_chan_remove_sub(struct sb_chan *ch, struct sb_sub *s);

/* A message routed to ch (deleted: an empty retained payload). */
void sb_chan_deliver(struct sb_hub *h, struct sb_chan *ch, const struct sb_kind *k,
		     struct sb_msg *m, int deleted);
/* Due work at now; returns 1 when the channel expired and was freed. */
int sb_chan_tick(struct sb_hub *h, struct sb_chan *ch, int64_t now);
/* Flushes the pending batch and conflation window now (SIGTERM). */
void sb_chan_flush(struct sb_hub *h, struct sb_chan *ch);
/* Puts ch's earliest deadline on the hub's heap (or takes it off). */
void sb_chan_rearm(struct sb_hub *h, struct sb_chan *ch);

/* Queues ch's snapshot to s's client in s's encoding (frames shared with
 * the channel); returns how many events. */
size_t sb_chan_send_snapshot(struct sb_hub *h, struct sb_chan *ch, struct sb_sub *s);
/* Queues the history after s->expect_seq, with a gap for what it no
 * longer holds and for each hole in it, in seq order. */
void sb_chan_send_history(struct sb_hub *h, struct sb_chan *ch, struct sb_sub *s);

/* The `recovered` of a resume from `since` on a channel with history
 * (docs/protocol.md §5.9): 1 only when every line after since was or will
 * be delivered with no gap, i.e. the stream is not unsure and history
 * holds every seq of [since + 1, last_seq] (or since >= last_seq); else 0. */
int sb_chan_recovered(const struct sb_chan *ch, int64_t since);
/* The stream of ch may have lost lines (the MQTT session was lost, or
 * anything else that can drop messages silently); see channel.c. */
void sb_chan_mark_broken(struct sb_hub *h, struct sb_chan *ch);

/* The event name of a message of kind k on topic: the kind's, a relayed
 * Pusher event's own (the topic's last level), "message" for an unknown
 * topic. */
const char *sb_chan_event_name(const struct sb_kind *k, const char *topic);

#endif
