/* SPDX-License-Identifier: MIT
 *
 * payload.c - the pure half of libstatusbus-publish: topics and JSON
 * payloads of status records and log lines, log level detection, text
 * cleaning and the one-line readable form of a status record.  No MQTT, no
 * threads, no global state: unit-tested without a broker
 * (tests/unit/test_publish.c).
 */
#include "sb_publish.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "topic.h"

static const char *const resource_names[] = { "app", "db", "service", "server", "deploy" };

const char *sb_resource_name(enum sb_resource kind)
{
	return (unsigned)kind < SB_ARRAY_LEN(resource_names) ? resource_names[kind] : "?";
}

const char *sb_stream_name(enum sb_stream stream)
{
	return stream == SB_STREAM_STDERR ? "stderr" : "stdout";
}

const char *sb_level_name(enum sb_log_level level)
{
	switch (level) {
	case SB_LOG_DEBUG: return "debug";
	case SB_LOG_WARN: return "warn";
	case SB_LOG_ERR: return "error";
	case SB_LOG_INFO: break;
	}
	return "info";
}

void sb_status_init(struct sb_status *st, enum sb_resource kind, const char *team,
		    const char *id)
{
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	st->team = team;
	st->id = id;
	st->reachable = SB_UNSET;
	st->old_reachable = SB_UNSET;
	st->latency_ms = -1;
	st->progress = SB_UNSET;
	st->step_index = SB_UNSET;
	st->total_steps = SB_UNSET;
}

char *sb_rfc3339(int64_t ms, char *buf, size_t buflen)
{
	time_t secs;
	struct tm tm;

	if (ms <= 0)
		ms = sb_wall_ms();
	secs = (time_t)(ms / 1000);
	gmtime_r(&secs, &tm);
	snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return buf;
}

/* ---- status records ------------------------------------------------------- */

static int add_str(cJSON *o, const char *k, const char *v)
{
	return !v || cJSON_AddStringToObject(o, k, v) != NULL;
}

static int add_int(cJSON *o, const char *k, int v)
{
	return v == SB_UNSET || cJSON_AddNumberToObject(o, k, v) != NULL;
}

static int add_bool(cJSON *o, const char *k, int v)
{
	return v == SB_UNSET || cJSON_AddBoolToObject(o, k, v != 0) != NULL;
}

static int add_time(cJSON *o, const char *k, int64_t ms)
{
	char ts[40];

	return !ms || cJSON_AddStringToObject(o, k, sb_rfc3339(ms, ts, sizeof(ts))) != NULL;
}

/* The ids that go into a resource's topics. */
static enum sb_err check_ids(enum sb_resource kind, const char *team, const char *id, char *err,
			     size_t errlen)
{
	if ((unsigned)kind >= SB_ARRAY_LEN(resource_names)) {
		if (err)
			snprintf(err, errlen, "unknown resource kind %d", (int)kind);
		return SB_ERR_INVAL;
	}
	if (!team || !sb_id_valid(team, strlen(team))) {
		if (err)
			snprintf(err, errlen, "team \"%s\" is not an id ([A-Za-z0-9_-]{1,64})",
				 team ? team : "");
		return SB_ERR_INVAL;
	}
	if (!id || !sb_uuid_valid(id, strlen(id))) {
		if (err)
			snprintf(err, errlen, "%s id \"%s\" is not a UUID", sb_resource_name(kind),
				 id ? id : "");
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

enum sb_err sb_log_topic(enum sb_resource kind, const char *team, const char *id, char **topic,
			 char *err, size_t errlen)
{
	enum sb_err rc = check_ids(kind, team, id, err, errlen);
	size_t len;

	*topic = NULL;
	if (rc != SB_OK)
		return rc;
	if (kind == SB_RES_SERVER) {
		if (err)
			snprintf(err, errlen, "servers have no log stream (deploy, app, db, service do)");
		return SB_ERR_INVAL;
	}
	len = strlen(team) + strlen(id) + 32;
	if (!(*topic = malloc(len)))
		return SB_ERR_NOMEM;
	/* a deploy's log is not team-scoped (docs/protocol.md §2) */
	if (kind == SB_RES_DEPLOY)
		snprintf(*topic, len, "deploy/%s/logs", id);
	else
		snprintf(*topic, len, "team/%s/%s/%s/logs", team, sb_resource_name(kind), id);
	return SB_OK;
}

enum sb_err sb_status_build(const struct sb_status *st, char **topic, char **payload,
			    char *err, size_t errlen)
{
	char ts[40], *t = NULL, *p = NULL;
	cJSON *o;
	int ok;
	size_t tlen;
	enum sb_err rc;

	*topic = NULL;
	*payload = NULL;
	rc = check_ids(st->kind, st->team, st->id, err, errlen);
	if (rc != SB_OK)
		return rc;

	o = cJSON_CreateObject();
	if (!o)
		return SB_ERR_NOMEM;
	ok = cJSON_AddStringToObject(o, "ts", sb_rfc3339(st->ts_ms, ts, sizeof(ts))) != NULL;
	ok = ok && add_str(o, "status", st->status) && add_str(o, "old_status", st->old_status);
	ok = ok && add_bool(o, "reachable", st->reachable) &&
	     add_bool(o, "old_reachable", st->old_reachable);
	if (ok && st->latency_ms >= 0)
		ok = cJSON_AddNumberToObject(o, "latency_ms", st->latency_ms) != NULL;
	ok = ok && add_int(o, "progress", st->progress) && add_str(o, "step", st->step) &&
	     add_int(o, "step_index", st->step_index) && add_int(o, "total_steps", st->total_steps) &&
	     add_str(o, "commit", st->commit) && add_str(o, "triggered_by", st->triggered_by) &&
	     add_str(o, "app", st->app) && add_time(o, "started_at", st->started_at_ms) &&
	     add_time(o, "finished_at", st->finished_at_ms);
	ok = ok && add_str(o, "reason", st->reason) && add_str(o, "name", st->name);
	if (ok)
		p = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	tlen = strlen(st->team) + strlen(st->id) + 40;
	if (p)
		t = malloc(tlen);
	if (!p || !t) {
		free(p);
		free(t);
		return SB_ERR_NOMEM;
	}
	snprintf(t, tlen, "team/%s/%s/%s/%s", st->team, sb_resource_name(st->kind), st->id,
		 st->kind == SB_RES_SERVER ? "reachability" : "status");
	*topic = t;
	*payload = p;
	return SB_OK;
}

/* ---- log lines ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* Bytes of the terminal escape sequence at s[0] == ESC (n bytes left):
 * CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ESC \), or
 * a two-byte escape. */
static size_t escape_len(const unsigned char *s, size_t n)
{
	size_t i;

	if (n < 2)
		return 1;
	if (s[1] == '[') {
		for (i = 2; i < n && s[i] >= 0x30 && s[i] <= 0x3F; i++)
			;
		for (; i < n && s[i] >= 0x20 && s[i] <= 0x2F; i++)
			;
		return i < n && s[i] >= 0x40 && s[i] <= 0x7E ? i + 1 : i;
	}
	if (s[1] == ']') {
		for (i = 2; i < n; i++) {
			if (s[i] == 0x07)
				return i + 1;
			if (s[i] == 0x1B && i + 1 < n && s[i + 1] == '\\')
				return i + 2;
		}
		return n;
	}
	return 2;
}

/* Cleans text into out (capacity 3 * len + 1): what a terminal would show
 * on the last carriage-return segment, no escape sequences, valid UTF-8
 * (invalid bytes and NUL become U+FFFD), at most `max_chars` characters.
 * Returns the length written. */
static size_t clean_text(const char *text, size_t len, char *out, size_t max_chars)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i, o = 0, chars = 0;

	while (len && (s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	for (i = len; i > 0; i--) {
		if (s[i - 1] == '\r') {
			s += i;
			len -= i;
			break;
		}
	}
	for (i = 0; i < len && chars < max_chars;) {
		size_t k;

		if (s[i] == 0x1B) {
			i += escape_len(s + i, len - i);
			continue;
		}
		k = s[i] ? utf8_seq(s + i, len - i) : 0;   /* NUL would end the string */
		if (k == 0) {
			memcpy(out + o, "\xEF\xBF\xBD", 3);   /* U+FFFD */
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
		chars++;
	}
	out[o] = '\0';
	return o;
}

static const struct {
	const char *word;
	enum sb_log_level level;
} keywords[] = {
	{ "error", SB_LOG_ERR }, { "err", SB_LOG_ERR }, { "fatal", SB_LOG_ERR },
	{ "panic", SB_LOG_ERR }, { "critical", SB_LOG_ERR },
	{ "warning", SB_LOG_WARN }, { "warn", SB_LOG_WARN },
	{ "debug", SB_LOG_DEBUG },
};

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

enum sb_log_level sb_log_level_detect(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;

	for (size_t i = 0; i < len; i++) {
		if (!is_alpha(s[i]))
			continue;
		/* a word starts after a non-letter or at a camelCase hump */
		if (i > 0 && is_alpha(s[i - 1]) && !(islower(s[i - 1]) && isupper(s[i])))
			continue;
		for (size_t k = 0; k < SB_ARRAY_LEN(keywords); k++) {
			size_t wl = strlen(keywords[k].word);

			if (i + wl <= len && strncasecmp((const char *)s + i, keywords[k].word, wl) == 0 &&
			    (i + wl == len || !is_alpha(s[i + wl]) ||
			     (islower(s[i + wl - 1]) && isupper(s[i + wl]))))
				return keywords[k].level;
		}
	}
	return SB_LOG_INFO;
}

enum sb_err sb_log_line_build(uint64_t seq, int64_t ts_ms, enum sb_stream stream,
			      const char *text, size_t len, char **payload, size_t *payload_len)
{
	char ts[40], *clean, *p = NULL;
	size_t clen;
	cJSON *o;

	*payload = NULL;
	if (seq < 1)
		return SB_ERR_INVAL;
	if (len > SIZE_MAX / 4)
		return SB_ERR_LIMIT;
	clean = malloc(3 * len + 1);
	if (!clean)
		return SB_ERR_NOMEM;
	clen = clean_text(text, len, clean, SB_LOG_MAX_LINE);
	o = cJSON_CreateObject();
	if (o && cJSON_AddNumberToObject(o, "seq", (double)seq) &&
	    cJSON_AddStringToObject(o, "ts", sb_rfc3339(ts_ms, ts, sizeof(ts))) &&
	    cJSON_AddStringToObject(o, "level", sb_level_name(sb_log_level_detect(clean, clen))) &&
	    cJSON_AddStringToObject(o, "stream", sb_stream_name(stream)) &&
	    cJSON_AddStringToObject(o, "msg", clean))
		p = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	free(clean);
	if (!p)
		return SB_ERR_NOMEM;
	*payload = p;
	if (payload_len)
		*payload_len = strlen(p);
	return SB_OK;
}

/* ---- readable form -------------------------------------------------------- */

struct out {
	char *buf;
	size_t cap, len;
};

/* Appends printable text: control characters from the wire become '?', so a
 * payload cannot move the cursor or split the line. */
static void put(struct out *o, const char *s)
{
	for (; *s && o->len + 1 < o->cap; s++)
		o->buf[o->len++] = ((unsigned char)*s < 0x20 || *s == 0x7F) ? '?' : *s;
	o->buf[o->len] = '\0';
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(o, tmp);
}

static const char *jstr(const cJSON *doc, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, k);

	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static const char *jbool(const cJSON *doc, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, k);

	return cJSON_IsBool(x) ? (cJSON_IsTrue(x) ? "reachable" : "unreachable") : NULL;
}

char *sb_status_describe(const char *topic, const char *payload, size_t len, char *buf,
			 size_t buflen)
{
	struct out o = { buf, buflen, 0 };
	char seg[5][80];
	const char *p = topic, *kind = NULL;
	int n = 0;
	cJSON *doc;

	if (!buflen)
		return buf;
	buf[0] = '\0';
	/* team/<t>/<kind>/<id>/<leaf> */
	while (n < 5) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l >= sizeof(seg[0]))
			break;
		memcpy(seg[n], p, l);
		seg[n++][l] = '\0';
		if (!e)
			break;
		p = e + 1;
	}
	if (n == 5 && !strchr(p, '/') && strcmp(seg[0], "team") == 0) {
		for (size_t i = 0; i < SB_ARRAY_LEN(resource_names); i++)
			if (strcmp(seg[2], resource_names[i]) == 0 &&
			    strcmp(seg[4], i == SB_RES_SERVER ? "reachability" : "status") == 0)
				kind = resource_names[i];
	}
	if (!kind) {
		putf(&o, "%s %.*s", topic, (int)(len > 200 ? 200 : len), payload ? payload : "");
		return buf;
	}
	putf(&o, "%s %.8s%s", kind, seg[3], strlen(seg[3]) > 8 ? "\xE2\x80\xA6" : "");
	if (len == 0) {
		put(&o, " deleted");
		return buf;
	}
	doc = cJSON_ParseWithLength(payload, len);
	if (!cJSON_IsObject(doc)) {
		put(&o, " (payload is not JSON)");
		cJSON_Delete(doc);
		return buf;
	}
	if (jstr(doc, "name"))
		putf(&o, " [%.128s]", jstr(doc, "name"));
	if (strcmp(kind, "server") == 0) {
		const cJSON *lat = cJSON_GetObjectItemCaseSensitive(doc, "latency_ms");

		putf(&o, " %s", jbool(doc, "reachable") ? jbool(doc, "reachable") : "?");
		if (jbool(doc, "old_reachable"))
			putf(&o, " (was %s)", jbool(doc, "old_reachable"));
		if (cJSON_IsNumber(lat))
			putf(&o, ", %g ms", lat->valuedouble);
	} else {
		const cJSON *prog = cJSON_GetObjectItemCaseSensitive(doc, "progress");

		putf(&o, " %.64s", jstr(doc, "status") ? jstr(doc, "status") : "?");
		if (jstr(doc, "old_status"))
			putf(&o, " (was %.64s)", jstr(doc, "old_status"));
		if (cJSON_IsNumber(prog))
			putf(&o, ", %g%%", prog->valuedouble);
		if (jstr(doc, "step"))
			putf(&o, ", step %.128s", jstr(doc, "step"));
	}
	if (jstr(doc, "reason"))
		putf(&o, ": %.1024s", jstr(doc, "reason"));
	cJSON_Delete(doc);
	return buf;
}
