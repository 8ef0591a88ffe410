/* SPDX-License-Identifier: MIT
 *
 * pusher_http.c - the Pusher HTTP API's paths, parameters, authentication
 * and POST bodies (see pusher_http.h).
 */
#include "pusher_http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "frame.h"
#include "ingest.h"
#include "proto_v1.h"
#include "pusher_codec.h"
#include "relay.h"

static enum sb_err fail(struct sb_pusher_http_error *e, int status, enum sb_err rc,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum sb_err fail(struct sb_pusher_http_error *e, int status, enum sb_err rc,
			const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- paths -------------------------------------------------------------------------- */

int sb_pusher_http_is_api(const char *path)
{
	return strncmp(path, "/apps/", 6) == 0;
}

enum sb_pusher_http_route sb_pusher_http_route(const char *method, const char *path,
					       const char *app_id, char *channel,
					       struct sb_pusher_http_error *e)
{
	const char *p = path + 6, *rest;
	size_t idlen = strlen(app_id), n;
	int post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
	enum sb_pusher_http_route r;

	channel[0] = '\0';
	if (!sb_pusher_http_is_api(path) || strncmp(p, app_id, idlen) != 0 ||
	    (p[idlen] != '/' && p[idlen] != '\0')) {
		fail(e, 404, SB_ERR_NOTFOUND, "Unknown app: this bridge serves app_id %.100s", app_id);
		return SB_PUSHER_HTTP_NONE;
	}
	rest = p + idlen;
	if (!strcmp(rest, "/events") || !strcmp(rest, "/batch_events")) {
		r = rest[1] == 'e' ? SB_PUSHER_HTTP_EVENTS : SB_PUSHER_HTTP_BATCH;
		if (!post) {
			fail(e, 405, SB_ERR_INVAL, "%s takes POST", rest + 1);
			return SB_PUSHER_HTTP_NONE;
		}
		return r;
	}
	if (!strcmp(rest, "/channels")) {
		r = SB_PUSHER_HTTP_CHANNELS;
	} else if (!strncmp(rest, "/channels/", 10)) {
		const char *name = rest + 10, *users = strchr(name, '/');

		n = users ? (size_t)(users - name) : strlen(name);
		if (users && strcmp(users, "/users") != 0) {
			fail(e, 404, SB_ERR_NOTFOUND, "No such endpoint");
			return SB_PUSHER_HTTP_NONE;
		}
		if (n == 0 || n > SB_PUSHER_HTTP_MAX_CHANNEL) {
			fail(e, 400, SB_ERR_INVAL, "Invalid channel name");
			return SB_PUSHER_HTTP_NONE;
		}
		memcpy(channel, name, n);
		channel[n] = '\0';
		if (!sb_pusher_http_channel_valid(channel)) {
			fail(e, 400, SB_ERR_INVAL, "Invalid channel name: %.200s", channel);
			return SB_PUSHER_HTTP_NONE;
		}
		r = users ? SB_PUSHER_HTTP_USERS : SB_PUSHER_HTTP_CHANNEL;
	} else {
		fail(e, 404, SB_ERR_NOTFOUND, "No such endpoint");
		return SB_PUSHER_HTTP_NONE;
	}
	if (!get) {
		fail(e, 405, SB_ERR_INVAL, "channel queries take GET");
		return SB_PUSHER_HTTP_NONE;
	}
	return r;
}

int sb_pusher_http_channel_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= SB_PUSHER_HTTP_MAX_CHANNEL &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789-_=@,.;") == n;
}

/* ---- query parameters --------------------------------------------------------------- */

void sb_pusher_http_req_init(struct sb_pusher_http_req *r, const char *method, const char *path,
			     const char *body, size_t body_len)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->path = path;
	r->body = body;
	r->body_len = body_len;
}

void sb_pusher_http_req_free(struct sb_pusher_http_req *r)
{
	for (size_t i = 0; i < r->nparams; i++) {
		free(r->params[i].key);
		free(r->params[i].value);
	}
	r->nparams = 0;
}

const char *sb_pusher_http_param(const struct sb_pusher_http_req *r, const char *key)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].key, key) == 0)
			return r->params[i].value;
	return NULL;
}

enum sb_err sb_pusher_http_add_param(struct sb_pusher_http_req *r, const char *frag, size_t len,
				     struct sb_pusher_http_error *e)
{
	const char *eq = memchr(frag, '=', len);
	size_t klen = eq ? (size_t)(eq - frag) : len;
	struct sb_pusher_http_param *p;

	if (r->nparams >= SB_PUSHER_HTTP_MAX_PARAMS)
		return fail(e, 400, SB_ERR_LIMIT, "More than %d query parameters",
			    SB_PUSHER_HTTP_MAX_PARAMS);
	if (len > SB_PUSHER_HTTP_MAX_PARAM)
		return fail(e, 400, SB_ERR_LIMIT, "A query parameter over %d bytes",
			    SB_PUSHER_HTTP_MAX_PARAM);
	if (klen == 0 || memchr(frag, '\0', len))
		return fail(e, 400, SB_ERR_INVAL, "A malformed query parameter");
	p = &r->params[r->nparams];
	p->key = strndup(frag, klen);
	p->value = eq ? strndup(eq + 1, len - klen - 1) : strdup("");
	if (!p->key || !p->value) {
		free(p->key);
		free(p->value);
		return fail(e, 500, SB_ERR_NOMEM, "Out of memory");
	}
	/* the signature is over lower-cased keys (Pusher's specification) */
	for (char *k = p->key; *k; k++)
		*k = (char)tolower((unsigned char)*k);
	if (sb_pusher_http_param(r, p->key)) {
		enum sb_err rc = fail(e, 400, SB_ERR_INVAL, "Query parameter %.64s given twice",
				      p->key);
		free(p->key);
		free(p->value);
		return rc;
	}
	r->nparams++;
	return SB_OK;
}

/* ---- authentication ------------------------------------------------------------------ */

static int by_key(const void *a, const void *b)
{
	return strcmp((*(const struct sb_pusher_http_param *const *)a)->key,
		      (*(const struct sb_pusher_http_param *const *)b)->key);
}

char *sb_pusher_http_string_to_sign(const struct sb_pusher_http_req *r)
{
	const struct sb_pusher_http_param *sorted[SB_PUSHER_HTTP_MAX_PARAMS];
	struct sb_buf b;
	size_t n = 0;
	char *out = NULL;

	for (size_t i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].key, "auth_signature") != 0)
			sorted[n++] = &r->params[i];
	qsort(sorted, n, sizeof(sorted[0]), by_key);
	sb_buf_init(&b);
	sb_buf_printf(&b, "%s\n%s\n", r->method, r->path);
	for (size_t i = 0; i < n; i++)
		sb_buf_printf(&b, "%s%s=%s", i ? "&" : "", sorted[i]->key, sorted[i]->value);
	if (sb_buf_str(&b))
		out = strdup(sb_buf_str(&b));
	sb_buf_free(&b);
	return out;
}

static int md5_hex(const char *data, size_t len, char hex[33])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
		return 0;
	for (unsigned int i = 0; i < 16; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[32] = '\0';
	return 1;
}

/* The string to sign, shown in the 401 the way Pusher shows it, with its
 * line breaks as \n. */
static void shown(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

static enum sb_err check_signature(const struct sb_pusher_http_req *r, const char *secret,
				   struct sb_pusher_http_error *e)
{
	const char *given = sb_pusher_http_param(r, "auth_signature");
	char want[65], lower[65], text[300];
	char *sts;
	int diff;

	if (!given || strlen(given) != 64)
		return fail(e, 401, SB_ERR_DENIED, "auth_signature must be 64 hex digits "
			    "(HMAC-SHA256)");
	for (int i = 0; i < 64; i++)
		lower[i] = (char)tolower((unsigned char)given[i]);
	lower[64] = '\0';
	if (!(sts = sb_pusher_http_string_to_sign(r)))
		return fail(e, 500, SB_ERR_NOMEM, "Out of memory");
	if (sb_pusher_hmac_hex(secret, sts, strlen(sts), want) != SB_OK) {
		free(sts);
		return fail(e, 500, SB_ERR_INTERNAL, "Cannot compute the signature");
	}
	/* constant time over all 64 digits (docs/pusher.md) */
	diff = CRYPTO_memcmp(want, lower, 64);
	OPENSSL_cleanse(want, sizeof(want));
	if (diff) {
		shown(sts, text, sizeof(text));
		fail(e, 401, SB_ERR_DENIED, "Invalid signature: you should have sent "
		     "HmacSHA256Hex(\"%s\", your_secret)", text);
	}
	free(sts);
	return diff ? SB_ERR_DENIED : SB_OK;
}

enum sb_err sb_pusher_http_authenticate(const struct sb_pusher_http_req *r, const char *key,
					const char *secret, int64_t now_s,
					struct sb_pusher_http_error *e)
{
	const char *k = sb_pusher_http_param(r, "auth_key");
	const char *ts = sb_pusher_http_param(r, "auth_timestamp");
	const char *ver = sb_pusher_http_param(r, "auth_version");
	const char *md5 = sb_pusher_http_param(r, "body_md5");
	char want[33];
	int64_t t;

	if (!k || !ts || !ver || !sb_pusher_http_param(r, "auth_signature"))
		return fail(e, 401, SB_ERR_DENIED, "Missing auth_key, auth_timestamp, auth_version "
			    "or auth_signature");
	/* the key is public: a plain comparison tells nothing secret */
	if (strcmp(k, key) != 0)
		return fail(e, 401, SB_ERR_DENIED, "Unknown auth_key");
	if (!sb_parse_uint(ts, SB_INT_MAX_EXACT, &t))
		return fail(e, 401, SB_ERR_DENIED, "auth_timestamp must be Unix seconds");
	if (t > now_s + SB_PUSHER_HTTP_WINDOW_S || t < now_s - SB_PUSHER_HTTP_WINDOW_S)
		return fail(e, 401, SB_ERR_DENIED, "Timestamp expired: Given timestamp (%lld) not "
			    "within %ds of server time (%lld)", (long long)t,
			    SB_PUSHER_HTTP_WINDOW_S, (long long)now_s);
	if (strcmp(ver, "1.0") != 0)
		return fail(e, 401, SB_ERR_DENIED, "auth_version must be 1.0");
	if (r->body_len && !md5)
		return fail(e, 401, SB_ERR_DENIED, "body_md5 is required with a request body");
	if (md5) {
		if (!md5_hex(r->body ? r->body : "", r->body_len, want))
			return fail(e, 500, SB_ERR_INTERNAL, "Cannot compute the body's MD5");
		if (strcasecmp(md5, want) != 0)
			return fail(e, 401, SB_ERR_DENIED, "body_md5 does not match the request body");
	}
	return check_signature(r, secret, e);
}

/* ---- POST bodies ---------------------------------------------------------------------- */

void sb_pusher_http_events_free(struct sb_pusher_http_event *ev, size_t n)
{
	if (!ev)
		return;
	for (size_t i = 0; i < n; i++) {
		free(ev[i].name);
		free(ev[i].data);
		free(ev[i].socket_id);
		for (size_t j = 0; j < ev[i].nto; j++)
			free(ev[i].to[j].name);
		free(ev[i].to);
	}
	free(ev);
}

enum sb_err sb_pusher_http_info(const char *info, int presence, unsigned *out,
				struct sb_pusher_http_error *e)
{
	const char *p = info;

	*out = 0;
	if (!info)
		return SB_OK;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 18 && !strncmp(p, "subscription_count", n))
			*out |= SB_PUSHER_HTTP_INFO_SUBSCRIPTION_COUNT;
		else if (n == 10 && !strncmp(p, "user_count", n) && presence)
			*out |= SB_PUSHER_HTTP_INFO_USER_COUNT;
		else if (n == 10 && !strncmp(p, "user_count", n))
			return fail(e, 400, SB_ERR_INVAL, "user_count may only be requested for "
				    "presence channels");
		else
			return fail(e, 400, SB_ERR_INVAL, "info: unknown attribute %.*s "
				    "(user_count, subscription_count)", (int)(n > 64 ? 64 : n), p);
		p += n + (p[n] == ',');
	}
	return SB_OK;
}

/* One Pusher channel name of an event: valid, supported, in the map. */
static enum sb_err target(const char *name, const struct sb_chanmap *map,
			  struct sb_pusher_http_target *t, struct sb_pusher_http_error *e)
{
	enum sb_pusher_name form;
	struct sb_chan_ref ref;
	char reason[256];
	enum sb_err rc;

	if (!sb_pusher_http_channel_valid(name))
		return fail(e, 400, SB_ERR_INVAL, "Invalid channel name: %.200s (1 to %d of "
			    "A-Z a-z 0-9 _ - = @ , . ;)", name, SB_PUSHER_HTTP_MAX_CHANNEL);
	form = sb_pusher_name_parse(name, &t->base);
	if (form == SB_PUSHER_UNSUPPORTED)
		return fail(e, 400, SB_ERR_INVAL, "%.200s: encrypted channels are not "
			    "supported by this bridge", name);
	if (map && (rc = sb_chanmap_parse(map, t->base, strlen(t->base), &ref, reason,
					  sizeof(reason))) != SB_OK)
		return fail(e, 400, SB_ERR_INVAL, "%.200s: %s", name, rc == SB_ERR_NOTFOUND ?
			    "no channel of the bridge's channel map is named like it" : reason);
	if (map && form == SB_PUSHER_PRESENCE && !ref.tmpl->presence)
		return fail(e, 400, SB_ERR_INVAL, "%.200s: not a presence channel (its template "
			    "does not set \"presence\": true)", name);
	t->cached = sb_pusher_name_is_cache(form);
	return SB_OK;
}

/* Adds name to ev's targets; the same statusbus channel under two names
 * is one target (one publish), kept when either name is a cache- one. */
static enum sb_err add_target(struct sb_pusher_http_event *ev, size_t cap, const char *name,
			      const struct sb_chanmap *map, struct sb_pusher_http_error *e)
{
	struct sb_pusher_http_target t = { 0 };
	enum sb_err rc = target(name, map, &t, e);

	if (rc)
		return rc;
	for (size_t i = 0; i < ev->nto; i++)
		if (!strcmp(ev->to[i].base, t.base)) {
			ev->to[i].cached |= t.cached;
			return SB_OK;
		}
	if (ev->nto >= cap || !(ev->to[ev->nto].name = strdup(name)))
		return fail(e, 500, SB_ERR_NOMEM, "Out of memory");
	/* base points into the copy */
	ev->to[ev->nto].base = ev->to[ev->nto].name + (t.base - name);
	ev->to[ev->nto].cached = t.cached;
	ev->nto++;
	return SB_OK;
}

static enum sb_err event_data(const cJSON *d, const struct sb_pusher_http_limits *lim,
			      const char *name, struct sb_pusher_http_event *ev,
			      struct sb_pusher_http_error *e)
{
	if (!d || cJSON_IsNull(d))
		return fail(e, 400, SB_ERR_INVAL, "Event %.200s has no data", name);
	/* data is a string in Pusher's API; other JSON is taken as its text */
	ev->data = cJSON_IsString(d) ? strdup(d->valuestring) : cJSON_PrintUnformatted(d);
	if (!ev->data)
		return fail(e, 500, SB_ERR_NOMEM, "Out of memory");
	ev->dlen = strlen(ev->data);
	if (ev->dlen > lim->max_event_bytes)
		return fail(e, 413, SB_ERR_LIMIT, "Payload too large: the data of event %.200s is "
			    "%zu bytes, over the limit of %zu", name, ev->dlen, lim->max_event_bytes);
	return SB_OK;
}

static enum sb_err one_event(const cJSON *o, int batch, const struct sb_pusher_http_limits *lim,
			     const struct sb_chanmap *map, struct sb_pusher_http_event *ev,
			     struct sb_pusher_http_error *e)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "channel");
	const cJSON *chs = cJSON_GetObjectItemCaseSensitive(o, "channels");
	const cJSON *sid = cJSON_GetObjectItemCaseSensitive(o, "socket_id");
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(o, "info");
	const cJSON *it;
	size_t nch;
	enum sb_err rc;

	if (!cJSON_IsObject(o))
		return fail(e, 400, SB_ERR_INVAL, "An event must be a JSON object");
	if (!cJSON_IsString(name) || !*name->valuestring)
		return fail(e, 400, SB_ERR_INVAL, "An event needs a name (a string)");
	if (!sb_relay_event_valid(name->valuestring, strlen(name->valuestring)))
		return fail(e, 400, SB_ERR_INVAL, "Invalid event name: %.200s (1 to %d bytes of "
			    "UTF-8, no + # / or control characters, not pusher: or "
			    "pusher_internal:)", name->valuestring, SB_RELAY_MAX_EVENT);
	if (!(ev->name = strdup(name->valuestring)))
		return fail(e, 500, SB_ERR_NOMEM, "Out of memory");
	if ((rc = event_data(cJSON_GetObjectItemCaseSensitive(o, "data"), lim, ev->name, ev, e)))
		return rc;
	if (sid && (!cJSON_IsString(sid) || !sb_pusher_socket_id_valid(sid->valuestring)))
		return fail(e, 400, SB_ERR_INVAL, "Invalid socket id: it is \"<digits>.<digits>\"");
	if (sid && !(ev->socket_id = strdup(sid->valuestring)))
		return fail(e, 500, SB_ERR_NOMEM, "Out of memory");
	if (info && !cJSON_IsString(info))
		return fail(e, 400, SB_ERR_INVAL, "info must be a string");
	if ((rc = sb_pusher_http_info(info ? info->valuestring : NULL, 0, &ev->info, e)))
		return rc;
	if (batch ? !cJSON_IsString(ch) || chs : (ch ? 1 : 0) + (chs ? 1 : 0) != 1)
		return fail(e, 400, SB_ERR_INVAL, batch ? "A batch event needs one channel (a "
			    "string)" : "An event needs channel (a string) or channels (an "
			    "array), not both");
	if (ch && !cJSON_IsString(ch))
		return fail(e, 400, SB_ERR_INVAL, "channel must be a string");
	if (chs && !cJSON_IsArray(chs))
		return fail(e, 400, SB_ERR_INVAL, "channels must be an array of strings");
	nch = ch ? 1 : (size_t)cJSON_GetArraySize(chs);
	if (nch == 0)
		return fail(e, 400, SB_ERR_INVAL, "channels is empty");
	if (nch > lim->max_channels)
		return fail(e, 400, SB_ERR_LIMIT, "Too many channels: %zu, at most %zu per event",
			    nch, lim->max_channels);
	if (!(ev->to = calloc(nch, sizeof(*ev->to))))
		return fail(e, 500, SB_ERR_NOMEM, "Out of memory");
	if (ch)
		return add_target(ev, nch, ch->valuestring, map, e);
	cJSON_ArrayForEach(it, chs) {
		if (!cJSON_IsString(it))
			return fail(e, 400, SB_ERR_INVAL, "channels must be an array of strings");
		if ((rc = add_target(ev, nch, it->valuestring, map, e)))
			return rc;
	}
	return SB_OK;
}

enum sb_err sb_pusher_http_parse_events(const char *body, size_t len, int batch,
					const struct sb_pusher_http_limits *lim,
					const struct sb_chanmap *map,
					struct sb_pusher_http_event **out, size_t *n,
					struct sb_pusher_http_error *e)
{
	cJSON *root = NULL;
	const cJSON *list = NULL, *it;
	size_t count = 1, i = 0;
	enum sb_err rc = SB_OK;

	*out = NULL;
	*n = 0;
	/* strict: the data goes on as it came, into frames that browsers
	 * parse (UTF-8, what JSON.parse takes) */
	if (!body || !len || !sb_ingest_json_strict(body, len) ||
	    !(root = cJSON_ParseWithLength(body, len)) || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return fail(e, 400, SB_ERR_INVAL, "The body must be a JSON object (UTF-8, strict JSON)");
	}
	/* cJSON cuts strings at an escaped NUL: refuse rather than cut */
	if (sb_json_has_escaped_nul(body, len)) {
		cJSON_Delete(root);
		return fail(e, 400, SB_ERR_INVAL, "The body holds a \\u0000");
	}
	if (batch) {
		list = cJSON_GetObjectItemCaseSensitive(root, "batch");
		if (!cJSON_IsArray(list) || !(count = (size_t)cJSON_GetArraySize(list)))
			rc = fail(e, 400, SB_ERR_INVAL, "The body needs a non-empty batch array");
		else if (count > lim->max_batch)
			rc = fail(e, 400, SB_ERR_LIMIT, "Batch too large: %zu events, at most %zu",
				  count, lim->max_batch);
	}
	if (!rc && !(*out = calloc(count, sizeof(**out))))
		rc = fail(e, 500, SB_ERR_NOMEM, "Out of memory");
	if (!rc && !batch) {
		rc = one_event(root, 0, lim, map, &(*out)[0], e);
		i = 1;
	} else if (!rc) {
		cJSON_ArrayForEach(it, list) {
			rc = one_event(it, 1, lim, map, &(*out)[i++], e);
			if (rc)
				break;
		}
	}
	cJSON_Delete(root);
	if (rc) {
		sb_pusher_http_events_free(*out, i);
		*out = NULL;
		return rc;
	}
	*n = count;
	return SB_OK;
}
