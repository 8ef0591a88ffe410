/* SPDX-License-Identifier: MIT
 *
 * seqstate.c - a log stream's next seq, kept in a file across restarts
 * (see seqstate.h).
 */
#include "seqstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum sb_err sb_seqstate_open(struct sb_seqstate *s, const char *path, uint64_t dflt,
			     uint64_t *next, char *err, size_t errlen)
{
	char buf[64], *end;
	unsigned long long v;
	FILE *f;
	size_t n;

	s->path = path;
	s->stored = 0;
	*next = dflt ? dflt : 1;
	if (!(f = fopen(path, "r"))) {
		if (errno == ENOENT)
			return SB_OK;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return SB_ERR_IO;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	while (*end == '\n' || *end == '\r' || *end == ' ')
		end++;
	if (errno || end == buf || *end || buf[0] < '0' || buf[0] > '9' || v < 1 ||
	    v > SB_SEQ_MAX) {
		snprintf(err, errlen, "%s: expected the next seq (1 to %llu), got \"%.20s\"", path,
			 (unsigned long long)SB_SEQ_MAX, buf);
		return SB_ERR_INVAL;
	}
	s->stored = v;
	if (v > *next)
		*next = v;
	return SB_OK;
}

/* Writes `value` to a temporary file next to the state file, flushes it
 * and renames it over: a reader sees the old value or the new one. */
static enum sb_err store(struct sb_seqstate *s, uint64_t value, char *err, size_t errlen)
{
	char tmp[4096], text[32];
	int fd, len = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)value);

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", s->path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", s->path);
		return SB_ERR_IO;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, (size_t)len) != len || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return SB_ERR_IO;
	}
	if (close(fd) != 0 || rename(tmp, s->path) != 0) {
		snprintf(err, errlen, "%s: %s", s->path, strerror(errno));
		unlink(tmp);
		return SB_ERR_IO;
	}
	s->stored = value;
	return SB_OK;
}

enum sb_err sb_seqstate_reserve(struct sb_seqstate *s, uint64_t last, char *err, size_t errlen)
{
	uint64_t to;

	if (last < s->stored)
		return SB_OK;
	to = last + 1 + SB_SEQSTATE_BLOCK;
	return store(s, to > SB_SEQ_MAX ? SB_SEQ_MAX : to, err, errlen);
}

enum sb_err sb_seqstate_close(struct sb_seqstate *s, uint64_t next, char *err, size_t errlen)
{
	return store(s, next, err, errlen);
}
