// SPDX-License-Identifier: MIT
/*
 * lg_util.c - clocks, the publish timestamp, the latency histogram and the
 * byte buffer of sb-loadgen.  The timestamp code converts civil dates by
 * arithmetic (no timegm, no locale) because the subscriber parses one per
 * delivered event.
 */
#define _GNU_SOURCE
#include "lg_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t lg_util_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t lg_util_real_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil) and back */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static void put_digits(char *out, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void lg_util_ts_format(char *out, int64_t real_us)
{
	int64_t secs = real_us / 1000000, frac = real_us % 1000000;
	int64_t days = secs / 86400, sod = secs % 86400;
	int y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	put_digits(out, (unsigned)y, 4);
	out[4] = '-';
	put_digits(out + 5, m, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[10] = 'T';
	put_digits(out + 11, (unsigned)(sod / 3600), 2);
	out[13] = ':';
	put_digits(out + 14, (unsigned)(sod / 60 % 60), 2);
	out[16] = ':';
	put_digits(out + 17, (unsigned)(sod % 60), 2);
	out[19] = '.';
	put_digits(out + 20, (unsigned)frac, 6);
	out[26] = 'Z';
}

static int get_digits(const char *s, int n, unsigned *v)
{
	unsigned x = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	*v = x;
	return 0;
}

int lg_util_ts_parse(const char *s, size_t avail, int64_t *real_us)
{
	unsigned y, mo, d, h, mi, se, us;
	if (avail < LG_TS_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[26] != 'Z')
		return -1;
	if (get_digits(s, 4, &y) || get_digits(s + 5, 2, &mo) || get_digits(s + 8, 2, &d) ||
	    get_digits(s + 11, 2, &h) || get_digits(s + 14, 2, &mi) ||
	    get_digits(s + 17, 2, &se) || get_digits(s + 20, 6, &us) || mo < 1 || mo > 12 ||
	    d < 1 || d > 31)
		return -1;
	int64_t days = days_from_civil(y, mo, d);
	*real_us = ((days * 86400 + h * 3600 + mi * 60 + se) * 1000000) + us;
	return 0;
}

static unsigned hist_index(uint64_t v)
{
	if (v < 64)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 6 .. 63 */
	if (e > 40)
		return LG_HIST_BUCKETS - 1;
	unsigned sub = (unsigned)(v >> (e - 5)) & 31u;
	return 64 + (e - 6) * 32 + sub;
}

/* the middle of bucket i, in µs */
static double hist_value(unsigned i)
{
	if (i < 64)
		return i;
	unsigned e = (i - 64) / 32 + 6, sub = (i - 64) % 32;
	double lo = (double)((1ull << e) + ((uint64_t)sub << (e - 5)));
	return lo + (double)(1ull << (e - 5)) / 2;
}

void lg_util_hist_add(struct lg_hist *h, int64_t us)
{
	uint64_t v = us < 0 ? 0 : (uint64_t)us;
	h->b[hist_index(v)]++;
	h->n++;
	if (v > h->max_us)
		h->max_us = v;
}

double lg_util_hist_pct_ms(const struct lg_hist *h, double q)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > want) {
			double v = hist_value(i);
			return (v > (double)h->max_us ? (double)h->max_us : v) / 1000.0;
		}
	}
	return (double)h->max_us / 1000.0;
}

int lg_util_buf_append(struct lg_buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

void lg_util_buf_consume(struct lg_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		/* idle connections keep no buffer: 10k of them add up */
		if (b->cap > 4096)
			lg_util_buf_free(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void lg_util_buf_free(struct lg_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int lg_util_expand(char *out, size_t cap, const char *tmpl, int n, const char *u)
{
	size_t o = 0;
	for (const char *s = tmpl; *s;) {
		char num[16];
		const char *rep = NULL;
		if (s[0] == '{' && s[1] == 'c' && s[2] == '}') {
			snprintf(num, sizeof num, "%d", n);
			rep = num;
		} else if (s[0] == '{' && s[1] == 'u' && s[2] == '}' && u) {
			rep = u;
		}
		if (rep) {
			size_t l = strlen(rep);
			if (o + l >= cap)
				return -1;
			memcpy(out + o, rep, l);
			o += l;
			s += 3;
		} else {
			if (o + 1 >= cap)
				return -1;
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
	return (int)o;
}

unsigned lg_util_scan_events(const uint8_t *p, size_t n, const char *needle, size_t nlen,
			     int64_t now_us, struct lg_hist *h)
{
	unsigned count = 0;
	const uint8_t *end = p + n;
	while (p < end) {
		const uint8_t *q = memmem(p, (size_t)(end - p), needle, nlen);
		if (!q)
			break;
		q += nlen;
		int64_t ts;
		if (lg_util_ts_parse((const char *)q, (size_t)(end - q), &ts) == 0) {
			lg_util_hist_add(h, now_us - ts);
			count++;
			q += LG_TS_LEN;
		}
		p = q;
	}
	return count;
}
