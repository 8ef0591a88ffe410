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

/* Logs to stderr with a timestamp and level.  Thread-safe (one fprintf). */
void sb_log(enum sb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_log_set_level(enum sb_log_level level);
enum sb_log_level sb_log_get_level(void);

/* Monotonic clock in milliseconds. */
int64_t sb_now_ms(void);
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
