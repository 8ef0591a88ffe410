/* SPDX-License-Identifier: MIT
 *
 * ingest.c - the verdict on one MQTT message (see ingest.h).
 */
#include "ingest.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "frame.h"

static void refuse(struct sb_ingest_result *out, enum sb_ingest_reason reason)
{
	out->verdict = SB_INGEST_REJECT;
	out->reason = reason;
}

/* One JSON value and nothing but white space after it, or NULL. */
static cJSON *parse_strict(const char *payload, size_t len)
{
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithLengthOpts(payload, len, &end, 0);

	while (doc && end < payload + len &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (doc && end != payload + len) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	return doc;
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

	if (cJSON_IsNumber(sq) && sq->valuedouble >= 1 && sq->valuedouble < 9007199254740992.0 &&
	    sq->valuedouble == floor(sq->valuedouble))
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
		/* an empty non-status message means nothing */
		out->verdict = (out->kind ? out->kind->retained : retained) ? SB_INGEST_DELETE :
									      SB_INGEST_IGNORE;
		return;
	}
	if (len > r->max_payload_bytes) {
		snprintf(out->why, sizeof(out->why), "payload of %zu bytes is over the limit of %zu",
			 len, r->max_payload_bytes);
		refuse(out, SB_INGEST_OVERSIZE);
		return;
	}
	doc = parse_strict(payload, len);
	if (!doc) {
		snprintf(out->why, sizeof(out->why), "payload is not JSON");
		refuse(out, SB_INGEST_NOT_JSON);
		return;
	}
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
