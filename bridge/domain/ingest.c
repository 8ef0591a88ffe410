/* SPDX-License-Identifier: MIT
 *
 * ingest.c - the verdict on one MQTT message (see ingest.h).
 */
#include "ingest.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "proto_v1.h"

static void refuse(struct sb_ingest_result *out, enum sb_ingest_reason reason)
{
	out->verdict = SB_INGEST_REJECT;
	out->reason = reason;
}

static size_t digits_end(const unsigned char *s, size_t i, size_t len)
{
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* Length of the JSON number at s, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
 * or 0 when what starts there is not one (cJSON also takes 01 and 1.). */
static size_t number_len(const unsigned char *s, size_t len)
{
	size_t i = s[0] == '-', j;

	if (i < len && s[i] == '0')
		i++;
	else if ((j = digits_end(s, i, len)) > i)
		i = j;
	else
		return 0;
	if (i < len && s[i] == '.') {
		if ((j = digits_end(s, i + 1, len)) == i + 1)
			return 0;
		i = j;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i += i + 1 < len && (s[i + 1] == '+' || s[i + 1] == '-') ? 2 : 1;
		if ((j = digits_end(s, i, len)) == i)
			return 0;
		i = j;
	}
	/* "01", "1.", "1.5.3": what follows cannot go on a number */
	if (i < len && memchr("0123456789.eE+-", s[i], 15))
		return 0;
	return i;
}

/* What cJSON lets through and a browser's JSON.parse does not, or NULL:
 * the payload is spliced into text frames as it is, so one such byte
 * would make a whole frame unreadable (a batch of other lines with it),
 * and a frame that is not UTF-8 makes the browser drop the WebSocket.
 * cJSON takes any byte up to 0x20 as white space, a byte order mark, raw
 * control characters and any byte in strings, and numbers like 01 and 1. */
static const char *not_strict(const char *payload, size_t len)
{
	const unsigned char *s = (const unsigned char *)payload;
	size_t i = 0, n;
	int in_str = 0;

	while (i < len) {
		unsigned char c = s[i];

		if (in_str && c >= 0x80) {
			if (!(n = sb_utf8_len(s + i, len - i)))
				return "payload is not valid UTF-8";
			i += n;
		} else if (in_str) {
			if (c < 0x20)
				return "payload has a control character in a string";
			in_str = c != '"';
			/* cJSON takes \u with non-hex digits (as a NUL), and
			 * JSON.parse does not */
			if (c == '\\' && i + 1 < len && s[i + 1] == 'u' &&
			    (i + 5 >= len || !isxdigit(s[i + 2]) || !isxdigit(s[i + 3]) ||
			     !isxdigit(s[i + 4]) || !isxdigit(s[i + 5])))
				return "payload has a \\u escape without four hex digits";
			i += c == '\\' ? 2 : 1;   /* cJSON checks the other escapes */
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			if (!(n = number_len(s + i, len - i)))
				return "payload has a number that is not JSON";
			i += n;
		} else if (c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r')) {
			return "payload is not JSON";
		} else {
			in_str = c == '"';
			i++;
		}
	}
	return NULL;
}

/* One strict JSON value and nothing but white space after it, or NULL
 * with the reason in why. */
static cJSON *parse_strict(const char *payload, size_t len, char *why, size_t whylen)
{
	const char *end = NULL, *bad;
	cJSON *doc = cJSON_ParseWithLengthOpts(payload, len, &end, 0);

	while (doc && end < payload + len &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	bad = !doc || end != payload + len ? "payload is not JSON" : not_strict(payload, len);
	if (bad) {
		snprintf(why, whylen, "%s", bad);
		cJSON_Delete(doc);
		doc = NULL;
	}
	return doc;
}

int sb_ingest_json_strict(const char *s, size_t len)
{
	char why[64];
	cJSON *doc = parse_strict(s, len, why, sizeof(why));

	cJSON_Delete(doc);
	return doc != NULL;
}

/* A relayed Pusher event (relay.h): its topic's shape and its payload's
 * own rules (the schema, when validation is on, checks the same and
 * more).  0 when refused (out filled). */
static int relay_check(const char *topic, const char *payload, size_t len, const cJSON *doc,
		       int retained, struct sb_ingest_result *out)
{
	struct sb_relay_env env;
	const char *ev = sb_relay_event(topic);

	if (!ev || !sb_relay_event_valid(ev, strlen(ev))) {
		snprintf(out->why, sizeof(out->why), "a relayed Pusher event's topic is "
			 "pusher/<channel>/<event name>");
		refuse(out, SB_INGEST_UNKNOWN_TOPIC);
		return 0;
	}
	if (sb_relay_parse(doc, &env, out->why, sizeof(out->why)) != SB_OK) {
		refuse(out, SB_INGEST_SCHEMA);
		return 0;
	}
	if (sb_json_has_escaped_nul(payload, len)) {
		/* the data is handed on as a C string */
		snprintf(out->why, sizeof(out->why), "a relayed Pusher event's data holds a NUL");
		refuse(out, SB_INGEST_SCHEMA);
		return 0;
	}
	out->keep = env.cached || retained;
	memcpy(out->origin, env.socket_id, sizeof(out->origin));
	return 1;
}

static void status_of(const cJSON *doc, char *out, size_t len)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "status");

	if (cJSON_IsString(st) && strlen(st->valuestring) < len)
		memcpy(out, st->valuestring, strlen(st->valuestring) + 1);
}

static int64_t seq_of(const cJSON *doc)
{
	const cJSON *sq = cJSON_GetObjectItemCaseSensitive(doc, "seq");

	if (cJSON_IsNumber(sq) && sq->valuedouble >= 1 &&
	    sq->valuedouble <= (double)SB_INT_MAX_EXACT && sq->valuedouble == floor(sq->valuedouble))
		return (int64_t)sq->valuedouble;
	return 0;
}

void sb_ingest_check(const struct sb_ingest_rules *r, const char *topic, size_t topic_len,
		     const char *payload, size_t len, int retained, struct sb_ingest_result *out)
{
	const struct sb_schema *sch = NULL;
	cJSON *doc;
	char why[300];

	memset(out, 0, sizeof(*out));
	out->kind = sb_kinds_lookup(r->kinds, topic);
	if (topic[0] == '$') {
		out->verdict = SB_INGEST_IGNORE;
		return;
	}
	if (topic_len > SB_TOPIC_MAX) {
		snprintf(out->why, sizeof(out->why), "topic longer than %d bytes", SB_TOPIC_MAX);
		refuse(out, SB_INGEST_OVERSIZE);
		return;
	}
	if (!out->kind && r->reject_unknown_topics) {
		snprintf(out->why, sizeof(out->why), "topic has no schema in topics.json");
		refuse(out, SB_INGEST_UNKNOWN_TOPIC);
		return;
	}
	if (len == 0) {
		/* an empty non-status message means nothing; on a relay topic
		 * it clears the event kept there (relay.h) */
		out->verdict = (out->kind ? out->kind->retained || out->kind->relay : retained) ?
			       SB_INGEST_DELETE : SB_INGEST_IGNORE;
		return;
	}
	if (len > r->max_payload_bytes) {
		snprintf(out->why, sizeof(out->why), "payload of %zu bytes is over the limit of %zu",
			 len, r->max_payload_bytes);
		refuse(out, SB_INGEST_OVERSIZE);
		return;
	}
	doc = parse_strict(payload, len, out->why, sizeof(out->why));
	if (!doc) {
		refuse(out, SB_INGEST_NOT_JSON);
		return;
	}
	if (out->kind && out->kind->relay &&
	    !relay_check(topic, payload, len, doc, retained, out)) {
		cJSON_Delete(doc);
		return;
	}
	if (out->kind && out->kind->retained)
		out->keep = 1;
	out->seq = seq_of(doc);
	status_of(doc, out->status, sizeof(out->status));
	if (r->schemas && r->validate && out->kind && out->kind->schema)
		sch = sb_schema_set_get(r->schemas, out->kind->schema);
	if (sch && sb_schema_validate(sch, doc, why, sizeof(why)) != SB_OK) {
		out->schema = out->kind->schema;
		snprintf(out->why, sizeof(out->why), "%s: %s", out->kind->schema, why);
		refuse(out, SB_INGEST_SCHEMA);
	} else {
		out->verdict = SB_INGEST_ACCEPT;
	}
	cJSON_Delete(doc);
}

char *sb_ingest_reject_report(const char *topic, size_t topic_len, const char *payload,
			      size_t len, const char *why, int64_t now_s, size_t *outlen)
{
	struct sb_buf b;
	size_t show = len > 1024 ? 1024 : len;
	time_t t = (time_t)now_s;
	struct tm tm;
	char ts[32];
	char *out;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"topic\":");
	sb_buf_json_str(&b, topic, topic_len);
	sb_buf_puts(&b, ",\"reason\":");
	sb_buf_json_str(&b, why, strlen(why));
	sb_buf_printf(&b, ",\"ts\":\"%s\",\"bytes\":%zu,\"payload\":", ts, len);
	sb_buf_json_str(&b, payload, show);
	sb_buf_printf(&b, ",\"truncated\":%s}", show < len ? "true" : "false");
	out = sb_buf_str(&b) ? strdup(sb_buf_str(&b)) : NULL;
	if (out && outlen)
		*outlen = b.len;
	sb_buf_free(&b);
	return out;
}
