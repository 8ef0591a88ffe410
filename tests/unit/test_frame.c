/* SPDX-License-Identifier: MIT
 *
 * test_frame.c - unit tests for frame.c: JSON string escaping
 * (exact bytes out, and the output parsed back by cJSON), UTF-8 validation
 * (valid sequences kept, invalid bytes, overlong forms, surrogates and
 * code points past U+10FFFF each become U+FFFD), reference counts of
 * messages and frames, and the SB_FRAME_PRE headroom the WebSocket library
 * writes into.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "frame.h"

#define FFFD "\xEF\xBF\xBD"

/* sb_buf_json_str(in[0..inlen)) must be exactly `want` (with quotes). */
static void expect_json(const char *in, size_t inlen, const char *want)
{
	struct sb_buf b;
	const char *got;

	sb_buf_init(&b);
	sb_buf_json_str(&b, in, inlen);
	got = sb_buf_str(&b);
	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("json_str: got [%s], want [%s]", got, want);
	assert_int_equal(b.len, strlen(want));
	/* and it is a JSON string cJSON accepts */
	{
		cJSON *j = cJSON_Parse(got);
		if (!cJSON_IsString(j))
			fail_msg("json_str output [%s] does not parse as a JSON string", got);
		cJSON_Delete(j);
	}
	sb_buf_free(&b);
}

#define EXPECT(lit, want) expect_json(lit, sizeof(lit) - 1, want)

static void test_json_plain_and_escapes(void **state)
{
	(void)state;
	EXPECT("", "\"\"");
	EXPECT("hello world", "\"hello world\"");
	EXPECT("say \"hi\"", "\"say \\\"hi\\\"\"");
	EXPECT("a\\b", "\"a\\\\b\"");
	EXPECT("\\\"", "\"\\\\\\\"\"");
	EXPECT("/", "\"/\"");                      /* '/' needs no escape */
	EXPECT("l1\nl2\r\tx", "\"l1\\nl2\\r\\tx\"");
	EXPECT("\x01\x08\x0c\x1f", "\"\\u0001\\u0008\\u000c\\u001f\"");
	EXPECT("a\0b", "\"a\\u0000b\"");           /* NUL inside, by length */
	EXPECT("\x7f", "\"\x7f\"");                 /* DEL is legal in JSON */
	EXPECT(" ~", "\" ~\"");
}

static void test_json_round_trip(void **state)
{
	static const char in[] = "q\"b\\s/\n\t\x01\x1f" "caf\xc3\xa9 \xe2\x82\xac";
	struct sb_buf b;
	cJSON *j;
	(void)state;

	sb_buf_init(&b);
	sb_buf_json_str(&b, in, sizeof(in) - 1);
	j = cJSON_Parse(sb_buf_str(&b));
	assert_true(cJSON_IsString(j));
	assert_int_equal(strlen(j->valuestring), sizeof(in) - 1);
	assert_memory_equal(j->valuestring, in, sizeof(in) - 1);
	cJSON_Delete(j);
	sb_buf_free(&b);
}

static void test_json_valid_utf8_kept(void **state)
{
	(void)state;
	EXPECT("caf\xc3\xa9", "\"caf\xc3\xa9\"");                 /* U+00E9 */
	EXPECT("\xc2\x80", "\"\xc2\x80\"");                       /* U+0080, lowest 2-byte */
	EXPECT("\xdf\xbf", "\"\xdf\xbf\"");                       /* U+07FF */
	EXPECT("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");               /* U+0800, lowest 3-byte */
	EXPECT("\xe2\x82\xac", "\"\xe2\x82\xac\"");               /* EURO SIGN */
	EXPECT("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");               /* U+D7FF, below surrogates */
	EXPECT("\xee\x80\x80", "\"\xee\x80\x80\"");               /* U+E000, above surrogates */
	EXPECT("\xef\xbf\xbf", "\"\xef\xbf\xbf\"");               /* U+FFFF */
	EXPECT("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\"");       /* U+10000, lowest 4-byte */
	EXPECT("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");       /* emoji */
	EXPECT("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");       /* U+10FFFF, the last */
	EXPECT("a\xc3\xa9\"\xe2\x82\xac", "\"a\xc3\xa9\\\"\xe2\x82\xac\"");
}

static void test_json_invalid_utf8_replaced(void **state)
{
	(void)state;
	/* stray continuation and bytes that never start a sequence */
	EXPECT("\x80", "\"" FFFD "\"");
	EXPECT("a\xbf" "b", "\"a" FFFD "b\"");
	EXPECT("\xff", "\"" FFFD "\"");
	EXPECT("\xfe", "\"" FFFD "\"");
	EXPECT("\xf8\x88\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD FFFD "\"");   /* 5-byte form */
	/* a lead byte without its continuation */
	EXPECT("\xc3(", "\"" FFFD "(\"");
	EXPECT("\xe2\x82", "\"" FFFD FFFD "\"");                 /* truncated at the end */
	EXPECT("\xe2\x82z", "\"" FFFD FFFD "z\"");
	EXPECT("\xf0\x9f\x98", "\"" FFFD FFFD FFFD "\"");
	/* the output is valid UTF-8 even then: cJSON parses it (checked in
	 * expect_json) */
}

static void test_json_overlong_rejected(void **state)
{
	(void)state;
	EXPECT("\xc0\xaf", "\"" FFFD FFFD "\"");                 /* '/' in 2 bytes */
	EXPECT("\xc1\xbf", "\"" FFFD FFFD "\"");
	EXPECT("\xc0\x80", "\"" FFFD FFFD "\"");                 /* "modified UTF-8" NUL */
	EXPECT("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");        /* '/' in 3 bytes */
	EXPECT("\xe0\x9f\xbf", "\"" FFFD FFFD FFFD "\"");        /* U+07FF in 3 bytes */
	EXPECT("\xf0\x80\x80\xaf", "\"" FFFD FFFD FFFD FFFD "\"");
	EXPECT("\xf0\x8f\xbf\xbf", "\"" FFFD FFFD FFFD FFFD "\""); /* U+FFFF in 4 bytes */
}

static void test_json_surrogates_and_range(void **state)
{
	(void)state;
	EXPECT("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");        /* U+D800 */
	EXPECT("\xed\xbf\xbf", "\"" FFFD FFFD FFFD "\"");        /* U+DFFF */
	/* CESU-8 pair for U+1F600 */
	EXPECT("\xed\xa0\xbd\xed\xb8\x80", "\"" FFFD FFFD FFFD FFFD FFFD FFFD "\"");
	EXPECT("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* U+110000 */
	EXPECT("\xf7\xbf\xbf\xbf", "\"" FFFD FFFD FFFD FFFD "\"");
}

static void test_buf_builder(void **state)
{
	struct sb_buf b;
	char big[1000];
	size_t head;
	(void)state;

	sb_buf_init(&b);
	/* an empty builder is an empty string, not NULL */
	assert_string_equal(sb_buf_str(&b), "");
	sb_buf_puts(&b, "{\"n\":");
	sb_buf_printf(&b, "%d,\"s\":%s", 42, "\"x\"");
	sb_buf_append(&b, "}", 1);
	assert_string_equal(sb_buf_str(&b), "{\"n\":42,\"s\":\"x\"}");
	assert_int_equal(b.len, strlen("{\"n\":42,\"s\":\"x\"}"));
	assert_int_equal(b.failed, 0);
	head = b.len;
	/* growth past the first allocation keeps the content */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sb_buf_printf(&b, "%s", big);
	sb_buf_puts(&b, big);
	assert_int_equal(b.len, head + 2 * (sizeof(big) - 1));
	assert_memory_equal(sb_buf_str(&b), "{\"n\":42", 7);
	assert_int_equal(sb_buf_str(&b)[b.len - 1], 'z');
	assert_true(b.cap >= b.len + 1);
	sb_buf_free(&b);
	assert_null(b.mem);
	assert_int_equal(b.len, 0);
}

static void test_frame_from_buf(void **state)
{
	struct sb_buf b;
	struct sb_frame *f;
	(void)state;

	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"op\":\"pong\"}");
	f = sb_buf_to_frame(&b);
	assert_non_null(f);
	/* the builder was reset and gave its memory away */
	assert_null(b.mem);
	assert_int_equal(b.len, 0);
	assert_int_equal(f->refs, 1);
	assert_int_equal(f->len, 13);
	assert_memory_equal(sb_frame_data(f), "{\"op\":\"pong\"}", 13);
	assert_int_equal(sb_frame_data(f)[f->len], '\0');
	/* headroom: data starts SB_FRAME_PRE bytes in and the bytes before it
	 * belong to the frame (the WebSocket library writes its header there) */
	assert_ptr_equal(sb_frame_data(f), f->mem + SB_FRAME_PRE);
	memset(f->mem, 0xAA, SB_FRAME_PRE);
	assert_memory_equal(sb_frame_data(f), "{\"op\":\"pong\"}", 13);
	assert_true(f->cap >= f->len);
	sb_frame_unref(f);

	/* an empty builder still makes a frame */
	sb_buf_init(&b);
	f = sb_buf_to_frame(&b);
	assert_non_null(f);
	assert_int_equal(f->len, 0);
	memset(f->mem, 0, SB_FRAME_PRE);
	sb_frame_unref(f);
}

static void test_frame_refcount(void **state)
{
	static const unsigned char bin[] = { 0, 1, 2, 0xff, 0 };
	struct sb_frame *f = sb_frame_create(bin, sizeof(bin));
	(void)state;

	assert_non_null(f);
	assert_int_equal(f->refs, 1);
	assert_int_equal(f->len, sizeof(bin));
	assert_memory_equal(sb_frame_data(f), bin, sizeof(bin));
	assert_ptr_equal(sb_frame_ref(f), f);
	assert_ptr_equal(sb_frame_ref(f), f);
	assert_int_equal(f->refs, 3);
	sb_frame_unref(f);
	assert_int_equal(f->refs, 2);
	sb_frame_unref(f);
	assert_int_equal(f->refs, 1);
	/* still usable with one reference left (ASan would flag a free) */
	assert_memory_equal(sb_frame_data(f), bin, sizeof(bin));
	sb_frame_unref(f);
	sb_frame_unref(NULL);   /* accepts NULL */
}

/* sb_frame_ws: a final unmasked text frame's header (RFC 6455 §5.2) in
 * the headroom, for each of the three length encodings, idempotent. */
static void test_frame_ws_header(void **state)
{
	static const size_t lens[] = { 0, 125, 126, 65535, 65536, 70000 };
	static char data[70000];

	(void)state;
	memset(data, 'x', sizeof(data));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct sb_frame *f = sb_frame_create(data, lens[i]);
		size_t wire, wire2, hl = lens[i] < 126 ? 2 : lens[i] < 65536 ? 4 : 10;
		unsigned char *h;

		assert_non_null(f);
		h = sb_frame_ws(f, &wire);
		assert_ptr_equal(h + hl, sb_frame_data(f));
		assert_int_equal(wire, lens[i] + hl);
		assert_int_equal(sb_ws_wire_len(lens[i]), wire);
		assert_true(h - f->mem >= SB_FRAME_PRE - SB_WS_HDR_MAX);
		assert_int_equal(h[0], 0x81);
		if (hl == 2) {
			assert_int_equal(h[1], lens[i]);      /* no mask bit */
		} else if (hl == 4) {
			assert_int_equal(h[1], 126);
			assert_int_equal((size_t)h[2] << 8 | h[3], lens[i]);
		} else {
			uint64_t n = 0;
			assert_int_equal(h[1], 127);
			for (int k = 0; k < 8; k++)
				n = n << 8 | h[2 + k];
			assert_int_equal(n, lens[i]);
		}
		assert_ptr_equal(sb_frame_ws(f, &wire2), h);   /* same bytes again */
		assert_int_equal(wire2, wire);
		sb_frame_unref(f);
	}
}

static void test_msg_create_and_refcount(void **state)
{
	static const char payload[] = "{\"a\":1}\0tail";
	int64_t before = sb_now_ms();
	struct sb_msg *m = sb_msg_create("team/42/app/x/status/extra", 19, payload,
					 sizeof(payload) - 1, 1);
	(void)state;

	assert_non_null(m);
	assert_int_equal(m->refs, 1);
	/* topic_len bytes copied and NUL-terminated */
	assert_string_equal(m->topic, "team/42/app/x/statu");
	assert_int_equal(m->topic_len, 19);
	/* payload may contain NULs; a NUL is appended after it */
	assert_int_equal(m->payload_len, sizeof(payload) - 1);
	assert_memory_equal(m->payload, payload, sizeof(payload) - 1);
	assert_int_equal(m->payload[m->payload_len], '\0');
	assert_int_equal(m->retained, 1);
	assert_true(m->arrived_ms >= before && m->arrived_ms <= sb_now_ms());
	assert_ptr_equal(sb_msg_ref(m), m);
	assert_int_equal(m->refs, 2);
	sb_msg_unref(m);
	assert_int_equal(m->refs, 1);
	assert_string_equal(m->topic, "team/42/app/x/statu");
	sb_msg_unref(m);
	sb_msg_unref(NULL);

	/* empty payload (a retained delete) */
	m = sb_msg_create("a/b", 3, NULL, 0, 0);
	assert_non_null(m);
	assert_int_equal(m->payload_len, 0);
	assert_non_null(m->payload);
	assert_string_equal(m->payload, "");
	assert_int_equal(m->retained, 0);
	sb_msg_unref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_plain_and_escapes),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_valid_utf8_kept),
		cmocka_unit_test(test_json_invalid_utf8_replaced),
		cmocka_unit_test(test_json_overlong_rejected),
		cmocka_unit_test(test_json_surrogates_and_range),
		cmocka_unit_test(test_buf_builder),
		cmocka_unit_test(test_frame_from_buf),
		cmocka_unit_test(test_frame_refcount),
		cmocka_unit_test(test_frame_ws_header),
		cmocka_unit_test(test_msg_create_and_refcount),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
