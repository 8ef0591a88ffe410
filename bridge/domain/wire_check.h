/* SPDX-License-Identifier: MIT
 *
 * wire_check.h - checks on the raw bytes a client sends, before
 * libwebsockets parses them (docs/protocol.md §5.14): the size of each
 * HTTP request head (request line and headers), and then, after a
 * WebSocket upgrade, every frame header: a client frame must be masked
 * (RFC 6455 §5.1) and may not announce more than max_frame_bytes for a
 * message.  libwebsockets 4.1 accepts unmasked frames, waits for the
 * payload of a frame that announces 2^62 bytes, and closes silently a
 * request whose headers fill its header table: seeing the bytes first lets
 * the bridge answer 431, 1002 and 4009 instead.
 *
 * The state follows the byte stream of one connection: request heads,
 * request bodies (skipped by their Content-Length), WebSocket frames
 * (payloads skipped).  A stream it cannot follow (a chunked body, HTTP/2)
 * is left unchecked from there on.  Pure module.
 */
#ifndef SB_WIRE_CHECK_H
#define SB_WIRE_CHECK_H

#include <stddef.h>
#include <stdint.h>

enum sb_wire_verdict {
	SB_WIRE_OK = 0,
	SB_WIRE_HEAD_TOO_LARGE,     /* a request head over max_head_bytes or max_head_lines */
	SB_WIRE_UNMASKED,           /* a client frame without a mask */
	SB_WIRE_FRAME_TOO_LARGE,    /* a message announced over max_frame_bytes */
};

struct sb_wire_limits {
	size_t max_head_bytes;      /* request line + header lines + CRLFs */
	unsigned max_head_lines;    /* header lines (the request line aside) */
	uint64_t max_frame_bytes;   /* payload of one message (all its fragments) */
};

enum sb_wire_mode { SB_WIRE_HEAD = 0, SB_WIRE_BODY, SB_WIRE_FRAMES, SB_WIRE_UNCHECKED };

/* Per connection; zeroed by sb_wire_check_init(), no allocation. */
struct sb_wire_check {
	const struct sb_wire_limits *lim;   /* borrowed */
	enum sb_wire_mode mode;
	enum sb_wire_verdict verdict;
	/* a request head */
	size_t head_bytes;
	unsigned head_lines;
	char line[40];                      /* the start of the line, lower case */
	size_t line_len;
	uint64_t content_length;
	unsigned upgrade : 1, chunked : 1, http2 : 1, bad_length : 1;
	/* a request body */
	uint64_t body_left;
	/* WebSocket frames */
	unsigned char hdr[14];
	unsigned hdr_len, hdr_need;
	uint64_t payload_left, message_bytes;
};

void sb_wire_check_init(struct sb_wire_check *w, const struct sb_wire_limits *lim);

/* Feeds the next n bytes the client sent.  Returns how many of them may
 * be passed on: n while all is well; once a verdict is found, the count
 * before the offending request head or frame (0 when it began in an
 * earlier call), with w->verdict set; after a verdict, 0 for anything. */
size_t sb_wire_check_feed(struct sb_wire_check *w, const unsigned char *buf, size_t n);

#endif
