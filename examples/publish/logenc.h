/* SPDX-License-Identifier: MIT
 *
 * logenc.h - turns a deploy job's output into numbered log-line records:
 * bytes from one or two streams are split into lines (a partial line is
 * kept per stream until its newline arrives), overlong lines are cut at
 * UTF-8 boundaries, and every record gets the next seq, starting at 1.
 * Where the records go is the caller's emit callback (sb_publish.c sends
 * them over MQTT; the unit tests collect them).  Pure module, internal to
 * libstatusbus-publish.
 */
#ifndef SB_LOGENC_H
#define SB_LOGENC_H

#include <stddef.h>
#include <stdint.h>

#include "sb_publish.h"

/* Called once per record, in seq order.  `payload` is borrowed for the
 * call.  An error is returned by the feeding function (the first one), but
 * the remaining lines are still emitted and the seq is not reused. */
typedef enum sb_err (*sb_logenc_emit_fn)(void *user, uint64_t seq, const char *payload,
					 size_t len);

struct sb_logenc {
	uint64_t next_seq;                 /* seq of the next record, from 1 */
	int64_t fixed_ts_ms;               /* tests: ts of every record; 0 = now */
	struct {
		char buf[SB_LOG_MAX_LINE];
		size_t len;
	} part[2];                         /* partial line, per enum sb_stream */
};

/* next_seq = 1, no partial lines. */
void sb_logenc_init(struct sb_logenc *e);

/* Bytes as read from the stream's pipe. */
enum sb_err sb_logenc_write(struct sb_logenc *e, enum sb_stream stream, const void *buf,
			    size_t len, sb_logenc_emit_fn emit, void *user);

/* One line (len bytes): a trailing newline is dropped, embedded newlines
 * make several records.  Any partial line of that stream goes first. */
enum sb_err sb_logenc_line(struct sb_logenc *e, enum sb_stream stream, const char *line,
			   size_t len, sb_logenc_emit_fn emit, void *user);

/* Emits the partial lines (stdout's first), e.g. at end of output. */
enum sb_err sb_logenc_flush(struct sb_logenc *e, sb_logenc_emit_fn emit, void *user);

#endif
