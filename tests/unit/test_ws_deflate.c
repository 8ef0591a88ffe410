/* SPDX-License-Identifier: MIT
 *
 * test_ws_deflate.c - unit tests for ws_deflate.c: frame headers (frame.c's
 * writer, with RSV1) at the 7/16/64-bit length boundaries, a compressed frame that an RFC 7692
 * receiver (zlib inflate with 00 00 ff ff appended) turns back into the
 * exact payload, the same bytes for the same message whatever was
 * compressed before (no context carried, so one frame serves every
 * connection), a receiver that keeps its context across messages (context
 * takeover, as browsers do) decoding a run of them, "no gain" for short or
 * random payloads, and bad arguments refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "ws_deflate.h"

static void test_header_lengths(void **state)
{
	unsigned char h[10];
	(void)state;

	assert_int_equal(sb_ws_header_len(0), 2);
	assert_int_equal(sb_ws_header_len(125), 2);
	assert_int_equal(sb_ws_header_len(126), 4);
	assert_int_equal(sb_ws_header_len(65535), 4);
	assert_int_equal(sb_ws_header_len(65536), 10);

	sb_ws_header(h, 125, 0);
	assert_int_equal(h[0], 0x81);
	assert_int_equal(h[1], 125);
	sb_ws_header(h, 300, 1);
	assert_int_equal(h[0], 0xc1);   /* FIN | RSV1 | text */
	assert_int_equal(h[1], 126);
	assert_int_equal(h[2] << 8 | h[3], 300);
	sb_ws_header(h, 70000, 1);
	assert_int_equal(h[1], 127);
	assert_int_equal(h[7] << 16 | h[8] << 8 | h[9], 70000);
	assert_int_equal(h[2] | h[3] | h[4] | h[5] | h[6], 0);
}

/* A log batch like the bridge sends: repetitive JSON. */
static char *batch(int lines, int salt, size_t *len)
{
	size_t cap = (size_t)lines * 120 + 64, n = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	n += (size_t)snprintf(s + n, cap - n, "{\"op\":\"batch\",\"channel\":\"deploy.x.logs\",\"events\":[");
	for (int i = 0; i < lines; i++)
		n += (size_t)snprintf(s + n, cap - n,
				      "%s{\"seq\":%d,\"stream\":\"stdout\",\"line\":\"step %d of salt %d\"}",
				      i ? "," : "", i + 1, i, salt);
	n += (size_t)snprintf(s + n, cap - n, "]}");
	*len = n;
	return s;
}

/* Parses the frame header; returns the payload and its length. */
static const unsigned char *payload_of(const struct sb_frame *f, size_t *plen)
{
	const unsigned char *p = sb_frame_data(f);
	size_t n = p[1] & 0x7f, off = 2;

	assert_int_equal(p[0], 0xc1);
	assert_int_equal(p[1] & 0x80, 0);  /* servers never mask */
	if (n == 126) {
		n = (size_t)p[2] << 8 | p[3];
		off = 4;
	} else if (n == 127) {
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | p[2 + i];
		off = 10;
	}
	assert_int_equal(off + n, f->len);
	*plen = n;
	return p + off;
}

/* Inflates one message on `zs` (a receiver's context), appending the
 * removed 00 00 ff ff; out gets the text. */
static size_t inflate_msg(z_stream *zs, const unsigned char *in, size_t len,
			  unsigned char *out, size_t cap)
{
	unsigned char tail[] = { 0, 0, 0xff, 0xff };

	zs->next_out = out;
	zs->avail_out = (uInt)cap;
	zs->next_in = (Bytef *)(uintptr_t)in;
	zs->avail_in = (uInt)len;
	assert_int_equal(inflate(zs, Z_SYNC_FLUSH), Z_OK);
	zs->next_in = tail;
	zs->avail_in = 4;
	int rc = inflate(zs, Z_SYNC_FLUSH);
	assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
	assert_int_equal(zs->avail_in, 0);
	return cap - zs->avail_out;
}

static void test_roundtrip_and_shared_bytes(void **state)
{
	struct sb_wsdeflate *d;
	struct sb_frame *a, *b, *other;
	const char *why;
	size_t len, olen, plen;
	char *msg = batch(50, 1, &len), *omsg = batch(30, 2, &olen);
	unsigned char out[16384];
	z_stream zs;
	(void)state;

	assert_int_equal(sb_wsdeflate_create(&d, 6, 15), SB_OK);
	a = sb_wsdeflate_frame(d, msg, len, &why);
	assert_non_null(a);
	assert_true(a->len < len / 3);      /* a log batch compresses well */
	other = sb_wsdeflate_frame(d, omsg, olen, &why);
	assert_non_null(other);
	b = sb_wsdeflate_frame(d, msg, len, &why);
	assert_non_null(b);
	/* no context carried: the same message gives the same bytes */
	assert_int_equal(a->len, b->len);
	assert_memory_equal(sb_frame_data(a), sb_frame_data(b), a->len);

	/* a receiver with context takeover decodes a, other, b in a row */
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, -15), Z_OK);
	const unsigned char *p = payload_of(a, &plen);
	assert_int_equal(inflate_msg(&zs, p, plen, out, sizeof(out)), len);
	assert_memory_equal(out, msg, len);
	p = payload_of(other, &plen);
	assert_int_equal(inflate_msg(&zs, p, plen, out, sizeof(out)), olen);
	assert_memory_equal(out, omsg, olen);
	p = payload_of(b, &plen);
	assert_int_equal(inflate_msg(&zs, p, plen, out, sizeof(out)), len);
	assert_memory_equal(out, msg, len);
	inflateEnd(&zs);

	unsigned long long n, in, zout;
	sb_wsdeflate_stats(d, &n, &in, &zout);
	assert_int_equal(n, 3);
	assert_int_equal(in, 2 * len + olen);
	assert_int_equal(zout, a->len + b->len + other->len);

	sb_frame_unref(a);
	sb_frame_unref(b);
	sb_frame_unref(other);
	sb_wsdeflate_destroy(d);
	free(msg);
	free(omsg);
}

static void test_large_frame_header(void **state)
{
	struct sb_wsdeflate *d;
	const char *why;
	size_t len, plen;
	char *msg = batch(2000, 3, &len);    /* > 64 KiB before and after */
	(void)state;

	assert_int_equal(sb_wsdeflate_create(&d, 1, 9), SB_OK);
	struct sb_frame *f = sb_wsdeflate_frame(d, msg, len, &why);
	assert_non_null(f);
	payload_of(f, &plen);
	assert_true(plen > 125);
	sb_frame_unref(f);
	sb_wsdeflate_destroy(d);
	free(msg);
}

static void test_no_gain(void **state)
{
	struct sb_wsdeflate *d;
	const char *why = NULL;
	unsigned char rnd[400];
	(void)state;

	assert_int_equal(sb_wsdeflate_create(&d, 6, 15), SB_OK);
	assert_null(sb_wsdeflate_frame(d, "{}", 2, &why));
	assert_string_equal(why, "no gain");
	srand(7);
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (unsigned char)rand();
	why = NULL;
	assert_null(sb_wsdeflate_frame(d, rnd, sizeof(rnd), &why));
	assert_string_equal(why, "no gain");
	sb_wsdeflate_destroy(d);
}

static void test_bad_arguments(void **state)
{
	struct sb_wsdeflate *d = (void *)1;
	(void)state;

	assert_int_equal(sb_wsdeflate_create(&d, 0, 15), SB_ERR_INVAL);
	assert_null(d);
	assert_int_equal(sb_wsdeflate_create(&d, 10, 15), SB_ERR_INVAL);
	assert_int_equal(sb_wsdeflate_create(&d, 6, 8), SB_ERR_INVAL);
	assert_int_equal(sb_wsdeflate_create(&d, 6, 16), SB_ERR_INVAL);
	sb_wsdeflate_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_lengths),
		cmocka_unit_test(test_roundtrip_and_shared_bytes),
		cmocka_unit_test(test_large_frame_header),
		cmocka_unit_test(test_no_gain),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
