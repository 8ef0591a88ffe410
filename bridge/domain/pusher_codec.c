/* SPDX-License-Identifier: MIT
 *
 * pusher_codec.c - the Pusher Channels protocol 7 codec (see pusher_codec.h):
 * channel name forms, socket ids, HMAC-SHA256 auth signatures, client frame
 * parsing and server frame building.
 *
 * Every server frame is built once by sb_buf and sent by reference: a
 * frame's data is a JSON string, so its JSON is built first and then
 * written as a string literal (finish()).
 */
#include "pusher_codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "chanmap.h"
#include "proto_v1.h"
#include "relay.h"

/* the longest prefix plus the longest statusbus name */
#define NAME_MAX_LEN (sizeof("private-cache-") - 1 + SB_CHAN_MAX_NAME)

static const char *const prefixes[] = { "", "private-", "private-cache-", "cache-", "presence-" };

/* ---- names, socket ids, signatures ---------------------------------------- */

enum sb_pusher_name sb_pusher_name_parse(const char *name, const char **base)
{
	*base = name;
	if (strncmp(name, "private-encrypted-", 18) == 0)
		return SB_PUSHER_UNSUPPORTED;
	if (strncmp(name, "presence-", 9) == 0) {
		*base = name + 9;
		return SB_PUSHER_PRESENCE;
	}
	if (strncmp(name, "private-cache-", 14) == 0) {
		*base = name + 14;
		return SB_PUSHER_PRIVATE_CACHE;
	}
	if (strncmp(name, "private-", 8) == 0) {
		*base = name + 8;
		return SB_PUSHER_PRIVATE;
	}
	if (strncmp(name, "cache-", 6) == 0) {
		*base = name + 6;
		return SB_PUSHER_CACHE;
	}
	return SB_PUSHER_PUBLIC;
}

const char *sb_pusher_name_prefix(enum sb_pusher_name form)
{
	return (size_t)form < SB_ARRAY_LEN(prefixes) ? prefixes[form] : "";
}

int sb_pusher_name_is_private(enum sb_pusher_name form)
{
	return form == SB_PUSHER_PRIVATE || form == SB_PUSHER_PRIVATE_CACHE ||
	       form == SB_PUSHER_PRESENCE;
}

int sb_pusher_name_is_cache(enum sb_pusher_name form)
{
	return form == SB_PUSHER_PRIVATE_CACHE || form == SB_PUSHER_CACHE;
}

void sb_pusher_make_socket_id(const char *session, char *out, size_t outlen)
{
	char half[9];
	unsigned long a = 0, b = 0;

	if (strnlen(session, 16) == 16) {
		memcpy(half, session, 8);
		half[8] = '\0';
		a = strtoul(half, NULL, 16);
		memcpy(half, session + 8, 8);
		b = strtoul(half, NULL, 16);
	}
	snprintf(out, outlen, "%lu.%lu", a, b);
}

int sb_pusher_socket_id_valid(const char *s)
{
	size_t a = 0, b = 0;

	while (s[a] >= '0' && s[a] <= '9')
		a++;
	if (a == 0 || a > 20 || s[a] != '.')
		return 0;
	s += a + 1;
	while (s[b] >= '0' && s[b] <= '9')
		b++;
	return b > 0 && b <= 20 && s[b] == '\0';
}

enum sb_err sb_pusher_hmac_hex(const char *secret, const void *msg, size_t len, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	hex[0] = '\0';
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, len, mac, &maclen) ||
	    maclen != 32)
		return SB_ERR_INTERNAL;
	for (unsigned int i = 0; i < maclen; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[64] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
	return SB_OK;
}

enum sb_err sb_pusher_sign(const char *secret, const char *socket_id, const char *channel,
			   char hex[65])
{
	char msg[SB_PUSHER_SOCKET_ID_MAX + 1 + NAME_MAX_LEN + 1];
	int n = snprintf(msg, sizeof(msg), "%s:%s", socket_id, channel);

	hex[0] = '\0';
	if (n < 0 || (size_t)n >= sizeof(msg))
		return SB_ERR_INVAL;
	return sb_pusher_hmac_hex(secret, msg, (size_t)n, hex);
}

enum sb_err sb_pusher_verify(const char *key, const char *secret, const char *socket_id,
			     const char *channel, const char *auth, char *reason, size_t rlen)
{
	return sb_pusher_verify_data(key, secret, socket_id, channel, NULL, auth, reason, rlen);
}

enum sb_err sb_pusher_verify_data(const char *key, const char *secret, const char *socket_id,
				  const char *channel, const char *channel_data, const char *auth,
				  char *reason, size_t rlen)
{
	char want[65], *msg;
	enum sb_err rc;
	size_t ml;
	size_t kl = strlen(key);
	const char *sig;
	int diff;

	if (!auth || !*auth) {
		snprintf(reason, rlen, "%.200s needs an auth signature from the app's auth endpoint",
			 channel);
		return SB_ERR_DENIED;
	}
	/* the key is public: an ordinary comparison tells nothing secret */
	if (strncmp(auth, key, kl) != 0 || auth[kl] != ':') {
		snprintf(reason, rlen, "auth is not \"<app key>:<signature>\" for this app");
		return SB_ERR_DENIED;
	}
	sig = auth + kl + 1;
	if (strlen(sig) != 64) {
		snprintf(reason, rlen, "the signature must be 64 hex digits (HMAC-SHA256)");
		return SB_ERR_DENIED;
	}
	if (channel_data) {
		ml = strlen(socket_id) + strlen(channel) + strlen(channel_data) + 2;
		if (!(msg = malloc(ml + 1)))
			rc = SB_ERR_NOMEM;
		else {
			snprintf(msg, ml + 1, "%s:%s:%s", socket_id, channel, channel_data);
			rc = sb_pusher_hmac_hex(secret, msg, ml, want);
			free(msg);
		}
	} else {
		rc = sb_pusher_sign(secret, socket_id, channel, want);
	}
	if (rc != SB_OK) {
		snprintf(reason, rlen, "cannot compute the signature");
		return SB_ERR_DENIED;
	}
	/* constant time over all 64 bytes: no early exit on the first
	 * differing digit */
	diff = CRYPTO_memcmp(want, sig, 64);
	OPENSSL_cleanse(want, sizeof(want));
	if (diff) {
		snprintf(reason, rlen, "invalid signature for %.200s on socket %s", channel, socket_id);
		return SB_ERR_DENIED;
	}
	return SB_OK;
}

/* ---- client frames ------------------------------------------------------------ */

void sb_pusher_msg_free(struct sb_pusher_msg *m)
{
	cJSON_Delete(m->data_doc);
	cJSON_Delete(m->root);
	m->data_doc = m->root = NULL;
}

static int name_ok(const cJSON *v)
{
	return cJSON_IsString(v) && strlen(v->valuestring) <= NAME_MAX_LEN;
}

enum sb_err sb_pusher_parse(const char *data, size_t len, struct sb_pusher_msg *out,
			    char *reason, size_t rlen)
{
	cJSON *root, *ev, *d, *obj, *ch;

	memset(out, 0, sizeof(*out));
	root = cJSON_ParseWithLength(data, len);
	if (!root) {
		snprintf(reason, rlen, "frame is not JSON");
		return SB_ERR_INVAL;
	}
	out->root = root;
	if (sb_json_has_escaped_nul(data, len)) {
		snprintf(reason, rlen, "NUL (\\u0000) is not allowed in any field");
		goto bad;
	}
	ev = cJSON_GetObjectItemCaseSensitive(root, "event");
	if (!cJSON_IsObject(root) || !cJSON_IsString(ev)) {
		snprintf(reason, rlen, "a frame is a JSON object with a string \"event\"");
		goto bad;
	}
	if (strlen(ev->valuestring) > SB_PUSHER_MAX_EVENT_NAME) {
		snprintf(reason, rlen, "event names are at most %d bytes", SB_PUSHER_MAX_EVENT_NAME);
		goto bad;
	}
	out->event = ev->valuestring;
	d = cJSON_GetObjectItemCaseSensitive(root, "data");
	obj = d;
	/* Pusher clients send data as an object or as a string of JSON */
	if (cJSON_IsString(d) && sb_json_has_escaped_nul(d->valuestring, strlen(d->valuestring))) {
		snprintf(reason, rlen, "NUL (\\u0000) is not allowed in any field");
		goto bad;
	}
	if (cJSON_IsString(d) && (out->data_doc = cJSON_Parse(d->valuestring)))
		obj = out->data_doc;

	if (!strcmp(ev->valuestring, "pusher:subscribe") ||
	    !strcmp(ev->valuestring, "pusher:unsubscribe")) {
		int sub = ev->valuestring[7] == 's';
		const cJSON *auth;

		out->op = sub ? SB_PUSHER_OP_SUBSCRIBE : SB_PUSHER_OP_UNSUBSCRIBE;
		ch = cJSON_GetObjectItemCaseSensitive(obj, "channel");
		if (!cJSON_IsObject(obj) || !cJSON_IsString(ch)) {
			snprintf(reason, rlen, "%s needs data.channel", ev->valuestring);
			goto bad;
		}
		if (!name_ok(ch)) {
			snprintf(reason, rlen, "channel names are at most %zu bytes", NAME_MAX_LEN);
			goto bad;
		}
		out->channel = ch->valuestring;
		auth = cJSON_GetObjectItemCaseSensitive(obj, "auth");
		if (sub && auth && !cJSON_IsNull(auth)) {
			if (!cJSON_IsString(auth) || strlen(auth->valuestring) > 1024) {
				snprintf(reason, rlen, "data.auth must be a string");
				goto bad;
			}
			out->auth = auth->valuestring;
		}
		auth = cJSON_GetObjectItemCaseSensitive(obj, "channel_data");
		if (sub && auth && !cJSON_IsNull(auth)) {
			if (!cJSON_IsString(auth)) {
				snprintf(reason, rlen, "data.channel_data must be a string (JSON text)");
				goto bad;
			}
			out->channel_data = auth->valuestring;
		}
	} else if (!strcmp(ev->valuestring, "pusher:ping")) {
		out->op = SB_PUSHER_OP_PING;
	} else if (!strcmp(ev->valuestring, "pusher:pong")) {
		out->op = SB_PUSHER_OP_PONG;
	} else if (!strncmp(ev->valuestring, "client-", 7)) {
		out->op = SB_PUSHER_OP_CLIENT_EVENT;
		ch = cJSON_GetObjectItemCaseSensitive(root, "channel");
		if (!name_ok(ch)) {
			snprintf(reason, rlen, "a client event needs a channel");
			goto bad;
		}
		out->channel = ch->valuestring;
		out->data = d;
	} else {
		out->op = SB_PUSHER_OP_OTHER;
	}
	return SB_OK;
bad:
	sb_pusher_msg_free(out);
	return SB_ERR_INVAL;
}

/* ---- frames ------------------------------------------------------------------- */

static void put_name(struct sb_buf *b, enum sb_pusher_name form, const char *channel)
{
	char name[NAME_MAX_LEN + 1];
	int n = snprintf(name, sizeof(name), "%s%s", sb_pusher_name_prefix(form), channel);

	sb_buf_json_str(b, name, n < 0 ? 0 : (size_t)n < sizeof(name) ? (size_t)n : sizeof(name) - 1);
}

/* {"event":E[,"channel":NAME],"data": */
static void begin(struct sb_buf *b, const char *event, enum sb_pusher_name form,
		  const char *channel)
{
	sb_buf_init(b);
	sb_buf_puts(b, "{\"event\":");
	sb_buf_json_str(b, event, strlen(event));
	if (channel) {
		sb_buf_puts(b, ",\"channel\":");
		put_name(b, form, channel);
	}
}

/* Appends ,"data":<in as a JSON string>} and makes the frame; frees in. */
static struct sb_frame *finish(struct sb_buf *b, struct sb_buf *in)
{
	const char *s = sb_buf_str(in);

	if (!s) {
		sb_buf_free(in);
		sb_buf_free(b);
		return NULL;
	}
	sb_buf_puts(b, ",\"data\":");
	sb_buf_json_str(b, s, in->len);
	sb_buf_free(in);
	sb_buf_puts(b, "}");
	return sb_buf_to_frame(b);
}

/* A frame whose data is the JSON string of `json` (NULL: no data). */
static struct sb_frame *simple(const char *event, enum sb_pusher_name form,
			       const char *channel, const char *json)
{
	struct sb_buf b, in;

	begin(&b, event, form, channel);
	if (!json) {
		sb_buf_puts(&b, "}");
		return sb_buf_to_frame(&b);
	}
	sb_buf_init(&in);
	sb_buf_puts(&in, json);
	return finish(&b, &in);
}

struct sb_frame *sb_pusher_event_frame(enum sb_pusher_name form, const char *channel,
				       const char *event, const char *topic, int retained,
				       const char *data, size_t len)
{
	struct sb_buf b, in;

	if (data && sb_relay_is_topic(topic)) {
		/* a Pusher API event (relay.h): its own name and data, as sent */
		begin(&b, event, form, channel);
		sb_buf_puts(&b, ",\"data\":");
		sb_relay_put_data(&b, data, len, 0);
		sb_buf_puts(&b, "}");
		return sb_buf_to_frame(&b);
	}
	sb_buf_init(&in);
	sb_buf_puts(&in, "{\"topic\":");
	sb_buf_json_str(&in, topic, strlen(topic));
	sb_buf_printf(&in, ",\"retained\":%s,\"data\":", retained ? "true" : "false");
	if (data)
		sb_buf_append(&in, data, len);
	else
		sb_buf_puts(&in, "null");
	sb_buf_puts(&in, "}");
	begin(&b, event, form, channel);
	return finish(&b, &in);
}

struct sb_frame *sb_pusher_batch_frame(enum sb_pusher_name form, const char *channel,
				       const char *event, struct sb_msg *const *items, size_t n)
{
	struct sb_frame *f;
	struct sb_buf b, in;
	char name[SB_PUSHER_MAX_EVENT_NAME + 8];

	snprintf(name, sizeof(name), "%.*s.batch", SB_PUSHER_MAX_EVENT_NAME, event);
	sb_buf_init(&in);
	sb_buf_puts(&in, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_buf_puts(&in, ",");
		sb_buf_append(&in, items[i]->payload, items[i]->payload_len);
	}
	sb_buf_puts(&in, "]");
	begin(&b, name, form, channel);
	f = finish(&b, &in);
	if (f)
		f->bulk = 1;    /* listen.compression "logs" */
	return f;
}

struct sb_frame *sb_pusher_gap_frame(enum sb_pusher_name form, const char *channel,
				     int64_t from, int64_t to, size_t lines)
{
	char json[96];

	snprintf(json, sizeof(json), "{\"from\":%lld,\"to\":%lld,\"lines\":%zu}",
		 (long long)from, (long long)to, lines);
	return simple("statusbus:gap", form, channel, json);
}

/* pusher:error carries its data as an object (Pusher's protocol page). */
struct sb_frame *sb_pusher_error_frame(int code, const char *message)
{
	struct sb_buf b;

	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"event\":\"pusher:error\",\"data\":{\"code\":");
	if (code < 0)
		sb_buf_puts(&b, "null");
	else
		sb_buf_printf(&b, "%d", code);
	sb_buf_puts(&b, ",\"message\":");
	sb_buf_json_str(&b, message, strlen(message));
	sb_buf_puts(&b, "}}");
	return sb_buf_to_frame(&b);
}

struct sb_frame *sb_pusher_connection_established_frame(const char *socket_id,
							int activity_timeout_s)
{
	char json[128];

	snprintf(json, sizeof(json), "{\"socket_id\":\"%s\",\"activity_timeout\":%d}",
		 socket_id, activity_timeout_s);
	return simple("pusher:connection_established", SB_PUSHER_PUBLIC, NULL, json);
}

struct sb_frame *sb_pusher_subscription_succeeded_frame(enum sb_pusher_name form,
							const char *channel)
{
	return simple("pusher_internal:subscription_succeeded", form, channel, "{}");
}

struct sb_frame *sb_pusher_subscription_error_frame(const char *name, const char *type,
						    const char *error, int status)
{
	struct sb_buf in, b;

	sb_buf_init(&in);
	sb_buf_puts(&in, "{\"type\":");
	sb_buf_json_str(&in, type, strlen(type));
	sb_buf_puts(&in, ",\"error\":");
	sb_buf_json_str(&in, error, strlen(error));
	sb_buf_printf(&in, ",\"status\":%d}", status);
	begin(&b, "pusher:subscription_error", SB_PUSHER_PUBLIC, name);
	return finish(&b, &in);
}

struct sb_frame *sb_pusher_cache_miss_frame(enum sb_pusher_name form, const char *channel)
{
	return simple("pusher:cache_miss", form, channel, NULL);
}

struct sb_frame *sb_pusher_ping_frame(void)
{
	return simple("pusher:ping", SB_PUSHER_PUBLIC, NULL, "{}");
}

struct sb_frame *sb_pusher_pong_frame(void)
{
	return simple("pusher:pong", SB_PUSHER_PUBLIC, NULL, "{}");
}

struct sb_frame *sb_pusher_client_event_frame(const char *event, const char *name,
					      const cJSON *data)
{
	struct sb_buf b, in;
	char *printed = NULL;

	sb_buf_init(&in);
	if (cJSON_IsString(data))
		sb_buf_puts(&in, data->valuestring);
	else if (data && (printed = cJSON_PrintUnformatted(data)))
		sb_buf_puts(&in, printed);
	else
		sb_buf_puts(&in, "null");
	free(printed);
	begin(&b, event, SB_PUSHER_PUBLIC, name);
	return finish(&b, &in);
}
