/* SPDX-License-Identifier: MIT
 *
 * sb_common.h - the one error enum and the logging entry point shared by
 * every statusbus module.  Leaf modules return an enum sb_err and, where a
 * human needs the reason, fill a caller-supplied buffer; adapters and main
 * log it (STYLE: "log once, at the boundary").
 */
#ifndef SB_COMMON_H
#define SB_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum sb_err {
	SB_OK = 0,
	SB_ERR_NOMEM,     /* allocation failed */
	SB_ERR_INVAL,     /* malformed input */
	SB_ERR_DENIED,    /* not allowed (ACL, signature) */
	SB_ERR_NOTFOUND,  /* no such thing */
	SB_ERR_LIMIT,     /* a configured bound was hit */
	SB_ERR_EXPIRED,   /* token expired / not yet valid */
	SB_ERR_IO,        /* file or socket error */
	SB_ERR_EXISTS,    /* already there */
	SB_ERR_INTERNAL,  /* a bug or an unexpected library failure */
	SB_ERR_PENDING,   /* accepted; the answer comes later */
};

/* Static, never NULL. */
const char *sb_strerror(enum sb_err err);

enum sb_log_level { SB_LOG_DEBUG = 0, SB_LOG_INFO, SB_LOG_WARN, SB_LOG_ERR };

/* log_format: "text" (`<ts> <level> <msg>`) or "json" (one object per
 * line: {"ts","level","msg","fields"}), for log shippers. */
enum sb_log_format { SB_LOG_TEXT = 0, SB_LOG_JSON };

/* A named value of a log line: in JSON, a member of "fields". */
struct sb_log_field {
	const char *key, *value;
};

/* Logs to stderr with a timestamp and level, in the log format set.
 * Thread-safe (one fprintf per line; level and format are atomics, set on
 * one thread while others log). */
void sb_log(enum sb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same with fields (n of them, values may be NULL: left out).  They
 * repeat for machines what the message says for humans: the text format
 * writes the message only. */
void sb_log_kv(enum sb_log_level level, const struct sb_log_field *fields, size_t n,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void sb_log_set_level(enum sb_log_level level);
enum sb_log_level sb_log_get_level(void);
void sb_log_set_format(enum sb_log_format format);
enum sb_log_format sb_log_get_format(void);
/* "text" or "json" into *out: 1, or 0 when name is neither (or NULL). */
int sb_log_format_parse(const char *name, enum sb_log_format *out);
/* "debug", "info", "warn", "error" into *out: 1, else 0. */
int sb_log_level_parse(const char *name, enum sb_log_level *out);

/* One log line as sb_log writes it, without the newline, into buf (always
 * NUL-terminated when size > 0; a line that does not fit is cut, in JSON
 * at a character boundary with the object still closed).  wall_ms is the
 * time of the line.  In JSON, a message that starts with the prefixes the
 * bridge's messages use also fills fields: "client <id>: " and "pusher
 * <id>: " give "client", "<component>: " (mqtt, ws, http, lws, auth,
 * listen, reload) gives "component".  Returns the length written. */
size_t sb_log_render(char *buf, size_t size, enum sb_log_format format, int64_t wall_ms,
		     enum sb_log_level level, const struct sb_log_field *fields, size_t n,
		     const char *msg);

/* Monotonic clock in milliseconds. */
int64_t sb_now_ms(void);
/* Monotonic clock in microseconds (the latency histograms). */
int64_t sb_now_us(void);
/* Wall clock in milliseconds since the epoch. */
int64_t sb_wall_ms(void);

/* The largest integer the protocols take from the network (a seq, a
 * since, an id): 2^53 - 1, the largest that every JSON parser (a
 * browser's included) keeps exact.  Adding 1 to it cannot overflow. */
#define SB_INT_MAX_EXACT 9007199254740991LL

/* A non-negative integer written as JSON writes one: "0" or a digit 1-9
 * followed by digits, nothing else (no sign, space, fraction, exponent,
 * leading zero).  1 and *out set when s is one and at most max (>= 0);
 * 0 otherwise, also on overflow.  For numbers read from the network as
 * text (an HTTP query argument, a header). */
int sb_parse_uint(const char *s, int64_t max, int64_t *out);

#define SB_UNUSED(x) ((void)(x))
#define SB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
