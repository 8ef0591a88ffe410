/* SPDX-License-Identifier: MIT
 *
 * frame.c - messages, frames and the frame-shaped string builder.
 */
#include "frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sb_msg *sb_msg_create(const char *topic, size_t topic_len,
			     const void *payload, size_t payload_len, int retained)
{
	struct sb_msg *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->topic = malloc(topic_len + 1);
	m->payload = malloc(payload_len + 1);
	if (!m->topic || !m->payload) {
		free(m->topic);
		free(m->payload);
		free(m);
		return NULL;
	}
	memcpy(m->topic, topic, topic_len);
	m->topic[topic_len] = '\0';
	m->topic_len = topic_len;
	if (payload_len)
		memcpy(m->payload, payload, payload_len);
	m->payload[payload_len] = '\0';
	m->payload_len = payload_len;
	m->retained = retained;
	m->refs = 1;
	m->arrived_ms = sb_now_ms();
	m->arrived_us = sb_now_us();
	return m;
}

struct sb_msg *sb_msg_ref(struct sb_msg *m)
{
	m->refs++;
	return m;
}

void sb_msg_unref(struct sb_msg *m)
{
	if (!m || --m->refs > 0)
		return;
	free(m->topic);
	free(m->payload);
	free(m);
}

void sb_ws_header(unsigned char *hdr, size_t len, int compressed)
{
	hdr[0] = (unsigned char)(0x81 | (compressed ? 0x40 : 0));   /* FIN, text */
	if (len < 126) {
		hdr[1] = (unsigned char)len;
	} else if (len < 65536) {
		hdr[1] = 126;
		hdr[2] = (unsigned char)(len >> 8);
		hdr[3] = (unsigned char)len;
	} else {
		hdr[1] = 127;
		for (int i = 0; i < 8; i++)
			hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
}

unsigned char *sb_frame_ws(struct sb_frame *f, size_t *wire_len)
{
	unsigned char *d = sb_frame_data(f), *h = d - sb_ws_header_len(f->len);

	sb_ws_header(h, f->len, 0);
	*wire_len = (size_t)(d - h) + f->len;
	return h;
}

struct sb_frame *sb_frame_create(const void *data, size_t len)
{
	struct sb_buf b;

	sb_buf_init(&b);
	sb_buf_append(&b, data, len);
	return sb_buf_to_frame(&b);
}

struct sb_frame *sb_frame_ref(struct sb_frame *f)
{
	f->refs++;
	return f;
}

void sb_frame_unref(struct sb_frame *f)
{
	if (!f || --f->refs > 0)
		return;
	sb_frame_unref(f->z);
	free(f->mem);
	free(f);
}

void sb_buf_init(struct sb_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void sb_buf_free(struct sb_buf *b)
{
	free(b->mem);
	memset(b, 0, sizeof(*b));
}

static int reserve(struct sb_buf *b, size_t extra)
{
	size_t need, cap;
	unsigned char *m;

	if (b->failed)
		return 0;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 1;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	m = realloc(b->mem, SB_FRAME_PRE + cap);
	if (!m) {
		b->failed = 1;
		return 0;
	}
	b->mem = m;
	b->cap = cap;
	return 1;
}

void sb_buf_append(struct sb_buf *b, const void *data, size_t len)
{
	if (!reserve(b, len))
		return;
	memcpy(b->mem + SB_FRAME_PRE + b->len, data, len);
	b->len += len;
	b->mem[SB_FRAME_PRE + b->len] = '\0';
}

void sb_buf_puts(struct sb_buf *b, const char *s)
{
	sb_buf_append(b, s, strlen(s));
}

void sb_buf_printf(struct sb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b->mem + SB_FRAME_PRE + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

size_t sb_utf8_len(const unsigned char *s, size_t left)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0) { n = 2; cp = s[0] & 0x1F; }
	else if ((s[0] & 0xF0) == 0xE0) { n = 3; cp = s[0] & 0x0F; }
	else if ((s[0] & 0xF8) == 0xF0) { n = 4; cp = s[0] & 0x07; }
	else return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

void sb_buf_json_str(struct sb_buf *b, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	sb_buf_append(b, "\"", 1);
	while (i < len) {
		unsigned char c = s[i];
		const char *esc = NULL;
		char ubuf[8];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		if (run) {
			sb_buf_append(b, s + i - run, run);
			run = 0;
		}
		if (c >= 0x80) {
			n = sb_utf8_len(s + i, len - i);
			if (n) {
				sb_buf_append(b, s + i, n);
				i += n;
			} else {
				sb_buf_append(b, "\xEF\xBF\xBD", 3);
				i++;
			}
			continue;
		}
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			snprintf(ubuf, sizeof(ubuf), "\\u%04x", c);
			esc = ubuf;
		}
		sb_buf_puts(b, esc);
		i++;
	}
	if (run)
		sb_buf_append(b, s + i - run, run);
	sb_buf_append(b, "\"", 1);
}

const char *sb_buf_str(struct sb_buf *b)
{
	if (b->failed)
		return NULL;
	if (!b->mem && !reserve(b, 0))
		return NULL;
	b->mem[SB_FRAME_PRE + b->len] = '\0';
	return (const char *)b->mem + SB_FRAME_PRE;
}

struct sb_frame *sb_buf_to_frame(struct sb_buf *b)
{
	struct sb_frame *f;

	if (b->failed || (!b->mem && !reserve(b, 0))) {
		sb_buf_free(b);
		return NULL;
	}
	f = malloc(sizeof(*f));
	if (!f) {
		sb_buf_free(b);
		return NULL;
	}
	memset(f, 0, sizeof(*f));
	f->refs = 1;
	f->len = b->len;
	f->cap = b->cap;
	f->mem = b->mem;
	f->created_ms = sb_now_ms();
	f->origin_us = 0;
	memset(b, 0, sizeof(*b));
	return f;
}
