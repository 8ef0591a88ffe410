/* SPDX-License-Identifier: MIT
 *
 * fuzz_wire_check.c - the raw-stream checks (domain/wire_check.c) on
 * whatever a client may send: request heads, bodies, WebSocket frames.
 * The first bytes choose the limits (small, so that bounds are reached)
 * and how the rest is cut into reads; the rest is the stream.  Oracles:
 * the verdict does not depend on how the stream is cut; fed in one read,
 * the bytes passed on stop exactly at the offending head or frame, and
 * cut into reads, they are at least those and at most one head or frame
 * header more; a read never passes more than it got; after a verdict
 * nothing passes.
 */
#include "fuzz_common.h"

#include "wire_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* Feeds s[0..n) in reads whose sizes come from `cuts` (NULL: one read). */
static size_t feed(const struct sb_wire_limits *lim, const uint8_t *s, size_t n,
		   struct fz *cuts, enum sb_wire_verdict *v)
{
	struct sb_wire_check w;
	size_t at = 0, passed = 0;

	sb_wire_check_init(&w, lim);
	while (at < n) {
		size_t len = n - at, k;
		enum sb_wire_verdict before = w.verdict;

		if (cuts) {
			size_t c = (size_t)fz_u8(cuts) + 1;

			len = c < len ? c : len;
		}
		k = sb_wire_check_feed(&w, s + at, len);
		FZ_CHECK(k <= len, "passed %zu of a read of %zu", k, len);
		FZ_CHECK(!before || k == 0, "%zu bytes passed after a verdict", k);
		FZ_CHECK(k == len || w.verdict, "a short read without a verdict");
		passed += k;
		at += len;
	}
	*v = w.verdict;
	return passed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size }, cuts;
	struct sb_wire_limits lim;
	enum sb_wire_verdict v0, v;
	size_t p0, p, ncuts;

	lim.max_head_bytes = 16 + fz_u8(&f) * 2;
	lim.max_head_lines = 1 + fz_u8(&f) % 8;
	lim.max_frame_bytes = fz_u16(&f);
	fz_bytes(&f, 64, &ncuts);
	cuts = (struct fz){ f.p - ncuts, ncuts };
	p0 = feed(&lim, f.p, f.n, NULL, &v0);
	FZ_CHECK(p0 <= f.n, "passed %zu of %zu", p0, f.n);
	FZ_CHECK(v0 || p0 == f.n, "no verdict, %zu of %zu passed", p0, f.n);
	p = feed(&lim, f.p, f.n, ncuts ? &cuts : NULL, &v);
	FZ_CHECK(v == v0, "verdict %d in one read, %d in several", v0, v);
	FZ_CHECK(p >= p0 && p <= p0 + (v == SB_WIRE_HEAD_TOO_LARGE ? lim.max_head_bytes : 14),
		 "passed %zu in several reads, %zu in one", p, p0);
	return 0;
}
