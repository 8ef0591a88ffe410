/* SPDX-License-Identifier: MIT
 *
 * session_pusher.c - the Pusher Channels protocol 7 session on top of the hub
 * (see session_pusher.h); what goes on the wire is domain/pusher_codec.c.
 *
 * Channel names.  The hub keys channels by their statusbus name and builds
 * one frame per channel fan-out for each encoder in use, but every Pusher
 * subscriber must see the name it subscribed with ("private-team.42" and
 * "private-cache-team.42" are two channels to pusher-js).  Each name form
 * is an encoder of its own, named per subscription in sb_sub_opts: still
 * one frame per form and fan-out (and one snapshot cache per form), no
 * per-client JSON.
 *
 * Trust is per subscription: a valid signature is the `trusted` option of
 * the one sb_hub_subscribe() call it authorizes, never of the next.
 */
#include "session_pusher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "proto_v1.h"
#include "pusher_presence.h"

/* Subscribers of one private Pusher channel name on this bridge, for
 * client events. */
struct relay_set {
	struct sb_pusher_conn **v;
	size_t n, cap;
};

struct sb_pusher {
	struct sb_hub *hub;
	const struct sb_session *sess;
	int enc[SB_PUSHER_PRESENCE + 1];   /* hub encoder id per name form */
	const struct sb_config *cfg;
	int64_t (*now_ms)(void);
	struct sb_dict *relay;       /* private channel name -> struct relay_set */
	struct sb_dict *by_socket;   /* socket id -> struct sb_pusher_conn */
	size_t nconns;
	struct sb_pusher_stats st;
};

struct sb_pusher_conn {
	struct sb_pusher *p;
	struct sb_client *c;
	char socket_id[SB_PUSHER_SOCKET_ID_MAX];
	struct sb_dict *subs;        /* Pusher channel name -> (intptr_t)(form + 1) */
	struct sb_dict *members;     /* presence- name -> struct member, until joined */
	int open;                    /* handshake accepted */
	int64_t last_rx_ms;          /* last frame from the client */
	int64_t ping_sent_ms;        /* our unanswered pusher:ping, 0 = none */
	double ce_tokens;            /* client events (frames: the hub's bucket) */
	int64_t ce_ms;
	int close_code;              /* set when this module closes it */
	char close_reason[96];
};

static int64_t now_of(const struct sb_pusher *p)
{
	return p->now_ms ? p->now_ms() : sb_now_ms();
}

/* ---- encoders registered on the hub -------------------------------------------- */

#define FORM_OPS(name, FORM, PRESENCE)                                                \
	static struct sb_frame *name##_event(const char *ch, const char *ev,           \
					     const char *topic, int retained,          \
					     const char *data, size_t len)             \
	{                                                                              \
		return sb_pusher_event_frame(FORM, ch, ev, topic, retained, data, len); \
	}                                                                              \
	static struct sb_frame *name##_batch(const char *ch, const char *ev,           \
					     struct sb_msg *const *items, size_t n)    \
	{                                                                              \
		return sb_pusher_batch_frame(FORM, ch, ev, items, n);                  \
	}                                                                              \
	static struct sb_frame *name##_gap(const char *ch, int64_t from, int64_t to,   \
					   size_t lines)                               \
	{                                                                              \
		return sb_pusher_gap_frame(FORM, ch, from, to, lines);                 \
	}                                                                              \
	static const struct sb_encoder name##_ops = { name##_event, name##_batch,      \
						      name##_gap, NULL, PRESENCE }

/* presence-: member_added / member_removed; the other forms are not told */
FORM_OPS(public, SB_PUSHER_PUBLIC, NULL);
FORM_OPS(private, SB_PUSHER_PRIVATE, NULL);
FORM_OPS(private_cache, SB_PUSHER_PRIVATE_CACHE, NULL);
FORM_OPS(cache, SB_PUSHER_CACHE, NULL);
FORM_OPS(presence, SB_PUSHER_PRESENCE, sb_pusher_member_frame);

/* The member a presence- subscription joins as once it is live. */
struct member {
	char id[SB_PRESENCE_MAX_ID + 1];
	char *info;
};

static void member_free(void *v)
{
	struct member *m = v;

	if (m)
		free(m->info);
	free(m);
}

/* ---- the session the hub calls ---------------------------------------------------- */

#define PENDING 0x100   /* in pc->subs: subscribed, not live yet */

static void session_sub_ready(void *self, struct sb_hub *hub, struct sb_client *c, int64_t tag,
			      enum sb_err rc, const struct sb_sub_result *res);

static void session_frame(void *self, struct sb_hub *hub, struct sb_client *c,
			  const char *data, size_t len)
{
	SB_UNUSED(self);
	SB_UNUSED(hub);
	sb_pusher_frame(sb_client_data(c), data, len);
}

static int session_close_code(void *self, const struct sb_client *c, int code,
			      const char **reason)
{
	SB_UNUSED(self);
	return sb_pusher_close_code(sb_client_data(c), code, reason);
}

/* A relayed Pusher API event's socket_id: the sender, when it is here. */
static const struct sb_client *session_origin(void *self, const char *id)
{
	const struct sb_pusher_conn *pc = sb_dict_get(((struct sb_pusher *)self)->by_socket, id);

	return pc ? pc->c : NULL;
}

static const struct sb_session_ops session_ops = {
	.name = "pusher",
	.frame = session_frame,
	.error = NULL,   /* Pusher has no token to expire */
	.close_code = session_close_code,
	.sub_ready = session_sub_ready,
	.origin = session_origin,
};

/* ---- the bridge side ------------------------------------------------------------ */

static void relay_free(void *v)
{
	struct relay_set *r = v;

	if (r)
		free(r->v);
	free(r);
}

enum sb_err sb_pusher_create(struct sb_pusher **out, struct sb_hub *hub,
			     const struct sb_config *cfg)
{
	struct sb_pusher *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return SB_ERR_NOMEM;
	p->hub = hub;
	p->cfg = cfg;
	p->relay = sb_dict_create(relay_free);
	p->by_socket = sb_dict_create(NULL);
	if (!p->relay || !p->by_socket) {
		sb_dict_destroy(p->relay);
		sb_dict_destroy(p->by_socket);
		free(p);
		return SB_ERR_NOMEM;
	}
	p->enc[SB_PUSHER_PUBLIC] = sb_hub_add_encoder(hub, &public_ops);
	p->enc[SB_PUSHER_PRIVATE] = sb_hub_add_encoder(hub, &private_ops);
	p->enc[SB_PUSHER_PRIVATE_CACHE] = sb_hub_add_encoder(hub, &private_cache_ops);
	p->enc[SB_PUSHER_CACHE] = sb_hub_add_encoder(hub, &cache_ops);
	p->enc[SB_PUSHER_PRESENCE] = sb_hub_add_encoder(hub, &presence_ops);
	p->sess = sb_hub_add_session(hub, &session_ops, p, p->enc[SB_PUSHER_PUBLIC]);
	if (!p->sess) {
		sb_dict_destroy(p->relay);
		sb_dict_destroy(p->by_socket);
		free(p);
		return SB_ERR_NOMEM;
	}
	sb_log(SB_LOG_INFO, "Pusher protocol %d on /app/%s (app_id %s, activity_timeout %d s, "
	       "client events %s)", SB_PUSHER_PROTOCOL, cfg->pusher_key, cfg->pusher_app_id,
	       cfg->pusher_activity_timeout_s, cfg->pusher_client_events ? "relayed" : "refused");
	*out = p;
	return SB_OK;
}

void sb_pusher_destroy(struct sb_pusher *p)
{
	if (!p)
		return;
	sb_dict_destroy(p->relay);
	sb_dict_destroy(p->by_socket);
	free(p);
}

const struct sb_session *sb_pusher_session(const struct sb_pusher *p) { return p->sess; }
void sb_pusher_set_clock(struct sb_pusher *p, int64_t (*now_ms)(void)) { p->now_ms = now_ms; }
const struct sb_pusher_stats *sb_pusher_stats(const struct sb_pusher *p) { return &p->st; }
const char *sb_pusher_socket_id(const struct sb_pusher_conn *pc) { return pc->socket_id; }
int sb_pusher_encoder(const struct sb_pusher *p, enum sb_pusher_name form)
{
	return form <= SB_PUSHER_PRESENCE ? p->enc[form] : -1;
}

void sb_pusher_count_api(struct sb_pusher *p, int status, size_t events)
{
	enum sb_pusher_api_result r;

	switch (status) {
	case 200: r = SB_PUSHER_API_OK; break;
	case 401: r = SB_PUSHER_API_UNAUTHORIZED; break;
	case 404: r = SB_PUSHER_API_NOT_FOUND; break;
	case 411: case 413: r = SB_PUSHER_API_TOO_LARGE; break;
	case 501: r = SB_PUSHER_API_UNSUPPORTED; break;
	case 503: r = SB_PUSHER_API_UNAVAILABLE; break;
	default: r = status >= 500 ? SB_PUSHER_API_UNAVAILABLE : SB_PUSHER_API_BAD_REQUEST; break;
	}
	p->st.api_requests[r]++;
	p->st.api_events += events;
	if (status == 401)
		sb_hub_count_auth_failure(p->hub);
}

/* Queues f (taking over the caller's reference). */
static void queue_frame(struct sb_pusher_conn *pc, struct sb_frame *f)
{
	if (!f)
		return;   /* out of memory: the hub counts what it drops */
	sb_hub_client_send(pc->p->hub, pc->c, f);
	sb_frame_unref(f);
}

static void send_error(struct sb_pusher_conn *pc, int code, const char *message)
{
	queue_frame(pc, sb_pusher_error_frame(code, message));
}

/* Closes with a Pusher code after what is queued (an error frame first). */
static void close_conn(struct sb_pusher_conn *pc, int code, const char *reason)
{
	if (pc->close_code)
		return;
	pc->close_code = code;
	snprintf(pc->close_reason, sizeof(pc->close_reason), "%s", reason);
	sb_hub_client_close(pc->p->hub, pc->c, code, pc->close_reason);
}

/* 0, or the Pusher close code refusing this handshake. */
static int handshake(const struct sb_pusher *p, const char *path, const char *protocol,
		     char *reason, size_t rlen)
{
	size_t n;

	if (!path || strncmp(path, "/app/", 5) != 0 || strcmp(path + 5, p->cfg->pusher_key) != 0) {
		snprintf(reason, rlen, "Application does not exist");
		return SB_PUSHER_CLOSE_APP_UNKNOWN;
	}
	if (!protocol || !*protocol) {
		snprintf(reason, rlen, "No protocol version supplied");
		return SB_PUSHER_CLOSE_NO_PROTOCOL;
	}
	n = strspn(protocol, "0123456789");
	if (protocol[n] != '\0' || n > 9) {
		snprintf(reason, rlen, "Invalid version string format");
		return SB_PUSHER_CLOSE_BAD_VERSION;
	}
	if (atoi(protocol) != SB_PUSHER_PROTOCOL) {
		snprintf(reason, rlen, "Unsupported protocol version %s (this bridge speaks %d)",
			 protocol, SB_PUSHER_PROTOCOL);
		return SB_PUSHER_CLOSE_UNSUPPORTED_PROTOCOL;
	}
	return 0;
}

struct sb_pusher_conn *sb_pusher_open(struct sb_pusher *p, struct sb_client *c,
				      const char *path, const char *protocol)
{
	struct sb_pusher_conn *pc = calloc(1, sizeof(*pc));
	char reason[96];
	int code;

	if (!pc || !(pc->subs = sb_dict_create(NULL)) ||
	    !(pc->members = sb_dict_create(member_free))) {
		if (pc)
			sb_dict_destroy(pc->subs);
		free(pc);
		return NULL;
	}
	pc->p = p;
	pc->c = c;
	pc->last_rx_ms = pc->ce_ms = now_of(p);
	pc->ce_tokens = SB_PUSHER_CLIENT_EVENTS_PER_S;
	sb_pusher_make_socket_id(sb_client_session(c), pc->socket_id, sizeof(pc->socket_id));
	/* out of memory: only a relayed event's exclusion misses it */
	sb_dict_set(p->by_socket, pc->socket_id, pc);
	p->nconns++;
	sb_client_set_data(c, pc);
	code = handshake(p, path, protocol, reason, sizeof(reason));
	if (code) {
		p->st.refused++;
		sb_log(SB_LOG_INFO, "pusher %s: refused, %d %s", sb_client_session(c), code, reason);
		send_error(pc, code, reason);
		close_conn(pc, code, reason);
		return pc;
	}
	sb_hub_client_set_ready(p->hub, c);   /* no hello in Pusher */
	pc->open = 1;
	p->st.connections++;
	queue_frame(pc, sb_pusher_connection_established_frame(pc->socket_id,
							       p->cfg->pusher_activity_timeout_s));
	return pc;
}

/* ---- client events ---------------------------------------------------------------- */

static void relay_add(struct sb_pusher_conn *pc, const char *name)
{
	struct sb_pusher *p = pc->p;
	struct relay_set *r = sb_dict_get(p->relay, name);

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r || sb_dict_set(p->relay, name, r) != SB_OK) {
			free(r);
			return;
		}
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct sb_pusher_conn **v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = pc;
}

static void relay_remove(struct sb_pusher_conn *pc, const char *name)
{
	struct relay_set *r = sb_dict_get(pc->p->relay, name);

	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i] == pc) {
			r->v[i] = r->v[--r->n];
			break;
		}
	if (!r->n)
		sb_dict_del(pc->p->relay, name);
}

static int bucket(double *tokens, int64_t *last, int64_t now, double per_s, double burst)
{
	*tokens += (double)(now - *last) * per_s / 1000.0;
	if (*tokens > burst)
		*tokens = burst;
	*last = now;
	*tokens -= 1.0;
	return *tokens >= 0.0;
}

static void on_client_event(struct sb_pusher_conn *pc, const struct sb_pusher_msg *m)
{
	struct sb_pusher *p = pc->p;
	intptr_t have = (intptr_t)sb_dict_get(pc->subs, m->channel);
	struct relay_set *r;
	struct sb_frame *f;

	if (!p->cfg->pusher_client_events) {
		p->st.client_events_refused++;
		send_error(pc, SB_PUSHER_ERR_CLIENT_EVENT,
			   "Client events are disabled on this bridge (pusher.client_events)");
		return;
	}
	if (!have || (have & PENDING) ||
	    !sb_pusher_name_is_private((enum sb_pusher_name)(have - 1))) {
		p->st.client_events_refused++;
		send_error(pc, -1, "Client events are only accepted on private channels this "
			   "connection subscribed to");
		return;
	}
	if (!bucket(&pc->ce_tokens, &pc->ce_ms, now_of(p), SB_PUSHER_CLIENT_EVENTS_PER_S,
		    SB_PUSHER_CLIENT_EVENTS_PER_S)) {
		p->st.client_events_refused++;
		send_error(pc, SB_PUSHER_ERR_CLIENT_EVENT, "Client event rejected due to rate limit");
		return;
	}
	r = sb_dict_get(p->relay, m->channel);
	if (!r || r->n < 2)
		return;   /* nobody else to tell */
	f = sb_pusher_client_event_frame(m->event, m->channel, m->data);
	if (!f)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i] != pc)
			sb_hub_client_send(p->hub, r->v[i]->c, f);
	sb_frame_unref(f);
	p->st.client_events++;
}

/* ---- subscriptions ------------------------------------------------------------------ */

static void subscribed(struct sb_pusher_conn *pc, enum sb_pusher_name form, const char *name,
		       const char *base);

static void subscription_error(struct sb_pusher_conn *pc, const char *name, const char *type,
			       int status, const char *error)
{
	pc->p->st.subscription_errors++;
	/* signature failures are worth a line at info; the rest is the
	 * client's business (and a client can send many) */
	sb_log(status == 401 && !strncmp(name, "private-", 8) ? SB_LOG_INFO : SB_LOG_DEBUG,
	       "pusher %s: %.300s refused (%d): %s", pc->socket_id, name, status, error);
	queue_frame(pc, sb_pusher_subscription_error_frame(name, type, error, status));
}

static int http_status(enum sb_code code, const char **type)
{
	*type = "AuthError";
	switch (code) {
	case SB_CODE_UNAUTHORIZED:
	case SB_CODE_TOKEN_EXPIRED: return 401;
	case SB_CODE_FORBIDDEN: return 403;
	case SB_CODE_NOT_FOUND: return 404;
	case SB_CODE_BAD_REQUEST: *type = "InvalidChannel"; return 400;
	case SB_CODE_TOO_MANY_SUBSCRIPTIONS:
	case SB_CODE_RATE_LIMITED: *type = "LimitReached"; return 429;
	case SB_CODE_UNAVAILABLE: *type = "ServerError"; return 503;
	case SB_CODE_INTERNAL: break;
	}
	*type = "ServerError";
	return 500;
}

/* subscription_succeeded; on presence-, with the members. */
static struct sb_frame *succeeded_frame(struct sb_pusher *p, enum sb_pusher_name form,
					const char *base)
{
	if (form != SB_PUSHER_PRESENCE)
		return sb_pusher_subscription_succeeded_frame(form, base);
	return sb_pusher_presence_succeeded_frame(base, sb_hub_presence(p->hub, base));
}

/* A presence- subscribe's member, from its (signed) channel_data, kept
 * until the subscription is live.  SB_OK, or the subscription_error is sent
 * (counted). */
static enum sb_err presence_member(struct sb_pusher_conn *pc, const struct sb_pusher_msg *m,
				   const char *name, const char *base)
{
	struct sb_pusher *p = pc->p;
	struct member *mb = calloc(1, sizeof(*mb));
	char reason[384];
	enum sb_err rc;

	if (!mb) {
		subscription_error(pc, name, "ServerError", 500, "out of memory");
		return SB_ERR_NOMEM;
	}
	if (!sb_hub_presence_enabled(p->hub, base)) {
		member_free(mb);
		p->st.presence_refused++;
		snprintf(reason, sizeof(reason), "%.200s is not a presence channel (its template "
			 "does not set \"presence\": true)", base);
		subscription_error(pc, name, "InvalidChannel", 404, reason);
		return SB_ERR_NOTFOUND;
	}
	rc = sb_pusher_channel_data(m->channel_data, mb->id, &mb->info, reason, sizeof(reason));
	if (rc == SB_OK && (rc = sb_dict_set(pc->members, name, mb)) == SB_OK)
		return SB_OK;
	member_free(mb);
	p->st.presence_refused++;
	if (rc == SB_ERR_NOMEM)
		subscription_error(pc, name, "ServerError", 500, "out of memory");
	else
		subscription_error(pc, name, "InvalidChannelData", 400, reason);
	return rc;
}

static void on_subscribe(struct sb_pusher_conn *pc, const struct sb_pusher_msg *m)
{
	struct sb_pusher *p = pc->p;
	const char *name = m->channel, *base, *type;
	enum sb_pusher_name form = sb_pusher_name_parse(name, &base);
	int trusted = sb_pusher_name_is_private(form), status;
	struct sb_sub_opts o = { base, 0, 0, 0, -1, trusted, form };
	struct sb_sub_result res;
	char reason[640];
	enum sb_err rc;

	if (form == SB_PUSHER_UNSUPPORTED) {
		subscription_error(pc, name, "UnsupportedChannel", 501,
				   "encrypted channels are not supported by statusbus");
		return;
	}
	if (sb_dict_get(pc->subs, name)) {
		/* pusher-js never does this; Pusher answers it again (once it is
		 * live: a pending one is answered when it is) */
		if (!((intptr_t)sb_dict_get(pc->subs, name) & PENDING))
			queue_frame(pc, succeeded_frame(p, form, base));
		return;
	}
	/* presence-: the signature covers channel_data too */
	if (trusted && sb_pusher_verify_data(p->cfg->pusher_key, p->cfg->pusher_secret,
					     pc->socket_id, name,
					     form == SB_PUSHER_PRESENCE ? (m->channel_data ? m->channel_data : "") : NULL,
					     m->auth, reason, sizeof(reason)) != SB_OK) {
		p->st.signature_failures++;
		sb_hub_count_auth_failure(p->hub);
		subscription_error(pc, name, "AuthError", 401, reason);
		return;
	}
	if (form == SB_PUSHER_PRESENCE && presence_member(pc, m, name, base) != SB_OK)
		return;
	/* the signature authorizes this one channel: trusted for this call only */
	o.len = strlen(base);
	o.enc = p->enc[form];
	rc = sb_hub_subscribe(p->hub, pc->c, &o, &res);
	if (rc != SB_OK) {
		snprintf(reason, sizeof(reason), "%s", res.reason);
		status = http_status(res.code, &type);
		if (rc == SB_ERR_EXISTS) {
			status = 409;
			type = "InvalidChannel";
			snprintf(reason, sizeof(reason), "already subscribed to %.256s under another name",
				 base);
		} else if (res.code == SB_CODE_UNAUTHORIZED && !trusted) {
			snprintf(reason, sizeof(reason), "%.256s is not public: subscribe to "
				 "private-%.256s with a signature from the app's auth endpoint", base, base);
		}
		sb_dict_del(pc->members, name);
		subscription_error(pc, name, type, status, reason);
		return;
	}
	if (sb_dict_set(pc->subs, name, (void *)(intptr_t)((form + 1) | (res.pending ? PENDING : 0)))
	    != SB_OK) {
		sb_hub_unsubscribe(p->hub, pc->c, base);
		sb_dict_del(pc->members, name);
		subscription_error(pc, name, "ServerError", 500, "out of memory");
		return;
	}
	/* subscription_succeeded means live, like v1's ack: a pending one is
	 * answered by session_sub_ready */
	if (!res.pending)
		subscribed(pc, form, name, base);
}

/* The subscription is live: succeeded, then (cache-) the snapshot. */
static void subscribed(struct sb_pusher_conn *pc, enum sb_pusher_name form, const char *name,
		       const char *base)
{
	struct sb_pusher *p = pc->p;
	struct member *mb = sb_dict_take(pc->members, name);

	if (form == SB_PUSHER_PRESENCE) {
		/* a member before subscription_succeeded, which lists it */
		enum sb_err rc = mb ? sb_hub_presence_join(p->hub, pc->c, base, mb->id, mb->info)
				    : SB_ERR_NOMEM;
		member_free(mb);
		if (rc != SB_OK) {
			sb_hub_unsubscribe(p->hub, pc->c, base);
			sb_dict_del(pc->subs, name);
			p->st.presence_refused++;
			if (rc == SB_ERR_LIMIT)
				subscription_error(pc, name, "LimitReached", 429, "the presence channel "
						   "is full (limits.presence_max_members)");
			else
				subscription_error(pc, name, "ServerError", 500, "out of memory");
			return;
		}
	} else {
		member_free(mb);
	}
	sb_dict_set(pc->subs, name, (void *)(intptr_t)(form + 1));   /* replaces: cannot fail */
	if (sb_pusher_name_is_private(form) && p->cfg->pusher_client_events)
		relay_add(pc, name);
	p->st.subscriptions++;
	sb_log(SB_LOG_DEBUG, "pusher %s: subscribed %s", pc->socket_id, name);
	queue_frame(pc, succeeded_frame(p, form, base));
	/* cache channels get the last event of each topic, from the channel's
	 * snapshot frames for this form (shared, like v1's); an empty one is
	 * pusher:cache_miss */
	if (sb_pusher_name_is_cache(form) && !sb_hub_send_initial(p->hub, pc->c, base))
		queue_frame(pc, sb_pusher_cache_miss_frame(form, base));
}

static void session_sub_ready(void *self, struct sb_hub *hub, struct sb_client *c, int64_t tag,
			      enum sb_err rc, const struct sb_sub_result *res)
{
	struct sb_pusher_conn *pc = sb_client_data(c);
	enum sb_pusher_name form = (enum sb_pusher_name)tag;
	char name[SB_CHAN_MAX_NAME + 32];
	const char *type;
	int status;

	SB_UNUSED(self);
	SB_UNUSED(hub);
	if (!pc)
		return;
	snprintf(name, sizeof(name), "%s%s", sb_pusher_name_prefix(form), res->name);
	if (rc == SB_OK) {
		subscribed(pc, form, name, res->name);
		return;
	}
	sb_dict_del(pc->subs, name);
	sb_dict_del(pc->members, name);
	status = http_status(res->code, &type);
	subscription_error(pc, name, type, status, res->reason);
}

static void on_unsubscribe(struct sb_pusher_conn *pc, const struct sb_pusher_msg *m)
{
	intptr_t have = (intptr_t)sb_dict_get(pc->subs, m->channel);
	const char *base;

	if (!have)
		return;   /* Pusher ignores what was not subscribed */
	sb_pusher_name_parse(m->channel, &base);
	sb_hub_unsubscribe(pc->p->hub, pc->c, base);
	relay_remove(pc, m->channel);
	sb_dict_del(pc->subs, m->channel);
	sb_dict_del(pc->members, m->channel);
}

/* a reconnecting pusher-js resubscribes every channel at once: the burst
 * allows max_subscriptions on top of the per-second rate */
static double p_burst(const struct sb_pusher_conn *pc)
{
	return (double)pc->p->cfg->max_msgs_per_s + pc->p->cfg->max_subscriptions;
}

void sb_pusher_frame(struct sb_pusher_conn *pc, const char *data, size_t len)
{
	struct sb_pusher *p;
	struct sb_pusher_msg m;
	char reason[256];
	int64_t now;
	int limited;
	double burst, debt;

	if (!pc || !pc->open || pc->close_code || sb_client_close_code(pc->c, NULL))
		return;
	p = pc->p;
	now = now_of(p);
	pc->last_rx_ms = now;
	pc->ping_sent_ms = 0;
	burst = p_burst(pc);
	limited = !sb_hub_client_rate(p->hub, pc->c, p->cfg->max_msgs_per_s, burst, &debt);
	if (limited) {
		p->st.rate_limited++;
		if (debt > burst) {
			sb_log(SB_LOG_INFO, "pusher %s: over %d messages/s, closing %d", pc->socket_id,
			       p->cfg->max_msgs_per_s, SB_PUSHER_CLOSE_RATE_LIMIT);
			send_error(pc, SB_PUSHER_CLOSE_RATE_LIMIT, "Too many messages");
			close_conn(pc, SB_PUSHER_CLOSE_RATE_LIMIT, "Too many messages");
			return;
		}
	}
	if (sb_pusher_parse(data, len, &m, reason, sizeof(reason)) != SB_OK) {
		send_error(pc, -1, reason);
		return;
	}
	if (limited) {
		if (m.op == SB_PUSHER_OP_SUBSCRIBE)
			subscription_error(pc, m.channel, "LimitReached", 429,
					   "too many messages; subscribe again later");
		else
			send_error(pc, SB_PUSHER_CLOSE_RATE_LIMIT, "Too many messages; slow down");
		sb_pusher_msg_free(&m);
		return;
	}
	switch (m.op) {
	case SB_PUSHER_OP_SUBSCRIBE: on_subscribe(pc, &m); break;
	case SB_PUSHER_OP_UNSUBSCRIBE: on_unsubscribe(pc, &m); break;
	case SB_PUSHER_OP_PING: queue_frame(pc, sb_pusher_pong_frame()); break;
	case SB_PUSHER_OP_PONG: break;   /* the activity is recorded above */
	case SB_PUSHER_OP_CLIENT_EVENT: on_client_event(pc, &m); break;
	case SB_PUSHER_OP_OTHER:
		snprintf(reason, sizeof(reason), "Unsupported event %.200s", m.event);
		send_error(pc, -1, reason);
		break;
	}
	sb_pusher_msg_free(&m);
}

int64_t sb_pusher_timer(struct sb_pusher_conn *pc, int64_t now)
{
	int64_t idle;

	if (!pc || !pc->open || pc->close_code || sb_client_close_code(pc->c, NULL))
		return -1;
	if (pc->ping_sent_ms) {
		if (now - pc->ping_sent_ms < SB_PUSHER_PONG_TIMEOUT_MS)
			return pc->ping_sent_ms + SB_PUSHER_PONG_TIMEOUT_MS - now;
		pc->p->st.pong_timeouts++;
		sb_log(SB_LOG_INFO, "pusher %s: no pong within %d s, closing %d", pc->socket_id,
		       SB_PUSHER_PONG_TIMEOUT_MS / 1000, SB_PUSHER_CLOSE_PONG_TIMEOUT);
		close_conn(pc, SB_PUSHER_CLOSE_PONG_TIMEOUT, "Pong reply not received");
		return -1;
	}
	idle = (int64_t)pc->p->cfg->pusher_activity_timeout_s * 1000;
	if (now - pc->last_rx_ms < idle)
		return pc->last_rx_ms + idle - now;
	pc->ping_sent_ms = now;
	pc->p->st.pings_sent++;
	queue_frame(pc, sb_pusher_ping_frame());
	return SB_PUSHER_PONG_TIMEOUT_MS;
}

int sb_pusher_close_code(const struct sb_pusher_conn *pc, int code, const char **reason)
{
	const char *r = NULL;
	int out = code;

	if (pc && pc->close_code) {
		if (reason)
			*reason = pc->close_reason;
		return pc->close_code;
	}
	switch (code) {
	case SB_CLOSE_GOING_AWAY: out = SB_PUSHER_CLOSE_RECONNECT; r = "Bridge restarting; reconnect"; break;
	case SB_CLOSE_SLOW: out = SB_PUSHER_CLOSE_OVER_CAPACITY; r = "Client too slow"; break;
	case SB_CLOSE_LIMIT: out = SB_PUSHER_CLOSE_OVER_CAPACITY; r = "Over capacity"; break;
	case SB_CLOSE_UNAUTHORIZED: out = SB_PUSHER_CLOSE_UNAUTHORIZED; r = "Unauthorized"; break;
	case SB_CLOSE_TOO_LARGE: out = 1009; r = "Frame too large"; break;
	case SB_CLOSE_PROTOCOL: out = 1003; r = "Binary frames are not part of the Pusher protocol"; break;
	default: break;
	}
	if (reason && r)
		*reason = r;
	return out;
}

void sb_pusher_conn_gone(struct sb_pusher_conn *pc)
{
	struct sb_dict_iter it;
	const char *name;

	if (!pc)
		return;
	sb_dict_iter_init(&it, pc->subs);
	while (sb_dict_next(&it, &name, NULL))
		relay_remove(pc, name);
	sb_dict_destroy(pc->subs);
	sb_dict_destroy(pc->members);
	if (sb_dict_get(pc->p->by_socket, pc->socket_id) == pc)
		sb_dict_take(pc->p->by_socket, pc->socket_id);
	sb_client_set_data(pc->c, NULL);
	pc->p->nconns--;
	free(pc);
}
