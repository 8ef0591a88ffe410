/* SPDX-License-Identifier: MIT
 *
 * fuzz_pusher_http.c - the Pusher HTTP API request parser
 * (domain/pusher_http.c) and the relay payloads its events become
 * (domain/relay.c).  One input is one request:
 *
 *   byte 0          bit 0: POST (else GET); bit 1: the body is a batch
 *   then            <path>\n<query>\n<body>   (query: key=value&…, as lws
 *                   hands over its decoded fragments)
 *
 * The path is routed for app 1, every query fragment added, the request
 * authenticated with a fixed key, secret and clock, and the body read as
 * events against the default channel map.
 *
 * Oracles: a routed channel is a valid Pusher name; a refusal has a 4xx or
 * 5xx status and a message; authentication passes only when the request
 * carries the signature recomputed here over its own string to sign; every
 * event read has a valid name, data within the limit, one to max_channels
 * distinct targets that each name a channel of the map; its relay payload
 * is strict JSON that reads back as the same data, socket id and cached
 * flag; and the frames both protocols build from it are strict JSON, the
 * Pusher one carrying the data string unchanged.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "chanmap.h"
#include "frame.h"
#include "ingest.h"
#include "proto_v1.h"
#include "pusher_codec.h"
#include "pusher_http.h"
#include "relay.h"

#define KEY "app-key"
#define SECRET "app-secret"
#define NOW 1700000000

static struct sb_chanmap *map;
static const struct sb_pusher_http_limits LIM = { 10240, 100, 10 };

static void check_error(const struct sb_pusher_http_error *e, const char *what)
{
	FZ_CHECK(e->status >= 400 && e->status < 600, "%s: status %d", what, e->status);
	FZ_CHECK(e->message[0] != '\0', "%s: no message", what);
}

static void check_auth(const struct sb_pusher_http_req *r)
{
	struct sb_pusher_http_error e = { 0, "" };
	const char *given = sb_pusher_http_param(r, "auth_signature");
	char *sts = sb_pusher_http_string_to_sign(r), want[65];

	FZ_CHECK(sts != NULL, "no string to sign");
	FZ_CHECK(sb_pusher_hmac_hex(SECRET, sts, strlen(sts), want) == SB_OK, "hmac");
	if (sb_pusher_http_authenticate(r, KEY, SECRET, NOW, &e) == SB_OK)
		FZ_CHECK(given && strcasecmp(given, want) == 0, "accepted another signature");
	else
		check_error(&e, "authenticate");
	free(sts);
}

/* The event's relay payload and frames. */
static void check_relay(const struct sb_pusher_http_event *ev, const struct sb_pusher_http_target *t)
{
	size_t len = 0, dlen = 0;
	char *env = sb_relay_envelope(ev->data, ev->dlen, ev->socket_id, t->cached, &len), *back;
	char topic[SB_TOPIC_MAX * 2], why[128];
	struct sb_relay_env re;
	struct sb_frame *f;
	cJSON *doc, *j;

	FZ_CHECK(env && fz_json_strict(env, len), "relay payload is not strict JSON: %s", env);
	doc = cJSON_ParseWithLength(env, len);
	FZ_CHECK(sb_relay_parse(doc, &re, why, sizeof(why)) == SB_OK, "relay payload refused: %s", why);
	FZ_CHECK(re.cached == t->cached, "cached flag");
	FZ_CHECK(!strcmp(re.socket_id, ev->socket_id ? ev->socket_id : ""), "socket id");
	cJSON_Delete(doc);
	back = sb_relay_data(env, len, &dlen);
	FZ_CHECK(back && dlen == ev->dlen && !memcmp(back, ev->data, dlen), "data round trip");
	free(back);
	FZ_CHECK(sb_relay_topic(topic, sizeof(topic), t->base, ev->name) == SB_OK, "topic");
	FZ_CHECK(sb_relay_event(topic) && !strcmp(sb_relay_event(topic), ev->name), "topic's event");

	f = sb_pusher_event_frame(SB_PUSHER_PRIVATE, t->base, ev->name, topic, t->cached, env, len);
	FZ_CHECK(f && fz_json_strict((const char *)sb_frame_data(f), f->len), "pusher frame");
	j = cJSON_ParseWithLength((const char *)sb_frame_data(f), f->len);
	FZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "data")) &&
		 !strcmp(cJSON_GetObjectItemCaseSensitive(j, "data")->valuestring, ev->data),
		 "pusher frame's data is not the event's");
	cJSON_Delete(j);
	sb_frame_unref(f);
	f = sb_proto_event(t->base, ev->name, topic, t->cached, env, len);
	FZ_CHECK(f && fz_json_strict((const char *)sb_frame_data(f), f->len), "v1 frame");
	sb_frame_unref(f);
	free(env);
}

static void check_events(const char *body, size_t len, int batch)
{
	struct sb_pusher_http_error e = { 0, "" };
	struct sb_pusher_http_event *ev = NULL;
	struct sb_chan_ref ref;
	char reason[256];
	size_t n = 0;

	if (sb_pusher_http_parse_events(body, len, batch, &LIM, map, &ev, &n, &e) != SB_OK) {
		check_error(&e, "events");
		FZ_CHECK(ev == NULL && n == 0, "a refusal left events");
		return;
	}
	FZ_CHECK(n >= 1 && n <= (batch ? LIM.max_batch : 1), "%zu events", n);
	for (size_t i = 0; i < n; i++) {
		FZ_CHECK(sb_relay_event_valid(ev[i].name, strlen(ev[i].name)), "event name %s", ev[i].name);
		FZ_CHECK(ev[i].dlen <= LIM.max_event_bytes && strlen(ev[i].data) == ev[i].dlen, "data");
		FZ_CHECK(!ev[i].socket_id || sb_pusher_socket_id_valid(ev[i].socket_id), "socket id");
		FZ_CHECK(ev[i].nto >= 1 && ev[i].nto <= LIM.max_channels, "%zu targets", ev[i].nto);
		for (size_t j = 0; j < ev[i].nto; j++) {
			const struct sb_pusher_http_target *t = &ev[i].to[j];

			FZ_CHECK(sb_pusher_http_channel_valid(t->name), "target %s", t->name);
			FZ_CHECK(sb_chanmap_parse(map, t->base, strlen(t->base), &ref, reason,
						  sizeof(reason)) == SB_OK, "target %s not in the map", t->base);
			for (size_t k = 0; k < j; k++)
				FZ_CHECK(strcmp(ev[i].to[k].base, t->base) != 0, "target %s twice", t->base);
			check_relay(&ev[i], t);
		}
	}
	sb_pusher_http_events_free(ev, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_pusher_http_error e = { 0, "" };
	struct sb_pusher_http_req r;
	char *buf, *path, *query, *body, *nl, channel[SB_PUSHER_HTTP_MAX_CHANNEL + 1];
	const char *method;
	enum sb_pusher_http_route route;
	char err[256];

	if (!map && sb_chanmap_default(&map, err, sizeof(err)) != SB_OK)
		abort();
	if (size < 1)
		return 0;
	method = data[0] & 1 ? "POST" : "GET";
	buf = fz_strndup(data + 1, size - 1);
	path = buf;
	/* a missing part is empty: it starts at the end of buf */
	query = (nl = strchr(path, '\n')) ? (*nl = '\0', nl + 1) : buf + size - 1;
	body = (nl = strchr(query, '\n')) ? (*nl = '\0', nl + 1) : buf + size - 1;

	route = sb_pusher_http_route(method, path, "1", channel, &e);
	if (route == SB_PUSHER_HTTP_NONE)
		check_error(&e, "route");
	else if (route == SB_PUSHER_HTTP_CHANNEL || route == SB_PUSHER_HTTP_USERS)
		FZ_CHECK(sb_pusher_http_channel_valid(channel), "routed channel %s", channel);

	/* the body's bytes as they came (a NUL included) */
	sb_pusher_http_req_init(&r, method, path, body, size - 1 - (size_t)(body - buf));
	for (char *p = query; *p;) {
		size_t n = strcspn(p, "&");

		if (sb_pusher_http_add_param(&r, p, n, &e) != SB_OK)
			check_error(&e, "param");
		p += n + (p[n] == '&');
	}
	check_auth(&r);
	check_events(r.body, r.body_len, (data[0] & 2) != 0);
	sb_pusher_http_req_free(&r);
	free(buf);
	return 0;
}
