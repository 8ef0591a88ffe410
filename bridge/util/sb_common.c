/* SPDX-License-Identifier: MIT
 *
 * sb_common.c - error strings, logging, clocks and the strict parser of
 * integers read as text.
 */
#include "sb_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum sb_log_level log_level = SB_LOG_INFO;

const char *sb_strerror(enum sb_err err)
{
	switch (err) {
	case SB_OK: return "ok";
	case SB_ERR_NOMEM: return "out of memory";
	case SB_ERR_INVAL: return "invalid argument";
	case SB_ERR_DENIED: return "denied";
	case SB_ERR_NOTFOUND: return "not found";
	case SB_ERR_LIMIT: return "limit reached";
	case SB_ERR_EXPIRED: return "expired";
	case SB_ERR_IO: return "i/o error";
	case SB_ERR_EXISTS: return "already exists";
	case SB_ERR_INTERNAL: return "internal error";
	case SB_ERR_PENDING: return "pending";
	}
	return "unknown error";
}

int sb_parse_uint(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (!s || max < 0 || *s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
		return 0;
	for (; *s; s++) {
		int d = *s - '0';

		if (d < 0 || d > 9)
			return 0;
		/* v * 10 + d > max, asked without computing it */
		if (max - d < 0 || v > (max - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = v;
	return 1;
}

void sb_log_set_level(enum sb_log_level level) { log_level = level; }
enum sb_log_level sb_log_get_level(void) { return log_level; }

void sb_log(enum sb_log_level level, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level < log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, names[level]);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one call keeps lines from two threads apart */
	fprintf(stderr, "%s\n", line);
}

int64_t sb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sb_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
