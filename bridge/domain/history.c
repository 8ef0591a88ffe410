/* SPDX-License-Identifier: MIT
 *
 * history.c - the bounded line ring of a log channel (see history.h).
 */
#include "history.h"

#include <stdlib.h>

void sb_history_init(struct sb_history *h, size_t max_lines, size_t max_bytes)
{
	h->ring = NULL;
	h->cap = h->start = h->count = h->bytes = 0;
	h->max_lines = max_lines;
	h->max_bytes = max_bytes;
}

enum sb_err sb_history_add(struct sb_history *h, struct sb_msg *m)
{
	if (!h->max_lines)
		return SB_OK;
	if (!h->ring) {
		h->ring = calloc(h->max_lines, sizeof(*h->ring));
		if (!h->ring)
			return SB_ERR_NOMEM;
		h->cap = h->max_lines;
	}
	while (h->count && (h->count == h->cap || h->bytes + m->payload_len > h->max_bytes)) {
		struct sb_msg *o = h->ring[h->start];
		h->bytes -= o->payload_len;
		sb_msg_unref(o);
		h->start = (h->start + 1) % h->cap;
		h->count--;
	}
	h->ring[(h->start + h->count) % h->cap] = sb_msg_ref(m);
	h->count++;
	h->bytes += m->payload_len;
	return SB_OK;
}

void sb_history_clear(struct sb_history *h)
{
	for (size_t i = 0; i < h->count; i++)
		sb_msg_unref(sb_history_at(h, i));
	free(h->ring);
	h->ring = NULL;
	h->cap = h->start = h->count = h->bytes = 0;
}

size_t sb_history_find(const struct sb_history *h, int64_t seq)
{
	size_t lo = 0, hi = h->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sb_history_at(h, mid)->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int sb_history_holds(const struct sb_history *h, int64_t from, int64_t to)
{
	size_t i, j;

	if (from > to)
		return 1;
	i = sb_history_find(h, from);
	j = sb_history_find(h, to);
	/* sorted and distinct: [from, to] is full when both ends are there
	 * and the lines between them are exactly as many as the seqs */
	return j < h->count && sb_history_at(h, i)->seq == from &&
	       sb_history_at(h, j)->seq == to && (int64_t)(j - i) == to - from;
}

void sb_history_holes(const struct sb_history *h, int64_t from, int64_t to,
		      void (*fn)(int64_t from, int64_t to, void *user), void *user)
{
	int64_t next = from;

	for (size_t i = sb_history_find(h, from); i < h->count && next <= to; i++) {
		int64_t seq = sb_history_at(h, i)->seq;
		if (seq > next)
			fn(next, seq - 1 < to ? seq - 1 : to, user);
		next = seq + 1;
	}
	if (next <= to)
		fn(next, to, user);
}
