/* SPDX-License-Identifier: MIT
 *
 * pusher_api.c - the Pusher HTTP API (see pusher_api.h): reads the request
 * from libwebsockets, judges it with domain/pusher_http.c, publishes
 * events through the MQTT link and answers channel queries from the hub.
 *
 * Nothing is published unless the whole request is valid: every event of
 * a batch and every channel of an event are checked first.  The answer
 * 200 means Paho took every message (QoS 1, on the bridge's persistent
 * session); with the broker link down the answer is 503 and nothing is
 * sent.  Channel counts are this bridge's own subscribers: bridges share
 * no state but the broker's (docs/protocol.md §10).
 */
#include "pusher_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "frame.h"
#include "ingest.h"
#include "mqtt_link.h"
#include "presence.h"
#include "pusher_http.h"
#include "relay.h"
#include "session_pusher.h"

struct ctx {
	const struct sb_http_api *api;
	struct sb_pusher_api_answer *out;
	struct sb_pusher_http_error e;
};

static void text(struct ctx *x, unsigned int status, const char *msg)
{
	size_t n = strlen(msg);

	x->out->status = status;
	x->out->ctype = "text/plain; charset=utf-8";
	x->out->body = malloc(n + 2);
	if (x->out->body) {
		memcpy(x->out->body, msg, n);
		x->out->body[n] = '\n';
		x->out->body[n + 1] = '\0';
		x->out->len = n + 1;
	}
}

/* Pusher's error answer: its status, the reason as plain text. */
static void refuse(struct ctx *x)
{
	text(x, (unsigned int)x->e.status, x->e.message);
}

static void json(struct ctx *x, struct sb_buf *b)
{
	const char *s = sb_buf_str(b);

	x->out->status = 200;
	x->out->ctype = "application/json";
	if (s && (x->out->body = strdup(s)))
		x->out->len = b->len;
	sb_buf_free(b);
}

/* Subscribers of statusbus channel `base` under the Pusher name form
 * `form`: each form is an encoder of its own; the plain name also counts
 * statusbus.v1 subscribers (the same channel, no prefix). */
static size_t count_form(const struct sb_pusher *p, const size_t *counts, size_t total,
			 enum sb_pusher_name form)
{
	size_t prefixed = 0;

	if (form != SB_PUSHER_PUBLIC)
		return counts[sb_pusher_encoder(p, form)];
	for (int f = SB_PUSHER_PRIVATE; f <= SB_PUSHER_PRESENCE; f++)
		prefixed += counts[sb_pusher_encoder(p, (enum sb_pusher_name)f)];
	return total - prefixed;
}

static size_t subscribers(const struct sb_http_api *api, const char *name)
{
	size_t counts[SB_HUB_MAX_ENCODERS];
	const char *base;
	enum sb_pusher_name form = sb_pusher_name_parse(name, &base);
	size_t total;

	if (form == SB_PUSHER_UNSUPPORTED)
		return 0;
	total = sb_hub_chan_subscribers(api->hub, base, counts);
	return total ? count_form(api->pusher, counts, total, form) : 0;
}

/* ---- POST events and batch_events ------------------------------------------------------- */

static int publish(const struct sb_http_api *api, const struct sb_pusher_http_event *ev,
		   const struct sb_pusher_http_target *t, char **why)
{
	char topic[SB_TOPIC_MAX + 1];
	size_t len = 0;
	char *payload;
	int rc;

	if (sb_relay_topic(topic, sizeof(topic), t->base, ev->name) != SB_OK) {
		*why = "the channel and event names make a topic over 512 bytes";
		return -1;
	}
	payload = sb_relay_envelope(ev->data, ev->dlen, ev->socket_id, t->cached, &len);
	if (!payload) {
		*why = "out of memory";
		return -1;
	}
	rc = api->link ? sb_mqtt_link_publish_ex(api->link, topic, payload, len, t->cached) : -1;
	free(payload);
	if (rc)
		*why = "the broker link is down; retry";
	return rc;
}

/* The relayed payload must pass every bridge's limits.max_payload_bytes. */
static int fits(const struct sb_http_api *api, const struct sb_pusher_http_event *ev,
		struct ctx *x)
{
	size_t len = 0;
	char *payload = sb_relay_envelope(ev->data, ev->dlen, ev->socket_id, 1, &len);

	free(payload);
	if (payload && len <= (size_t)api->cfg->max_payload_bytes)
		return 1;
	x->e.status = payload ? 413 : 500;
	snprintf(x->e.message, sizeof(x->e.message), payload ?
		 "Payload too large: event %.200s is %zu bytes as published, over the bridge's "
		 "limits.max_payload_bytes (%ld)" : "Out of memory", ev->name, len,
		 api->cfg->max_payload_bytes);
	return 0;
}

static void put_counts(struct sb_buf *b, const struct sb_http_api *api, const char *name,
		       unsigned info)
{
	sb_buf_puts(b, "{");
	if (info & SB_PUSHER_HTTP_INFO_SUBSCRIPTION_COUNT)
		sb_buf_printf(b, "\"subscription_count\":%zu", subscribers(api, name));
	sb_buf_puts(b, "}");
}

/* {} or, for events that asked for info, their channels' counts. */
static void trigger_answer(struct ctx *x, const struct sb_pusher_http_event *ev, size_t n,
			   int batch)
{
	struct sb_buf b;
	int any = 0;

	for (size_t i = 0; i < n; i++)
		any |= ev[i].info != 0;
	sb_buf_init(&b);
	if (!any) {
		sb_buf_puts(&b, "{}");
	} else if (batch) {
		sb_buf_puts(&b, "{\"batch\":[");
		for (size_t i = 0; i < n; i++) {
			sb_buf_puts(&b, i ? "," : "");
			put_counts(&b, x->api, ev[i].to[0].name, ev[i].info);
		}
		sb_buf_puts(&b, "]}");
	} else {
		sb_buf_puts(&b, "{\"channels\":{");
		for (size_t j = 0; j < ev[0].nto; j++) {
			sb_buf_puts(&b, j ? "," : "");
			sb_buf_json_str(&b, ev[0].to[j].name, strlen(ev[0].to[j].name));
			sb_buf_puts(&b, ":");
			put_counts(&b, x->api, ev[0].to[j].name, ev[0].info);
		}
		sb_buf_puts(&b, "}}");
	}
	json(x, &b);
}

static size_t trigger(struct ctx *x, const char *body, size_t blen, int batch)
{
	const struct sb_http_api *api = x->api;
	const struct sb_config *c = api->cfg;
	struct sb_pusher_http_limits lim = { (size_t)c->pusher_max_event_bytes,
					     (size_t)c->pusher_max_event_channels,
					     (size_t)c->pusher_max_batch_events };
	struct sb_pusher_http_event *ev = NULL;
	size_t n = 0, sent = 0, total = 0;
	char *why = NULL;

	if (sb_pusher_http_parse_events(body, blen, batch, &lim, sb_hub_chanmap(api->hub), &ev, &n,
					&x->e) != SB_OK) {
		refuse(x);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		total += ev[i].nto;
		if (!fits(api, &ev[i], x)) {
			refuse(x);
			sb_pusher_http_events_free(ev, n);
			return 0;
		}
	}
	if (!api->link || !sb_hub_mqtt_connected(api->hub)) {
		text(x, 503, "The bridge's broker link is down: nothing was published; retry");
		sb_pusher_http_events_free(ev, n);
		return 0;
	}
	for (size_t i = 0; i < n && !why; i++)
		for (size_t j = 0; j < ev[i].nto && !why; j++)
			if (publish(api, &ev[i], &ev[i].to[j], &why) == 0)
				sent++;
	if (why) {
		char msg[300];

		snprintf(msg, sizeof(msg), "Published %zu of %zu: %s", sent, total, why);
		sb_log(SB_LOG_WARN, "pusher api: %s", msg);
		text(x, 503, msg);
	} else {
		trigger_answer(x, ev, n, batch);
	}
	sb_pusher_http_events_free(ev, n);
	return sent;
}

/* ---- GET channels ------------------------------------------------------------------------ */

struct list_ctx {
	const struct sb_http_api *api;
	struct sb_buf *b;
	const char *prefix;
	unsigned info;
	int n;
};

static void list_one(const char *base, const size_t *counts, void *user)
{
	struct list_ctx *l = user;
	size_t total = 0;

	for (int e = 0; e < SB_HUB_MAX_ENCODERS; e++)
		total += counts[e];
	/* presence- channels: presence_one, from the cluster's members */
	for (int f = SB_PUSHER_PUBLIC; f <= SB_PUSHER_CACHE; f++) {
		char name[SB_CHAN_MAX_NAME + 32];
		size_t k = count_form(l->api->pusher, counts, total, (enum sb_pusher_name)f);

		snprintf(name, sizeof(name), "%s%s", sb_pusher_name_prefix((enum sb_pusher_name)f),
			 base);
		if (!k || strncmp(name, l->prefix, strlen(l->prefix)) != 0)
			continue;
		sb_buf_puts(l->b, l->n++ ? "," : "");
		sb_buf_json_str(l->b, name, strlen(name));
		sb_buf_puts(l->b, ":{");
		if (l->info & SB_PUSHER_HTTP_INFO_SUBSCRIPTION_COUNT)
			sb_buf_printf(l->b, "\"subscription_count\":%zu", k);
		sb_buf_puts(l->b, "}");
	}
}

/* Users of a presence channel, as Pusher counts them: distinct users,
 * on every bridge. */
static size_t users_of(const struct sb_http_api *api, const char *base)
{
	const struct sb_presence_set *set = sb_hub_presence(api->hub, base);

	return set ? sb_presence_count(set) : 0;
}

/* A presence channel with members (on any bridge) is occupied. */
static void presence_one(const char *base, size_t members, void *user)
{
	struct list_ctx *l = user;
	char name[SB_CHAN_MAX_NAME + 32];

	snprintf(name, sizeof(name), "presence-%s", base);
	if (!members || strncmp(name, l->prefix, strlen(l->prefix)) != 0)
		return;
	sb_buf_puts(l->b, l->n++ ? "," : "");
	sb_buf_json_str(l->b, name, strlen(name));
	sb_buf_puts(l->b, ":{");
	if (l->info & SB_PUSHER_HTTP_INFO_USER_COUNT)
		sb_buf_printf(l->b, "\"user_count\":%zu", members);
	if (l->info & SB_PUSHER_HTTP_INFO_SUBSCRIPTION_COUNT)
		sb_buf_printf(l->b, "%s\"subscription_count\":%zu",
			      l->info & SB_PUSHER_HTTP_INFO_USER_COUNT ? "," : "",
			      subscribers(l->api, name));
	sb_buf_puts(l->b, "}");
}

/* GET /apps/<id>/channels/presence-<c>/users: {"users":[{"id":…},…]}. */
static void add_user(void *user, const char *id, const char *info)
{
	struct list_ctx *l = user;

	(void)info;   /* Pusher lists ids only */
	sb_buf_puts(l->b, l->n++ ? ",{\"id\":" : "{\"id\":");
	sb_buf_json_str(l->b, id, strlen(id));
	sb_buf_puts(l->b, "}");
}

static void users(struct ctx *x, const char *name)
{
	struct list_ctx l = { x->api, NULL, "", 0, 0 };
	const struct sb_presence_set *set;
	struct sb_buf b;

	if (strncmp(name, "presence-", 9) != 0) {
		text(x, 400, "Users can only be listed for presence channels");
		return;
	}
	if (!sb_hub_presence_enabled(x->api->hub, name + 9)) {
		text(x, 400, "Not a presence channel of this bridge (its template does not set "
		     "\"presence\": true)");
		return;
	}
	set = sb_hub_presence(x->api->hub, name + 9);
	sb_buf_init(&b);
	l.b = &b;
	sb_buf_puts(&b, "{\"users\":[");
	if (set)
		sb_presence_foreach(set, add_user, &l);
	sb_buf_puts(&b, "]}");
	json(x, &b);
}

static void channels(struct ctx *x, const struct sb_pusher_http_req *r)
{
	const char *prefix = sb_pusher_http_param(r, "filter_by_prefix");
	struct list_ctx l = { x->api, NULL, prefix ? prefix : "", 0, 0 };
	struct sb_buf b;

	/* user_count only with filter_by_prefix=presence- (Pusher's rule) */
	if (sb_pusher_http_info(sb_pusher_http_param(r, "info"),
				prefix && !strncmp(prefix, "presence-", 9), &l.info, &x->e)) {
		refuse(x);
		return;
	}
	sb_buf_init(&b);
	l.b = &b;
	sb_buf_puts(&b, "{\"channels\":{");
	sb_hub_foreach_chan(x->api->hub, list_one, &l);
	sb_hub_foreach_presence(x->api->hub, presence_one, &l);
	sb_buf_puts(&b, "}}");
	json(x, &b);
}

static void channel(struct ctx *x, const struct sb_pusher_http_req *r, const char *name)
{
	int presence = !strncmp(name, "presence-", 9);
	size_t k = subscribers(x->api, name), u = presence ? users_of(x->api, name + 9) : 0;
	unsigned info;
	struct sb_buf b;

	if (sb_pusher_http_info(sb_pusher_http_param(r, "info"), presence, &info, &x->e)) {
		refuse(x);
		return;
	}
	sb_buf_init(&b);
	sb_buf_printf(&b, "{\"occupied\":%s", k || u ? "true" : "false");
	if (info & SB_PUSHER_HTTP_INFO_USER_COUNT)
		sb_buf_printf(&b, ",\"user_count\":%zu", u);
	if (info & SB_PUSHER_HTTP_INFO_SUBSCRIPTION_COUNT)
		sb_buf_printf(&b, ",\"subscription_count\":%zu", k);
	sb_buf_puts(&b, "}");
	json(x, &b);
}

/* ---- one request --------------------------------------------------------------------------- */

/* The query arguments as lws split and URL-decoded them. */
static enum sb_err read_params(struct lws *wsi, struct sb_pusher_http_req *r,
			       struct sb_pusher_http_error *e)
{
	char frag[SB_PUSHER_HTTP_MAX_PARAM + 2];

	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
		enum sb_err rc;

		if (n < 0) {
			/* -1 is also lws's answer for a fragment too long */
			if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) <= 0)
				return SB_OK;
			e->status = 400;
			snprintf(e->message, sizeof(e->message), "A query parameter over %d bytes",
				 SB_PUSHER_HTTP_MAX_PARAM);
			return SB_ERR_LIMIT;
		}
		if (n > 0 && (rc = sb_pusher_http_add_param(r, frag, (size_t)n, e)))
			return rc;
	}
}

void sb_pusher_api_answer(const struct sb_http_api *api, struct lws *wsi, const char *method,
			  const char *path, const char *body, size_t blen,
			  struct sb_pusher_api_answer *out)
{
	struct ctx x = { api, out, { 0, "" } };
	struct sb_pusher_http_req r;
	enum sb_pusher_http_route route;
	char name[SB_PUSHER_HTTP_MAX_CHANNEL + 1];
	size_t events = 0;

	memset(out, 0, sizeof(*out));
	if (!api->pusher) {
		text(&x, 404, "The Pusher HTTP API is off: the bridge's config has no pusher section");
		return;
	}
	sb_pusher_http_req_init(&r, method, path, body, blen);
	route = sb_pusher_http_route(method, path, api->cfg->pusher_app_id, name, &x.e);
	if (route == SB_PUSHER_HTTP_NONE || read_params(wsi, &r, &x.e) != SB_OK ||
	    sb_pusher_http_authenticate(&r, api->cfg->pusher_key, api->cfg->pusher_secret,
					(int64_t)time(NULL), &x.e) != SB_OK) {
		refuse(&x);
	} else if (route == SB_PUSHER_HTTP_EVENTS || route == SB_PUSHER_HTTP_BATCH) {
		events = trigger(&x, body, blen, route == SB_PUSHER_HTTP_BATCH);
	} else if (route == SB_PUSHER_HTTP_CHANNELS) {
		channels(&x, &r);
	} else if (route == SB_PUSHER_HTTP_CHANNEL) {
		channel(&x, &r, name);
	} else {
		users(&x, name);
	}
	sb_pusher_http_req_free(&r);
	if (out->status != 200)
		sb_log(SB_LOG_INFO, "pusher api: %s %s: %u %s", method, path, out->status,
		       out->body ? out->body : "");
	sb_pusher_count_api(api->pusher, (int)out->status, events);
}
