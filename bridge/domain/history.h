/* SPDX-License-Identifier: MIT
 *
 * history.h - a log channel's recent lines for resume: a ring of messages
 * bounded by line count and by payload bytes, oldest dropped first.
 *
 * The ring holds references (sb_msg_ref); the lines' seq is on the message.
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

#endif
