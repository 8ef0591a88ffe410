/* SPDX-License-Identifier: MIT
 *
 * session_v1.c - statusbus.v1 on the hub (see session_v1.h): parse a
 * request, check it, call the hub's shared operation, answer with the v1
 * frame.  Nothing here touches a queue, a channel or a counter directly.
 */
#include "session_v1.h"

#include <stdio.h>
#include <string.h>

#include "presence.h"
#include "proto_v1.h"

/* ---- the encoder -------------------------------------------------------------------- */

static struct sb_frame *v1_batch(const char *channel, const char *event,
				 struct sb_msg *const *items, size_t n)
{
	struct sb_buf b;

	sb_proto_batch_begin(&b, channel, event);
	for (size_t i = 0; i < n; i++)
		sb_proto_batch_add(&b, i == 0, items[i]->payload, items[i]->payload_len);
	return sb_proto_batch_end(&b);
}

/* The events array of a v1 batch frame: [start, end) between '[' and "]}". */
static int v1_batch_items(const struct sb_frame *f, size_t *start, size_t *end)
{
	const char *d = (const char *)sb_frame_data(f);
	const char *p;

	if (f->len < 4 || memcmp(d + f->len - 2, "]}", 2) != 0 ||
	    strncmp(d, "{\"op\":\"batch\"", 13) != 0)
		return 0;
	/* channel and event are escaped strings: no bare quote before this */
	p = strstr(d, ",\"events\":[");
	if (!p || p >= d + f->len)
		return 0;
	*start = (size_t)(p - d) + 11;
	*end = f->len - 2;
	return 1;
}

static const struct sb_encoder v1_encoder = {
	.event = sb_proto_event,
	.batch = v1_batch,
	.gap = sb_proto_gap,
	.batch_items = v1_batch_items,
	.presence = sb_presence_v1_event,
};

/* ---- requests ----------------------------------------------------------------------- */

static void send_error(struct sb_hub *h, struct sb_client *c, int has_id, int64_t id,
		       enum sb_code code, const char *channel, const char *msg)
{
	sb_hub_count_client_error(h);
	sb_hub_client_send_owned(h, c, sb_proto_error(has_id, id, code, channel, msg));
}

static void on_hello(struct sb_hub *h, struct sb_client *c, struct sb_req *r)
{
	const struct sb_config *cfg = sb_hub_config(h);
	char reason[200];
	enum sb_code code;

	if (sb_client_ready(c)) {
		send_error(h, c, r->has_id, r->id, SB_CODE_BAD_REQUEST, NULL, "hello was already sent");
		return;
	}
	if (!sb_hub_open_mode(h) && r->token) {
		struct sb_jwt_claims *cl = NULL;
		if (sb_hub_verify_token(h, r->token, r->token_len, &cl, &code, reason,
					sizeof(reason))) {
			sb_log(SB_LOG_INFO, "client %s: hello refused: %s", sb_client_session(c), reason);
			send_error(h, c, r->has_id, r->id, code, NULL, reason);
			sb_hub_client_close(h, c, SB_CLOSE_UNAUTHORIZED,
					    code == SB_CODE_TOKEN_EXPIRED ? "token expired" : "unauthorized");
			return;
		}
		sb_hub_client_set_claims(h, c, cl);
	}
	sb_hub_client_set_ready(h, c);
	sb_hub_client_send_owned(h, c, sb_proto_welcome(sb_client_session(c), cfg->heartbeat_s,
							cfg->max_subscriptions, cfg->max_frame_bytes,
							!sb_hub_open_mode(h)));
}

/* The request id rides along as the subscription's tag. */
#define NO_ID INT64_MIN

/* A live subscription to a presence channel joins it as the token's sub
 * (and name); open mode without a token joins as the session.  0 when
 * refused (the subscription is dropped and the client told). */
static int join_presence(struct sb_hub *h, struct sb_client *c, int has_id, int64_t id,
			 const char *name)
{
	const struct sb_jwt_claims *cl = sb_client_claims(c);
	struct sb_buf info;
	enum sb_err rc;

	if (!sb_hub_presence_enabled(h, name))
		return 1;
	sb_buf_init(&info);
	if (cl && cl->name) {
		sb_buf_puts(&info, "{\"name\":");
		sb_buf_json_str(&info, cl->name, strlen(cl->name));
		sb_buf_puts(&info, "}");
	}
	rc = sb_buf_str(&info) ? sb_hub_presence_join(h, c, name, cl ? cl->sub : sb_client_session(c),
						     info.len ? sb_buf_str(&info) : NULL)
			       : SB_ERR_NOMEM;
	sb_buf_free(&info);
	if (rc == SB_OK)
		return 1;
	sb_hub_unsubscribe(h, c, name);
	send_error(h, c, has_id, id, rc == SB_ERR_LIMIT ? SB_CODE_FORBIDDEN : SB_CODE_INTERNAL, name,
		   rc == SB_ERR_LIMIT ? "the presence channel is full (limits.presence_max_members)"
				      : "out of memory");
	return 0;
}

static void on_presence(struct sb_hub *h, struct sb_client *c, struct sb_req *r)
{
	char name[SB_CHAN_MAX_NAME + 1];

	if (r->channel_len > SB_CHAN_MAX_NAME || !sb_hub_presence_enabled(h, r->channel)) {
		send_error(h, c, r->has_id, r->id, SB_CODE_BAD_REQUEST,
			   r->channel_len <= SB_CHAN_MAX_NAME ? r->channel : NULL,
			   "not a presence channel (its template does not set \"presence\": true)");
		return;
	}
	snprintf(name, sizeof(name), "%s", r->channel);
	/* the members of a channel are for its subscribers */
	if (!sb_client_subscribed(c, name)) {
		send_error(h, c, r->has_id, r->id, SB_CODE_NOT_FOUND, name,
			   "subscribe to the channel first");
		return;
	}
	sb_hub_client_send_owned(h, c, sb_presence_v1_list(r->has_id, r->id, name,
							   sb_hub_presence(h, name)));
}

static void on_sub(struct sb_hub *h, struct sb_client *c, struct sb_req *r)
{
	struct sb_sub_opts o = { r->channel, r->channel_len, r->has_since, r->since, -1, 0,
				 r->has_id ? r->id : NO_ID };
	struct sb_sub_result res;

	if (sb_hub_subscribe(h, c, &o, &res) != SB_OK) {
		int named = res.code != SB_CODE_BAD_REQUEST ||
			    memchr(r->channel, '\0', r->channel_len) == NULL;
		send_error(h, c, r->has_id, r->id, res.code,
			   named && r->channel_len <= SB_CHAN_MAX_NAME ? r->channel : NULL,
			   res.reason);
		return;
	}
	if (res.pending)
		return;   /* acknowledged once live: v1_sub_ready */
	if (!join_presence(h, c, r->has_id, r->id, res.name))
		return;
	/* the ack first, then the snapshot and the history replay */
	sb_hub_client_send_owned(h, c, sb_proto_ack(r->id, res.name, res.recovered));
	sb_hub_send_initial(h, c, res.name);
}

static void v1_sub_ready(void *self, struct sb_hub *h, struct sb_client *c, int64_t tag,
			 enum sb_err rc, const struct sb_sub_result *res)
{
	int has_id = tag != NO_ID;

	SB_UNUSED(self);
	if (rc != SB_OK) {
		send_error(h, c, has_id, has_id ? tag : 0, res->code, res->name, res->reason);
		return;
	}
	if (!join_presence(h, c, has_id, has_id ? tag : 0, res->name))
		return;
	sb_hub_client_send_owned(h, c, sb_proto_ack(has_id ? tag : 0, res->name, res->recovered));
	sb_hub_send_initial(h, c, res->name);
}

static void on_unsub(struct sb_hub *h, struct sb_client *c, struct sb_req *r)
{
	char name[SB_CHAN_MAX_NAME + 1];

	if (r->channel_len > SB_CHAN_MAX_NAME || sb_hub_unsubscribe(h, c, r->channel) != SB_OK) {
		send_error(h, c, r->has_id, r->id, SB_CODE_NOT_FOUND,
			   r->channel_len <= SB_CHAN_MAX_NAME ? r->channel : NULL,
			   "not subscribed to that channel");
		return;
	}
	snprintf(name, sizeof(name), "%s", r->channel);
	if (r->has_id)
		sb_hub_client_send_owned(h, c, sb_proto_ack(r->id, name, -1));
}

static void on_refresh(struct sb_hub *h, struct sb_client *c, struct sb_req *r)
{
	const struct sb_jwt_claims *now = sb_client_claims(c);
	struct sb_jwt_claims *cl = NULL;
	char reason[200];
	enum sb_code code;

	if (sb_hub_open_mode(h)) {
		if (r->has_id)
			sb_hub_client_send_owned(h, c, sb_proto_ack(r->id, NULL, -1));
		return;
	}
	if (sb_hub_verify_token(h, r->token, r->token_len, &cl, &code, reason, sizeof(reason))) {
		send_error(h, c, r->has_id, r->id, code, NULL, reason);
		return;
	}
	if (now && strcmp(now->sub, cl->sub) != 0) {
		sb_hub_count_auth_failure(h);
		sb_jwt_claims_destroy(cl);
		send_error(h, c, r->has_id, r->id, SB_CODE_FORBIDDEN, NULL,
			   "refresh token is for another user");
		return;
	}
	sb_hub_client_set_claims(h, c, cl);
	if (r->has_id)
		sb_hub_client_send_owned(h, c, sb_proto_ack(r->id, NULL, -1));
}

static void v1_frame(void *self, struct sb_hub *h, struct sb_client *c, const char *data,
		     size_t len)
{
	double max = sb_hub_config(h)->max_msgs_per_s, debt;
	struct sb_req r;
	int has_id;
	int64_t id = 0;
	char reason[200];
	enum sb_err rc;

	SB_UNUSED(self);
	if (!sb_hub_client_rate(h, c, max, max, &debt)) {
		if (debt > max + 1.0) {
			sb_hub_client_close(h, c, SB_CLOSE_LIMIT, "rate limit");
			return;
		}
		send_error(h, c, 0, 0, SB_CODE_RATE_LIMITED, NULL, "too many frames; slow down");
		return;
	}
	rc = sb_proto_parse(data, len, &r, &has_id, &id, reason, sizeof(reason));
	if (rc == SB_ERR_LIMIT) {
		sb_hub_count_auth_failure(h);
		send_error(h, c, has_id, id, SB_CODE_UNAUTHORIZED, NULL, reason);
		sb_hub_client_close(h, c, SB_CLOSE_UNAUTHORIZED, "token too large");
		return;
	}
	if (rc) {
		send_error(h, c, has_id, id, SB_CODE_BAD_REQUEST, NULL, reason);
		return;
	}
	if (!sb_client_ready(c) && r.op != SB_OP_HELLO) {
		send_error(h, c, r.has_id, r.id, SB_CODE_UNAUTHORIZED, NULL,
			   "the first frame must be hello");
		sb_hub_client_close(h, c, SB_CLOSE_UNAUTHORIZED, "hello first");
		sb_req_free(&r);
		return;
	}
	switch (r.op) {
	case SB_OP_HELLO: on_hello(h, c, &r); break;
	case SB_OP_SUB: on_sub(h, c, &r); break;
	case SB_OP_UNSUB: on_unsub(h, c, &r); break;
	case SB_OP_REFRESH: on_refresh(h, c, &r); break;
	case SB_OP_PING: sb_hub_client_send_owned(h, c, sb_proto_pong(r.has_id, r.id)); break;
	case SB_OP_PRESENCE: on_presence(h, c, &r); break;
	}
	sb_req_free(&r);
}

/* What the engine tells a v1 client on its own (token expiry, a
 * subscription a refreshed token no longer allows). */
static void v1_error(void *self, struct sb_hub *h, struct sb_client *c, enum sb_code code,
		     const char *channel, const char *message)
{
	SB_UNUSED(self);
	sb_hub_client_send_owned(h, c, sb_proto_error(0, 0, code, channel, message));
}

static const struct sb_session_ops v1_session = {
	.name = "statusbus.v1",
	.frame = v1_frame,
	.error = v1_error,
	.close_code = NULL,   /* the engine's close codes are v1's own */
	.sub_ready = v1_sub_ready,
};

const struct sb_session *sb_session_v1_add(struct sb_hub *hub)
{
	int enc = sb_hub_add_encoder(hub, &v1_encoder);

	return enc < 0 ? NULL : sb_hub_add_session(hub, &v1_session, NULL, enc);
}
