/* SPDX-License-Identifier: MIT
 *
 * ws_compress.c - permessage-deflate on the WebSocket side (see
 * ws_compress.h).
 */
#include "ws_compress.h"

#include <stdlib.h>
#include <string.h>

/* The shared compressor's window: it is one per bridge, so the largest
 * RFC 7692 allows.  lws answers an offer with the bare extension name
 * (no server_max_window_bits), which browsers, pusher-js and Python's
 * websockets accept. */
#define SB_DEFLATE_WINDOW_BITS 15

struct sb_ws_compress {
	enum sb_compression mode;
	size_t min_bytes;
	struct sb_wsdeflate *deflate;
	struct sb_deflate_stats stats;
};

static const struct lws_extension extensions[] = {
	{ "permessage-deflate", lws_extension_callback_pm_deflate, "permessage-deflate" },
	{ NULL, NULL, NULL }
};

enum sb_err sb_ws_compress_create(struct sb_ws_compress **out, const struct sb_config *cfg)
{
	struct sb_ws_compress *z;
	enum sb_err rc;

	*out = NULL;
	if (cfg->compression_mode == SB_COMPRESS_OFF)
		return SB_OK;
	z = calloc(1, sizeof(*z));
	if (!z)
		return SB_ERR_NOMEM;
	z->mode = cfg->compression_mode;
	z->min_bytes = (size_t)cfg->compression_min_bytes;
	rc = sb_wsdeflate_create(&z->deflate, cfg->compression_level, SB_DEFLATE_WINDOW_BITS);
	if (rc != SB_OK) {
		free(z);
		return rc;
	}
	*out = z;
	return SB_OK;
}

void sb_ws_compress_destroy(struct sb_ws_compress *z)
{
	if (!z)
		return;
	sb_wsdeflate_destroy(z->deflate);
	free(z);
}

const struct lws_extension *sb_ws_compress_extensions(const struct sb_ws_compress *z)
{
	return z ? extensions : NULL;
}

int sb_ws_compress_established(struct sb_ws_compress *z, struct lws *wsi)
{
	/* lws has no "is this extension active" call; setting one of its
	 * options succeeds only on a connection where it is.  1 KiB is lws's
	 * default inflate buffer, so nothing changes. */
	if (!z || lws_set_extension_option(wsi, "permessage-deflate", "rx_buf_size", "10"))
		return 0;
	z->stats.connections++;
	return 1;
}

void sb_ws_compress_gone(struct sb_ws_compress *z)
{
	if (z && z->stats.connections)
		z->stats.connections--;
}

/* The shared compressed copy of f, made on first use; NULL when f is not
 * to be compressed (mode, size, or no gain). */
static struct sb_frame *compressed(struct sb_ws_compress *z, struct sb_frame *f)
{
	const char *why;

	if (f->z || f->z_tried)
		return f->z;
	if (f->len < z->min_bytes || (z->mode == SB_COMPRESS_LOGS && !f->bulk))
		return NULL;
	f->z_tried = 1;
	f->z = sb_wsdeflate_frame(z->deflate, sb_frame_data(f), f->len, &why);
	if (f->z) {
		z->stats.messages++;
		z->stats.bytes_in += f->len;
		z->stats.bytes_out += f->z->len;
	} else {
		/* "no gain", or out of memory: sent as it is, nothing lost */
		z->stats.skipped++;
	}
	return f->z;
}

unsigned char *sb_ws_compress_wire(struct sb_ws_compress *z, struct sb_frame *f, size_t *len)
{
	struct sb_frame *c = compressed(z, f);

	if (!c)
		return sb_frame_ws(f, len);   /* as it is, RSV1 clear */
	z->stats.frames_sent++;
	*len = c->len;
	return sb_frame_data(c);
}

const struct sb_deflate_stats *sb_ws_compress_stats(const struct sb_ws_compress *z)
{
	static const struct sb_deflate_stats none;

	return z ? &z->stats : &none;
}
