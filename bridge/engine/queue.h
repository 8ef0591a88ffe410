/* SPDX-License-Identifier: MIT
 *
 * queue.h - a client's bounded send queue and its slow-consumer policy
 * (docs/protocol.md §6).
 *
 *  - A client that keeps up gets every status transition: a STATUS entry is
 *    appended like an EVENT.  Only when the client is behind (`choked`: its
 *    socket took no more, or the entry would put the queue past
 *    `soft_bytes` or `max_frames`) is a newer status for the same key
 *    (channel + topic) conflated: it replaces the key's newest queued frame
 *    in place, so while the client is behind its statuses add no entries
 *    for keys already queued; the latest status is never dropped.
 *  - Past `soft_bytes`, LOG entries are dropped oldest-first; each run of
 *    dropped lines of a channel becomes one GAP entry (from..to) where the
 *    lines were, so the client learns exactly what it will not get.
 *  - Past `hard_bytes` (or max_frames) with nothing left to drop, push
 *    returns SB_ERR_LIMIT and the caller closes the client (4029).
 *
 * Entries hold frame references; the queue never copies frame data.  Pure
 * module, single-threaded.
 *
 * The fan-out path allocates nothing and looks up no string per delivery:
 * entries come from the hub's free-list pool (struct sb_qpool), keys are
 * interned atoms (intern.h: a channel's name, a topic), and the index of
 * each key's newest queued status (and each channel's open gap) exists
 * only while it can be needed: it is built by one scan of the queue when
 * the client falls behind (or holds a snapshot's shared entries), kept up
 * while the queue is not empty, and dropped when it empties.
 */
#ifndef SB_QUEUE_H
#define SB_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "intern.h"

enum sb_qkind {
	SB_Q_CTRL = 0,   /* welcome, ack, error, pong: never dropped */
	SB_Q_EVENT,      /* non-retained event: never dropped, counts to hard */
	SB_Q_STATUS,     /* retained status: conflated by key when behind */
	SB_Q_LOG,        /* log batch with seq range: droppable */
	SB_Q_GAP,        /* lines dropped here: frame built when sent */
};

struct sb_qent {
	struct sb_qent *prev, *next;   /* next: the free list's link in the pool */
	enum sb_qkind kind;
	struct sb_frame *frame;   /* NULL for SB_Q_GAP */
	/* atoms (a reference each): STATUS: the conflation key (channel,
	 * topic); LOG/GAP: channel */
	uint32_t chan, topic;
	int unkeyed;              /* STATUS: its channel was forgotten, no
				     longer conflated into */
	int64_t seq_first, seq_last;
	size_t nlines;            /* LOG: lines in the batch; GAP: lines lost */
	size_t cost;              /* bytes charged to the queue */
	int shared;               /* frame held elsewhere (a snapshot): only
				     ever a key's newest STATUS entry */
	uint64_t ctrl_mark;       /* control frames pushed before this entry */
	int64_t origin_us;        /* arrival of what it carries, for a live
				     delivery (the latency histogram); 0: none */
};

struct sb_queue_stats {
	uint64_t conflated;       /* statuses replaced in the queue */
	uint64_t lines_dropped;   /* log lines dropped */
	uint64_t gaps;            /* gap entries created */
};

/* The hub's pool of free entries (a free list through ->next, kept up to
 * SB_QPOOL_KEEP entries; the rest go back to malloc) and the atoms entries
 * hold references to. */
#define SB_QPOOL_KEEP 262144
struct sb_qpool {
	struct sb_qent *free;
	size_t nfree;
	struct sb_intern *atoms;
};

void sb_qpool_init(struct sb_qpool *p, struct sb_intern *atoms);
/* Frees the pooled entries (the queues using it must be cleared first). */
void sb_qpool_fini(struct sb_qpool *p);

struct sb_qidx;   /* (channel, topic) -> entry: queue.c */

struct sb_queue {
	struct sb_qpool *pool;
	struct sb_qent *head, *tail;
	size_t bytes, frames;
	size_t shared_frames;         /* entries pushed with _push_shared */
	uint64_t ctrl_pushed;         /* control frames ever pushed (gap merging) */
	size_t soft_bytes, hard_bytes, max_frames;
	int choked;                   /* the socket took no more: behind until
					 the adapter says it is writeable */
	int64_t next_origin_us;       /* origin_us of the next entry pushed (or
					 conflated into); reset by the push */
	/* (channel, topic) -> the key's newest STATUS entry, (channel, 0) ->
	 * the channel's open gap; NULL while not needed (see above) */
	struct sb_qidx *idx;
	struct sb_queue_stats stats;
};

/* Sets the pool and the bounds (not choked); allocates nothing. */
enum sb_err sb_queue_init(struct sb_queue *q, struct sb_qpool *pool, size_t soft_bytes,
			  size_t hard_bytes, size_t max_frames);
/* Drops every entry (unref'ing frames and atoms).  Safe on a zeroed
 * queue; the pool and bounds stay. */
void sb_queue_clear(struct sb_queue *q);

/* Queues `frame` (the queue takes a new reference; the caller keeps its
 * own).  `chan`, `topic`: atoms of the pool's table (the entry takes a
 * reference to each), STATUS: the conflation key, LOG: the channel (topic
 * 0); 0 otherwise.  Returns SB_OK, SB_ERR_NOMEM (nothing queued), or
 * SB_ERR_LIMIT: the hard bound is passed and nothing more can be dropped
 * (the entry stays queued; close the client). */
enum sb_err sb_queue_push(struct sb_queue *q, enum sb_qkind kind,
			  struct sb_frame *frame, uint32_t chan, uint32_t topic,
			  int64_t seq_first, int64_t seq_last, size_t nlines);

/* Like sb_queue_push for a frame that is held elsewhere for as long anyway
 * (a channel's snapshot of last-known statuses): only the entry itself is
 * charged, and it does not count towards max_frames, so a client that reads
 * is never closed for the size of a channel's snapshot.  A newer status
 * conflated into the entry is charged in full, and so is the entry once a
 * newer status of its key is queued after it (the snapshot then holds the
 * newer frame, not this one). */
enum sb_err sb_queue_push_shared(struct sb_queue *q, enum sb_qkind kind,
				 struct sb_frame *frame, uint32_t chan, uint32_t topic);

/* The oldest entry, or NULL.  Borrowed until sb_queue_pop(). */
static inline struct sb_qent *sb_queue_peek(const struct sb_queue *q)
{
	return q->head;
}
/* Removes the oldest entry (back to the pool). */
void sb_queue_pop(struct sb_queue *q);
/* After an unsubscribe from the channel `chan` (an atom): removes its
 * LOG/GAP entries, and its queued statuses stay but are no longer
 * conflated into. */
void sb_queue_forget_channel(struct sb_queue *q, uint32_t chan);

#endif
