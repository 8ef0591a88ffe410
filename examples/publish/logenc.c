/* SPDX-License-Identifier: MIT
 *
 * logenc.c - line splitting and seq numbering of deploy log output (see
 * logenc.h).  Pure module.
 */
#include "logenc.h"

#include <stdlib.h>
#include <string.h>

void sb_logenc_init(struct sb_logenc *e)
{
	memset(e, 0, sizeof(*e));
	e->next_seq = 1;
}

static enum sb_err emit_text(struct sb_logenc *e, enum sb_stream s, const char *text,
			     size_t len, sb_logenc_emit_fn emit, void *user)
{
	uint64_t seq = e->next_seq++;
	char *payload;
	size_t plen;
	enum sb_err rc = sb_log_line_build(seq, e->fixed_ts_ms, s, text, len, &payload, &plen);

	if (rc != SB_OK)
		return rc;
	rc = emit(user, seq, payload, plen);
	free(payload);
	return rc;
}

/* The full buffer of stream s holds no newline: emit as much of it as ends
 * on a UTF-8 boundary, keep the rest. */
static enum sb_err emit_cut(struct sb_logenc *e, enum sb_stream s, sb_logenc_emit_fn emit,
			    void *user)
{
	unsigned char *b = (unsigned char *)e->part[s].buf;
	size_t len = e->part[s].len, cut = len, i = len;
	enum sb_err rc;

	while (i > 0 && len - i < 4 && (b[i - 1] & 0xC0) == 0x80)
		i--;
	if (i > 0 && b[i - 1] >= 0xC0) {
		size_t want = b[i - 1] >= 0xF0 ? 4 : b[i - 1] >= 0xE0 ? 3 : 2;

		if (i - 1 + want > len && i - 1 > 0)
			cut = i - 1;   /* the last character is incomplete */
	}
	rc = emit_text(e, s, (char *)b, cut, emit, user);
	memmove(b, b + cut, len - cut);
	e->part[s].len = len - cut;
	return rc;
}

static void keep_first(enum sb_err *first, enum sb_err rc)
{
	if (*first == SB_OK)
		*first = rc;
}

enum sb_err sb_logenc_write(struct sb_logenc *e, enum sb_stream stream, const void *buf,
			    size_t len, sb_logenc_emit_fn emit, void *user)
{
	const char *p = buf, *end = p + len;
	enum sb_err first = SB_OK;
	unsigned s = stream == SB_STREAM_STDERR;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;

		while (p < stop) {
			size_t room = SB_LOG_MAX_LINE - e->part[s].len;
			size_t take = (size_t)(stop - p) < room ? (size_t)(stop - p) : room;

			memcpy(e->part[s].buf + e->part[s].len, p, take);
			e->part[s].len += take;
			p += take;
			if (e->part[s].len == SB_LOG_MAX_LINE)
				keep_first(&first, emit_cut(e, (enum sb_stream)s, emit, user));
		}
		if (nl) {
			keep_first(&first, emit_text(e, (enum sb_stream)s, e->part[s].buf,
						     e->part[s].len, emit, user));
			e->part[s].len = 0;
			p = nl + 1;
		}
	}
	return first;
}

enum sb_err sb_logenc_line(struct sb_logenc *e, enum sb_stream stream, const char *line,
			   size_t len, sb_logenc_emit_fn emit, void *user)
{
	enum sb_err first = SB_OK;
	unsigned s = stream == SB_STREAM_STDERR;

	if (e->part[s].len) {
		keep_first(&first, emit_text(e, stream, e->part[s].buf, e->part[s].len, emit, user));
		e->part[s].len = 0;
	}
	if (len && line[len - 1] == '\n')
		len--;
	keep_first(&first, sb_logenc_write(e, stream, line, len, emit, user));
	keep_first(&first, sb_logenc_write(e, stream, "\n", 1, emit, user));
	return first;
}

enum sb_err sb_logenc_flush(struct sb_logenc *e, sb_logenc_emit_fn emit, void *user)
{
	enum sb_err first = SB_OK;

	for (unsigned s = 0; s < 2; s++) {
		if (!e->part[s].len)
			continue;
		keep_first(&first, emit_text(e, (enum sb_stream)s, e->part[s].buf, e->part[s].len,
					     emit, user));
		e->part[s].len = 0;
	}
	return first;
}
