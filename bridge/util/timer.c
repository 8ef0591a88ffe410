/* SPDX-License-Identifier: MIT
 *
 * timer.c - the deadline heap (see timer.h).
 */
#include "timer.h"

#include <stdlib.h>

static void place(struct sb_timers *h, size_t i, struct sb_timer *t)
{
	h->v[i] = t;
	t->idx = i + 1;
}

static void sift_up(struct sb_timers *h, size_t i)
{
	struct sb_timer *t = h->v[i];

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (h->v[p]->when <= t->when)
			break;
		place(h, i, h->v[p]);
		i = p;
	}
	place(h, i, t);
}

static void sift_down(struct sb_timers *h, size_t i)
{
	struct sb_timer *t = h->v[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->when < h->v[c]->when)
			c++;
		if (t->when <= h->v[c]->when)
			break;
		place(h, i, h->v[c]);
		i = c;
	}
	place(h, i, t);
}

void sb_timers_clear(struct sb_timers *h)
{
	for (size_t i = 0; i < h->n; i++)
		h->v[i]->idx = 0;
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

enum sb_err sb_timer_arm(struct sb_timers *h, struct sb_timer *t, int64_t when)
{
	if (t->idx) {
		int64_t old = t->when;
		t->when = when;
		if (when < old)
			sift_up(h, t->idx - 1);
		else
			sift_down(h, t->idx - 1);
		return SB_OK;
	}
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct sb_timer **v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return SB_ERR_NOMEM;
		h->v = v;
		h->cap = cap;
	}
	t->when = when;
	place(h, h->n++, t);
	sift_up(h, h->n - 1);
	return SB_OK;
}

void sb_timer_disarm(struct sb_timers *h, struct sb_timer *t)
{
	size_t i;
	struct sb_timer *last;

	if (!t->idx)
		return;
	i = t->idx - 1;
	t->idx = 0;
	last = h->v[--h->n];
	if (i == h->n)
		return;
	place(h, i, last);
	if (i > 0 && h->v[(i - 1) / 2]->when > last->when)
		sift_up(h, i);
	else
		sift_down(h, i);
}

struct sb_timer *sb_timers_pop_due(struct sb_timers *h, int64_t now)
{
	struct sb_timer *t;

	if (!h->n || h->v[0]->when > now)
		return NULL;
	t = h->v[0];
	sb_timer_disarm(h, t);
	return t;
}
