/* SPDX-License-Identifier: MIT
 *
 * wheel.c - the hashed timer wheel (see wheel.h).
 */
#include "wheel.h"

#include <stdlib.h>

static int64_t tick_of(const struct sb_wheel *w, int64_t when)
{
	/* floor division: a clock may start below zero in tests */
	return when >= 0 ? when / w->tick_ms : -((-when + w->tick_ms - 1) / w->tick_ms);
}

static void link_at(struct sb_wheel_entry **head, struct sb_wheel_entry *e)
{
	e->next = *head;
	if (e->next)
		e->next->pprev = &e->next;
	e->pprev = head;
	*head = e;
}

static void unlink_entry(struct sb_wheel_entry *e)
{
	*e->pprev = e->next;
	if (e->next)
		e->next->pprev = e->pprev;
	e->next = NULL;
	e->pprev = NULL;
}

enum sb_err sb_wheel_init(struct sb_wheel *w, size_t slots, int64_t tick_ms, int64_t now)
{
	size_t n = 2;

	if (tick_ms <= 0 || slots > ((size_t)1 << 24))
		return SB_ERR_INVAL;
	while (n < slots)
		n <<= 1;
	w->slot = calloc(n, sizeof(*w->slot));
	if (!w->slot)
		return SB_ERR_NOMEM;
	w->mask = n - 1;
	w->tick_ms = tick_ms;
	w->tick = tick_of(w, now);
	w->n = 0;
	return SB_OK;
}

void sb_wheel_clear(struct sb_wheel *w)
{
	if (w->slot)
		for (size_t i = 0; i <= w->mask; i++)
			while (w->slot[i])
				unlink_entry(w->slot[i]);
	free(w->slot);
	w->slot = NULL;
	w->n = 0;
}

void sb_wheel_arm(struct sb_wheel *w, struct sb_wheel_entry *e, int64_t when)
{
	int64_t t = tick_of(w, when);

	if (e->pprev)
		unlink_entry(e);
	else
		w->n++;
	if (t < w->tick)
		t = w->tick;   /* overdue: the next advance looks at it */
	e->when = when;
	link_at(&w->slot[(size_t)t & w->mask], e);
}

void sb_wheel_cancel(struct sb_wheel *w, struct sb_wheel_entry *e)
{
	if (!e->pprev)
		return;
	unlink_entry(e);
	w->n--;
}

size_t sb_wheel_advance(struct sb_wheel *w, int64_t now, sb_wheel_fire_fn fire, void *arg)
{
	struct sb_wheel_entry *due = NULL, *e, *next;
	int64_t last = tick_of(w, now), t;
	size_t fired = 0;

	if (last < w->tick)
		return 0;
	/* one turn visits every slot: a longer stall needs no more */
	for (t = w->tick; t <= last && t <= w->tick + (int64_t)w->mask; t++)
		for (e = w->slot[(size_t)t & w->mask]; e; e = next) {
			next = e->next;
			if (e->when > now)
				continue;   /* a later turn, or later in this tick */
			unlink_entry(e);
			link_at(&due, e);
		}
	/* the last tick is not over: the next advance looks at it again */
	w->tick = last;
	/* fired from a list of their own, so that `fire` may arm or cancel
	 * anything, these included */
	while ((e = due) != NULL) {
		unlink_entry(e);
		w->n--;
		fired++;
		fire(e, arg);
	}
	return fired;
}
