/* SPDX-License-Identifier: MIT
 *
 * test_queue.c - unit tests for queue.c, a client's send queue
 * and the slow-consumer policy of docs/protocol.md §6:
 *   - a client that keeps up gets every status transition: statuses are
 *     appended in order;
 *   - only when it is behind (choked socket, or past the soft or frame
 *     bound) does a newer status for the same key replace the key's newest
 *     queued one in place; statuses are never dropped;
 *   - past the soft bound log batches are dropped oldest-first, and each
 *     run of dropped lines of a channel becomes ONE gap entry (from, to,
 *     lines) where the lines were, merged across consecutive drops;
 *   - past the hard bound (or max_frames) with nothing left to drop, push
 *     returns SB_ERR_LIMIT.
 * Every test drains the queue at the end and checks that bytes and frames
 * come back to zero (the accounting the metrics gauge reads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue.h"

#define CH "deploy.0b8f7c1e-1111-2222-3333-444455556666.logs"
#define CH2 "deploy.9f0e1d2c-aaaa-bbbb-cccc-ddddeeeeffff.logs"
#define ENT sizeof(struct sb_qent)

/* Keys are atoms of the pool's table: the tests name them as strings,
 * "<channel>\x1f<topic>" for a status (client.c's key: channel and topic;
 * a key without the separator is both), "<channel>" for logs. */
static struct sb_intern *atoms;
static struct sb_qpool pool;

static int setup(void **state)
{
	(void)state;
	atoms = sb_intern_create();
	sb_qpool_init(&pool, atoms);
	return atoms ? 0 : -1;
}

/* Every entry went back to the pool, and with it every atom. */
static int teardown(void **state)
{
	(void)state;
	assert_int_equal(sb_intern_count(atoms), 0);
	sb_qpool_fini(&pool);
	sb_intern_destroy(atoms);
	return 0;
}

static void atoms_of(enum sb_qkind kind, const char *key, uint32_t *chan, uint32_t *topic)
{
	const char *sep = key ? strchr(key, '\x1f') : NULL;

	*chan = *topic = 0;
	if (!key)
		return;
	*chan = sb_intern_ref(atoms, key, sep ? (size_t)(sep - key) : strlen(key));
	if (kind == SB_Q_STATUS)
		*topic = sep ? sb_intern_ref(atoms, sep + 1, strlen(sep + 1)) :
			       sb_intern_ref(atoms, key, strlen(key));
	assert_true(*chan && (kind != SB_Q_STATUS || *topic));
}

static enum sb_err qinit(struct sb_queue *q, size_t soft, size_t hard, size_t max_frames)
{
	return sb_queue_init(q, &pool, soft, hard, max_frames);
}

static enum sb_err qpush(struct sb_queue *q, enum sb_qkind kind, struct sb_frame *f,
			 const char *key, int64_t s0, int64_t s1, size_t n)
{
	uint32_t c, t;
	enum sb_err rc;

	atoms_of(kind, key, &c, &t);
	rc = sb_queue_push(q, kind, f, c, t, s0, s1, n);
	sb_intern_unref(atoms, c);      /* the entry holds its own */
	sb_intern_unref(atoms, t);
	return rc;
}

static enum sb_err qpush_shared(struct sb_queue *q, enum sb_qkind kind, struct sb_frame *f,
				const char *key)
{
	uint32_t c, t;
	enum sb_err rc;

	atoms_of(kind, key, &c, &t);
	rc = sb_queue_push_shared(q, kind, f, c, t);
	sb_intern_unref(atoms, c);
	sb_intern_unref(atoms, t);
	return rc;
}

static void qforget(struct sb_queue *q, const char *chan)
{
	sb_queue_forget_channel(q, sb_intern_find(atoms, chan, strlen(chan)));
}

/* An entry's key as the tests name it. */
static const char *ekey(const struct sb_qent *e)
{
	static char buf[512];
	const char *c = sb_intern_str(atoms, e->chan), *t = sb_intern_str(atoms, e->topic);

	if (t && strcmp(c, t) != 0)
		snprintf(buf, sizeof(buf), "%s\x1f%s", c, t);
	else
		snprintf(buf, sizeof(buf), "%s", c ? c : "");
	return buf;
}

static struct sb_frame *frame_of(size_t len, char fill)
{
	char *data = malloc(len ? len : 1);
	struct sb_frame *f;

	assert_non_null(data);
	memset(data, fill, len);
	f = sb_frame_create(data, len);
	free(data);
	assert_non_null(f);
	return f;
}

/* Pushes a fresh frame of `len` bytes and drops the caller's reference. */
static enum sb_err push(struct sb_queue *q, enum sb_qkind kind, size_t len, const char *key,
			int64_t s0, int64_t s1, size_t n)
{
	struct sb_frame *f = frame_of(len, 'a' + (char)(s0 % 26));
	enum sb_err rc = qpush(q, kind, f, key, s0, s1, n);

	sb_frame_unref(f);
	return rc;
}

static enum sb_err push_log(struct sb_queue *q, const char *ch, int64_t s0, int64_t s1,
			    size_t len)
{
	return push(q, SB_Q_LOG, len, ch, s0, s1, (size_t)(s1 - s0 + 1));
}

static size_t count_kind(const struct sb_queue *q, enum sb_qkind kind)
{
	size_t n = 0;

	for (const struct sb_qent *e = q->head; e; e = e->next)
		n += e->kind == kind;
	return n;
}

/* Walks the list both ways and checks it against the counters. */
static void check_links(const struct sb_queue *q)
{
	size_t n = 0, bytes = 0;
	const struct sb_qent *prev = NULL;

	for (const struct sb_qent *e = q->head; e; e = e->next) {
		assert_ptr_equal(e->prev, prev);
		if (e->kind == SB_Q_GAP)
			assert_null(e->frame);
		else
			assert_non_null(e->frame);
		prev = e;
		n++;
		bytes += e->cost;
	}
	assert_ptr_equal(q->tail, prev);
	assert_int_equal(n, q->frames);
	assert_int_equal(bytes, q->bytes);
}

static void drain(struct sb_queue *q)
{
	check_links(q);
	while (sb_queue_peek(q))
		sb_queue_pop(q);
	assert_int_equal(q->bytes, 0);
	assert_int_equal(q->frames, 0);
	assert_null(q->head);
	assert_null(q->tail);
	sb_queue_pop(q);                 /* popping an empty queue is harmless */
	sb_queue_clear(q);
}

/* ---- basics ------------------------------------------------------------------- */

static void test_fifo_and_references(void **state)
{
	struct sb_queue q;
	struct sb_frame *a = frame_of(10, 'a'), *b = frame_of(20, 'b');
	(void)state;

	assert_int_equal(qinit(&q, 1 << 20, 1 << 21, 100), SB_OK);
	assert_null(sb_queue_peek(&q));
	assert_int_equal(qpush(&q, SB_Q_CTRL, a, NULL, 0, 0, 0), SB_OK);
	assert_int_equal(qpush(&q, SB_Q_EVENT, b, NULL, 0, 0, 1), SB_OK);
	assert_int_equal(a->refs, 2);                 /* the queue's own reference */
	assert_int_equal(b->refs, 2);
	assert_int_equal(q.frames, 2);
	assert_int_equal(q.bytes, 10 + ENT + 20 + ENT);
	assert_ptr_equal(sb_queue_peek(&q)->frame, a);
	assert_int_equal(sb_queue_peek(&q)->kind, SB_Q_CTRL);
	sb_queue_pop(&q);
	assert_int_equal(a->refs, 1);
	assert_ptr_equal(sb_queue_peek(&q)->frame, b);
	assert_int_equal(q.bytes, 20 + ENT);
	sb_queue_pop(&q);
	assert_int_equal(b->refs, 1);
	drain(&q);
	sb_frame_unref(a);
	sb_frame_unref(b);
}

static void test_hard_not_below_soft(void **state)
{
	struct sb_queue q;
	(void)state;

	assert_int_equal(qinit(&q, 5000, 100, 100), SB_OK);
	assert_int_equal(q.hard_bytes, 5000);
	/* 4000 bytes of events fit under the (raised) hard bound */
	assert_int_equal(push(&q, SB_Q_EVENT, 4000, NULL, 0, 0, 1), SB_OK);
	drain(&q);
}

static void test_clear_releases_and_zeroes(void **state)
{
	struct sb_queue q, zero;
	struct sb_frame *f = frame_of(50, 'x');
	(void)state;

	assert_int_equal(qinit(&q, 1 << 20, 1 << 21, 100), SB_OK);
	qpush(&q, SB_Q_STATUS, f, "k1", 0, 0, 1);
	qpush(&q, SB_Q_LOG, f, CH, 1, 1, 1);
	qpush(&q, SB_Q_CTRL, f, NULL, 0, 0, 0);
	assert_int_equal(f->refs, 4);
	sb_queue_clear(&q);
	assert_int_equal(f->refs, 1);
	assert_null(q.head);
	assert_null(q.tail);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.frames, 0);
	sb_queue_clear(&q);                        /* twice is fine */
	memset(&zero, 0, sizeof(zero));
	sb_queue_clear(&zero);                     /* and on a zeroed queue */
	/* init again after clear gives a working queue */
	assert_int_equal(qinit(&q, 1 << 20, 1 << 21, 100), SB_OK);
	assert_int_equal(qpush(&q, SB_Q_STATUS, f, "k1", 0, 0, 1), SB_OK);
	assert_int_equal(q.frames, 1);
	drain(&q);
	sb_frame_unref(f);
}

/* ---- statuses ------------------------------------------------------------------- */

static void test_status_conflated_in_place_when_choked(void **state)
{
	struct sb_queue q;
	struct sb_frame *s1 = frame_of(100, '1'), *s2 = frame_of(300, '2'), *s3 = frame_of(50, '3');
	struct sb_qent *e;
	(void)state;

	assert_int_equal(qinit(&q, 1 << 20, 1 << 21, 100), SB_OK);
	q.choked = 1;                                  /* the client is behind */
	assert_int_equal(qpush(&q, SB_Q_STATUS, s1, "team.42\x1ftopicA", 0, 0, 1), SB_OK);
	assert_int_equal(push(&q, SB_Q_CTRL, 10, NULL, 0, 0, 0), SB_OK);
	assert_int_equal(push(&q, SB_Q_STATUS, 70, "team.42\x1ftopicB", 0, 0, 1), SB_OK);
	/* a newer status for topicA replaces the queued one where it is */
	assert_int_equal(qpush(&q, SB_Q_STATUS, s2, "team.42\x1ftopicA", 0, 0, 1), SB_OK);
	assert_int_equal(q.stats.conflated, 1);
	assert_int_equal(q.frames, 3);
	assert_int_equal(s1->refs, 1);                 /* the old frame was released */
	e = sb_queue_peek(&q);
	assert_int_equal(e->kind, SB_Q_STATUS);
	assert_ptr_equal(e->frame, s2);
	assert_int_equal(e->cost, 300 + ENT);
	assert_int_equal(q.bytes, (300 + ENT) + (10 + ENT) + (70 + ENT));
	/* and again, with a smaller one */
	assert_int_equal(qpush(&q, SB_Q_STATUS, s3, "team.42\x1ftopicA", 0, 0, 1), SB_OK);
	assert_int_equal(q.stats.conflated, 2);
	assert_int_equal(s2->refs, 1);
	assert_ptr_equal(sb_queue_peek(&q)->frame, s3);
	assert_int_equal(q.bytes, (50 + ENT) + (10 + ENT) + (70 + ENT));
	check_links(&q);
	/* once sent, the next status for that key is a new entry at the tail */
	sb_queue_pop(&q);
	assert_int_equal(qpush(&q, SB_Q_STATUS, s1, "team.42\x1ftopicA", 0, 0, 1), SB_OK);
	assert_int_equal(q.stats.conflated, 2);
	assert_int_equal(q.frames, 3);
	assert_ptr_equal(q.tail->frame, s1);
	/* the same key in another channel is another key */
	assert_int_equal(qpush(&q, SB_Q_STATUS, s1, "team.42.stats\x1ftopicA", 0, 0, 1),
			 SB_OK);
	assert_int_equal(q.frames, 4);
	drain(&q);
	assert_int_equal(s1->refs, 1);
	assert_int_equal(s3->refs, 1);
	sb_frame_unref(s1);
	sb_frame_unref(s2);
	sb_frame_unref(s3);
}

/* The frame of the one status entry queued for `key`'s position n (0 =
 * oldest) among the entries of that key, or NULL. */
static const struct sb_qent *nth_of_key(const struct sb_queue *q, const char *key, size_t n)
{
	for (const struct sb_qent *e = q->head; e; e = e->next)
		if (e->kind == SB_Q_STATUS && strcmp(ekey(e), key) == 0 && n-- == 0)
			return e;
	return NULL;
}

/* A client that keeps up (socket writable, queue small) gets every
 * transition of a topic, in order, even when they are queued at once. */
static void test_status_transitions_kept_when_keeping_up(void **state)
{
	static const char *const steps = "RSTU";   /* restarting, stopped, starting, running */
	struct sb_queue q;
	struct sb_frame *f[4];
	const struct sb_qent *e;
	(void)state;

	assert_int_equal(qinit(&q, 1 << 20, 1 << 21, 100), SB_OK);
	for (int i = 0; i < 4; i++) {
		f[i] = frame_of(100, steps[i]);
		assert_int_equal(qpush(&q, SB_Q_STATUS, f[i], "team.42\x1f" "A", 0, 0, 1), SB_OK);
		assert_int_equal(push(&q, SB_Q_STATUS, 50, "team.42\x1f" "B", i, 0, 1), SB_OK);
	}
	assert_int_equal(q.stats.conflated, 0);
	assert_int_equal(q.frames, 8);
	check_links(&q);
	/* A's four, in order, interleaved with B's as pushed */
	for (int i = 0; i < 4; i++) {
		e = sb_queue_peek(&q);
		assert_ptr_equal(e->frame, f[i]);
		sb_queue_pop(&q);
		e = sb_queue_peek(&q);
		assert_string_equal(ekey(e), "team.42\x1f" "B");
		sb_queue_pop(&q);
	}
	drain(&q);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(f[i]->refs, 1);
		sb_frame_unref(f[i]);
	}
}

/* Past the soft bound the client is behind: a newer status replaces the
 * key's newest queued entry (the transitions queued while it kept up
 * stay), and the queue stops growing by statuses of queued keys. */
static void test_status_conflated_past_soft_bound(void **state)
{
	struct sb_queue q;
	const char *A = "team.42\x1f" "A";
	size_t bytes;
	(void)state;

	/* room for three 200-byte statuses, not four */
	assert_int_equal(qinit(&q, 3 * (200 + ENT) + 100, 1 << 20, 100), SB_OK);
	for (int64_t i = 0; i < 3; i++)
		assert_int_equal(push(&q, SB_Q_STATUS, 200, A, i, 0, 1), SB_OK);
	assert_int_equal(q.stats.conflated, 0);
	assert_int_equal(q.frames, 3);
	bytes = q.bytes;
	/* the fourth would pass the soft bound: it replaces the third */
	for (int64_t i = 3; i < 10; i++)
		assert_int_equal(push(&q, SB_Q_STATUS, 200, A, i, 0, 1), SB_OK);
	assert_int_equal(q.stats.conflated, 7);
	assert_int_equal(q.frames, 3);
	assert_int_equal(q.bytes, bytes);
	assert_true(q.bytes <= q.soft_bytes);
	assert_int_equal(sb_frame_data(nth_of_key(&q, A, 0)->frame)[0], 'a');
	assert_int_equal(sb_frame_data(nth_of_key(&q, A, 1)->frame)[0], 'b');
	assert_int_equal(sb_frame_data(nth_of_key(&q, A, 2)->frame)[0], 'j');   /* the latest */
	assert_ptr_equal(q.tail, nth_of_key(&q, A, 2));
	/* a key not queued yet still gets its entry (statuses are never dropped) */
	assert_int_equal(push(&q, SB_Q_STATUS, 200, "team.42\x1f" "B", 0, 0, 1), SB_OK);
	assert_int_equal(count_kind(&q, SB_Q_STATUS), 4);
	/* once it has caught up, transitions are kept again */
	while (sb_queue_peek(&q))
		sb_queue_pop(&q);
	assert_int_equal(push(&q, SB_Q_STATUS, 200, A, 0, 0, 1), SB_OK);
	assert_int_equal(push(&q, SB_Q_STATUS, 200, A, 1, 0, 1), SB_OK);
	assert_int_equal(q.frames, 2);
	assert_int_equal(q.stats.conflated, 7);
	drain(&q);
}

/* The index names a key's newest entry through pops: conflation never
 * touches a frame that was already taken off the queue, nor an older
 * transition of the key. */
static void test_status_index_after_pops(void **state)
{
	struct sb_queue q;
	const char *A = "team.42\x1f" "A";
	(void)state;

	assert_int_equal(qinit(&q, 1 << 20, 1 << 21, 100), SB_OK);
	assert_int_equal(push(&q, SB_Q_STATUS, 100, A, 0, 0, 1), SB_OK);        /* 'a' */
	assert_int_equal(push(&q, SB_Q_CTRL, 10, NULL, 0, 0, 0), SB_OK);
	assert_int_equal(push(&q, SB_Q_STATUS, 100, A, 1, 0, 1), SB_OK);        /* 'b' */
	/* the oldest of the key is sent: the index still names 'b' */
	sb_queue_pop(&q);
	q.choked = 1;
	assert_int_equal(push(&q, SB_Q_STATUS, 100, A, 2, 0, 1), SB_OK);        /* 'c' */
	assert_int_equal(q.stats.conflated, 1);
	assert_int_equal(q.frames, 2);
	assert_int_equal(sb_frame_data(q.tail->frame)[0], 'c');
	/* the last one of the key is sent: the next is a new entry */
	sb_queue_pop(&q);
	sb_queue_pop(&q);
	assert_int_equal(push(&q, SB_Q_STATUS, 100, A, 3, 0, 1), SB_OK);        /* 'd' */
	assert_int_equal(q.stats.conflated, 1);
	assert_int_equal(q.frames, 1);
	/* not behind: appended; behind: the newest ('e') is replaced, 'd' stays */
	q.choked = 0;
	assert_int_equal(push(&q, SB_Q_STATUS, 100, A, 4, 0, 1), SB_OK);        /* 'e' */
	q.choked = 1;
	assert_int_equal(push(&q, SB_Q_STATUS, 100, A, 5, 0, 1), SB_OK);        /* 'f' */
	assert_int_equal(q.frames, 2);
	assert_int_equal(sb_frame_data(nth_of_key(&q, A, 0)->frame)[0], 'd');
	assert_int_equal(sb_frame_data(nth_of_key(&q, A, 1)->frame)[0], 'f');
	/* logs, and forgetting another channel, leave statuses and the index alone */
	assert_int_equal(push_log(&q, "team.42", 1, 1, 10), SB_OK);
	qforget(&q, "team.41");
	assert_int_equal(push(&q, SB_Q_STATUS, 100, A, 6, 0, 1), SB_OK);        /* 'g' */
	assert_int_equal(q.frames, 3);
	assert_int_equal(sb_frame_data(nth_of_key(&q, A, 1)->frame)[0], 'g');
	/* after an unsubscribe a status of a later subscription never takes
	 * the place of one queued before it (before the unsub's ack: the
	 * client would drop it with the channel; tests/fuzz, hub) */
	qforget(&q, "team.42");
	assert_int_equal(q.frames, 2);                                          /* the log */
	assert_int_equal(push(&q, SB_Q_STATUS, 100, A, 7, 0, 1), SB_OK);        /* 'h' */
	assert_int_equal(q.frames, 3);
	assert_int_equal(sb_frame_data(q.tail->frame)[0], 'h');
	assert_int_equal(sb_frame_data(nth_of_key(&q, A, 1)->frame)[0], 'g');
	check_links(&q);
	drain(&q);
	/* after clear and init the index is empty */
	assert_int_equal(qinit(&q, 1 << 20, 1 << 21, 100), SB_OK);
	assert_int_equal(q.choked, 0);
	assert_int_equal(push(&q, SB_Q_STATUS, 100, A, 0, 0, 1), SB_OK);
	assert_int_equal(q.frames, 1);
	drain(&q);
}

/* A snapshot entry is charged only for itself while the channel holds its
 * frame; once a newer status of its key is queued after it, the channel
 * holds that one instead, and the older entry is charged in full. */
static void test_shared_status_charged_once_superseded(void **state)
{
	struct sb_queue q;
	struct sb_frame *s1 = frame_of(3000, '1'), *s2 = frame_of(3000, '2'), *s3 = frame_of(3000, '3');
	const char *A = "c\x1f" "A";
	(void)state;

	assert_int_equal(qinit(&q, 16384, 65536, 16), SB_OK);
	assert_int_equal(qpush_shared(&q, SB_Q_STATUS, s1, A), SB_OK);
	assert_int_equal(q.bytes, ENT);
	assert_int_equal(q.shared_frames, 1);
	assert_int_equal(qpush_shared(&q, SB_Q_STATUS, s2, A), SB_OK);
	assert_int_equal(q.frames, 2);
	assert_int_equal(q.shared_frames, 1);          /* only the newest is shared */
	assert_int_equal(q.bytes, (3000 + ENT) + ENT);
	/* the same frame again (a snapshot sent after a resubscribe): only the
	 * newest entry counts as shared, the older one is charged in full */
	assert_int_equal(qpush_shared(&q, SB_Q_STATUS, s2, A), SB_OK);
	assert_int_equal(q.shared_frames, 1);
	assert_int_equal(q.bytes, 2 * (3000 + ENT) + ENT);
	/* so that an unread client cannot hold unbounded superseded frames:
	 * appending the next one would pass the soft bound with the newest
	 * entry's frame charged, so the client is behind and it conflates */
	for (int i = 0; i < 10; i++)
		assert_int_equal(qpush_shared(&q, SB_Q_STATUS, i % 2 ? s3 : s1, A), SB_OK);
	assert_true(q.bytes <= q.soft_bytes);
	assert_true(q.stats.conflated > 0);
	assert_ptr_equal(q.tail->frame, s3);
	assert_int_equal(q.tail->shared, 1);
	check_links(&q);
	drain(&q);
	assert_int_equal(q.shared_frames, 0);
	assert_int_equal(s1->refs, 1);
	assert_int_equal(s2->refs, 1);
	assert_int_equal(s3->refs, 1);
	sb_frame_unref(s1);
	sb_frame_unref(s2);
	sb_frame_unref(s3);
}

static void test_status_never_dropped(void **state)
{
	struct sb_queue q;
	char key[32];
	size_t i;
	enum sb_err rc = SB_OK;
	(void)state;

	/* soft 1000, hard 4000: statuses pass the soft bound untouched */
	assert_int_equal(qinit(&q, 1000, 4000, 10000), SB_OK);
	for (i = 0; i < 100 && rc == SB_OK; i++) {
		snprintf(key, sizeof(key), "team.1\x1ft%zu", i);
		rc = push(&q, SB_Q_STATUS, 200, key, 0, 0, 1);
	}
	assert_int_equal(rc, SB_ERR_LIMIT);
	/* every status pushed is still there, the last one included */
	assert_int_equal(count_kind(&q, SB_Q_STATUS), i);
	assert_int_equal(q.frames, i);
	assert_true(q.bytes > 4000);
	assert_true(q.bytes - (200 + ENT) <= 4000);   /* the one before was still fine */
	assert_int_equal(q.stats.lines_dropped, 0);
	drain(&q);
}

/* ---- logs, gaps ------------------------------------------------------------------- */

static void test_logs_dropped_into_one_gap(void **state)
{
	struct sb_queue q;
	const size_t L = 200;
	struct sb_qent *g;
	int64_t s;
	(void)state;

	/* room for three log entries and a gap notice under the soft bound */
	assert_int_equal(qinit(&q, 3 * (L + ENT) + 200, 1 << 20, 10000), SB_OK);
	for (s = 1; s <= 3; s++)
		assert_int_equal(push_log(&q, CH, s, s, L), SB_OK);
	assert_int_equal(q.stats.lines_dropped, 0);
	assert_int_equal(count_kind(&q, SB_Q_GAP), 0);
	/* the fourth pushes the oldest out: it becomes a gap where it was */
	assert_int_equal(push_log(&q, CH, 4, 4, L), SB_OK);
	assert_true(q.bytes <= q.soft_bytes);
	assert_int_equal(q.stats.lines_dropped, 1);
	assert_int_equal(q.stats.gaps, 1);
	g = sb_queue_peek(&q);
	assert_int_equal(g->kind, SB_Q_GAP);
	assert_string_equal(ekey(g), CH);
	assert_int_equal(g->seq_first, 1);
	assert_int_equal(g->seq_last, 1);
	assert_int_equal(g->nlines, 1);
	/* consecutive drops merge into the same gap */
	for (s = 5; s <= 10; s++)
		assert_int_equal(push_log(&q, CH, s, s, L), SB_OK);
	check_links(&q);
	assert_int_equal(count_kind(&q, SB_Q_GAP), 1);
	assert_int_equal(q.stats.gaps, 1);
	g = sb_queue_peek(&q);
	assert_int_equal(g->kind, SB_Q_GAP);
	/* the gap covers exactly the lines no longer queued, and the queued
	 * lines start right after it */
	assert_int_equal(g->seq_first, 1);
	assert_int_equal(g->next->kind, SB_Q_LOG);
	assert_int_equal(g->seq_last, g->next->seq_first - 1);
	assert_int_equal(g->nlines, (size_t)(g->seq_last - g->seq_first + 1));
	assert_int_equal(q.stats.lines_dropped, g->nlines);
	assert_int_equal(q.tail->seq_last, 10);
	assert_int_equal(count_kind(&q, SB_Q_LOG), (size_t)(10 - g->seq_last));
	assert_true(q.bytes <= q.soft_bytes);
	drain(&q);
}

static void test_gap_counts_batch_lines(void **state)
{
	struct sb_queue q;
	const size_t L = 500;
	struct sb_qent *g;
	(void)state;

	/* batches of 10 lines; room for two and a gap notice */
	assert_int_equal(qinit(&q, 2 * (L + ENT) + 200, 1 << 20, 10000), SB_OK);
	assert_int_equal(push_log(&q, CH, 41, 50, L), SB_OK);
	assert_int_equal(push_log(&q, CH, 51, 60, L), SB_OK);
	assert_int_equal(push_log(&q, CH, 61, 70, L), SB_OK);
	assert_int_equal(push_log(&q, CH, 71, 80, L), SB_OK);
	g = sb_queue_peek(&q);
	assert_int_equal(g->kind, SB_Q_GAP);
	assert_int_equal(g->seq_first, 41);
	assert_int_equal(g->seq_last, 60);
	assert_int_equal(g->nlines, 20);
	assert_int_equal(q.stats.lines_dropped, 20);
	assert_int_equal(q.stats.gaps, 1);
	assert_int_equal(g->next->seq_first, 61);
	drain(&q);
}

static void test_gap_per_channel_and_statuses_kept(void **state)
{
	struct sb_queue q;
	const size_t L = 200;
	struct sb_qent *e;
	size_t gaps = 0;
	(void)state;

	assert_int_equal(qinit(&q, 4 * (L + ENT) + 8, 1 << 20, 10000), SB_OK);
	assert_int_equal(push(&q, SB_Q_STATUS, L, "team.1\x1ft", 0, 0, 1), SB_OK);
	assert_int_equal(push_log(&q, CH, 1, 1, L), SB_OK);
	assert_int_equal(push_log(&q, CH2, 101, 101, L), SB_OK);
	assert_int_equal(push_log(&q, CH, 2, 2, L), SB_OK);
	assert_int_equal(push(&q, SB_Q_CTRL, L, NULL, 0, 0, 0), SB_OK);     /* over soft */
	assert_int_equal(push_log(&q, CH2, 102, 102, L), SB_OK);
	assert_int_equal(push_log(&q, CH, 3, 3, L), SB_OK);
	check_links(&q);
	/* the status and the control frame survive, at their places */
	e = sb_queue_peek(&q);
	assert_int_equal(e->kind, SB_Q_STATUS);
	assert_int_equal(count_kind(&q, SB_Q_CTRL), 1);
	/* one gap per channel and run of dropped lines, ranges exact; the
	 * control frame ends a run (it may be a gap notice of the channel,
	 * which must stay between the gaps around it: fuzz_hub found gaps
	 * merged across one, out of order) */
	for (e = q.head; e; e = e->next) {
		int after_ctrl = 0;
		const struct sb_qent *o;

		if (e->kind != SB_Q_GAP)
			continue;
		gaps++;
		for (o = e->prev; o; o = o->prev)
			after_ctrl |= o->kind == SB_Q_CTRL;
		if (strcmp(ekey(e), CH) == 0) {
			assert_int_equal(e->seq_first, after_ctrl ? 3 : 1);
			assert_int_equal(e->nlines, (size_t)(e->seq_last - e->seq_first + 1));
		} else {
			assert_string_equal(ekey(e), CH2);
			assert_int_equal(e->seq_first, after_ctrl ? 102 : 101);
			assert_int_equal(e->seq_last, after_ctrl ? 102 : 101);
		}
	}
	assert_true(gaps >= 1 && gaps <= 4);
	assert_int_equal(q.stats.gaps, gaps);
	/* no log line of a channel is both dropped and queued */
	for (e = q.head; e; e = e->next) {
		const struct sb_qent *g;
		if (e->kind != SB_Q_LOG)
			continue;
		for (g = q.head; g; g = g->next)
			if (g->kind == SB_Q_GAP && g->chan == e->chan)
				assert_true(e->seq_first > g->seq_last);
	}
	assert_true(q.bytes <= q.soft_bytes + (L + ENT)); /* only never-dropped kinds above */
	drain(&q);
}

static void test_new_gap_after_gap_sent(void **state)
{
	struct sb_queue q;
	const size_t L = 200;
	struct sb_qent *g;
	(void)state;

	assert_int_equal(qinit(&q, 2 * (L + ENT) + 200, 1 << 20, 10000), SB_OK);
	for (int64_t s = 1; s <= 4; s++)
		assert_int_equal(push_log(&q, CH, s, s, L), SB_OK);
	g = sb_queue_peek(&q);
	assert_int_equal(g->kind, SB_Q_GAP);
	assert_int_equal(g->seq_first, 1);
	assert_int_equal(g->seq_last, 2);
	/* the client takes the gap and one batch off the queue */
	sb_queue_pop(&q);
	sb_queue_pop(&q);
	assert_int_equal(q.frames, 1);
	assert_int_equal(q.head->seq_first, 4);
	/* further drops make a new gap that starts after what was sent */
	for (int64_t s = 5; s <= 7; s++)
		assert_int_equal(push_log(&q, CH, s, s, L), SB_OK);
	g = sb_queue_peek(&q);
	assert_int_equal(g->kind, SB_Q_GAP);
	assert_int_equal(g->seq_first, 4);
	assert_int_equal(g->seq_last, g->next->seq_first - 1);
	assert_int_equal(q.stats.gaps, 2);
	assert_int_equal(count_kind(&q, SB_Q_GAP), 1);
	drain(&q);
}

/* ---- hard bound and max_frames ------------------------------------------------------ */

static void test_hard_bound_limit(void **state)
{
	struct sb_queue q;
	(void)state;

	assert_int_equal(qinit(&q, 1000, 3000, 10000), SB_OK);
	/* log batches are dropped first: never LIMIT while there are some */
	for (int64_t s = 1; s <= 50; s++)
		assert_int_equal(push_log(&q, CH, s, s, 300), SB_OK);
	assert_true(q.bytes <= 1000);
	/* events are not droppable: past hard -> LIMIT, but the entry stays */
	assert_int_equal(push(&q, SB_Q_EVENT, 1000, NULL, 0, 0, 1), SB_OK);
	assert_int_equal(push(&q, SB_Q_EVENT, 1000, NULL, 0, 0, 1), SB_OK);
	assert_int_equal(push(&q, SB_Q_EVENT, 1000, NULL, 0, 0, 1), SB_ERR_LIMIT);
	assert_int_equal(q.tail->kind, SB_Q_EVENT);
	assert_true(q.bytes > 3000);
	/* every log batch was dropped by then; only the gap is left of them */
	assert_int_equal(count_kind(&q, SB_Q_LOG), 0);
	assert_int_equal(count_kind(&q, SB_Q_GAP), 1);
	assert_int_equal(q.head->kind, SB_Q_GAP);
	assert_int_equal(q.head->seq_first, 1);
	assert_int_equal(q.head->seq_last, 50);
	assert_int_equal(q.head->nlines, 50);
	drain(&q);
}

static void test_ctrl_over_hard_is_limit(void **state)
{
	struct sb_queue q;
	(void)state;

	assert_int_equal(qinit(&q, 1024, 2048, 10000), SB_OK);
	assert_int_equal(push(&q, SB_Q_CTRL, 1500, NULL, 0, 0, 0), SB_OK);
	assert_int_equal(push(&q, SB_Q_CTRL, 1500, NULL, 0, 0, 0), SB_ERR_LIMIT);
	assert_int_equal(q.frames, 2);
	drain(&q);
}

static void test_max_frames(void **state)
{
	struct sb_queue q;
	(void)state;

	/* frames bound alone, bytes plentiful */
	assert_int_equal(qinit(&q, 1 << 20, 1 << 21, 16), SB_OK);
	for (int i = 0; i < 16; i++)
		assert_int_equal(push(&q, SB_Q_EVENT, 10, NULL, 0, 0, 1), SB_OK);
	assert_int_equal(push(&q, SB_Q_EVENT, 10, NULL, 0, 0, 1), SB_ERR_LIMIT);
	drain(&q);

	/* with log batches of one channel queued, they make room */
	assert_int_equal(qinit(&q, 1 << 20, 1 << 21, 16), SB_OK);
	for (int64_t s = 1; s <= 16; s++)
		assert_int_equal(push_log(&q, CH, s, s, 10), SB_OK);
	assert_int_equal(push(&q, SB_Q_EVENT, 10, NULL, 0, 0, 1), SB_OK);
	assert_true(q.frames <= 16);
	assert_int_equal(q.head->kind, SB_Q_GAP);
	assert_int_equal(q.head->seq_first, 1);
	assert_int_equal(q.head->seq_last, q.head->next->seq_first - 1);
	for (int i = 0; i < 40; i++)
		if (push(&q, SB_Q_EVENT, 10, NULL, 0, 0, 1) != SB_OK)
			break;
	assert_true(q.frames > 16);          /* LIMIT reached once nothing was left */
	assert_int_equal(count_kind(&q, SB_Q_LOG), 0);
	drain(&q);
}

/* ---- forget_channel ---------------------------------------------------------------- */

static void test_forget_channel(void **state)
{
	struct sb_queue q;
	const size_t L = 200;
	(void)state;

	assert_int_equal(qinit(&q, 4 * (L + ENT) + 8, 1 << 20, 10000), SB_OK);
	assert_int_equal(push(&q, SB_Q_STATUS, L, CH "\x1ft", 0, 0, 1), SB_OK);
	for (int64_t s = 1; s <= 5; s++)
		assert_int_equal(push_log(&q, CH, s, s, L), SB_OK);
	assert_int_equal(push_log(&q, CH2, 7, 7, 10), SB_OK);
	assert_int_equal(push(&q, SB_Q_CTRL, 10, NULL, 0, 0, 0), SB_OK);
	assert_int_equal(count_kind(&q, SB_Q_GAP), 1);
	qforget(&q, CH);
	check_links(&q);
	/* the channel's batches and its gap are gone, everything else stays */
	for (const struct sb_qent *e = q.head; e; e = e->next)
		if (e->kind == SB_Q_LOG || e->kind == SB_Q_GAP)
			assert_string_equal(ekey(e), CH2);
	assert_int_equal(count_kind(&q, SB_Q_STATUS), 1);
	assert_int_equal(count_kind(&q, SB_Q_CTRL), 1);
	assert_int_equal(count_kind(&q, SB_Q_LOG), 1);
	assert_int_equal(count_kind(&q, SB_Q_GAP), 0);
	assert_int_equal(q.frames, 3);
	/* a later subscription starts clean: new drops make a new gap that
	 * does not reach back to the forgotten lines */
	{
		int seen = 0;
		for (int64_t s = 100; s <= 106; s++)
			assert_int_equal(push_log(&q, CH, s, s, L), SB_OK);
		for (const struct sb_qent *e = q.head; e; e = e->next)
			if (e->kind == SB_Q_GAP && strcmp(ekey(e), CH) == 0) {
				assert_int_equal(e->seq_first, 100);
				assert_int_equal(e->seq_last, e->next->seq_first - 1);
				seen++;
			}
		assert_int_equal(seen, 1);
	}
	qforget(&q, "no.such.channel");
	check_links(&q);
	drain(&q);
}

/* A frame held elsewhere (a channel's snapshot) is charged only for its
 * entry and does not count towards max_frames; conflating a full frame
 * into it charges that in full. */
static void test_shared_snapshot_entries(void **state)
{
	struct sb_queue q;
	struct sb_frame *big = frame_of(4000, 's'), *live = frame_of(3000, 'l');
	char key[32];
	(void)state;

	assert_int_equal(qinit(&q, 1024, 8192, 16), SB_OK);
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "c\x1ftopic%d", i);
		assert_int_equal(qpush_shared(&q, SB_Q_STATUS, big, key), SB_OK);
	}
	assert_int_equal(q.frames, 20);
	assert_int_equal(q.shared_frames, 20);
	assert_true(q.bytes < 20 * 200);
	/* a live status replacing one of them is charged in full */
	assert_int_equal(qpush(&q, SB_Q_STATUS, live, "c\x1ftopic3", 0, 0, 1), SB_OK);
	assert_int_equal(q.shared_frames, 19);
	assert_true(q.bytes > 3000);
	/* popping keeps the counts straight */
	while (sb_queue_peek(&q))
		sb_queue_pop(&q);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.shared_frames, 0);
	sb_queue_clear(&q);
	sb_frame_unref(big);
	sb_frame_unref(live);
}

/* ---- the fast path: no index while keeping up, entries from the pool ---- */

/* A client that keeps up has no per-key index at all; falling behind
 * builds it from what is queued (so the status queued before still
 * conflates), and it is dropped once the queue is empty. */
static void test_index_only_while_behind(void **state)
{
	struct sb_queue q;
	struct sb_frame *a = frame_of(50, 'a'), *b = frame_of(50, 'b'), *c = frame_of(50, 'c');

	(void)state;
	assert_int_equal(qinit(&q, 1 << 20, 1 << 21, 100), SB_OK);
	assert_int_equal(qpush(&q, SB_Q_STATUS, a, "team.42\x1f" "A", 0, 0, 1), SB_OK);
	assert_int_equal(qpush(&q, SB_Q_STATUS, b, "team.42\x1f" "B", 0, 0, 1), SB_OK);
	assert_null(q.idx);
	q.choked = 1;
	assert_int_equal(qpush(&q, SB_Q_STATUS, c, "team.42\x1f" "A", 0, 0, 1), SB_OK);
	assert_non_null(q.idx);
	assert_int_equal(q.frames, 2);                       /* conflated into A's */
	assert_ptr_equal(q.head->frame, c);
	assert_int_equal(q.stats.conflated, 1);
	q.choked = 0;
	sb_queue_pop(&q);
	assert_non_null(q.idx);                              /* B still queued */
	sb_queue_pop(&q);
	assert_null(q.idx);                                  /* empty: dropped */
	/* keeping up again: appended, no index */
	assert_int_equal(qpush(&q, SB_Q_STATUS, a, "team.42\x1f" "A", 0, 0, 1), SB_OK);
	assert_int_equal(qpush(&q, SB_Q_STATUS, b, "team.42\x1f" "A", 0, 0, 1), SB_OK);
	assert_null(q.idx);
	assert_int_equal(q.frames, 2);
	drain(&q);
	sb_frame_unref(a);
	sb_frame_unref(b);
	sb_frame_unref(c);
}

/* Popped entries go back to the pool and the next push takes one from it:
 * no allocation per delivery once the pool holds enough. */
static void test_entries_from_pool(void **state)
{
	struct sb_queue q1, q2;
	struct sb_frame *f = frame_of(10, 'x');
	struct sb_qent *e;
	size_t before;

	(void)state;
	assert_int_equal(qinit(&q1, 1 << 20, 1 << 21, 100), SB_OK);
	assert_int_equal(qinit(&q2, 1 << 20, 1 << 21, 100), SB_OK);
	assert_int_equal(qpush(&q1, SB_Q_EVENT, f, NULL, 0, 0, 1), SB_OK);
	e = q1.head;
	before = pool.nfree;
	sb_queue_pop(&q1);
	assert_int_equal(pool.nfree, before + 1);
	assert_int_equal(qpush(&q2, SB_Q_STATUS, f, "team.1\x1f" "T", 0, 0, 1), SB_OK);
	assert_ptr_equal(q2.head, e);                        /* the same entry, reused */
	assert_int_equal(pool.nfree, before);
	assert_int_equal(q2.head->seq_first, 0);             /* and cleared */
	assert_string_equal(ekey(q2.head), "team.1\x1f" "T");
	drain(&q1);
	drain(&q2);
	assert_int_equal(pool.nfree, before + 1);
	sb_frame_unref(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fifo_and_references, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_not_below_soft, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear_releases_and_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_conflated_in_place_when_choked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_transitions_kept_when_keeping_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_conflated_past_soft_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_index_after_pops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_status_charged_once_superseded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_never_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logs_dropped_into_one_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_counts_batch_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_per_channel_and_statuses_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_gap_after_gap_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_bound_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl_over_hard_is_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_snapshot_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_only_while_behind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entries_from_pool, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
