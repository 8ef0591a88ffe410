/* SPDX-License-Identifier: MIT
 *
 * ws_deflate.c - shared permessage-deflate compressor (see ws_deflate.h).
 */
#include "ws_deflate.h"

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <zlib.h>

struct sb_wsdeflate {
	z_stream z;
	unsigned long long msgs, in, out;
	unsigned char *buf;   /* scratch: header room + compressed bytes */
	size_t cap;
};

enum sb_err sb_wsdeflate_create(struct sb_wsdeflate **out, int level, int window_bits)
{
	struct sb_wsdeflate *d;

	*out = NULL;
	if (level < 1 || level > 9 || window_bits < 9 || window_bits > 15)
		return SB_ERR_INVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return SB_ERR_NOMEM;
	/* negative window bits: a raw deflate stream, as RFC 7692 carries;
	 * memLevel 8 is zlib's default (one compressor per bridge) */
	if (deflateInit2(&d->z, level, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(d);
		return SB_ERR_NOMEM;
	}
	*out = d;
	return SB_OK;
}

void sb_wsdeflate_destroy(struct sb_wsdeflate *d)
{
	if (!d)
		return;
	deflateEnd(&d->z);
	free(d->buf);
	free(d);
}

/* The scratch buffer holds at least n bytes.  0 on out of memory. */
static int scratch(struct sb_wsdeflate *d, size_t n)
{
	unsigned char *m;

	if (n <= d->cap)
		return 1;
	m = realloc(d->buf, n);
	if (!m)
		return 0;
	d->buf = m;
	d->cap = n;
	return 1;
}

struct sb_frame *sb_wsdeflate_frame(struct sb_wsdeflate *d, const void *payload,
				    size_t len, const char **why)
{
	struct sb_frame *f;
	size_t bound, zlen, hdr;
	unsigned char *z;

	*why = "too large";
	if (len > 0x7fffffffu)
		return NULL;
	/* the largest header, the compressed bytes and the flush */
	bound = deflateBound(&d->z, (uLong)len) + 16;
	*why = "out of memory";
	if (!scratch(d, 10 + bound))
		return NULL;
	*why = "compressor failed";
	z = d->buf + 10;
	if (deflateReset(&d->z) != Z_OK)
		return NULL;
	d->z.next_in = (Bytef *)(uintptr_t)payload;
	d->z.avail_in = (uInt)len;
	d->z.next_out = z;
	d->z.avail_out = (uInt)bound;
	if (deflate(&d->z, Z_SYNC_FLUSH) != Z_OK || d->z.avail_in || !d->z.avail_out)
		return NULL;
	zlen = bound - d->z.avail_out;
	/* RFC 7692 §7.2.1: the sync flush's empty block 00 00 ff ff is
	 * removed; the receiver appends it back */
	if (zlen < 4 || memcmp(z + zlen - 4, "\x00\x00\xff\xff", 4))
		return NULL;
	zlen -= 4;
	hdr = sb_ws_header_len(zlen);
	if (hdr + zlen >= sb_ws_wire_len(len)) {
		*why = "no gain";
		return NULL;
	}
	/* the header goes right before the bytes it describes */
	sb_ws_header(z - hdr, zlen, 1);
	f = sb_frame_create(z - hdr, hdr + zlen);
	if (!f) {
		*why = "out of memory";
		return NULL;
	}
	d->msgs++;
	d->in += len;
	d->out += hdr + zlen;
	return f;
}

void sb_wsdeflate_stats(const struct sb_wsdeflate *d, unsigned long long *msgs,
			unsigned long long *in, unsigned long long *out)
{
	*msgs = d ? d->msgs : 0;
	*in = d ? d->in : 0;
	*out = d ? d->out : 0;
}
