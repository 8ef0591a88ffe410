/* SPDX-License-Identifier: MIT
 *
 * sb_common.c - error strings, logging (text or one JSON object per line),
 * clocks and the strict parser of integers read as text.
 */
#include "sb_common.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* set on the service thread (start, SIGHUP) while Paho's thread logs */
static _Atomic int log_level = SB_LOG_INFO;
static _Atomic int log_format = SB_LOG_TEXT;

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

void sb_log_set_level(enum sb_log_level level) { atomic_store(&log_level, (int)level); }
enum sb_log_level sb_log_get_level(void) { return (enum sb_log_level)atomic_load(&log_level); }
void sb_log_set_format(enum sb_log_format f) { atomic_store(&log_format, (int)f); }
enum sb_log_format sb_log_get_format(void) { return (enum sb_log_format)atomic_load(&log_format); }

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int sb_log_level_parse(const char *name, enum sb_log_level *out)
{
	for (size_t i = 0; name && i < SB_ARRAY_LEN(level_names); i++)
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum sb_log_level)i;
			return 1;
		}
	return 0;
}

int sb_log_format_parse(const char *name, enum sb_log_format *out)
{
	if (name && strcmp(name, "text") == 0)
		*out = SB_LOG_TEXT;
	else if (name && strcmp(name, "json") == 0)
		*out = SB_LOG_JSON;
	else
		return 0;
	return 1;
}

/* Output cursor into a fixed buffer: a put that does not fit writes
 * nothing and reports it. */
struct out {
	char *p;
	size_t len, cap;   /* cap: bytes usable, what closes the line excluded */
};

static int put(struct out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len)
		return 0;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	return 1;
}

/* The length of the valid UTF-8 sequence at s (at most left bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 :
		   s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;

	if (!n || n > left)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong 3- and 4-byte forms, surrogates, past U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* A JSON string of s[0..n): escapes, and U+FFFD for bytes that are not
 * UTF-8 (lws and Paho pass on what the network sent).  The closing quote
 * always fits (kept free while the characters go in, which stop at a
 * whole character when the rest does not fit).  0 when cut short. */
static int put_json_str(struct out *o, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	int whole = 1;

	if (o->cap - o->len < 2)
		return 0;
	put(o, "\"", 1);
	o->cap--;
	for (size_t i = 0; i < n && whole;) {
		char esc[8];
		size_t k = utf8_seq(u + i, n - i);

		if (k == 1 && (u[i] == '"' || u[i] == '\\')) {
			esc[0] = '\\';
			esc[1] = (char)u[i];
			whole = put(o, esc, 2);
		} else if (k == 1 && u[i] < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
			whole = put(o, esc, 6);
		} else if (k) {
			whole = put(o, s + i, k);
		} else {
			whole = put(o, "\xef\xbf\xbd", 3);
			k = 1;
		}
		i += k;
	}
	o->cap++;
	put(o, "\"", 1);
	return whole;
}

/* The fields a message's conventional prefix carries (sb_log_render). */
static size_t prefix_fields(const char *msg, struct sb_log_field *f, char *buf, size_t size)
{
	static const char *const components[] = { "mqtt", "ws", "http", "lws", "auth", "listen",
						  "reload" };
	const char *colon = strstr(msg, ": ");
	size_t n;

	if (!colon)
		return 0;
	n = (size_t)(colon - msg);
	if ((!strncmp(msg, "client ", 7) || !strncmp(msg, "pusher ", 7)) && n > 7 &&
	    n - 7 < size && !memchr(msg + 7, ' ', n - 7)) {
		memcpy(buf, msg + 7, n - 7);
		buf[n - 7] = '\0';
		*f = (struct sb_log_field){ "client", buf };
		return 1;
	}
	for (size_t i = 0; i < SB_ARRAY_LEN(components); i++)
		if (strlen(components[i]) == n && !strncmp(msg, components[i], n)) {
			*f = (struct sb_log_field){ "component", components[i] };
			return 1;
		}
	return 0;
}

size_t sb_log_render(char *buf, size_t size, enum sb_log_format format, int64_t wall_ms,
		     enum sb_log_level level, const struct sb_log_field *fields, size_t n,
		     const char *msg)
{
	char ts[64], who[128];
	struct sb_log_field pf;
	struct tm tm;
	time_t sec = (time_t)(wall_ms / 1000);
	struct out o;
	size_t np;
	int first = 1;

	if (!size)
		return 0;
	gmtime_r(&sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
	if ((unsigned)level >= SB_ARRAY_LEN(level_names))
		level = SB_LOG_ERR;
	if (format != SB_LOG_JSON) {
		int w = snprintf(buf, size, "%s %s %s", ts, level_names[level], msg);
		return w < 0 ? 0 : (size_t)w < size ? (size_t)w : size - 1;
	}
	if (size < 128) {
		buf[0] = '\0';
		return 0;
	}
	/* the message gets at most half the line, so that fields fit; a field
	 * that does not fit is left out whole; "}" and the NUL stay free */
	o = (struct out){ buf, 0, size / 2 };
	put(&o, "{\"ts\":\"", 7);
	put(&o, ts, strlen(ts));
	put(&o, "\",\"level\":\"", 11);
	put(&o, level_names[level], strlen(level_names[level]));
	put(&o, "\",\"msg\":", 8);
	put_json_str(&o, msg, strlen(msg));
	o.cap = size - 2;
	put(&o, ",\"fields\":{", 11);
	o.cap--;   /* the fields' "}" */
	np = prefix_fields(msg, &pf, who, sizeof(who));
	for (size_t i = 0; i < n + np; i++) {
		const struct sb_log_field *f = i < n ? &fields[i] : &pf;
		size_t mark = o.len;
		int dup = 0;

		for (size_t j = 0; j < i && j < n; j++)
			dup |= fields[j].value && !strcmp(fields[j].key, f->key);
		if (!f->value || dup)
			continue;
		if ((!first && !put(&o, ",", 1)) || !put_json_str(&o, f->key, strlen(f->key)) ||
		    !put(&o, ":", 1) || !put_json_str(&o, f->value, strlen(f->value))) {
			o.len = mark;
			continue;
		}
		first = 0;
	}
	o.cap += 2;
	put(&o, "}}", 2);
	buf[o.len] = '\0';
	return o.len;
}

static void log_line(enum sb_log_level level, const struct sb_log_field *fields, size_t n,
		     const char *fmt, va_list ap)
{
	char msg[2048], line[4096];

	if ((int)level < atomic_load(&log_level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	sb_log_render(line, sizeof(line), sb_log_get_format(), sb_wall_ms(), level, fields, n, msg);
	/* one call keeps lines from two threads apart */
	fprintf(stderr, "%s\n", line);
}

void sb_log(enum sb_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void sb_log_kv(enum sb_log_level level, const struct sb_log_field *fields, size_t n,
	       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(level, fields, n, fmt, ap);
	va_end(ap);
}

int64_t sb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sb_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
