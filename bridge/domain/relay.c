/* SPDX-License-Identifier: MIT
 *
 * relay.c - topics and payloads of relayed Pusher API events (see relay.h).
 */
#include "relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "ingest.h"
#include "pusher_codec.h"

int sb_relay_is_topic(const char *topic)
{
	return strncmp(topic, SB_RELAY_PREFIX, SB_RELAY_PREFIX_LEN) == 0;
}

const char *sb_relay_event(const char *topic)
{
	const char *ch, *ev;

	if (!sb_relay_is_topic(topic))
		return NULL;
	ch = topic + SB_RELAY_PREFIX_LEN;
	ev = strchr(ch, '/');
	if (!ev || ev == ch || !ev[1] || strchr(ev + 1, '/'))
		return NULL;
	return ev + 1;
}

int sb_relay_event_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	if (len == 0 || len > SB_RELAY_MAX_EVENT)
		return 0;
	if ((len >= 7 && memcmp(s, "pusher:", 7) == 0) ||
	    (len >= 16 && memcmp(s, "pusher_internal:", 16) == 0))
		return 0;
	for (size_t i = 0; i < len;) {
		size_t n;

		if (u[i] >= 0x80) {
			if (!(n = sb_utf8_len(u + i, len - i)))
				return 0;
			i += n;
			continue;
		}
		if (u[i] < 0x20 || u[i] == 0x7f || u[i] == '+' || u[i] == '#' || u[i] == '/')
			return 0;
		i++;
	}
	return 1;
}

char *sb_relay_filter(const char *channel)
{
	size_t n = SB_RELAY_PREFIX_LEN + strlen(channel) + 3;
	char *f = malloc(n);

	if (f)
		snprintf(f, n, "%s%s/+", SB_RELAY_PREFIX, channel);
	return f;
}

enum sb_err sb_relay_topic(char *buf, size_t len, const char *channel, const char *event)
{
	int n = snprintf(buf, len, "%s%s/%s", SB_RELAY_PREFIX, channel, event);

	return n < 0 || (size_t)n >= len ? SB_ERR_LIMIT : SB_OK;
}

char *sb_relay_envelope(const char *data, size_t dlen, const char *socket_id, int cached,
			size_t *outlen)
{
	struct sb_buf b;
	char *out = NULL;

	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"data\":");
	sb_buf_json_str(&b, data, dlen);
	if (socket_id && *socket_id) {
		sb_buf_puts(&b, ",\"socket_id\":");
		sb_buf_json_str(&b, socket_id, strlen(socket_id));
	}
	if (cached)
		sb_buf_puts(&b, ",\"cached\":true");
	sb_buf_puts(&b, "}");
	if (sb_buf_str(&b) && (out = malloc(b.len + 1))) {
		memcpy(out, sb_buf_str(&b), b.len + 1);
		*outlen = b.len;
	}
	sb_buf_free(&b);
	return out;
}

enum sb_err sb_relay_parse(const cJSON *doc, struct sb_relay_env *out, char *why, size_t whylen)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(doc, "socket_id");
	const cJSON *cached = cJSON_GetObjectItemCaseSensitive(doc, "cached");

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(doc) || !cJSON_IsString(data)) {
		snprintf(why, whylen, "a relayed Pusher event needs a string \"data\"");
		return SB_ERR_INVAL;
	}
	if (sid && (!cJSON_IsString(sid) || !sb_pusher_socket_id_valid(sid->valuestring) ||
		    strlen(sid->valuestring) >= sizeof(out->socket_id))) {
		snprintf(why, whylen, "socket_id must be a string \"<digits>.<digits>\"");
		return SB_ERR_INVAL;
	}
	if (cached && !cJSON_IsBool(cached)) {
		snprintf(why, whylen, "cached must be a boolean");
		return SB_ERR_INVAL;
	}
	if (sid)
		memcpy(out->socket_id, sid->valuestring, strlen(sid->valuestring) + 1);
	out->cached = cJSON_IsTrue(cached);
	return SB_OK;
}

char *sb_relay_data(const char *payload, size_t len, size_t *dlen)
{
	cJSON *doc = cJSON_ParseWithLength(payload, len);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(doc, "data");
	char *out = NULL;

	if (cJSON_IsString(data) && (out = strdup(data->valuestring)))
		*dlen = strlen(out);
	cJSON_Delete(doc);
	return out;
}

enum sb_err sb_relay_put_data(struct sb_buf *b, const char *payload, size_t len, int value)
{
	size_t dlen = 0;
	char *data = sb_relay_data(payload, len, &dlen);

	if (!data) {
		b->failed = 1;
		return SB_ERR_INVAL;
	}
	if (value && sb_ingest_json_strict(data, dlen))
		sb_buf_append(b, data, dlen);
	else
		sb_buf_json_str(b, data, dlen);
	free(data);
	return sb_buf_str(b) ? SB_OK : SB_ERR_NOMEM;
}
