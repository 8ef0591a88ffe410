/* SPDX-License-Identifier: MIT
 *
 * history.h - a log channel's recent lines for resume: a ring of messages
 * bounded by line count and by payload bytes, oldest dropped first.
 *
 * The ring holds references (sb_msg_ref); the lines' seq is on the message.
 * Lines are added in increasing seq order (the channel drops anything not
 * above the highest seq seen), so the ring is sorted and a seq it skips is
 * a hole: a line the bridge never received.
 * Pure module, single-threaded, never logs.
 */
#ifndef SB_HISTORY_H
#define SB_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct sb_history {
	struct sb_msg **ring;   /* allocated on the first add */
	size_t cap, start, count, bytes;
	size_t max_lines, max_bytes;
};

/* Sets the bounds of an empty history (nothing is allocated yet). */
void sb_history_init(struct sb_history *h, size_t max_lines, size_t max_bytes);
/* Appends m (taking a reference), dropping the oldest lines until both
 * bounds hold.  SB_ERR_NOMEM when the ring cannot be allocated. */
enum sb_err sb_history_add(struct sb_history *h, struct sb_msg *m);
/* Drops every line and the ring; the bounds stay. */
void sb_history_clear(struct sb_history *h);
/* The i-th line, oldest first (i < count); borrowed. */
static inline struct sb_msg *sb_history_at(const struct sb_history *h, size_t i)
{
	return h->ring[(h->start + i) % h->cap];
}
/* The seq of the oldest line held, 0 when empty. */
static inline int64_t sb_history_first_seq(const struct sb_history *h)
{
	return h->count ? sb_history_at(h, 0)->seq : 0;
}

/* The index of the oldest line whose seq is >= seq (count when none). */
size_t sb_history_find(const struct sb_history *h, int64_t seq);
/* 1 when the ring holds every seq of [from, to] (also when from > to). */
int sb_history_holds(const struct sb_history *h, int64_t from, int64_t to);
/* Calls fn for each range of [from, to] the ring does not hold, in seq
 * order: before its oldest line, between two lines, after its newest one. */
void sb_history_holes(const struct sb_history *h, int64_t from, int64_t to,
		      void (*fn)(int64_t from, int64_t to, void *user), void *user);

#endif
