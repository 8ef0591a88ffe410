/* SPDX-License-Identifier: MIT
 *
 * queue.c - bounded send queue with conflation when behind, gap-reporting
 * drops and a hard bound; entries from a free-list pool, keys as atoms.
 */
#include "queue.h"

#include <stdlib.h>
#include <string.h>

#define GAP_COST 96

/* ---- the index: (channel, topic) -> entry, open addressing ---- */

struct qslot {
	uint64_t k;            /* 0 = empty (channel atoms are never 0) */
	struct sb_qent *e;
};

struct sb_qidx {
	size_t mask, n;
	struct qslot s[];
};

static uint64_t key_of(uint32_t chan, uint32_t topic)
{
	return (uint64_t)chan << 32 | topic;
}

static size_t home_of(const struct sb_qidx *x, uint64_t k)
{
	k *= 0x9E3779B97F4A7C15ull;
	return (size_t)(k ^ k >> 29) & x->mask;
}

static struct sb_qidx *idx_new(size_t want)
{
	size_t cap = 16;
	struct sb_qidx *x;

	while (cap < want * 2)
		cap *= 2;
	x = calloc(1, sizeof(*x) + cap * sizeof(x->s[0]));
	if (x)
		x->mask = cap - 1;
	return x;
}

static size_t idx_pos(const struct sb_qidx *x, uint64_t k)
{
	size_t i = home_of(x, k);

	while (x->s[i].k && x->s[i].k != k)
		i = (i + 1) & x->mask;
	return i;
}

static struct sb_qent *idx_get(const struct sb_qidx *x, uint64_t k)
{
	return x ? x->s[idx_pos(x, k)].e : NULL;
}

/* 0, or -1 when the index could not grow (it is then dropped: a partial
 * index would name an older entry as a key's newest). */
static int idx_set(struct sb_queue *q, uint64_t k, struct sb_qent *e)
{
	struct sb_qidx *x = q->idx;
	size_t i;

	if ((x->n + 1) * 2 > x->mask + 1) {
		struct sb_qidx *g = idx_new(x->n + 1);

		if (!g) {
			free(q->idx);
			q->idx = NULL;
			return -1;
		}
		for (size_t j = 0; j <= x->mask; j++)
			if (x->s[j].k) {
				g->s[idx_pos(g, x->s[j].k)] = x->s[j];
				g->n++;
			}
		free(x);
		q->idx = x = g;
	}
	i = idx_pos(x, k);
	if (!x->s[i].k)
		x->n++;
	x->s[i] = (struct qslot){ k, e };
	return 0;
}

/* Removes k, shifting later members of its probe run back. */
static void idx_del(struct sb_qidx *x, uint64_t k)
{
	size_t i = idx_pos(x, k), j = i;

	if (!x->s[i].k)
		return;
	x->s[i] = (struct qslot){ 0, NULL };
	x->n--;
	for (;;) {
		size_t h;

		j = (j + 1) & x->mask;
		if (!x->s[j].k)
			return;
		h = home_of(x, x->s[j].k);
		if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
			x->s[i] = x->s[j];
			x->s[j] = (struct qslot){ 0, NULL };
			i = j;
		}
	}
}

/* The index, built by one scan when it does not exist: each key's newest
 * STATUS entry and each channel's newest gap.  0, or -1 (no index). */
static int ensure_idx(struct sb_queue *q)
{
	if (q->idx)
		return 0;
	if (!(q->idx = idx_new(q->frames + 1)))
		return -1;
	for (struct sb_qent *e = q->head; e; e = e->next) {
		if (e->kind == SB_Q_STATUS && e->topic && !e->unkeyed) {
			if (idx_set(q, key_of(e->chan, e->topic), e))
				return -1;
		} else if (e->kind == SB_Q_GAP && e->chan) {
			if (idx_set(q, key_of(e->chan, 0), e))
				return -1;
		}
	}
	return 0;
}

/* ---- the pool ---- */

void sb_qpool_init(struct sb_qpool *p, struct sb_intern *atoms)
{
	memset(p, 0, sizeof(*p));
	p->atoms = atoms;
}

void sb_qpool_fini(struct sb_qpool *p)
{
	while (p->free) {
		struct sb_qent *e = p->free;
		p->free = e->next;
		free(e);
	}
	p->nfree = 0;
}

static struct sb_qent *ent_get(struct sb_queue *q)
{
	struct sb_qpool *p = q->pool;
	struct sb_qent *e;

	if (p->free) {
		e = p->free;
		p->free = e->next;
		p->nfree--;
		memset(e, 0, sizeof(*e));
		return e;
	}
	return calloc(1, sizeof(*e));
}

static void ent_put(struct sb_queue *q, struct sb_qent *e)
{
	struct sb_qpool *p = q->pool;

	sb_frame_unref(e->frame);
	sb_intern_unref(p->atoms, e->chan);
	sb_intern_unref(p->atoms, e->topic);
	if (p->nfree < SB_QPOOL_KEEP) {
		e->next = p->free;
		p->free = e;
		p->nfree++;
	} else {
		free(e);
	}
}

/* ---- the queue ---- */

enum sb_err sb_queue_init(struct sb_queue *q, struct sb_qpool *pool, size_t soft_bytes,
			  size_t hard_bytes, size_t max_frames)
{
	memset(q, 0, sizeof(*q));
	q->pool = pool;
	q->soft_bytes = soft_bytes;
	q->hard_bytes = hard_bytes < soft_bytes ? soft_bytes : hard_bytes;
	q->max_frames = max_frames;
	return SB_OK;
}

static void unlink_ent(struct sb_queue *q, struct sb_qent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		q->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		q->tail = e->prev;
	q->bytes -= e->cost;
	q->frames--;
	if (e->shared)
		q->shared_frames--;
	if (!q->head) {
		/* empty: the client is not behind on anything queued */
		free(q->idx);
		q->idx = NULL;
		return;
	}
	if (e->kind == SB_Q_STATUS && e->topic && !e->unkeyed &&
	    idx_get(q->idx, key_of(e->chan, e->topic)) == e) {
		/* the index names a key's newest entry: an older one of the
		 * same key, if any, is the newest now (only the head is ever
		 * removed today, and it has none before it) */
		struct sb_qent *o = e->prev;

		while (o && !(o->kind == SB_Q_STATUS && o->chan == e->chan && o->topic == e->topic &&
			      !o->unkeyed))
			o = o->prev;
		if (o)
			idx_set(q, key_of(e->chan, e->topic), o);   /* failing, drops the index */
		else
			idx_del(q->idx, key_of(e->chan, e->topic));
	}
	if (e->kind == SB_Q_GAP && e->chan && idx_get(q->idx, key_of(e->chan, 0)) == e)
		idx_del(q->idx, key_of(e->chan, 0));
}

void sb_queue_clear(struct sb_queue *q)
{
	struct sb_qent *e = q->head;

	while (e) {
		struct sb_qent *n = e->next;
		ent_put(q, e);
		e = n;
	}
	q->head = q->tail = NULL;
	q->bytes = q->frames = q->shared_frames = 0;
	free(q->idx);
	q->idx = NULL;
}

void sb_queue_pop(struct sb_queue *q)
{
	struct sb_qent *e = q->head;

	if (!e)
		return;
	unlink_ent(q, e);
	ent_put(q, e);
}

/* Drops the oldest LOG entry into a gap; 0 when there is none. */
static int drop_oldest_log(struct sb_queue *q)
{
	struct sb_qent *e, *g;

	for (e = q->head; e && e->kind != SB_Q_LOG; e = e->next)
		;
	if (!e)
		return 0;
	q->stats.lines_dropped += e->nlines;
	/* without an index (out of memory) a second gap is made: still
	 * correct, only less compact */
	g = e->chan && ensure_idx(q) == 0 ? idx_get(q->idx, key_of(e->chan, 0)) : NULL;
	/* a control frame queued between g and e (a seq jump's gap, a resume
	 * gap) must stay between them: a gap is placed where its lines were,
	 * so e starts a new gap after it */
	if (g && g->ctrl_mark == e->ctrl_mark) {
		/* every older line of this channel is already in g */
		if (e->seq_last > g->seq_last)
			g->seq_last = e->seq_last;
		if (g->seq_first == 0 || (e->seq_first && e->seq_first < g->seq_first))
			g->seq_first = e->seq_first;
		g->nlines += e->nlines;
		unlink_ent(q, e);
		ent_put(q, e);
		return 1;
	}
	/* turn e into the gap, in place */
	sb_frame_unref(e->frame);
	e->frame = NULL;
	e->kind = SB_Q_GAP;
	q->bytes -= e->cost;
	e->cost = GAP_COST;
	q->bytes += e->cost;
	q->stats.gaps++;
	if (e->chan && q->idx)
		idx_set(q, key_of(e->chan, 0), e);
	return 1;
}

/* docs/protocol.md §6: a client is behind when its socket took no more, or
 * when adding `bytes` and `frames` would put its queue past the soft bound
 * (or the frame bound). */
static int behind(const struct sb_queue *q, size_t bytes, size_t frames)
{
	return q->choked || q->bytes + bytes > q->soft_bytes ||
	       q->frames - q->shared_frames + frames > q->max_frames;
}

/* Replaces the frame of the queued status e with a newer one, in place. */
static void conflate(struct sb_queue *q, struct sb_qent *e, struct sb_frame *frame, int shared)
{
	q->bytes -= e->cost;
	sb_frame_unref(e->frame);
	e->frame = sb_frame_ref(frame);
	if (e->shared && !shared)
		q->shared_frames--;
	else if (!e->shared && shared)
		q->shared_frames++;
	e->shared = shared;
	e->cost = (shared ? 0 : frame->len) + sizeof(*e);
	q->bytes += e->cost;
	q->stats.conflated++;
}

static enum sb_err push(struct sb_queue *q, enum sb_qkind kind, struct sb_frame *frame,
			uint32_t chan, uint32_t topic, int64_t seq_first, int64_t seq_last,
			size_t nlines, int shared)
{
	struct sb_qent *e;
	int keyed = kind == SB_Q_STATUS && chan && topic;
	int64_t origin = q->next_origin_us;

	q->next_origin_us = 0;
	/* a key's queued status matters only to a client that is behind, or
	 * to a snapshot's shared entry (charged once superseded): without
	 * either, no index is made */
	if (keyed && (q->idx || q->shared_frames ||
		      behind(q, (shared ? 0 : frame->len) + sizeof(*e), (size_t)!shared)) &&
	    ensure_idx(q) == 0 && (e = idx_get(q->idx, key_of(chan, topic)))) {
		/* a newer status of the key replaces the snapshot's frame, so a
		 * shared entry before it stops being held elsewhere: appending
		 * charges that frame too (only a key's newest entry is shared,
		 * which keeps an unread queue's frames bounded by its bytes) */
		size_t unshare = e->shared ? e->frame->len : 0;

		if (behind(q, (shared ? 0 : frame->len) + sizeof(*e) + unshare,
			   (size_t)!shared + (unshare != 0))) {
			conflate(q, e, frame, shared);
			e->origin_us = origin;
			goto bounds;
		}
		if (unshare) {
			e->shared = 0;
			q->shared_frames--;
			e->cost += unshare;
			q->bytes += unshare;
		}
	}
	if (!(e = ent_get(q)))
		return SB_ERR_NOMEM;
	e->kind = kind;
	e->frame = frame ? sb_frame_ref(frame) : NULL;
	e->chan = chan;
	e->topic = topic;
	sb_intern_hold(q->pool->atoms, chan);
	sb_intern_hold(q->pool->atoms, topic);
	e->seq_first = seq_first;
	e->seq_last = seq_last;
	e->nlines = nlines;
	e->shared = shared;
	if (kind == SB_Q_CTRL)
		q->ctrl_pushed++;
	e->ctrl_mark = q->ctrl_pushed;
	e->origin_us = origin;
	e->cost = (shared ? 0 : frame ? frame->len : GAP_COST) + sizeof(*e);
	q->shared_frames += shared != 0;
	e->prev = q->tail;
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	q->bytes += e->cost;
	q->frames++;
	if (keyed && q->idx)
		idx_set(q, key_of(chan, topic), e);   /* on failure the index is gone */
bounds:
	while ((q->bytes > q->soft_bytes || q->frames - q->shared_frames > q->max_frames) &&
	       drop_oldest_log(q))
		;
	if (q->bytes > q->hard_bytes || q->frames - q->shared_frames > q->max_frames)
		return SB_ERR_LIMIT;
	return SB_OK;
}

enum sb_err sb_queue_push(struct sb_queue *q, enum sb_qkind kind, struct sb_frame *frame,
			  uint32_t chan, uint32_t topic, int64_t seq_first, int64_t seq_last,
			  size_t nlines)
{
	return push(q, kind, frame, chan, topic, seq_first, seq_last, nlines, 0);
}

enum sb_err sb_queue_push_shared(struct sb_queue *q, enum sb_qkind kind, struct sb_frame *frame,
				 uint32_t chan, uint32_t topic)
{
	return push(q, kind, frame, chan, topic, 0, 0, 1, 1);
}

void sb_queue_forget_channel(struct sb_queue *q, uint32_t chan)
{
	struct sb_qent *e = q->head;

	if (!chan)
		return;
	while (e) {
		struct sb_qent *n = e->next;
		if ((e->kind == SB_Q_LOG || e->kind == SB_Q_GAP) && e->chan == chan) {
			unlink_ent(q, e);
			ent_put(q, e);
		} else if (e->kind == SB_Q_STATUS && e->chan == chan && e->topic && !e->unkeyed) {
			/* the statuses of a later subscription must not be
			 * conflated into this one's place, before its end and the
			 * next ack (and under the old name, for Pusher) */
			if (idx_get(q->idx, key_of(chan, e->topic)) == e)
				idx_del(q->idx, key_of(chan, e->topic));
			if (e->shared) {
				/* only a key's newest entry is shared: the snapshot
				 * moves on without it, so charge it */
				e->shared = 0;
				q->shared_frames--;
				e->cost += e->frame->len;
				q->bytes += e->frame->len;
			}
			e->unkeyed = 1;
		}
		e = n;
	}
}
