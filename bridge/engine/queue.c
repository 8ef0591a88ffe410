/* SPDX-License-Identifier: MIT
 *
 * queue.c - bounded send queue with conflation when behind, gap-reporting
 * drops and a hard bound.
 */
#include "queue.h"

#include <stdlib.h>
#include <string.h>

#define GAP_COST 96

enum sb_err sb_queue_init(struct sb_queue *q, size_t soft_bytes, size_t hard_bytes,
			  size_t max_frames)
{
	memset(q, 0, sizeof(*q));
	q->soft_bytes = soft_bytes;
	q->hard_bytes = hard_bytes < soft_bytes ? soft_bytes : hard_bytes;
	q->max_frames = max_frames;
	q->status_idx = sb_dict_create(NULL);
	q->gap_idx = sb_dict_create(NULL);
	if (!q->status_idx || !q->gap_idx) {
		sb_queue_clear(q);
		return SB_ERR_NOMEM;
	}
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
	if (e->kind == SB_Q_STATUS && e->key && sb_dict_get(q->status_idx, e->key) == e) {
		/* the index names a key's newest entry: an older one of the
		 * same key, if any, is the newest now (only the head is ever
		 * removed today, and it has none before it) */
		struct sb_qent *o = e->prev;

		while (o && !(o->kind == SB_Q_STATUS && o->key && strcmp(o->key, e->key) == 0))
			o = o->prev;
		if (o)
			sb_dict_set(q->status_idx, e->key, o);   /* replaces: cannot fail */
		else
			sb_dict_take(q->status_idx, e->key);
	}
	if (e->kind == SB_Q_GAP && e->key && sb_dict_get(q->gap_idx, e->key) == e)
		sb_dict_take(q->gap_idx, e->key);
}

static void free_ent(struct sb_qent *e)
{
	sb_frame_unref(e->frame);
	free(e->key);
	free(e);
}

void sb_queue_clear(struct sb_queue *q)
{
	struct sb_qent *e = q->head;

	while (e) {
		struct sb_qent *n = e->next;
		free_ent(e);
		e = n;
	}
	q->head = q->tail = NULL;
	q->bytes = q->frames = q->shared_frames = 0;
	sb_dict_destroy(q->status_idx);
	sb_dict_destroy(q->gap_idx);
	q->status_idx = q->gap_idx = NULL;
}

void sb_queue_pop(struct sb_queue *q)
{
	struct sb_qent *e = q->head;

	if (!e)
		return;
	unlink_ent(q, e);
	free_ent(e);
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
	g = sb_dict_get(q->gap_idx, e->key);
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
		free_ent(e);
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
	if (sb_dict_set(q->gap_idx, e->key, e) != SB_OK) {
		/* without the index the next drop makes a second gap: still
		 * correct, only less compact */
	}
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
			const char *key, int64_t seq_first, int64_t seq_last, size_t nlines, int shared)
{
	struct sb_qent *e;
	int64_t origin = q->next_origin_us;

	q->next_origin_us = 0;
	if (kind == SB_Q_STATUS && key && (e = sb_dict_get(q->status_idx, key))) {
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
	e = calloc(1, sizeof(*e));
	if (!e)
		return SB_ERR_NOMEM;
	if (key && !(e->key = strdup(key))) {
		free(e);
		return SB_ERR_NOMEM;
	}
	e->kind = kind;
	e->frame = frame ? sb_frame_ref(frame) : NULL;
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
	if (kind == SB_Q_STATUS && key && sb_dict_set(q->status_idx, key, e) != SB_OK)
		return SB_ERR_NOMEM;
bounds:
	while ((q->bytes > q->soft_bytes || q->frames - q->shared_frames > q->max_frames) &&
	       drop_oldest_log(q))
		;
	if (q->bytes > q->hard_bytes || q->frames - q->shared_frames > q->max_frames)
		return SB_ERR_LIMIT;
	return SB_OK;
}

enum sb_err sb_queue_push(struct sb_queue *q, enum sb_qkind kind, struct sb_frame *frame,
			  const char *key, int64_t seq_first, int64_t seq_last, size_t nlines)
{
	return push(q, kind, frame, key, seq_first, seq_last, nlines, 0);
}

enum sb_err sb_queue_push_shared(struct sb_queue *q, enum sb_qkind kind, struct sb_frame *frame,
				 const char *key)
{
	return push(q, kind, frame, key, 0, 0, 1, 1);
}

void sb_queue_forget_channel(struct sb_queue *q, const char *channel)
{
	struct sb_qent *e = q->head;
	size_t cl = strlen(channel);

	while (e) {
		struct sb_qent *n = e->next;
		if ((e->kind == SB_Q_LOG || e->kind == SB_Q_GAP) && e->key &&
		    strcmp(e->key, channel) == 0) {
			unlink_ent(q, e);
			free_ent(e);
		} else if (e->kind == SB_Q_STATUS && e->key && strncmp(e->key, channel, cl) == 0 &&
			   e->key[cl] == '\x1f' && sb_dict_get(q->status_idx, e->key) == e) {
			/* status keys are "<channel>\x1f<topic>" (client.c): the
			 * statuses of a later subscription must not be conflated
			 * into this one's place, before its end and the next
			 * ack (and under the old name, for Pusher) */
			sb_dict_take(q->status_idx, e->key);
			if (e->shared) {
				/* the snapshot moves on without it: charge it */
				e->shared = 0;
				q->shared_frames--;
				e->cost += e->frame->len;
				q->bytes += e->frame->len;
			}
		}
		e = n;
	}
}
