/* SPDX-License-Identifier: MIT
 *
 * test_history.c - unit tests for history.c, the ring of a log channel's
 * recent lines that `since` resumes (docs/protocol.md §5.9) and
 * /v1/history (§7) read: it is bounded by lines and by payload bytes
 * (§3.2 history_lines, history_bytes) and drops the oldest line first;
 * first_seq, find, holds and holes answer what it holds and which ranges
 * of seq it lacks (the holes that become gaps).  The ring holds its own
 * message references: every test keeps a reference of its own to check
 * the count, and ASan reports a leak or a double free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "history.h"

#define TOPIC "deploy/0b8f7c1e-1111-2222-3333-444455556666/logs"

/* A line of `bytes` payload bytes with that seq; refs = 1 (the caller's). */
static struct sb_msg *line(int64_t seq, size_t bytes)
{
	char payload[256];
	struct sb_msg *m;

	assert_true(bytes < sizeof(payload));
	memset(payload, 'x', bytes);
	m = sb_msg_create(TOPIC, strlen(TOPIC), payload, bytes, 0);
	assert_non_null(m);
	m->seq = seq;
	return m;
}

/* Adds a fresh line and drops the caller's reference: the ring keeps it. */
static void add(struct sb_history *h, int64_t seq, size_t bytes)
{
	struct sb_msg *m = line(seq, bytes);

	assert_int_equal(sb_history_add(h, m), SB_OK);
	sb_msg_unref(m);
}

/* The ring holds exactly these seqs, oldest first, and `bytes` in all. */
static void expect_seqs(const struct sb_history *h, const int64_t *want, size_t n)
{
	size_t bytes = 0;

	if (h->count != n)
		fail_msg("ring holds %zu lines, want %zu", h->count, n);
	for (size_t i = 0; i < n; i++) {
		if (sb_history_at(h, i)->seq != want[i])
			fail_msg("line %zu has seq %lld, want %lld", i,
				 (long long)sb_history_at(h, i)->seq, (long long)want[i]);
		bytes += sb_history_at(h, i)->payload_len;
	}
	assert_int_equal(h->bytes, bytes);
	assert_int_equal(sb_history_first_seq(h), n ? want[0] : 0);
}

#define SEQS(h, ...) do { \
	const int64_t want_[] = { __VA_ARGS__ }; \
	expect_seqs(h, want_, sizeof(want_) / sizeof(want_[0])); \
} while (0)

/* ---- holes collection -------------------------------------------------------- */

#define MAXHOLES 64
struct holes {
	size_t n;
	int64_t from[MAXHOLES], to[MAXHOLES];
};

static void collect(int64_t from, int64_t to, void *user)
{
	struct holes *s = user;

	assert_true(s->n < MAXHOLES);
	assert_true(from <= to);
	s->from[s->n] = from;
	s->to[s->n] = to;
	s->n++;
}

/* holes(from, to) reports exactly the ranges in want (pairs), in order. */
static void expect_holes(const struct sb_history *h, int64_t from, int64_t to,
			 const int64_t *want, size_t npairs)
{
	struct holes s = { 0 };

	sb_history_holes(h, from, to, collect, &s);
	if (s.n != npairs)
		fail_msg("holes(%lld, %lld): %zu ranges, want %zu", (long long)from,
			 (long long)to, s.n, npairs);
	for (size_t i = 0; i < npairs; i++)
		if (s.from[i] != want[2 * i] || s.to[i] != want[2 * i + 1])
			fail_msg("holes(%lld, %lld) #%zu: [%lld, %lld], want [%lld, %lld]",
				 (long long)from, (long long)to, i, (long long)s.from[i],
				 (long long)s.to[i], (long long)want[2 * i],
				 (long long)want[2 * i + 1]);
}

#define HOLES(h, from, to, ...) do { \
	const int64_t want_[] = { __VA_ARGS__ }; \
	expect_holes(h, from, to, want_, sizeof(want_) / sizeof(want_[0]) / 2); \
} while (0)
#define NO_HOLES(h, from, to) expect_holes(h, from, to, NULL, 0)

/* The ring the find, holds and holes tests read: 3 4 5 . 7 8 */
static void ring_3_to_8_without_6(struct sb_history *h)
{
	sb_history_init(h, 10, 1000);
	add(h, 3, 1);
	add(h, 4, 1);
	add(h, 5, 1);
	add(h, 7, 1);
	add(h, 8, 1);
}

/* ---- tests ------------------------------------------------------------------- */

static void test_empty(void **state)
{
	struct sb_history h;
	(void)state;

	sb_history_init(&h, 10, 1000);
	/* nothing is allocated before the first line */
	assert_null(h.ring);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.bytes, 0);
	assert_int_equal(sb_history_first_seq(&h), 0);
	assert_int_equal(sb_history_find(&h, 1), 0);
	assert_int_equal(sb_history_find(&h, 0), 0);
	assert_false(sb_history_holds(&h, 1, 1));
	assert_true(sb_history_holds(&h, 5, 4));   /* an empty range is held */
	HOLES(&h, 1, 3, 1, 3);
	NO_HOLES(&h, 4, 3);
	sb_history_clear(&h);
	assert_null(h.ring);
	assert_int_equal(h.max_lines, 10);
}

static void test_references(void **state)
{
	struct sb_history h;
	struct sb_msg *a = line(1, 5), *b = line(2, 5);
	(void)state;

	sb_history_init(&h, 4, 1000);
	assert_int_equal(sb_history_add(&h, a), SB_OK);
	assert_int_equal(sb_history_add(&h, b), SB_OK);
	/* the ring took one reference each, and gives back the same message */
	assert_int_equal(a->refs, 2);
	assert_int_equal(b->refs, 2);
	assert_ptr_equal(sb_history_at(&h, 0), a);
	assert_ptr_equal(sb_history_at(&h, 1), b);
	assert_int_equal(h.bytes, 10);
	sb_history_clear(&h);
	/* clear released them once, and only once */
	assert_int_equal(a->refs, 1);
	assert_int_equal(b->refs, 1);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.bytes, 0);
	assert_int_equal(sb_history_first_seq(&h), 0);
	sb_msg_unref(a);
	sb_msg_unref(b);
}

static void test_bound_by_lines(void **state)
{
	struct sb_history h;
	struct sb_msg *m[6];
	(void)state;

	sb_history_init(&h, 3, 1 << 20);
	for (int i = 0; i < 6; i++) {
		m[i] = line(i + 1, 3);
		assert_int_equal(sb_history_add(&h, m[i]), SB_OK);
	}
	SEQS(&h, 4, 5, 6);
	/* the evicted lines were released by the ring, the kept ones not */
	for (int i = 0; i < 6; i++)
		assert_int_equal(m[i]->refs, i < 3 ? 1 : 2);
	assert_int_equal(h.bytes, 9);
	for (int i = 0; i < 6; i++)
		sb_msg_unref(m[i]);
	sb_history_clear(&h);
}

static void test_wraps_around(void **state)
{
	struct sb_history h;
	(void)state;

	/* many times round the ring: order, first_seq and find stay right */
	sb_history_init(&h, 5, 1 << 20);
	for (int64_t s = 1; s <= 103; s++) {
		add(&h, s * 2, 1);
		if (s >= 5)
			assert_int_equal(sb_history_first_seq(&h), (s - 4) * 2);
	}
	SEQS(&h, 198, 200, 202, 204, 206);
	assert_int_equal(sb_history_find(&h, 197), 0);
	assert_int_equal(sb_history_find(&h, 198), 0);
	assert_int_equal(sb_history_find(&h, 199), 1);
	assert_int_equal(sb_history_find(&h, 206), 4);
	assert_int_equal(sb_history_find(&h, 207), 5);
	sb_history_clear(&h);
}

static void test_bound_by_bytes(void **state)
{
	struct sb_history h;
	(void)state;

	sb_history_init(&h, 100, 10);
	add(&h, 1, 4);
	add(&h, 2, 4);
	add(&h, 3, 2);   /* exactly at the bound: nothing dropped */
	SEQS(&h, 1, 2, 3);
	assert_int_equal(h.bytes, 10);
	add(&h, 4, 1);   /* one byte over: the oldest goes */
	SEQS(&h, 2, 3, 4);
	assert_int_equal(h.bytes, 7);
	add(&h, 5, 8);   /* drops oldest-first until it fits: 2 and 3, not 4 */
	SEQS(&h, 4, 5);
	assert_int_equal(h.bytes, 9);
	add(&h, 6, 9);   /* everything else goes */
	SEQS(&h, 6);
	add(&h, 7, 0);   /* an empty line costs nothing */
	SEQS(&h, 6, 7);
	assert_int_equal(h.bytes, 9);
	sb_history_clear(&h);
}

static void test_line_over_byte_bound(void **state)
{
	struct sb_history h;
	(void)state;

	/* a line larger than the whole byte bound replaces everything and is
	 * kept alone, so the newest line is always there to resume from */
	sb_history_init(&h, 10, 8);
	add(&h, 1, 3);
	add(&h, 2, 3);
	add(&h, 3, 20);
	SEQS(&h, 3);
	add(&h, 4, 2);   /* and is the first to go */
	SEQS(&h, 4);
	sb_history_clear(&h);

	/* max_bytes 0: every line replaces the previous one */
	sb_history_init(&h, 10, 0);
	add(&h, 1, 1);
	add(&h, 2, 1);
	SEQS(&h, 2);
	sb_history_clear(&h);
}

static void test_no_lines_kept(void **state)
{
	struct sb_history h;
	struct sb_msg *m = line(1, 3);
	(void)state;

	/* history_lines 0 (the default of a batch channel): nothing kept,
	 * nothing allocated, no reference taken */
	sb_history_init(&h, 0, 1000);
	assert_int_equal(sb_history_add(&h, m), SB_OK);
	assert_int_equal(m->refs, 1);
	assert_int_equal(h.count, 0);
	assert_null(h.ring);
	HOLES(&h, 1, 1, 1, 1);
	sb_history_clear(&h);
	sb_msg_unref(m);
}

static void test_clear_keeps_bounds(void **state)
{
	struct sb_history h;
	(void)state;

	sb_history_init(&h, 2, 100);
	add(&h, 1, 1);
	add(&h, 2, 1);
	add(&h, 3, 1);
	sb_history_clear(&h);
	assert_null(h.ring);
	assert_int_equal(h.max_lines, 2);
	assert_int_equal(h.max_bytes, 100);
	/* usable again, with the same bounds */
	add(&h, 7, 1);
	add(&h, 8, 1);
	add(&h, 9, 1);
	SEQS(&h, 8, 9);
	sb_history_clear(&h);
	sb_history_clear(&h);   /* twice is harmless */
}

static void test_find(void **state)
{
	struct sb_history h;
	(void)state;

	ring_3_to_8_without_6(&h);
	assert_int_equal(sb_history_find(&h, INT64_MIN), 0);
	assert_int_equal(sb_history_find(&h, 0), 0);
	assert_int_equal(sb_history_find(&h, 3), 0);
	assert_int_equal(sb_history_find(&h, 5), 2);
	assert_int_equal(sb_history_find(&h, 6), 3);   /* in the hole: the next line */
	assert_int_equal(sb_history_find(&h, 7), 3);
	assert_int_equal(sb_history_find(&h, 8), 4);
	assert_int_equal(sb_history_find(&h, 9), 5);   /* past the newest: count */
	assert_int_equal(sb_history_find(&h, INT64_MAX), 5);
	sb_history_clear(&h);
}

static void test_holds(void **state)
{
	struct sb_history h;
	(void)state;

	ring_3_to_8_without_6(&h);
	assert_true(sb_history_holds(&h, 3, 5));
	assert_true(sb_history_holds(&h, 4, 4));
	assert_true(sb_history_holds(&h, 7, 8));
	assert_true(sb_history_holds(&h, 9, 8));    /* empty */
	assert_true(sb_history_holds(&h, 100, 1));  /* empty */
	assert_false(sb_history_holds(&h, 3, 8));   /* the hole at 6 */
	assert_false(sb_history_holds(&h, 5, 7));
	assert_false(sb_history_holds(&h, 6, 6));
	assert_false(sb_history_holds(&h, 2, 3));   /* before the oldest */
	assert_false(sb_history_holds(&h, 1, 1));
	assert_false(sb_history_holds(&h, 8, 9));   /* after the newest */
	assert_false(sb_history_holds(&h, 9, 9));
	assert_false(sb_history_holds(&h, 0, 100));
	sb_history_clear(&h);
}

static void test_holes(void **state)
{
	struct sb_history h;
	(void)state;

	ring_3_to_8_without_6(&h);
	/* before the oldest, between two lines, after the newest */
	HOLES(&h, 1, 10, 1, 2, 6, 6, 9, 10);
	HOLES(&h, 3, 8, 6, 6);
	HOLES(&h, 5, 7, 6, 6);
	HOLES(&h, 6, 10, 6, 6, 9, 10);   /* starting inside a hole */
	HOLES(&h, 6, 6, 6, 6);
	HOLES(&h, 1, 1, 1, 1);
	HOLES(&h, 2, 3, 2, 2);
	HOLES(&h, 0, 2, 0, 2);
	HOLES(&h, 9, 9, 9, 9);
	HOLES(&h, 1, 4, 1, 2);           /* ends inside the lines */
	HOLES(&h, 4, 6, 6, 6);           /* ends inside a hole: cut at to */
	NO_HOLES(&h, 3, 5);
	NO_HOLES(&h, 4, 4);
	NO_HOLES(&h, 7, 8);
	NO_HOLES(&h, 8, 7);              /* empty */
	sb_history_clear(&h);
}

/* What a sorted ring of distinct seqs holds, checked the slow way. */
static int model_has(const int64_t *seqs, size_t n, int64_t s)
{
	for (size_t i = 0; i < n; i++)
		if (seqs[i] == s)
			return 1;
	return 0;
}

/* The index of the first seq >= s, the slow way. */
static size_t model_find(const int64_t *seqs, size_t n, int64_t s)
{
	size_t k = 0;

	while (k < n && seqs[k] < s)
		k++;
	return k;
}

static void test_against_model(void **state)
{
	struct sb_history h;
	uint32_t rnd = 12345;
	(void)state;

	/* random rings (random gaps, evictions by both bounds) checked
	 * against a brute-force reading for every range in [0, last + 2] */
	for (int round = 0; round < 40; round++) {
		int64_t seq = 0, seqs[64];
		size_t n = 0;

		sb_history_init(&h, 1 + round % 12, 40 + (size_t)round * 3);
		for (int i = 0; i < 30; i++) {
			rnd = rnd * 1103515245u + 12345u;
			seq += 1 + (rnd >> 16) % 3;
			add(&h, seq, (rnd >> 8) % 9);
		}
		for (size_t i = 0; i < h.count; i++)
			seqs[n++] = sb_history_at(&h, i)->seq;
		for (size_t i = 1; i < n; i++)
			assert_true(seqs[i - 1] < seqs[i]);
		assert_true(h.count <= h.max_lines);
		assert_true(h.count == 1 || h.bytes <= h.max_bytes);
		for (int64_t from = 0; from <= seq + 2; from++) {
			for (int64_t to = from - 1; to <= seq + 2; to++) {
				struct holes s = { 0 };
				int64_t want_next = from;
				int held = 1;

				for (int64_t x = from; x <= to; x++)
					held &= model_has(seqs, n, x);
				assert_int_equal(sb_history_holds(&h, from, to), held);
				/* the holes cover exactly the seqs not held, in order */
				sb_history_holes(&h, from, to, collect, &s);
				for (size_t k = 0; k < s.n; k++) {
					assert_true(s.from[k] >= want_next);
					for (int64_t x = want_next; x < s.from[k]; x++)
						assert_true(model_has(seqs, n, x));
					for (int64_t x = s.from[k]; x <= s.to[k]; x++)
						assert_false(model_has(seqs, n, x));
					/* maximal: a hole ends at a held seq or at to */
					assert_true(s.to[k] == to || model_has(seqs, n, s.to[k] + 1));
					want_next = s.to[k] + 1;
				}
				for (int64_t x = want_next; x <= to; x++)
					assert_true(model_has(seqs, n, x));
				assert_int_equal(held, s.n == 0);
			}
			assert_int_equal(sb_history_find(&h, from), model_find(seqs, n, from));
		}
		sb_history_clear(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_bound_by_lines),
		cmocka_unit_test(test_wraps_around),
		cmocka_unit_test(test_bound_by_bytes),
		cmocka_unit_test(test_line_over_byte_bound),
		cmocka_unit_test(test_no_lines_kept),
		cmocka_unit_test(test_clear_keeps_bounds),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_holds),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
