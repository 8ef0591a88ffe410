/* SPDX-License-Identifier: MIT
 *
 * wheel.h - a hashed timer wheel (Varghese & Lauck's scheme 6, as in the
 * Linux kernel's timer wheel and Netty's HashedWheelTimer): arm, re-arm
 * and cancel in O(1), and advancing costs one visit per elapsed tick plus
 * the entries of the slots it passes.  For many deadlines that are coarse
 * and mostly re-armed before they are due (one per connection: heartbeats,
 * activity checks), where the binary heap of timer.h would pay O(log n)
 * per re-arm.
 *
 * A deadline beyond the wheel's span (slots × tick) waits in its slot for
 * as many turns as it takes; each turn looks at it once.  Deadlines fire
 * at the first advance at or after them, never before; an advance fires
 * them in no particular order.
 *
 * Intrusive: embed a struct sb_wheel_entry in the element.  Single-
 * threaded, libc only.
 */
#ifndef SB_WHEEL_H
#define SB_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#include "sb_common.h"

struct sb_wheel_entry {
	struct sb_wheel_entry *next;
	struct sb_wheel_entry **pprev;   /* NULL = not armed */
	int64_t when;                    /* deadline, ms on the caller's clock */
};

struct sb_wheel {
	struct sb_wheel_entry **slot;
	size_t mask;          /* slots - 1 */
	int64_t tick_ms;
	int64_t tick;         /* the tick the next advance starts at */
	size_t n;             /* entries armed */
};

/* Sets up an empty wheel of `slots` (rounded up to a power of two, at
 * least 2) slots of `tick_ms` (> 0) each, starting at `now`.
 * SB_ERR_NOMEM or SB_ERR_INVAL; free with sb_wheel_clear(). */
enum sb_err sb_wheel_init(struct sb_wheel *w, size_t slots, int64_t tick_ms, int64_t now);
/* Disarms every entry and frees the slots (the entries belong to their
 * elements).  Accepts a zeroed wheel. */
void sb_wheel_clear(struct sb_wheel *w);

/* Arms e for `when`, or moves it there when it is armed already.  A
 * deadline in the past fires at the next advance. */
void sb_wheel_arm(struct sb_wheel *w, struct sb_wheel_entry *e, int64_t when);
/* Disarms e; a no-op when it is not armed. */
void sb_wheel_cancel(struct sb_wheel *w, struct sb_wheel_entry *e);
static inline int sb_wheel_armed(const struct sb_wheel_entry *e) { return e->pprev != NULL; }

/* Fires (disarmed first, so that `fire` may re-arm it or free its
 * element) every entry due at `now`.  `fire` may arm and cancel any entry;
 * one it arms at or before `now` fires at the next advance, not this one.
 * Returns how many fired. */
typedef void (*sb_wheel_fire_fn)(struct sb_wheel_entry *e, void *arg);
size_t sb_wheel_advance(struct sb_wheel *w, int64_t now, sb_wheel_fire_fn fire, void *arg);

#endif
