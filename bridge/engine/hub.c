/* SPDX-License-Identifier: MIT
 *
 * hub.c - the engine's registry and orchestration (see hub.h and
 * docs/architecture.md): encoders and sessions registered at run time,
 * clients, channels, MQTT filters and the retained cache; a message's
 * verdict (ingest), its effect on the cache and the owners, and its routing
 * to the channels that follow its topic; subscribe and unsubscribe; time.
 *
 * What happens inside a channel (fan-out, batches, conflation, history,
 * snapshots) is channel.c; a connection's queue and close verdicts are
 * client.c; authorization is auth.c; the HTTP answers are query.c.  This
 * file names no protocol.
 *
 * Routing a message is sb_chanmap_route (cost ~ number of templates) plus
 * one dict lookup per candidate channel; never a scan of clients.
 */
#include "hub_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REJECT_LOG_MAX 10000

int64_t sb_hub__now(const struct sb_hub *h)
{
	return h->p.now_ms ? h->p.now_ms() : sb_now_ms();
}

int64_t sb_hub__wall(const struct sb_hub *h)
{
	return h->p.wall_s ? h->p.wall_s() : (int64_t)time(NULL);
}

const struct sb_config *sb_hub_config(const struct sb_hub *h) { return h->p.cfg; }
int sb_hub_open_mode(const struct sb_hub *h) { return h->p.jwt_key == NULL; }

int64_t sb_hub_next_deadline(const struct sb_hub *h)
{
	int64_t d = sb_timers_next(&h->timers), l = sb_live_next_deadline(h);

	if (l < d)
		d = l;
	/* hello and token deadlines: swept once a second while clients exist */
	if (h->clients.count && h->last_sweep + SB_SWEEP_MS < d)
		d = h->last_sweep + SB_SWEEP_MS;
	return d;
}

void sb_hub__rearm(struct sb_hub *h)
{
	if (h->ops.timer)
		h->ops.timer(h->ops.ctx, sb_hub_next_deadline(h));
}

/* ---- registry -------------------------------------------------------------------- */

int sb_hub_add_encoder(struct sb_hub *h, const struct sb_encoder *enc)
{
	if (h->nenc >= SB_HUB_MAX_ENCODERS)
		return -1;
	h->enc[h->nenc] = enc;
	return h->nenc++;
}

const struct sb_session *sb_hub_add_session(struct sb_hub *h, const struct sb_session_ops *ops,
					    void *self, int enc)
{
	struct sb_session *s;

	if (h->nsessions >= SB_HUB_MAX_ENCODERS || enc < 0 || enc >= h->nenc ||
	    !(s = calloc(1, sizeof(*s))))
		return NULL;
	s->ops = ops;
	s->self = self;
	s->enc = enc;
	h->sessions[h->nsessions++] = s;
	return s;
}

/* ---- MQTT messages ---------------------------------------------------------------- */

struct route_ctx {
	struct sb_hub *h;
	struct sb_msg *m;
	const struct sb_kind *k;
	int deleted;
};

int sb_hub__topic_allowed(const struct sb_hub *h, const struct sb_chan_tmpl *t,
			  const char *topic)
{
	char team[SB_PARAM_MAX + 1], kind[SB_PARAM_MAX + 1], id[SB_PARAM_MAX + 1];
	const char *want = sb_acl_owned_kind(t->acl), *owner;
	int contested;

	/* a resource's channels carry its owner's topics only: the filters
	 * team/+/deploy/<d>/status and team/+/app/<a>/logs also match other
	 * teams' prefixes */
	if (!want || !sb_owners_split(topic, team, sizeof(team), kind, sizeof(kind), id, sizeof(id)) ||
	    strcmp(kind, want) != 0)
		return 1;
	owner = sb_owners_lookup(h->owners, kind, id, &contested);
	if (contested)
		return 0;   /* nobody owns it: no team's topic reaches its channels */
	return !owner || strcmp(owner, team) == 0;
}

static void route_one(const char *name, const struct sb_chan_tmpl *t, void *user)
{
	struct route_ctx *r = user;
	struct sb_chan *ch = sb_dict_get(r->h->chans, name);

	if (!ch)
		return;
	if (!sb_hub__topic_allowed(r->h, t, r->m->topic)) {
		r->h->m.drop_foreign_owner++;
		return;
	}
	sb_chan_deliver(r->h, ch, r->k, r->m, r->deleted);
}

static void learn_owner(struct sb_hub *h, const char *topic, int deleted)
{
	const char *owner = NULL;

	switch (sb_owners_learn(h->owners, topic, deleted, &owner)) {
	case SB_OWNER_CONFLICT:
		/* a resource cannot change teams: keep the first owner */
		sb_log(SB_LOG_WARN, "%s: the resource belongs to team %s; ignored", topic, owner);
		break;
	case SB_OWNER_NOMEM:
		h->m.drop_nomem++;
		break;
	case SB_OWNER_LEARNED:
		sb_live_owner_learned(h);   /* subscribes that waited for it */
		break;
	case SB_OWNER_CONTESTED: {
		char team[SB_PARAM_MAX + 1], kind[SB_PARAM_MAX + 1], id[SB_PARAM_MAX + 1];

		/* the first claim may have been the false one: nobody may read
		 * the resource's channels until one claim is left (owners.h) */
		h->m.owner_contested++;
		sb_log(SB_LOG_WARN, "%s: the resource also has a status under team %s; its "
		       "channels are closed to every team until one of the two is deleted",
		       topic, owner);
		if (sb_owners_split(topic, team, sizeof(team), kind, sizeof(kind), id, sizeof(id)))
			sb_chan_recheck_owned(h, kind, id);
		break;
	}
	case SB_OWNER_DELETED:
		sb_log(SB_LOG_INFO, "%s: deleted; the resource stays the team's while it has "
		       "channels", topic);
		break;
	default:
		break;
	}
}

/* A refused message: counted, logged at most once per topic and interval,
 * and republished to $statusbus/rejected/<topic> when configured. */
static void reject(struct sb_hub *h, struct sb_msg *m, uint64_t *counter, const char *reason)
{
	int64_t now = sb_hub__wall(h);
	intptr_t last;

	(*counter)++;
	if (sb_dict_size(h->reject_log) > REJECT_LOG_MAX) {
		sb_dict_destroy(h->reject_log);
		h->reject_log = sb_dict_create(NULL);
	}
	if (h->reject_log) {
		last = (intptr_t)sb_dict_get(h->reject_log, m->topic);
		if (!last || now - last >= h->p.cfg->reject_log_interval_s) {
			sb_log_kv(SB_LOG_WARN, &(struct sb_log_field){ "topic", m->topic }, 1,
				  "payload on %s rejected (%zu bytes): %s", m->topic, m->payload_len,
				  reason);
			sb_dict_set(h->reject_log, m->topic, (void *)(intptr_t)now);
		}
	}
	if (h->p.cfg->republish_rejected && h->ops.publish) {
		char topic[1100];
		size_t len = 0;
		char *body = sb_ingest_reject_report(m->topic, m->topic_len, m->payload,
						     m->payload_len, reason, now, &len);

		snprintf(topic, sizeof(topic), "$statusbus/rejected/%s", m->topic);
		if (body) {
			h->ops.publish(h->ops.ctx, topic, body, len);
			h->m.rejected_published++;
		} else {
			h->m.drop_nomem++;
		}
		free(body);
	}
}

static uint64_t *reject_counter(struct sb_hub *h, enum sb_ingest_reason why)
{
	switch (why) {
	case SB_INGEST_OVERSIZE: return &h->m.drop_oversize;
	case SB_INGEST_UNKNOWN_TOPIC: return &h->m.drop_unknown_topic;
	case SB_INGEST_NOT_JSON: return &h->m.drop_invalid_json;
	default: return &h->m.drop_schema;
	}
}

/* The local connection a relayed Pusher event must not reach: its
 * sender, when that socket is on this bridge (each session knows its own
 * ids: Pusher's socket ids), else NULL. */
static const struct sb_client *origin_of(const struct sb_hub *h, const char *id)
{
	const struct sb_client *c = NULL;

	for (int i = 0; id[0] && !c && i < h->nsessions; i++)
		if (h->sessions[i]->ops->origin)
			c = h->sessions[i]->ops->origin(h->sessions[i]->self, id);
	return c;
}

/* A relayed Pusher event names its one channel: pusher/<channel>/<event>. */
static void route_relay(struct sb_hub *h, struct route_ctx *r)
{
	const char *ch = r->m->topic + SB_RELAY_PREFIX_LEN, *ev = sb_relay_event(r->m->topic);
	char name[SB_CHAN_MAX_NAME + 1];
	struct sb_chan *c;

	if (!ev || (size_t)(ev - 1 - ch) > SB_CHAN_MAX_NAME)
		return;
	memcpy(name, ch, (size_t)(ev - 1 - ch));
	name[ev - 1 - ch] = '\0';
	if ((c = sb_dict_get(h->chans, name)))
		sb_chan_deliver(h, c, r->k, r->m, r->deleted);
}

static void route(struct sb_hub *h, struct route_ctx *r, const struct sb_ingest_result *v)
{
	if (r->k && r->k->relay) {
		h->exclude = origin_of(h, v->origin);
		route_relay(h, r);
		h->exclude = NULL;
		return;
	}
	sb_chanmap_route(h->p.map, r->m->topic, route_one, r);
}

void sb_hub_on_message(struct sb_hub *h, struct sb_msg *m)
{
	struct sb_ingest_result v;
	struct route_ctx r = { h, m, NULL, 0 };

	if (m->retained)
		sb_filters_retained(h->filters, m->topic);   /* a replay (live.c) */
	if (sb_live_barrier_msg(h, m) || sb_pres_msg(h, m))
		return;
	if (h->unconfirmed)
		sb_dict_del(h->unconfirmed, m->topic);   /* the broker has it: current */
	h->m.messages_in++;
	h->m.bytes_in += m->payload_len;
	sb_hist_observe(&h->m.ingest_latency, sb_hub__since_s(m->arrived_us));
	sb_ingest_check(&h->rules, m->topic, m->topic_len, m->payload, m->payload_len,
			m->retained, &v);
	r.k = v.kind;
	switch (v.verdict) {
	case SB_INGEST_IGNORE:
		return;
	case SB_INGEST_REJECT:
		reject(h, m, reject_counter(h, v.reason), v.why);
		return;
	case SB_INGEST_DELETE:
		r.deleted = 1;
		m->kept = 1;   /* a relayed event's clearing leaves the snapshots too */
		learn_owner(h, m->topic, 1);
		sb_follow_status(h, m->topic, NULL);
		if (!sb_cache_del(h->cache, m->topic) && m->retained)
			return;   /* deleting what we never had */
		route(h, &r, &v);
		return;
	case SB_INGEST_ACCEPT:
		break;
	}
	m->seq = v.seq;
	m->kept = v.keep;
	if (v.keep) {
		enum sb_cache_result cr;

		if (v.kind && v.kind->retained)
			learn_owner(h, m->topic, 0);
		cr = sb_cache_put(h->cache, m);
		if (cr == SB_CACHE_SAME && m->retained) {
			/* the broker's replay of what we already hold */
			h->m.retained_replays_skipped++;
			return;
		}
		if (cr == SB_CACHE_FULL)
			h->m.drop_cache_full++;   /* still delivered live */
	}
	route(h, &r, &v);
	if (v.kind && v.kind->retained)
		sb_follow_status(h, m->topic, v.status);   /* a deploy's logs */
}

void sb_hub_mqtt_state(struct sb_hub *h, int connected)
{
	if (connected == h->mqtt_up)
		return;
	h->mqtt_up = connected;
	h->warm = 0;   /* settles again (sb_hub_warm) */
	if (!connected) {
		h->m.mqtt_disconnects++;
		sb_filters_link(h->filters, 0);
		return;
	}
	h->m.mqtt_connects++;
	/* Paho does not resubscribe after a reconnect: do it here */
	sb_filters_link(h->filters, 1);
	sb_pres_link_up(h);
}

int sb_hub_mqtt_connected(const struct sb_hub *h) { return h->mqtt_up; }

void sb_hub_mqtt_session_lost(struct sb_hub *h)
{
	struct sb_dict_iter it;
	void *v;

	h->m.mqtt_sessions_lost++;
	sb_log(SB_LOG_WARN, "mqtt: the broker had no session for the bridge: what was published "
	       "while the link was down is lost; log streams marked broken, statuses checked "
	       "against the broker's replay");
	sb_live_session_lost(h);
	sb_dict_iter_init(&it, h->chans);
	while (sb_dict_next(&it, NULL, &v))
		if (((struct sb_chan *)v)->ref.tmpl->delivery.history_lines > 0)
			sb_chan_mark_broken(h, v);
}

void sb_hub_mqtt_suback(struct sb_hub *h, const char *filter)
{
	sb_live_suback(h, filter);
}

size_t sb_hub_filters(const struct sb_hub *h, const char **out, size_t max)
{
	return sb_filters_list(h->filters, out, max);
}

/* ---- clients ------------------------------------------------------------------------- */

struct sb_client *sb_hub_client_new(struct sb_hub *h, const struct sb_session *sess,
				    void *transport)
{
	struct sb_client *c;

	if (h->clients.count >= (size_t)h->p.cfg->max_connections) {
		h->m.connections_rejected++;
		return NULL;
	}
	if (!sess || !(c = sb_client__create(h, sess, transport)))
		return NULL;
	if (!h->clients.count)
		h->last_sweep = sb_hub__now(h);
	sb_list_add_head(&h->clients, &c->node);
	h->m.connections_total++;
	sb_hub__rearm(h);
	return c;
}

void sb_hub__sub_remove(struct sb_hub *h, struct sb_client *c, struct sb_sub *s)
{
	struct sb_chan *ch = s->chan;

	if (s->pnode.owner)
		sb_list_remove(&s->pnode);
	sb_pres_sub_gone(h, c, ch);
	sb_chan_remove_sub(ch, s);
	h->nsubs--;
	sb_dict_take(c->subs, ch->name);
	sb_queue_forget_channel(&c->q, ch->atom);
	free(s);
	sb_chan_release(h, ch);
}

void sb_hub_client_gone(struct sb_hub *h, struct sb_client *c)
{
	struct sb_dict_iter it;
	void *v;

	if (!c)
		return;
	sb_live_client_gone(h, c);
	sb_dict_iter_init(&it, c->subs);
	while (sb_dict_next(&it, NULL, &v))
		sb_hub__sub_remove(h, c, v);
	sb_list_remove(&c->node);
	sb_client__free(c);
}

void sb_hub_client_frame(struct sb_hub *h, struct sb_client *c, const char *data, size_t len)
{
	if (!c->close_code)
		c->sess->ops->frame(c->sess->self, h, c, data, len);
}

void sb_hub__error(struct sb_hub *h, struct sb_client *c, enum sb_code code,
		   const char *channel, const char *msg)
{
	h->m.client_errors++;
	if (c->sess->ops->error)
		c->sess->ops->error(c->sess->self, h, c, code, channel, msg);
}

/* ---- subscriptions --------------------------------------------------------------------- */

static enum sb_err sub_refuse(struct sb_sub_result *res, enum sb_code code, enum sb_err rc)
{
	res->code = code;
	return rc;
}

int sb_hub__resume(struct sb_hub *h, struct sb_chan *ch, struct sb_sub *s, int64_t since)
{
	SB_UNUSED(h);
	since = since > SB_INT_MAX_EXACT ? SB_INT_MAX_EXACT : since;   /* no overflow below */
	s->expect_seq = since + 1;
	return sb_chan_recovered(ch, since);
}

enum sb_err sb_hub__subscribe_by(struct sb_hub *h, struct sb_client *c,
				 const struct sb_sub_opts *o, struct sb_sub_result *res,
				 int64_t deadline)
{
	struct sb_chan_ref ref;
	struct sb_chan *ch;
	struct sb_sub *s;
	enum sb_err rc;

	res->recovered = -1;
	res->pending = 0;
	res->code = SB_CODE_INTERNAL;
	res->name[0] = res->reason[0] = '\0';
	rc = sb_chanmap_parse(h->p.map, o->channel, o->len, &ref, res->reason, sizeof(res->reason));
	if (rc)
		return sub_refuse(res, rc == SB_ERR_NOTFOUND ? SB_CODE_NOT_FOUND : SB_CODE_BAD_REQUEST,
				  rc);
	sb_chanmap_name(&ref, res->name, sizeof(res->name));
	if (sb_dict_get(c->subs, res->name)) {
		snprintf(res->reason, sizeof(res->reason), "already subscribed to %.200s", res->name);
		return sub_refuse(res, SB_CODE_BAD_REQUEST, SB_ERR_EXISTS);
	}
	if (sb_dict_size(c->subs) >= (size_t)h->p.cfg->max_subscriptions) {
		snprintf(res->reason, sizeof(res->reason), "at most %d subscriptions per connection",
			 h->p.cfg->max_subscriptions);
		return sub_refuse(res, SB_CODE_TOO_MANY_SUBSCRIPTIONS, SB_ERR_LIMIT);
	}
	rc = sb_auth_channel(h, c->claims, o->trusted, &ref, res->name, &res->code, res->reason,
			     sizeof(res->reason));
	if (rc == SB_ERR_NOTFOUND) {
		/* a resource the bridge has not heard of (yet): its status may be
		 * on its way; wait for it until the deadline */
		rc = sb_live_wait_owner(h, c, o, res, deadline);
		if (rc == SB_OK)
			res->pending = 1;
		return rc;
	}
	if (rc)
		return rc;
	ch = sb_chan_get(h, &ref, res->name);
	s = calloc(1, sizeof(*s));
	if (!ch || !s)
		goto nomem;
	s->client = c;
	s->enc = o->enc >= 0 && o->enc < h->nenc ? o->enc : c->sess->enc;
	s->trusted = o->trusted;
	if (sb_chan_add_sub(ch, s) != SB_OK)
		goto nomem;
	if (sb_dict_set(c->subs, res->name, s) != SB_OK) {
		sb_chan_remove_sub(ch, s);
		goto nomem;
	}
	h->nsubs++;
	if (o->has_since && ch->ref.tmpl->delivery.history_lines > 0)
		s->barrier = sb_live_resume_barrier(h);
	if (!sb_hub__chan_live(h, ch) || s->barrier > h->barrier_back) {
		/* an ack means live, and a resume's `recovered` covers every line
		 * published before it: it waits for the broker (live.c) */
		s->pending = 1;
		s->tag = o->tag;
		s->has_since = o->has_since;
		s->since = o->since;
		sb_live_pend(h, s, deadline);
		res->pending = 1;
		return SB_OK;
	}
	if (o->has_since && ch->ref.tmpl->delivery.history_lines > 0)
		res->recovered = sb_hub__resume(h, ch, s, o->since);
	return SB_OK;
nomem:
	free(s);
	h->m.drop_nomem++;
	snprintf(res->reason, sizeof(res->reason), "out of memory");
	if (ch)
		sb_chan_release(h, ch);
	return sub_refuse(res, SB_CODE_INTERNAL, SB_ERR_NOMEM);
}

enum sb_err sb_hub_subscribe(struct sb_hub *h, struct sb_client *c,
			     const struct sb_sub_opts *o, struct sb_sub_result *res)
{
	return sb_hub__subscribe_by(h, c, o, res,
				    sb_hub__now(h) + h->p.cfg->subscribe_timeout_ms);
}

size_t sb_hub_send_initial(struct sb_hub *h, struct sb_client *c, const char *channel)
{
	struct sb_sub *s = sb_dict_get(c->subs, channel);
	size_t n;

	if (!s)
		return 0;
	n = sb_chan_send_snapshot(h, s->chan, s);
	sb_chan_send_history(h, s->chan, s);
	return n;
}

enum sb_err sb_hub_unsubscribe(struct sb_hub *h, struct sb_client *c, const char *channel)
{
	struct sb_sub *s = sb_dict_get(c->subs, channel);

	if (!s)
		return SB_ERR_NOTFOUND;
	sb_hub__sub_remove(h, c, s);
	return SB_OK;
}

/* ---- time -------------------------------------------------------------------------------- */

/* Hello and token deadlines: a sweep once a second (they are seconds). */
static void sweep_clients(struct sb_hub *h, int64_t now)
{
	int64_t wall = sb_hub__wall(h);
	struct sb_list_node *n, *nx;

	h->last_sweep = now;
	sb_list_foreach_safe(&h->clients, n, nx) {
		struct sb_client *c = sb_container_of(n, struct sb_client, node);

		if (c->close_code)
			continue;
		if (c->hello_deadline && now >= c->hello_deadline) {
			sb_log(SB_LOG_INFO, "client %s: no hello within %d s, closing 4001", c->session,
			       h->p.cfg->hello_timeout_s);
			sb_client__fail(h, c, SB_CLOSE_UNAUTHORIZED, "no hello");
		} else if (c->token_exp && wall > c->token_exp + h->p.cfg->token_leeway_s) {
			sb_hub__error(h, c, SB_CODE_TOKEN_EXPIRED, NULL,
				      "token expired; send refresh with a new token before exp");
			sb_client__fail(h, c, SB_CLOSE_UNAUTHORIZED, "token expired");
		}
	}
}

void sb_hub_tick(struct sb_hub *h)
{
	int64_t now = sb_hub__now(h);
	struct sb_timer *t;

	while ((t = sb_timers_pop_due(&h->timers, now)))
		sb_chan_tick(h, sb_container_of(t, struct sb_chan, timer), now);
	sb_live_expire(h, now);
	if (h->clients.count && now >= h->last_sweep + SB_SWEEP_MS)
		sweep_clients(h, now);
	sb_hub__rearm(h);
}

void sb_hub_flush_all(struct sb_hub *h)
{
	struct sb_dict_iter it;
	void *v;

	sb_dict_iter_init(&it, h->chans);
	while (sb_dict_next(&it, NULL, &v))
		sb_chan_flush(h, v);
}

void sb_hub_close_all(struct sb_hub *h, int code, const char *reason)
{
	struct sb_list_node *n, *nx;

	sb_list_foreach_safe(&h->clients, n, nx)
		sb_client__fail(h, sb_container_of(n, struct sb_client, node), code, reason);
}

size_t sb_hub_close_some(struct sb_hub *h, size_t n, int code, const char *reason)
{
	struct sb_list_node *nd, *nx;
	size_t done = 0;

	sb_list_foreach_safe(&h->clients, nd, nx) {
		struct sb_client *c = sb_container_of(nd, struct sb_client, node);

		if (done == n)
			break;
		if (c->close_code)
			continue;
		sb_client__fail(h, c, code, reason);
		done++;
	}
	return done;
}

/* ---- life cycle and introspection ------------------------------------------------------- */

static void free_chan_v(void *v) { SB_UNUSED(v); }
static void set_rules(struct sb_hub *h);

/* Owners are always learned (docs/protocol.md §3.4, §4): a deploy's, for
 * its channels and for following active deploys, and those of every other
 * kind a channel template is authorized by (an app's, a database's, a
 * service's runtime logs), each from team/+/<kind>/+/status, subscribed
 * for the bridge's life so that no owner and no deletion is missed. */
static enum sb_err track_owners(struct sb_hub *h)
{
	char filter[SB_PARAM_MAX + 32];

	for (size_t i = 0; i <= sb_chanmap_count(h->p.map); i++) {
		const char *kind = i ? sb_acl_owned_kind(sb_chanmap_at(h->p.map, i - 1)->acl) :
				   "deploy";

		if (!kind || sb_owners_tracks(h->owners, kind))
			continue;
		snprintf(filter, sizeof(filter), "team/+/%s/+/status", kind);
		/* a carrier: a channel's team/<t>/<kind>/+/status rides on it */
		if (sb_owners_track(h->owners, kind) != SB_OK ||
		    sb_filters_ref_carrier(h->filters, filter) != SB_OK)
			return SB_ERR_NOMEM;
	}
	return SB_OK;
}

/* Histogram bounds (docs/metrics.md): seconds (latencies), lines (batches). */
static const double SB_HUB_LATENCY_BOUNDS[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
static const double SB_HUB_BATCH_BOUNDS[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 };

enum sb_err sb_hub_create(struct sb_hub **out, const struct sb_hub_params *p,
			  const struct sb_hub_ops *ops)
{
	struct sb_hub *h = calloc(1, sizeof(*h));
	struct sb_filter_ops fo;

	*out = NULL;
	if (!h)
		return SB_ERR_NOMEM;
	h->p = *p;
	h->ops = *ops;
	sb_hist_init(&h->m.ingest_latency, SB_HUB_LATENCY_BOUNDS, SB_ARRAY_LEN(SB_HUB_LATENCY_BOUNDS));
	sb_hist_init(&h->m.delivery_latency, SB_HUB_LATENCY_BOUNDS,
		     SB_ARRAY_LEN(SB_HUB_LATENCY_BOUNDS));
	sb_hist_init(&h->m.batch_lines, SB_HUB_BATCH_BOUNDS, SB_ARRAY_LEN(SB_HUB_BATCH_BOUNDS));
	fo = (struct sb_filter_ops){ ops->ctx, ops->mqtt_subscribe, ops->mqtt_unsubscribe };
	set_rules(h);
	h->m.config_last_reload_ok = 1;
	h->chans = sb_dict_create(free_chan_v);
	h->reject_log = sb_dict_create(NULL);
	h->cache = sb_cache_create((size_t)p->cfg->cache_max_topics);
	h->atoms = sb_intern_create();
	sb_qpool_init(&h->qpool, h->atoms);
	if (!h->chans || !h->reject_log || !h->cache || !h->atoms ||
	    sb_filters_create(&h->filters, &fo) != SB_OK ||
	    sb_owners_create(&h->owners) != SB_OK) {
		sb_hub_destroy(h);
		return SB_ERR_NOMEM;
	}
	h->last_sweep = sb_hub__now(h);
	/* the bridge hears its own replay barriers, and learns the owners of
	 * the resources its channels are authorized by */
	if (sb_live_init(h) != SB_OK || track_owners(h) != SB_OK || sb_pres_init(h) != SB_OK) {
		sb_hub_destroy(h);
		return SB_ERR_NOMEM;
	}
	*out = h;
	return SB_OK;
}

void sb_hub_destroy(struct sb_hub *h)
{
	struct sb_dict_iter it;
	void *v;

	if (!h)
		return;
	sb_pres_fini(h);   /* first: one clearing per list, not one per leaving client */
	while (h->clients.head)
		sb_hub_client_gone(h, sb_container_of(h->clients.head, struct sb_client, node));
	if (h->chans) {
		sb_dict_iter_init(&it, h->chans);
		while (sb_dict_next(&it, NULL, &v))
			sb_chan_free(h, v);
	}
	sb_dict_destroy(h->chans);
	sb_live_fini(h);
	sb_timers_clear(&h->timers);
	sb_filters_destroy(h->filters);
	sb_owners_destroy(h->owners);
	sb_dict_destroy(h->reject_log);
	sb_cache_destroy(h->cache);
	sb_qpool_fini(&h->qpool);
	sb_intern_destroy(h->atoms);
	for (int i = 0; i < h->nsessions; i++)
		free(h->sessions[i]);
	free(h);
}

const struct sb_metrics *sb_hub_metrics(const struct sb_hub *h) { return &h->m; }
void sb_hub_count_auth_failure(struct sb_hub *h) { h->m.auth_failures++; }
void sb_hub_count_client_error(struct sb_hub *h) { h->m.client_errors++; }
void sb_hub_count_inbound_drop(struct sb_hub *h, uint64_t n) { h->m.drop_inbound_overflow += n; }
void sb_hub_count_write(struct sb_hub *h) { h->m.writes++; }

/* The rules a message is judged by, from the config and the schemas. */
static void set_rules(struct sb_hub *h)
{
	h->rules.kinds = h->p.kinds;
	h->rules.schemas = h->p.schemas;
	h->rules.max_payload_bytes = (size_t)h->p.cfg->max_payload_bytes;
	h->rules.reject_unknown_topics = h->p.cfg->reject_unknown_topics;
	h->rules.validate = h->p.cfg->validate_payloads;
}

void sb_hub_reload(struct sb_hub *h, const struct sb_jwt_key *key,
		   const struct sb_schema_set *schemas)
{
	if (h->p.jwt_key && key)
		h->p.jwt_key = key;
	h->p.schemas = schemas;
	set_rules(h);
}

void sb_hub_count_reload(struct sb_hub *h, int ok)
{
	if (ok)
		h->m.config_reloads++;
	else
		h->m.config_reload_failures++;
	h->m.config_last_reload_ok = ok ? 1 : 0;
}

int sb_hub_warm(struct sb_hub *h)
{
	struct sb_dict_iter it;
	void *v;

	if (!h->mqtt_up)
		return 0;
	if (h->warm)
		return 1;
	if (!sb_filters_carriers_synced(h->filters))
		return 0;
	sb_dict_iter_init(&it, h->chans);
	while (sb_dict_next(&it, NULL, &v)) {
		const struct sb_chan *ch = v;

		if (ch->held && !sb_hub__chan_live(h, ch))
			return 0;
	}
	h->warm = 1;
	return 1;
}

void sb_hub_gauges(const struct sb_hub *h, struct sb_hub_gauges *g)
{
	struct sb_dict_iter it;
	struct sb_list_node *n;
	void *v;

	memset(g, 0, sizeof(*g));
	g->clients = h->clients.count;
	g->channels = sb_dict_size(h->chans);
	g->subscriptions = h->nsubs;
	g->mqtt_filters = sb_filters_count(h->filters);
	g->mqtt_filters_active = sb_filters_active(h->filters);
	g->mqtt_filters_carried = sb_filters_carried_count(h->filters);
	g->cache_topics = sb_cache_size(h->cache);
	g->mqtt_connected = h->mqtt_up;
	g->logs_followed = h->nfollowed;
	g->presence_members = sb_pres_gauge(h, &g->presence_channels);
	for (n = h->clients.head; n; n = n->next)
		g->queued_bytes += sb_client_queued_bytes(sb_container_of(n, struct sb_client, node));
	sb_dict_iter_init(&it, h->chans);
	while (sb_dict_next(&it, NULL, &v))
		g->history_lines += ((struct sb_chan *)v)->hist.count;
}
