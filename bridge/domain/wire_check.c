/* SPDX-License-Identifier: MIT
 *
 * wire_check.c - a byte-at-a-time follower of one client's stream.  A
 * request head is read a line at a time, keeping only the first bytes of
 * each line: enough to see Content-Length, Transfer-Encoding, an Upgrade
 * (to websocket, or h2c) and the HTTP/2 preface; bodies and frame payloads are
 * skipped in bulk.  A frame header is judged as soon as the byte that
 * decides arrives (the mask bit in its second byte, the last byte of its
 * length), so that a header alone, with no payload behind it, is enough.
 */
#include "wire_check.h"

#include <string.h>

void sb_wire_check_init(struct sb_wire_check *w, const struct sb_wire_limits *lim)
{
	memset(w, 0, sizeof(*w));
	w->lim = lim;
}

static void head_reset(struct sb_wire_check *w)
{
	w->head_bytes = 0;
	w->head_lines = 0;
	w->line_len = 0;
	w->content_length = 0;
	w->upgrade = w->chunked = w->http2 = w->bad_length = 0;
}

/* The line in w->line (its first bytes, lower case) names header `name`:
 * returns its value there (leading blanks skipped), else NULL. */
static const char *header_value(struct sb_wire_check *w, const char *name)
{
	size_t n = strlen(name), i;

	if (w->line_len < n || memcmp(w->line, name, n) != 0)
		return NULL;
	for (i = n; i < w->line_len && (w->line[i] == ' ' || w->line[i] == '\t'); i++)
		;
	return w->line + i;
}

static void header_line(struct sb_wire_check *w)
{
	const char *v, *end = w->line + w->line_len;
	uint64_t n = 0;
	int digits = 0;

	if (w->head_lines == 1) {
		/* the request line: HTTP/2 with prior knowledge starts so */
		w->http2 = w->line_len >= 12 && memcmp(w->line, "pri * http/2", 12) == 0;
		return;
	}
	if ((v = header_value(w, "upgrade:"))) {
		/* as lws: the whole value names the protocol; another value
		 * is answered 403 and the connection stays HTTP */
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end - v == 9 && memcmp(v, "websocket", 9) == 0)
			w->upgrade = 1;
		else if (end - v == 3 && memcmp(v, "h2c", 3) == 0)
			w->http2 = 1;
	} else if (header_value(w, "transfer-encoding:")) {
		w->chunked = 1;
	} else if ((v = header_value(w, "content-length:"))) {
		/* as many digits as the kept line holds; more is no length
		 * the bridge reads (http_api.c refuses it) */
		if (v == end)
			w->bad_length = 1;
		for (; v < end && *v >= '0' && *v <= '9'; v++, digits++)
			n = n * 10 + (uint64_t)(*v - '0');
		if ((v < end && *v != ' ' && *v != '\t') || digits > 18)
			w->bad_length = 1;
		if (w->line_len == sizeof(w->line))
			w->bad_length = 1;
		w->content_length = n;
	}
}

/* The empty line that ends a head: what follows it. */
static void head_end(struct sb_wire_check *w)
{
	if (w->http2 || w->chunked || w->bad_length)
		w->mode = SB_WIRE_UNCHECKED;
	else if (w->upgrade)
		w->mode = SB_WIRE_FRAMES;
	else if (w->content_length) {
		w->mode = SB_WIRE_BODY;
		w->body_left = w->content_length;
	}
	head_reset(w);
}

/* One byte of a head; 1 when the head is over the limits. */
static int head_byte(struct sb_wire_check *w, unsigned char c)
{
	if (++w->head_bytes > w->lim->max_head_bytes)
		return 1;
	if (c == '\r')
		return 0;
	if (c != '\n') {
		if (w->line_len < sizeof(w->line))
			w->line[w->line_len++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
		return 0;
	}
	if (w->line_len == 0) {
		/* empty lines before a request line are ignored (RFC 9112 §2.2) */
		if (w->head_lines)
			head_end(w);
		else
			w->head_bytes = 0;
		return 0;
	}
	/* the request line, then at most max_head_lines header lines */
	if (++w->head_lines > w->lim->max_head_lines + 1)
		return 1;
	header_line(w);
	w->line_len = 0;
	return 0;
}

/* One byte of a frame header; a verdict once the header is judged bad. */
static enum sb_wire_verdict frame_byte(struct sb_wire_check *w, unsigned char c)
{
	unsigned len7, opcode;
	uint64_t len = 0;

	w->hdr[w->hdr_len++] = c;
	if (w->hdr_len < 2)
		return SB_WIRE_OK;
	len7 = w->hdr[1] & 0x7f;
	if (w->hdr_len == 2) {
		if (!(w->hdr[1] & 0x80))
			return SB_WIRE_UNMASKED;
		w->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
	}
	if (w->hdr_len != w->hdr_need - 4 && w->hdr_len != w->hdr_need)
		return SB_WIRE_OK;
	if (len7 < 126)
		len = len7;
	else
		for (unsigned i = 2; i < w->hdr_need - 4; i++)
			len = len << 8 | w->hdr[i];
	if (w->hdr_len == w->hdr_need - 4) {
		/* the length is in: judge the message before any payload */
		opcode = w->hdr[0] & 0x0f;
		if (opcode <= 2) {    /* continuation, text, binary */
			w->message_bytes = opcode == 0 ? w->message_bytes + len : len;
			if (w->message_bytes > w->lim->max_frame_bytes || len > w->lim->max_frame_bytes)
				return SB_WIRE_FRAME_TOO_LARGE;
		}
		return SB_WIRE_OK;
	}
	w->payload_left = len;
	w->hdr_len = w->hdr_need = 0;
	return SB_WIRE_OK;
}

size_t sb_wire_check_feed(struct sb_wire_check *w, const unsigned char *buf, size_t n)
{
	/* start: where the current head or frame began (0: in an earlier call) */
	size_t i = 0, start = 0;

	if (w->verdict)
		return 0;
	while (i < n) {
		size_t skip;

		switch (w->mode) {
		case SB_WIRE_UNCHECKED:
			return n;
		case SB_WIRE_BODY:
			skip = n - i < w->body_left ? n - i : (size_t)w->body_left;
			w->body_left -= skip;
			i += skip;
			if (!w->body_left)
				w->mode = SB_WIRE_HEAD;
			break;
		case SB_WIRE_HEAD:
			if (!w->head_bytes)
				start = i;
			if (head_byte(w, buf[i])) {
				w->verdict = SB_WIRE_HEAD_TOO_LARGE;
				return start;
			}
			i++;
			break;
		case SB_WIRE_FRAMES:
			if (w->payload_left) {
				skip = n - i < w->payload_left ? n - i : (size_t)w->payload_left;
				w->payload_left -= skip;
				i += skip;
				break;
			}
			if (!w->hdr_len)
				start = i;
			w->verdict = frame_byte(w, buf[i]);
			if (w->verdict)
				return start;
			i++;
			break;
		}
	}
	return n;
}
