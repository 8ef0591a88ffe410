/* SPDX-License-Identifier: MIT
 *
 * pusher_presence.c - Pusher presence channels on the wire (see
 * pusher_presence.h).
 */
#include "pusher_presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chanmap.h"

enum sb_err sb_pusher_channel_data(const char *cd, char id[SB_PRESENCE_MAX_ID + 1], char **info,
				   char *reason, size_t rlen)
{
	cJSON *doc;
	const cJSON *uid, *ui;
	size_t len;

	*info = NULL;
	id[0] = '\0';
	if (!cd) {
		snprintf(reason, rlen, "a presence channel needs channel_data from the app's auth "
			 "endpoint");
		return SB_ERR_INVAL;
	}
	if (strlen(cd) > SB_PUSHER_MAX_CHANNEL_DATA) {
		snprintf(reason, rlen, "channel_data is over %d bytes", SB_PUSHER_MAX_CHANNEL_DATA);
		return SB_ERR_INVAL;
	}
	doc = cJSON_Parse(cd);
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		snprintf(reason, rlen, "channel_data is not a JSON object");
		return SB_ERR_INVAL;
	}
	uid = cJSON_GetObjectItemCaseSensitive(doc, "user_id");
	if (cJSON_IsNumber(uid) && uid->valuedouble == (double)(long long)uid->valuedouble &&
	    uid->valuedouble >= -9007199254740991.0 && uid->valuedouble <= 9007199254740991.0)
		snprintf(id, SB_PRESENCE_MAX_ID + 1, "%lld", (long long)uid->valuedouble);
	else if (cJSON_IsString(uid) && (len = strlen(uid->valuestring)) <= SB_PRESENCE_MAX_ID &&
		 sb_presence_id_valid(uid->valuestring, len))
		memcpy(id, uid->valuestring, len + 1);
	if (!id[0]) {
		cJSON_Delete(doc);
		snprintf(reason, rlen, "channel_data needs a user_id: a string of 1 to %d bytes of "
			 "printable UTF-8 or an integer", SB_PRESENCE_MAX_ID);
		return SB_ERR_INVAL;
	}
	ui = cJSON_GetObjectItemCaseSensitive(doc, "user_info");
	if (ui && !cJSON_IsNull(ui)) {
		*info = cJSON_PrintUnformatted(ui);
		if (!*info) {
			cJSON_Delete(doc);
			return SB_ERR_NOMEM;
		}
		if (strlen(*info) > SB_PRESENCE_MAX_INFO) {
			free(*info);
			*info = NULL;
			cJSON_Delete(doc);
			snprintf(reason, rlen, "user_info is over %d bytes", SB_PRESENCE_MAX_INFO);
			return SB_ERR_INVAL;
		}
	}
	cJSON_Delete(doc);
	return SB_OK;
}

/* {"event":E,"channel":"presence-<channel>","data":"<in as a JSON string>"};
 * frees in. */
static struct sb_frame *frame(const char *event, const char *channel, struct sb_buf *in)
{
	struct sb_buf b;
	const char *s = sb_buf_str(in);
	char name[sizeof("presence-") + SB_CHAN_MAX_NAME];
	int n = snprintf(name, sizeof(name), "presence-%s", channel);

	if (!s || n < 0 || (size_t)n >= sizeof(name)) {
		sb_buf_free(in);
		return NULL;
	}
	sb_buf_init(&b);
	sb_buf_printf(&b, "{\"event\":\"%s\",\"channel\":", event);
	sb_buf_json_str(&b, name, (size_t)n);
	sb_buf_puts(&b, ",\"data\":");
	sb_buf_json_str(&b, s, in->len);
	sb_buf_free(in);
	sb_buf_puts(&b, "}");
	return sb_buf_to_frame(&b);
}

struct hash_ctx {
	struct sb_buf *ids, *hash;
	size_t n;
};

static void add_member(void *user, const char *id, const char *info)
{
	struct hash_ctx *h = user;

	if (h->n++) {
		sb_buf_puts(h->ids, ",");
		sb_buf_puts(h->hash, ",");
	}
	sb_buf_json_str(h->ids, id, strlen(id));
	sb_buf_json_str(h->hash, id, strlen(id));
	sb_buf_puts(h->hash, ":");
	sb_buf_puts(h->hash, info ? info : "null");
}

struct sb_frame *sb_pusher_presence_succeeded_frame(const char *channel,
						    const struct sb_presence_set *s)
{
	struct sb_buf in, hash;
	struct hash_ctx h = { &in, &hash, 0 };

	sb_buf_init(&in);
	sb_buf_init(&hash);
	sb_buf_puts(&in, "{\"presence\":{\"ids\":[");
	sb_buf_puts(&hash, "{");
	if (s)
		sb_presence_foreach(s, add_member, &h);
	sb_buf_puts(&hash, "}");
	if (!sb_buf_str(&hash)) {
		sb_buf_free(&hash);
		sb_buf_free(&in);
		return NULL;
	}
	sb_buf_puts(&in, "],\"hash\":");
	sb_buf_append(&in, sb_buf_str(&hash), hash.len);
	sb_buf_free(&hash);
	sb_buf_printf(&in, ",\"count\":%zu}}", h.n);
	return frame("pusher_internal:subscription_succeeded", channel, &in);
}

struct sb_frame *sb_pusher_member_frame(const char *channel, int added, const char *id,
					const char *info)
{
	struct sb_buf in;

	sb_buf_init(&in);
	sb_buf_puts(&in, "{\"user_id\":");
	sb_buf_json_str(&in, id, strlen(id));
	if (added) {
		sb_buf_puts(&in, ",\"user_info\":");
		sb_buf_puts(&in, info ? info : "null");
	}
	sb_buf_puts(&in, "}");
	return frame(added ? "pusher_internal:member_added" : "pusher_internal:member_removed",
		     channel, &in);
}
