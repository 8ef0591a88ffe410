/* SPDX-License-Identifier: MIT
 *
 * frame.h - reference-counted MQTT messages and WebSocket frame buffers, and
 * a small string builder that becomes a frame without a copy.
 *
 * "Serialize once, fan out by reference": a message is turned into one frame
 * per channel (per protocol) and every subscriber's queue holds a reference.
 * Frames keep SB_FRAME_PRE bytes of headroom before the data for the
 * WebSocket library (ws_server.c asserts LWS_PRE fits).
 *
 * Reference counts are plain ints: after the MQTT thread hands a message
 * over (mqtt_link.c), both kinds live only on the service thread.
 */
#ifndef SB_FRAME_H
#define SB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "sb_common.h"

#define SB_FRAME_PRE 32

struct sb_msg {
	int refs;
	char *topic;
	size_t topic_len;
	char *payload;          /* NUL-terminated copy; may contain NULs */
	size_t payload_len;
	int retained;           /* the broker's retain flag */
	int64_t arrived_ms;     /* sb_now_ms() when it reached the bridge */
	int64_t arrived_us;     /* sb_now_us() then (the latency histograms) */
	int64_t seq;            /* the payload's "seq" (log lines), 0 when
				   absent; set by the hub when it parses */
	int kept;               /* a relayed Pusher event kept as its topic's
				   last (docs/pusher.md); set by the hub */
};

/* Copies topic and payload; refs = 1.  NULL on out of memory. */
struct sb_msg *sb_msg_create(const char *topic, size_t topic_len,
			     const void *payload, size_t payload_len,
			     int retained);
struct sb_msg *sb_msg_ref(struct sb_msg *m);
/* Frees at zero.  Accepts NULL. */
void sb_msg_unref(struct sb_msg *m);

struct sb_frame {
	int refs;
	size_t len;             /* bytes of data after the headroom */
	size_t cap;
	int64_t created_ms;
	/* sb_now_us() when the oldest message it carries reached the bridge,
	 * set by the hub on the frames it fans out live; 0 otherwise */
	int64_t origin_us;
	unsigned char *mem;     /* SB_FRAME_PRE + cap bytes */
	/* permessage-deflate (ws_server.c): a batch of events (what
	 * listen.compression "logs" compresses), and the compressed frame
	 * made for the first connection that wanted it, shared by the rest
	 * (freed with this one); z_tried once it was attempted */
	unsigned char bulk, z_tried;
	struct sb_frame *z;
};

static inline unsigned char *sb_frame_data(const struct sb_frame *f)
{
	return f->mem + SB_FRAME_PRE;
}

/* The longest WebSocket header of a server frame (unmasked, 64-bit length). */
#define SB_WS_HDR_MAX 10

/* The frame as one complete WebSocket message on the wire: a final,
 * unmasked text frame.  Its header depends only on the length, so the
 * bytes are the same for every subscriber: the header is written into the
 * headroom right before the data (idempotent) and a pointer to it returned,
 * with the whole message's length in *wire_len.  At least
 * SB_FRAME_PRE - SB_WS_HDR_MAX bytes of headroom remain before it. */
unsigned char *sb_frame_ws(struct sb_frame *f, size_t *wire_len);
/* Bytes of WebSocket header a server frame of `len` payload bytes needs. */
static inline size_t sb_ws_header_len(size_t len)
{
	return len < 126 ? 2 : len < 65536 ? 4 : 10;
}
/* Writes that header (FIN, RSV1 when `compressed` (permessage-deflate),
 * opcode text, no mask) into hdr[0..sb_ws_header_len(len)). */
void sb_ws_header(unsigned char *hdr, size_t len, int compressed);
/* The length sb_frame_ws would give for `len` bytes of data. */
static inline size_t sb_ws_wire_len(size_t len)
{
	return len + sb_ws_header_len(len);
}

/* A frame holding a copy of data[0..len).  refs = 1. */
struct sb_frame *sb_frame_create(const void *data, size_t len);
struct sb_frame *sb_frame_ref(struct sb_frame *f);
/* Frees at zero.  Accepts NULL. */
void sb_frame_unref(struct sb_frame *f);

/* String builder with frame headroom.  On allocation failure it sets
 * `failed` and ignores further appends; check it once at the end. */
struct sb_buf {
	unsigned char *mem;
	size_t len, cap;
	int failed;
};

void sb_buf_init(struct sb_buf *b);
void sb_buf_free(struct sb_buf *b);
void sb_buf_append(struct sb_buf *b, const void *data, size_t len);
void sb_buf_puts(struct sb_buf *b, const char *s);
void sb_buf_printf(struct sb_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends s[0..len) as a JSON string literal with quotes, escaping control
 * characters, '"' and '\\'.  Invalid UTF-8 bytes become U+FFFD. */
void sb_buf_json_str(struct sb_buf *b, const char *s, size_t len);
/* Length of the valid UTF-8 sequence at s (1-4 bytes, at most `left`), or
 * 0 when it is not one (overlong, surrogate, over U+10FFFF, cut short). */
size_t sb_utf8_len(const unsigned char *s, size_t left);
/* The text so far (NUL-terminated), or NULL when failed. */
const char *sb_buf_str(struct sb_buf *b);
/* Moves the contents into a new frame (refs = 1) and resets b.  NULL when
 * the builder failed or memory ran out (b is freed either way). */
struct sb_frame *sb_buf_to_frame(struct sb_buf *b);

#endif
