/* SPDX-License-Identifier: MIT */
/*
 * lg_util.h - clocks, the publish timestamp, a latency histogram and a
 * growable byte buffer for sb-loadgen (bench/loadgen).
 *
 * The publisher writes its wall-clock time into each payload as an RFC 3339
 * `ts` with microseconds (the form app-status.json accepts); the subscriber
 * parses it back and records receive − publish.  Both run on one machine,
 * so one clock serves both ends.
 */
#ifndef LG_UTIL_H
#define LG_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t lg_util_mono_ns(void);
/* CLOCK_REALTIME in microseconds since the epoch. */
int64_t lg_util_real_us(void);

/* Length of a timestamp written by lg_util_ts_format ("…T…:SS.ffffffZ"). */
#define LG_TS_LEN 27
/* Writes real_us as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (LG_TS_LEN bytes, no NUL)
 * into out, which has room for LG_TS_LEN bytes. */
void lg_util_ts_format(char *out, int64_t real_us);
/* Parses the LG_TS_LEN bytes at s as written by lg_util_ts_format; returns 0
 * and sets *real_us, or -1 when they are not that form. */
int lg_util_ts_parse(const char *s, size_t avail, int64_t *real_us);

/* Latency histogram in microseconds: exact below 64 µs, then 32 buckets per
 * power of two (about 3 % relative error), up to 2^40 µs. */
#define LG_HIST_BUCKETS (64 + 35 * 32)
struct lg_hist {
	uint64_t n;
	uint64_t max_us;
	uint64_t b[LG_HIST_BUCKETS];
};
void lg_util_hist_add(struct lg_hist *h, int64_t us);
/* The value below which a fraction q (0..1) of the samples lie, in
 * milliseconds; 0 when the histogram is empty. */
double lg_util_hist_pct_ms(const struct lg_hist *h, double q);

/* A growable byte buffer; start zeroed, release with lg_util_buf_free. */
struct lg_buf {
	uint8_t *p;
	size_t len, cap;
};
/* Appends n bytes; returns 0, or -1 when out of memory (buffer unchanged). */
int lg_util_buf_append(struct lg_buf *b, const void *data, size_t n);
/* Drops the first n bytes. */
void lg_util_buf_consume(struct lg_buf *b, size_t n);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void lg_util_buf_free(struct lg_buf *b);

/* Copies tmpl into out (cap bytes, NUL-terminated) with every "{c}"
 * replaced by the decimal n and every "{u}" by u (may be NULL when tmpl has
 * no "{u}"); returns the length, or -1 when it does not fit. */
int lg_util_expand(char *out, size_t cap, const char *tmpl, int n, const char *u);

/* Counts the publish timestamps in p[0..n): each occurrence of needle
 * (e.g. "\"ts\":\"") followed by a timestamp is one event, and its latency
 * now_us − ts goes into h.  Returns the number of events found. */
unsigned lg_util_scan_events(const uint8_t *p, size_t n, const char *needle, size_t nlen,
			     int64_t now_us, struct lg_hist *h);

#endif
