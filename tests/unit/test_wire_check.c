/* SPDX-License-Identifier: MIT
 *
 * test_wire_check.c - unit tests for domain/wire_check.c: request heads
 * walked to their byte and line bounds (and how much of the stream is
 * passed on), keep-alive requests and their bodies skipped by
 * Content-Length, the streams it leaves unchecked (chunked, HTTP/2), then
 * WebSocket frames after an upgrade: unmasked frames, announced lengths
 * in 7, 16 and 64 bits walked around max_frame_bytes, fragments adding
 * up, control frames, and every verdict found whatever the split of the
 * stream into reads (one byte at a time included).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb_common.h"
#include "wire_check.h"

static const struct sb_wire_limits lim = { .max_head_bytes = 200, .max_head_lines = 4,
					   .max_frame_bytes = 1000 };

#define UPGRADE "GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"

struct stream {
	unsigned char b[70000];
	size_t n;
};

static void put(struct stream *s, const void *p, size_t n)
{
	assert_true(s->n + n <= sizeof(s->b));
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void puts_(struct stream *s, const char *t)
{
	put(s, t, strlen(t));
}

/* A frame header (masked unless told), then `payload` bytes of payload. */
static void frame(struct stream *s, int fin, int opcode, uint64_t len, int mask, size_t payload)
{
	unsigned char h[14];
	size_t n = 0;

	h[n++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
	if (len < 126) {
		h[n++] = (unsigned char)((mask ? 0x80 : 0) | len);
	} else if (len < 65536) {
		h[n++] = (unsigned char)((mask ? 0x80 : 0) | 126);
		h[n++] = (unsigned char)(len >> 8);
		h[n++] = (unsigned char)len;
	} else {
		h[n++] = (unsigned char)((mask ? 0x80 : 0) | 127);
		for (int i = 7; i >= 0; i--)
			h[n++] = (unsigned char)(len >> (8 * i));
	}
	if (mask)
		for (int i = 0; i < 4; i++)
			h[n++] = 0x5a;
	put(s, h, n);
	for (size_t i = 0; i < payload; i++)
		put(s, "p", 1);
}

/* Feeds s in reads of `chunk` bytes (0: all at once); returns the bytes
 * passed on in all, with the verdict in *v. */
static size_t feed(const struct stream *s, size_t chunk, enum sb_wire_verdict *v)
{
	struct sb_wire_check w;
	size_t at = 0, passed = 0;

	sb_wire_check_init(&w, &lim);
	while (at < s->n) {
		size_t n = chunk && s->n - at > chunk ? chunk : s->n - at;
		size_t k = sb_wire_check_feed(&w, s->b + at, n);

		assert_true(k <= n);
		passed += k;
		if (k < n)
			assert_int_not_equal(w.verdict, SB_WIRE_OK);
		at += n;
	}
	*v = w.verdict;
	return passed;
}

/* The verdict is the same however the stream is cut into reads.  In one
 * read, exactly the bytes before the offending head or frame are passed
 * on; in several, also those of it that came in earlier reads (up to a
 * head's bytes, or a frame header's 14). */
static enum sb_wire_verdict judge(const struct stream *s, size_t want_passed)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 64 };
	enum sb_wire_verdict v0, v;
	size_t p = feed(s, 0, &v0);

	assert_int_equal(p, want_passed);
	for (size_t i = 0; i < SB_ARRAY_LEN(chunks); i++) {
		size_t q = feed(s, chunks[i], &v);

		assert_int_equal(v, v0);
		assert_true(q >= p);
		if (v == SB_WIRE_OK)
			assert_int_equal(q, p);
		else
			assert_true(q <= p + (v == SB_WIRE_HEAD_TOO_LARGE ? lim.max_head_bytes : 14));
	}
	return v0;
}

static void test_head_bytes_bound(void **state)
{
	struct stream s = { .n = 0 };
	char head[256];
	int pad;

	(void)state;
	/* exactly 200 bytes: passed; then one request of 201 */
	pad = 200 - (int)strlen("GET / HTTP/1.1\r\nX: \r\n\r\n");
	snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nX: %.*s\r\n\r\n", pad,
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	assert_int_equal(strlen(head), 200);
	puts_(&s, head);
	assert_int_equal(judge(&s, s.n), SB_WIRE_OK);
	snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nX: %.*s\r\n\r\n", pad + 1,
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	puts_(&s, head);
	/* the second head is refused from its first byte */
	assert_int_equal(judge(&s, 200), SB_WIRE_HEAD_TOO_LARGE);
}

static void test_head_lines_bound(void **state)
{
	struct stream s = { .n = 0 };

	(void)state;
	/* the request line and 4 header lines */
	puts_(&s, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
	assert_int_equal(judge(&s, s.n), SB_WIRE_OK);
	s.n = 0;
	puts_(&s, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n");
	assert_int_equal(judge(&s, 0), SB_WIRE_HEAD_TOO_LARGE);
	/* blank lines before a request are not lines of it (nor bytes) */
	s.n = 0;
	for (int i = 0; i < 150; i++)
		puts_(&s, "\r\n");
	puts_(&s, "GET / HTTP/1.1\r\nA: 1\r\n\r\n");
	assert_int_equal(judge(&s, s.n), SB_WIRE_OK);
}

static void test_bodies_are_skipped(void **state)
{
	struct stream s = { .n = 0 };
	static char body[3000];

	(void)state;
	/* a body of blank lines and header-like text, larger than a head */
	for (size_t i = 0; i + 4 <= sizeof(body); i += 4)
		memcpy(body + i, "\r\n:\n", 4);
	puts_(&s, "POST /x HTTP/1.1\r\nContent-Length:  3000\r\n\r\n");
	put(&s, body, sizeof(body));
	puts_(&s, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(judge(&s, s.n), SB_WIRE_OK);
	/* a zero length is no body: the next head follows at once */
	s.n = 0;
	puts_(&s, "GET / HTTP/1.1\r\ncontent-length: 0\r\n\r\n" UPGRADE);
	frame(&s, 1, 1, 5, 0, 5);
	assert_int_equal(judge(&s, s.n - 7), SB_WIRE_UNMASKED);
}

static void test_unfollowable_streams_are_left_unchecked(void **state)
{
	static const char *const heads[] = {
		"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length:\r\n\r\n",
		"POST /x HTTP/1.1\r\nContent-Length: 123456789012345678901234567890\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.1\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < SB_ARRAY_LEN(heads); i++) {
		struct stream s = { .n = 0 };

		puts_(&s, heads[i]);
		/* what follows is not looked at: not even a head too large */
		for (int k = 0; k < 400; k++)
			puts_(&s, "x");
		assert_int_equal(judge(&s, s.n), SB_WIRE_OK);
	}
}

static void test_unmasked_frames(void **state)
{
	struct stream s = { .n = 0 };
	size_t upgrade = strlen(UPGRADE);

	(void)state;
	puts_(&s, UPGRADE);
	frame(&s, 1, 1, 5, 1, 5);
	frame(&s, 1, 9, 0, 1, 0);     /* a masked ping */
	assert_int_equal(judge(&s, s.n), SB_WIRE_OK);
	frame(&s, 1, 10, 0, 0, 0);    /* an unmasked pong */
	assert_int_equal(judge(&s, upgrade + 11 + 6), SB_WIRE_UNMASKED);
	/* an unmasked frame right after the upgrade: nothing of it passes */
	s.n = 0;
	puts_(&s, UPGRADE);
	frame(&s, 1, 1, 2, 0, 2);
	assert_int_equal(judge(&s, upgrade), SB_WIRE_UNMASKED);
	/* Upgrade is matched without regard to case or blanks around it */
	s.n = 0;
	puts_(&s, "GET /v1/ws HTTP/1.1\r\nupgrade:  WebSocket \r\n\r\n");
	frame(&s, 1, 1, 2, 0, 2);
	assert_int_equal(judge(&s, s.n - 4), SB_WIRE_UNMASKED);
	/* as lws, a list is no upgrade (403, the connection stays HTTP): what
	 * follows is a request head again */
	s.n = 0;
	puts_(&s, "GET /v1/ws HTTP/1.1\r\nUpgrade: h2c, websocket\r\n\r\n");
	puts_(&s, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n");
	assert_int_equal(judge(&s, strlen("GET /v1/ws HTTP/1.1\r\nUpgrade: h2c, websocket\r\n\r\n")),
			 SB_WIRE_HEAD_TOO_LARGE);
}

static void test_announced_lengths(void **state)
{
	static const uint64_t fine[] = { 0, 125, 126, 999, 1000 };
	static const uint64_t over[] = { 1001, 65535, 65536, (uint64_t)1 << 62, UINT64_MAX };
	size_t upgrade = strlen(UPGRADE);

	(void)state;
	for (size_t i = 0; i < SB_ARRAY_LEN(fine); i++) {
		struct stream s = { .n = 0 };

		puts_(&s, UPGRADE);
		frame(&s, 1, 2, fine[i], 1, (size_t)fine[i]);
		frame(&s, 1, 1, 1, 1, 1);
		assert_int_equal(judge(&s, s.n), SB_WIRE_OK);
	}
	for (size_t i = 0; i < SB_ARRAY_LEN(over); i++) {
		struct stream s = { .n = 0 };

		puts_(&s, UPGRADE);
		frame(&s, 1, 1, 3, 1, 3);
		/* the header alone, no payload behind it */
		frame(&s, 1, 1, over[i], 1, 0);
		assert_int_equal(judge(&s, upgrade + 9), SB_WIRE_FRAME_TOO_LARGE);
	}
}

static void test_fragments_add_up(void **state)
{
	struct stream s = { .n = 0 };
	size_t upgrade = strlen(UPGRADE);

	(void)state;
	puts_(&s, UPGRADE);
	frame(&s, 0, 1, 400, 1, 400);
	frame(&s, 1, 9, 4, 1, 4);         /* a ping between fragments */
	frame(&s, 0, 0, 400, 1, 400);
	frame(&s, 1, 0, 200, 1, 200);     /* 1000 in all */
	frame(&s, 1, 1, 1000, 1, 1000);   /* a new message starts from 0 */
	assert_int_equal(judge(&s, s.n), SB_WIRE_OK);
	s.n = 0;
	puts_(&s, UPGRADE);
	frame(&s, 0, 1, 400, 1, 400);
	frame(&s, 0, 0, 400, 1, 400);
	frame(&s, 1, 0, 201, 1, 0);       /* 1001 */
	assert_int_equal(judge(&s, upgrade + 2 * (8 + 400)), SB_WIRE_FRAME_TOO_LARGE);
}

static void test_after_a_verdict_nothing_passes(void **state)
{
	struct sb_wire_check w;
	struct stream s = { .n = 0 };

	(void)state;
	puts_(&s, UPGRADE);
	frame(&s, 1, 1, 1, 0, 1);
	sb_wire_check_init(&w, &lim);
	assert_int_equal(sb_wire_check_feed(&w, s.b, s.n), strlen(UPGRADE));
	assert_int_equal(sb_wire_check_feed(&w, s.b, s.n), 0);
	assert_int_equal(w.verdict, SB_WIRE_UNMASKED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_bytes_bound),
		cmocka_unit_test(test_head_lines_bound),
		cmocka_unit_test(test_bodies_are_skipped),
		cmocka_unit_test(test_unfollowable_streams_are_left_unchecked),
		cmocka_unit_test(test_unmasked_frames),
		cmocka_unit_test(test_announced_lengths),
		cmocka_unit_test(test_fragments_add_up),
		cmocka_unit_test(test_after_a_verdict_nothing_passes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
