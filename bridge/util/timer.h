/* SPDX-License-Identifier: MIT
 *
 * timer.h - deadlines in a binary min-heap: the earliest in O(1), arm,
 * re-arm and disarm in O(log n).  The engine keeps one heap for every
 * channel's batch, conflation and linger deadline, so finding the next
 * deadline is never a scan.
 *
 * Intrusive: embed a struct sb_timer in the element; the heap stores
 * pointers to it and keeps sb_timer.idx current.  Single-threaded, libc
 * only.
 */
#ifndef SB_TIMER_H
#define SB_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "sb_common.h"

struct sb_timer {
	int64_t when;   /* deadline, ms on the caller's clock */
	size_t idx;     /* position in the heap + 1; 0 = not armed */
};

struct sb_timers {
	struct sb_timer **v;
	size_t n, cap;
};

/* A zeroed struct sb_timers is an empty heap. Frees the array only (the
 * timers belong to their elements). */
void sb_timers_clear(struct sb_timers *h);
/* Arms t for `when`, or moves it there when it is armed already.
 * SB_ERR_NOMEM when the heap cannot grow (t stays as it was). */
enum sb_err sb_timer_arm(struct sb_timers *h, struct sb_timer *t, int64_t when);
/* Disarms t; a no-op when it is not armed. */
void sb_timer_disarm(struct sb_timers *h, struct sb_timer *t);
static inline int sb_timer_armed(const struct sb_timer *t) { return t->idx != 0; }
/* The earliest deadline, or INT64_MAX when nothing is armed. */
static inline int64_t sb_timers_next(const struct sb_timers *h)
{
	return h->n ? h->v[0]->when : INT64_MAX;
}
/* The earliest timer if it is due at `now` (disarmed before it is
 * returned), else NULL. */
struct sb_timer *sb_timers_pop_due(struct sb_timers *h, int64_t now);

#endif
