/* SPDX-License-Identifier: MIT
 *
 * hub.c - the engine behind statusbus-bridge (see hub.h).
 *
 * Data structures:
 *   chans    channel name -> struct chan: subscribers, MQTT filters, the
 *            snapshot frames of its retained topics, the pending batch or
 *            conflation window, and (logs) the history ring.
 *   filters  MQTT filter -> reference count over channels (N browsers on one
 *            channel cost one subscription; the last one removes it).
 *   cache    topic -> last retained message (cache.c).
 *   owners   deploy uuid -> owning team (from retained deploy statuses).
 * Routing a message is sb_chanmap_route (cost ~ number of templates) plus
 * one dict lookup per candidate channel; never a scan of clients.
 */
#include "hub.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "acl.h"
#include "cache.h"
#include "dict.h"
#include "filters.h"
#include "history.h"
#include "ingest.h"
#include "owners.h"
#include "schema.h"
#include "topic.h"

#define DEPLOY_STATUS_FILTER "team/+/deploy/+/status"
#define LINGER_MS 60000
#define REJECT_LOG_MAX 10000
#define COALESCE_MAX_BYTES 65536  /* merged batch frames stay below this */

struct sub {
	struct chan *chan;
	struct sb_client *client;
	size_t idx;            /* position in chan->subs */
	int64_t expect_seq;    /* resumed logs: next seq owed, 0 = none */
	enum sb_proto_id enc;  /* encoder of this subscription's frames */
};

struct chan {
	char *name;
	struct sb_chan_ref ref;
	char **filters;
	size_t nfilters;
	struct sub **subs;
	size_t nsubs, capsubs;
	size_t nproto[SB_PROTO_COUNT];   /* subscribers per protocol */
	struct sb_dict *snap;            /* topic -> v1 frame (retained) */
	/* batch */
	struct sb_msg **pending;
	size_t npending;
	const struct sb_kind *pending_kind;
	int64_t batch_deadline;
	/* conflate */
	struct sb_dict *latest;          /* topic -> sb_msg */
	int64_t conflate_deadline;
	/* history (batch channels with history_lines) */
	struct sb_history hist;          /* logs kept for resume */
	int64_t last_seq;                /* highest seq seen */
	int64_t flushed_seq;             /* highest seq sent to subscribers */
	int64_t linger_until;            /* 0 = has subscribers */
	struct chan *armed_next, *armed_prev;
	int armed;
};

struct sb_client {
	uint64_t id;
	char session[33];
	enum sb_proto_id proto;
	enum sb_proto_id enc;  /* encoder of the next subscriptions */
	void *transport;
	int ready;             /* hello done (or trusted protocol) */
	int trusted;           /* authorized per channel elsewhere (Pusher) */
	int close_code;
	char close_reason[124];
	struct sb_queue q;
	struct sb_dict *subs;  /* channel -> struct sub */
	struct sb_jwt_claims *claims;
	int64_t hello_deadline;    /* monotonic ms, 0 after hello */
	int64_t token_exp;         /* wall s, 0 = none */
	double rate_tokens;
	int64_t rate_ms;
	struct sb_client *next, *prev;
};

struct sb_hub {
	struct sb_hub_params p;
	struct sb_hub_ops ops;
	const struct sb_proto_ops *protos[SB_PROTO_COUNT];
	struct sb_dict *chans;
	struct sb_filters *filters;  /* refcounted MQTT filters, SUBACK set */
	struct sb_owners *owners;    /* deploy -> team */
	struct sb_ingest_rules rules;
	struct sb_dict *reject_log;  /* topic -> (intptr_t) last log s */
	struct sb_cache *cache;
	struct sb_client *clients;
	size_t nclients, nsubs;
	uint64_t next_id;
	int mqtt_up;
	struct chan *armed;          /* channels with a timer */
	int64_t last_sweep;
	struct sb_metrics m;
};

static int64_t now_ms(const struct sb_hub *h)
{
	return h->p.now_ms ? h->p.now_ms() : sb_now_ms();
}

static int64_t wall_s(const struct sb_hub *h)
{
	return h->p.wall_s ? h->p.wall_s() : (int64_t)time(NULL);
}

/* ---- protocol v1 encoders ------------------------------------------------ */

static struct sb_frame *v1_batch(const char *channel, const char *event,
				 struct sb_msg *const *items, size_t n)
{
	struct sb_buf b;

	sb_proto_batch_begin(&b, channel, event);
	for (size_t i = 0; i < n; i++)
		sb_proto_batch_add(&b, i == 0, items[i]->payload, items[i]->payload_len);
	return sb_proto_batch_end(&b);
}

static const struct sb_proto_ops v1_ops = {
	.event = sb_proto_event,
	.batch = v1_batch,
	.gap = sb_proto_gap,
};

/* ---- timers ---------------------------------------------------------------- */

static int64_t chan_deadline(const struct chan *ch)
{
	int64_t d = INT64_MAX;

	if (ch->npending && ch->batch_deadline < d)
		d = ch->batch_deadline;
	if (ch->latest && sb_dict_size(ch->latest) && ch->conflate_deadline < d)
		d = ch->conflate_deadline;
	if (ch->linger_until && ch->linger_until < d)
		d = ch->linger_until;
	return d;
}

static void arm(struct sb_hub *h, struct chan *ch)
{
	if (!ch->armed) {
		ch->armed = 1;
		ch->armed_prev = NULL;
		ch->armed_next = h->armed;
		if (h->armed)
			h->armed->armed_prev = ch;
		h->armed = ch;
	}
	if (h->ops.timer)
		h->ops.timer(h->ops.ctx, sb_hub_next_deadline(h));
}

static void disarm(struct sb_hub *h, struct chan *ch)
{
	if (!ch->armed)
		return;
	if (ch->armed_prev)
		ch->armed_prev->armed_next = ch->armed_next;
	else
		h->armed = ch->armed_next;
	if (ch->armed_next)
		ch->armed_next->armed_prev = ch->armed_prev;
	ch->armed = 0;
	ch->armed_next = ch->armed_prev = NULL;
}

int64_t sb_hub_next_deadline(const struct sb_hub *h)
{
	int64_t d = INT64_MAX;

	for (const struct chan *ch = h->armed; ch; ch = ch->armed_next) {
		int64_t c = chan_deadline(ch);
		if (c < d)
			d = c;
	}
	/* hello and token deadlines: swept once a second while clients exist */
	if (h->clients && h->last_sweep + 1000 < d)
		d = h->last_sweep + 1000;
	return d;
}

/* ---- filters and the cache -------------------------------------------------- */

static void filter_ref(struct sb_hub *h, const char *f)
{
	if (sb_filters_ref(h->filters, f) != SB_OK)
		h->m.drop_nomem++;
}

static int covered(const char *topic, void *user)
{
	return sb_filters_cover(user, topic);
}

static void filter_unref(struct sb_hub *h, const char *f)
{
	/* no update reaches what nothing covers any more */
	if (sb_filters_unref(h->filters, f))
		sb_cache_evict(h->cache, f, covered, h->filters);
}

/* ---- channels ----------------------------------------------------------------- */

static const struct sb_proto_ops *proto_of(const struct sb_hub *h, enum sb_proto_id id)
{
	return h->protos[id] ? h->protos[id] : &v1_ops;
}

static void chan_free(struct sb_hub *h, struct chan *ch)
{
	disarm(h, ch);
	for (size_t i = 0; i < ch->nfilters; i++)
		filter_unref(h, ch->filters[i]);
	sb_chanmap_free_filters(ch->filters, ch->nfilters);
	for (size_t i = 0; i < ch->npending; i++)
		sb_msg_unref(ch->pending[i]);
	free(ch->pending);
	sb_dict_destroy(ch->latest);
	sb_dict_destroy(ch->snap);
	sb_history_clear(&ch->hist);
	free(ch->subs);
	free(ch->name);
	free(ch);
}

static void free_frame(void *v) { sb_frame_unref(v); }
static void free_msg(void *v) { sb_msg_unref(v); }

static const char *event_name(const struct sb_kind *k)
{
	return k ? k->event : "message";
}

struct snap_ctx {
	struct sb_hub *h;
	struct chan *ch;
};

static void snap_add(struct sb_msg *m, void *user)
{
	struct snap_ctx *s = user;
	const struct sb_kind *k = sb_kinds_lookup(s->h->p.kinds, m->topic);
	struct sb_frame *f;

	if (!k || !k->retained)
		return;
	f = sb_proto_event(s->ch->name, k->event, m->topic, 1, m->payload, m->payload_len);
	if (!f || sb_dict_set(s->ch->snap, m->topic, f) != SB_OK) {
		sb_frame_unref(f);
		s->h->m.drop_nomem++;
	}
}

static struct chan *chan_get(struct sb_hub *h, const struct sb_chan_ref *ref, const char *name)
{
	struct chan *ch = sb_dict_get(h->chans, name);
	struct snap_ctx s;

	if (ch)
		return ch;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->name = strdup(name);
	ch->ref = *ref;
	ch->snap = sb_dict_create(free_frame);
	sb_history_init(&ch->hist, ref->tmpl->delivery.history_lines > 0 ?
			(size_t)ref->tmpl->delivery.history_lines : 0,
			(size_t)ref->tmpl->delivery.history_bytes);
	if (!ch->name || !ch->snap ||
	    sb_chanmap_filters(ref, &ch->filters, &ch->nfilters) != SB_OK) {
		sb_dict_destroy(ch->snap);
		free(ch->name);
		free(ch);
		return NULL;
	}
	if (ref->tmpl->delivery.mode == SB_DELIVER_CONFLATE &&
	    !(ch->latest = sb_dict_create(free_msg))) {
		ch->nfilters = 0;
		chan_free(h, ch);
		return NULL;
	}
	if (sb_dict_set(h->chans, name, ch) != SB_OK) {
		ch->nfilters = 0;
		chan_free(h, ch);
		return NULL;
	}
	/* snapshot from the cache first, then subscribe: the broker's replay
	 * of what the cache already holds is recognised as a duplicate */
	s.h = h;
	s.ch = ch;
	for (size_t i = 0; i < ch->nfilters; i++)
		sb_cache_foreach(h->cache, ch->filters[i], snap_add, &s);
	for (size_t i = 0; i < ch->nfilters; i++)
		filter_ref(h, ch->filters[i]);
	return ch;
}

static void chan_release(struct sb_hub *h, struct chan *ch)
{
	if (ch->nsubs)
		return;
	if (ch->ref.tmpl->delivery.history_lines > 0) {
		/* keep history (and its subscription) a while for resumes */
		ch->linger_until = now_ms(h) + LINGER_MS;
		arm(h, ch);
		return;
	}
	sb_dict_take(h->chans, ch->name);
	chan_free(h, ch);
}

/* ---- queueing to clients -------------------------------------------------- */

static void client_fail(struct sb_hub *h, struct sb_client *c, int code, const char *reason)
{
	if (c->close_code)
		return;
	c->close_code = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	if (h->ops.wake)
		h->ops.wake(h->ops.ctx, c);
}

static void enqueue_ex(struct sb_hub *h, struct sb_client *c, enum sb_qkind kind,
		       struct sb_frame *f, const char *key, int64_t s0, int64_t s1, size_t n,
		       int shared)
{
	enum sb_err rc;
	struct sb_queue_stats before = c->q.stats;

	if (c->close_code || !f)
		return;
	rc = shared ? sb_queue_push_shared(&c->q, kind, f, key) :
		      sb_queue_push(&c->q, kind, f, key, s0, s1, n);
	h->m.conflated_queue += c->q.stats.conflated - before.conflated;
	h->m.drop_slow_lines += c->q.stats.lines_dropped - before.lines_dropped;
	h->m.gaps += c->q.stats.gaps - before.gaps;
	if (rc == SB_ERR_LIMIT) {
		h->m.slow_closes++;
		sb_log(SB_LOG_WARN, "client %s: send queue over %zu bytes, closing 4029",
		       c->session, c->q.hard_bytes);
		/* nothing more will be written: free the memory now */
		sb_queue_clear(&c->q);
		sb_queue_init(&c->q, c->q.soft_bytes, c->q.hard_bytes, c->q.max_frames);
		client_fail(h, c, SB_CLOSE_SLOW, "client too slow");
		return;
	}
	if (rc == SB_ERR_NOMEM) {
		h->m.drop_nomem++;
		client_fail(h, c, SB_CLOSE_SLOW, "out of memory");
		return;
	}
	if (kind != SB_Q_CTRL)
		h->m.events_out += n ? n : 1;
	if (h->ops.wake)
		h->ops.wake(h->ops.ctx, c);
}

static void enqueue(struct sb_hub *h, struct sb_client *c, enum sb_qkind kind,
		    struct sb_frame *f, const char *key, int64_t s0, int64_t s1, size_t n)
{
	enqueue_ex(h, c, kind, f, key, s0, s1, n, 0);
}

void sb_hub_client_send(struct sb_hub *h, struct sb_client *c, struct sb_frame *f)
{
	enqueue(h, c, SB_Q_CTRL, f, NULL, 0, 0, 0);
}

static void send_ctrl(struct sb_hub *h, struct sb_client *c, struct sb_frame *f)
{
	if (!f) {
		h->m.drop_nomem++;
		return;
	}
	enqueue(h, c, SB_Q_CTRL, f, NULL, 0, 0, 0);
	sb_frame_unref(f);
}

static void send_error(struct sb_hub *h, struct sb_client *c, int has_id, int64_t id,
		       enum sb_code code, const char *channel, const char *msg)
{
	h->m.client_errors++;
	if (c->proto == SB_PROTO_V1)
		send_ctrl(h, c, sb_proto_error(has_id, id, code, channel, msg));
}

static void status_key(char *buf, size_t len, const char *chan, const char *topic)
{
	snprintf(buf, len, "%s\x1f%s", chan, topic);
}

static struct sb_frame *build_batch(struct sb_hub *h, struct chan *ch, enum sb_proto_id p,
				    void *arg);
static void send_trimmed(struct sb_hub *h, struct sb_client *c, struct chan *ch, void *arg,
			 int64_t from, enum sb_proto_id enc);

/* Fans one frame per protocol out to every subscriber of ch. */
static void fanout(struct sb_hub *h, struct chan *ch, enum sb_qkind kind, const char *topic,
		   struct sb_frame *v1, struct sb_frame *(*build)(struct sb_hub *, struct chan *,
								  enum sb_proto_id, void *),
		   void *arg, int64_t s0, int64_t s1, size_t n, int shared)
{
	struct sb_frame *frames[SB_PROTO_COUNT] = { v1 };
	char key[SB_CHAN_MAX_NAME + SB_TOPIC_MAX + 8];
	const char *k = NULL;

	if (kind == SB_Q_STATUS) {
		status_key(key, sizeof(key), ch->name, topic);
		k = key;
	} else if (kind == SB_Q_LOG) {
		k = ch->name;
	}
	for (int p = 0; p < SB_PROTO_COUNT; p++)
		if (ch->nproto[p] && !frames[p])
			frames[p] = build(h, ch, (enum sb_proto_id)p, arg);
	if (v1)
		sb_frame_ref(v1);
	for (size_t i = 0; i < ch->nsubs; i++) {
		struct sub *s = ch->subs[i];
		struct sb_client *c = s->client;

		if (kind == SB_Q_LOG && s->expect_seq) {
			if (s1 && s1 < s->expect_seq)
				continue;   /* the resume already sent these */
			if (s0 && s0 < s->expect_seq && build == build_batch) {
				/* the batch straddles what the client already has:
				 * send it only the rest (rare: per-client work) */
				send_trimmed(h, c, ch, arg, s->expect_seq, s->enc);
				s->expect_seq = 0;
				continue;
			}
			if (s0 > s->expect_seq) {
				struct sb_frame *g = proto_of(h, s->enc)->gap(ch->name,
					s->expect_seq, s0 - 1, (size_t)(s0 - s->expect_seq));
				h->m.history_gaps++;
				enqueue(h, c, SB_Q_CTRL, g, NULL, 0, 0, 0);
				sb_frame_unref(g);
			}
			s->expect_seq = 0;
		}
		/* a retained status's v1 frame is also the channel's snapshot
		 * frame, and conflation keeps one per topic: bounded by the
		 * number of topics, not by how fast the client reads */
		enqueue_ex(h, c, kind, frames[s->enc], k, s0, s1, n,
			   shared && s->enc == SB_PROTO_V1);
	}
	for (int p = 0; p < SB_PROTO_COUNT; p++)
		sb_frame_unref(frames[p]);
}

struct ev_arg {
	const struct sb_kind *kind;
	struct sb_msg *m;
	int deleted;
};

static struct sb_frame *build_event(struct sb_hub *h, struct chan *ch, enum sb_proto_id p,
				    void *arg)
{
	struct ev_arg *a = arg;

	return proto_of(h, p)->event(ch->name, a->deleted ? "deleted" : event_name(a->kind),
				     a->m->topic, a->kind ? a->kind->retained : a->m->retained,
				     a->deleted ? NULL : a->m->payload, a->m->payload_len);
}

static void deliver_event(struct sb_hub *h, struct chan *ch, const struct sb_kind *k,
			  struct sb_msg *m, int deleted)
{
	struct ev_arg a = { k, m, deleted };
	int retained = k ? k->retained : m->retained;
	struct sb_frame *v1 = build_event(h, ch, SB_PROTO_V1, &a);

	if (!v1) {
		h->m.drop_nomem++;
		return;
	}
	if (retained) {
		if (deleted)
			sb_dict_del(ch->snap, m->topic);
		else if (sb_dict_set(ch->snap, m->topic, sb_frame_ref(v1)) != SB_OK)
			sb_frame_unref(v1);
	}
	fanout(h, ch, retained || ch->ref.tmpl->delivery.mode == SB_DELIVER_CONFLATE ?
	       SB_Q_STATUS : SB_Q_EVENT, m->topic, v1, build_event, &a, 0, 0, 1,
	       retained && !deleted);
	sb_frame_unref(v1);
}

/* ---- batches, conflation, history -------------------------------------------- */

struct batch_arg {
	const struct sb_kind *kind;
	struct sb_msg **items;
	size_t n;
};

static struct sb_frame *build_batch(struct sb_hub *h, struct chan *ch, enum sb_proto_id p,
				    void *arg)
{
	struct batch_arg *a = arg;

	return proto_of(h, p)->batch(ch->name, event_name(a->kind), a->items, a->n);
}

static void send_trimmed(struct sb_hub *h, struct sb_client *c, struct chan *ch, void *arg,
			 int64_t from, enum sb_proto_id enc)
{
	struct batch_arg *a = arg, t = { a->kind, a->items, a->n };
	struct sb_frame *f;

	while (t.n && t.items[0]->seq < from) {
		t.items++;
		t.n--;
	}
	if (!t.n)
		return;
	f = build_batch(h, ch, enc, &t);
	enqueue(h, c, SB_Q_LOG, f, ch->name, t.items[0]->seq, t.items[t.n - 1]->seq, t.n);
	sb_frame_unref(f);
}

static void flush_batch(struct sb_hub *h, struct chan *ch)
{
	struct batch_arg a = { ch->pending_kind, ch->pending, ch->npending };
	int64_t s0, s1;

	if (!ch->npending)
		return;
	s0 = ch->pending[0]->seq;
	s1 = ch->pending[ch->npending - 1]->seq;
	h->m.batches++;
	if (s1 > ch->flushed_seq)
		ch->flushed_seq = s1;
	fanout(h, ch, SB_Q_LOG, NULL, NULL, build_batch, &a, s0, s1, ch->npending, 0);
	for (size_t i = 0; i < ch->npending; i++)
		sb_msg_unref(ch->pending[i]);
	ch->npending = 0;
	ch->pending_kind = NULL;
}

static void flush_conflate(struct sb_hub *h, struct chan *ch)
{
	struct sb_dict_iter it;
	const char *topic;
	void *v;

	sb_dict_iter_init(&it, ch->latest);
	while (sb_dict_next(&it, &topic, &v)) {
		struct sb_msg *m = v;
		deliver_event(h, ch, sb_kinds_lookup(h->p.kinds, m->topic), m, 0);
		sb_dict_del(ch->latest, topic);
	}
}

static void deliver_batched(struct sb_hub *h, struct chan *ch, const struct sb_kind *k,
			    struct sb_msg *m)
{
	const struct sb_delivery *d = &ch->ref.tmpl->delivery;
	int64_t seq = m->seq;

	if (seq && seq <= ch->last_seq && d->history_lines) {
		h->m.drop_duplicate++;   /* QoS 1 redelivery or a replayed line */
		return;
	}
	if (seq)
		ch->last_seq = seq;
	if (d->history_lines && seq && sb_history_add(&ch->hist, m) != SB_OK)
		h->m.drop_nomem++;
	if (!ch->nsubs) {
		/* lingering: history only, and nobody is owed these lines */
		if (seq)
			ch->flushed_seq = seq;
		return;
	}
	if (ch->npending && ch->pending_kind != k)
		flush_batch(h, ch);
	if (!ch->pending) {
		ch->pending = calloc((size_t)d->max_events, sizeof(*ch->pending));
		if (!ch->pending) {
			h->m.drop_nomem++;
			return;
		}
	}
	if (ch->npending == 0) {
		ch->batch_deadline = now_ms(h) + d->max_delay_ms;
		ch->pending_kind = k;
	}
	ch->pending[ch->npending++] = sb_msg_ref(m);
	if (ch->npending >= (size_t)d->max_events)
		flush_batch(h, ch);
	else
		arm(h, ch);
}

static void deliver_conflated(struct sb_hub *h, struct chan *ch, struct sb_msg *m)
{
	if (sb_dict_get(ch->latest, m->topic))
		h->m.conflated_interval++;
	else if (sb_dict_size(ch->latest) == 0)
		ch->conflate_deadline = now_ms(h) + ch->ref.tmpl->delivery.interval_ms;
	if (sb_dict_set(ch->latest, m->topic, sb_msg_ref(m)) != SB_OK) {
		sb_msg_unref(m);
		h->m.drop_nomem++;
		return;
	}
	arm(h, ch);
}

/* ---- MQTT messages --------------------------------------------------------------- */

struct route_ctx {
	struct sb_hub *h;
	struct sb_msg *m;
	const struct sb_kind *k;
	int deleted;
};

static void route_one(const char *name, const struct sb_chan_tmpl *t, void *user)
{
	struct route_ctx *r = user;
	struct chan *ch = sb_dict_get(r->h->chans, name);

	if (!ch)
		return;
	if (r->deleted || (r->k && r->k->retained) || t->delivery.mode == SB_DELIVER_IMMEDIATE) {
		/* a lingering channel has no subscribers but keeps its
		 * snapshot current: deliver_event does both */
		if (ch->nsubs || (r->k && r->k->retained))
			deliver_event(r->h, ch, r->k, r->m, r->deleted);
	} else if (t->delivery.mode == SB_DELIVER_BATCH) {
		deliver_batched(r->h, ch, r->k, r->m);
	} else if (ch->nsubs) {
		deliver_conflated(r->h, ch, r->m);
	}
}

static void learn_owner(struct sb_hub *h, const char *topic, int deleted)
{
	const char *owner = NULL;

	switch (sb_owners_learn(h->owners, topic, deleted, &owner)) {
	case SB_OWNER_CONFLICT:
		/* a deploy cannot change teams: keep the first owner */
		sb_log(SB_LOG_WARN, "%s: deploy belongs to team %s; ignored", topic, owner);
		break;
	case SB_OWNER_NOMEM:
		h->m.drop_nomem++;
		break;
	default:
		break;
	}
}

static void reject(struct sb_hub *h, struct sb_msg *m, uint64_t *counter, const char *reason)
{
	int64_t now = wall_s(h);
	intptr_t last;

	(*counter)++;
	if (sb_dict_size(h->reject_log) > REJECT_LOG_MAX) {
		sb_dict_destroy(h->reject_log);
		h->reject_log = sb_dict_create(NULL);
	}
	if (h->reject_log) {
		last = (intptr_t)sb_dict_get(h->reject_log, m->topic);
		if (!last || now - last >= h->p.cfg->reject_log_interval_s) {
			sb_log(SB_LOG_WARN, "payload on %s rejected (%zu bytes): %s", m->topic,
			       m->payload_len, reason);
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

void sb_hub_on_message(struct sb_hub *h, struct sb_msg *m)
{
	struct sb_ingest_result v;
	struct route_ctx r = { h, m, NULL, 0 };
	h->m.messages_in++;
	h->m.bytes_in += m->payload_len;
	sb_ingest_check(&h->rules, m->topic, m->topic_len, m->payload, m->payload_len,
			m->retained, &v);
	r.k = v.kind;
	switch (v.verdict) {
	case SB_INGEST_IGNORE:
		return;
	case SB_INGEST_REJECT:
		reject(h, m, v.reason == SB_INGEST_OVERSIZE ? &h->m.drop_oversize :
			     v.reason == SB_INGEST_UNKNOWN_TOPIC ? &h->m.drop_unknown_topic :
			     v.reason == SB_INGEST_NOT_JSON ? &h->m.drop_invalid_json :
			     &h->m.drop_schema, v.why);
		return;
	case SB_INGEST_DELETE:
		r.deleted = 1;
		learn_owner(h, m->topic, 1);
		if (!sb_cache_del(h->cache, m->topic) && m->retained)
			return;   /* deleting what we never had */
		sb_chanmap_route(h->p.map, m->topic, route_one, &r);
		return;
	case SB_INGEST_ACCEPT:
		break;
	}
	m->seq = v.seq;
	if (v.kind && v.kind->retained) {
		enum sb_cache_result cr;

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
	sb_chanmap_route(h->p.map, m->topic, route_one, &r);
}

void sb_hub_mqtt_state(struct sb_hub *h, int connected)
{
	if (connected == h->mqtt_up)
		return;
	h->mqtt_up = connected;
	if (!connected) {
		h->m.mqtt_disconnects++;
		sb_filters_link(h->filters, 0);
		return;
	}
	h->m.mqtt_connects++;
	/* Paho does not resubscribe after a reconnect: do it here */
	sb_filters_link(h->filters, 1);
}

int sb_hub_mqtt_connected(const struct sb_hub *h) { return h->mqtt_up; }

void sb_hub_mqtt_suback(struct sb_hub *h, const char *filter)
{
	sb_filters_suback(h->filters, filter);
}

size_t sb_hub_filters(const struct sb_hub *h, const char **out, size_t max)
{
	return sb_filters_list(h->filters, out, max);
}

/* ---- clients ------------------------------------------------------------------------ */

struct sb_client *sb_hub_client_new(struct sb_hub *h, enum sb_proto_id proto, void *transport)
{
	struct sb_client *c;
	unsigned char rnd[16];

	if (h->nclients >= (size_t)h->p.cfg->max_connections) {
		h->m.connections_rejected++;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (sb_queue_init(&c->q, (size_t)h->p.cfg->send_queue_bytes,
			  (size_t)h->p.cfg->send_queue_hard_bytes,
			  (size_t)h->p.cfg->send_queue_frames) != SB_OK ||
	    !(c->subs = sb_dict_create(NULL))) {
		sb_queue_clear(&c->q);
		free(c);
		return NULL;
	}
	c->id = ++h->next_id;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(c->id >> (8 * (i % 8)) ^ (uint64_t)now_ms(h) >> i);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(c->session + 2 * i, 3, "%02x", rnd[i]);
	c->proto = proto;
	c->enc = proto;
	c->transport = transport;
	c->hello_deadline = now_ms(h) + (int64_t)h->p.cfg->hello_timeout_s * 1000;
	c->rate_tokens = h->p.cfg->max_msgs_per_s;
	c->rate_ms = now_ms(h);
	c->next = h->clients;
	if (h->clients)
		h->clients->prev = c;
	h->clients = c;
	h->nclients++;
	h->m.connections_total++;
	if (!h->clients->next)
		h->last_sweep = now_ms(h);
	if (h->ops.timer)
		h->ops.timer(h->ops.ctx, sb_hub_next_deadline(h));
	return c;
}

void *sb_client_transport(const struct sb_client *c) { return c->transport; }
const char *sb_client_session(const struct sb_client *c) { return c->session; }
size_t sb_client_queued_bytes(const struct sb_client *c) { return c->q.bytes; }

int sb_client_close_code(const struct sb_client *c, const char **reason)
{
	if (reason)
		*reason = c->close_reason;
	return c->close_code;
}

void sb_hub_client_close(struct sb_hub *h, struct sb_client *c, int code, const char *reason)
{
	client_fail(h, c, code, reason);
}

static void sub_remove(struct sb_hub *h, struct sb_client *c, struct sub *s)
{
	struct chan *ch = s->chan;

	ch->subs[s->idx] = ch->subs[--ch->nsubs];
	ch->subs[s->idx]->idx = s->idx;
	ch->nproto[s->enc]--;
	h->nsubs--;
	sb_dict_take(c->subs, ch->name);
	sb_queue_forget_channel(&c->q, ch->name);
	free(s);
	chan_release(h, ch);
}

void sb_hub_client_gone(struct sb_hub *h, struct sb_client *c)
{
	struct sb_dict_iter it;
	void *v;

	if (!c)
		return;
	sb_dict_iter_init(&it, c->subs);
	while (sb_dict_next(&it, NULL, &v))
		sub_remove(h, c, v);
	sb_dict_destroy(c->subs);
	sb_queue_clear(&c->q);
	sb_jwt_claims_destroy(c->claims);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->nclients--;
	free(c);
}

/* The events array of a v1 batch frame: [start, end) between '[' and "]}". */
static int batch_items(const struct sb_frame *f, size_t *start, size_t *end)
{
	const char *d = (const char *)sb_frame_data(f);
	const char *p;

	if (f->len < 4 || memcmp(d + f->len - 2, "]}", 2) != 0)
		return 0;
	/* channel and event are escaped strings: no bare quote before this */
	p = strstr(d, ",\"events\":[");
	if (!p || p >= d + f->len)
		return 0;
	*start = (size_t)(p - d) + 11;
	*end = f->len - 2;
	return 1;
}

/* Opportunistic coalescing: when a client is behind and holds several log
 * batches of the same channel back to back, send them as one batch frame.
 * An idle client never waits for this: only what is already queued is
 * merged. */
static struct sb_frame *coalesce(struct sb_hub *h, struct sb_client *c, struct sb_qent *e)
{
	struct sb_qent *n = e->next;
	struct sb_buf b;
	size_t s0, e0, s1, e1;

	if (c->proto != SB_PROTO_V1 || e->kind != SB_Q_LOG || !n || n->kind != SB_Q_LOG ||
	    strcmp(n->key, e->key) != 0 || !batch_items(e->frame, &s0, &e0))
		return NULL;
	sb_buf_init(&b);
	sb_buf_append(&b, sb_frame_data(e->frame), e0);
	sb_queue_pop(&c->q);
	while ((e = sb_queue_peek(&c->q)) && e->kind == SB_Q_LOG && e->key &&
	       b.len + e->frame->len < COALESCE_MAX_BYTES && batch_items(e->frame, &s1, &e1) &&
	       s1 <= e1 && e1 - s1 > 0) {
		/* same channel and same event prefix only */
		if (s1 != s0 || memcmp(sb_frame_data(e->frame), b.mem + SB_FRAME_PRE, s0) != 0)
			break;
		sb_buf_append(&b, ",", 1);
		sb_buf_append(&b, sb_frame_data(e->frame) + s1, e1 - s1);
		sb_queue_pop(&c->q);
		h->m.coalesced++;
	}
	sb_buf_append(&b, "]}", 2);
	return sb_buf_to_frame(&b);
}

struct sb_frame *sb_hub_client_next(struct sb_hub *h, struct sb_client *c)
{
	struct sb_qent *e = sb_queue_peek(&c->q);
	struct sb_frame *f;

	if (!e)
		return NULL;
	f = coalesce(h, c, e);
	if (f) {
		h->m.frames_out++;
		h->m.bytes_out += f->len;
		return f;
	}
	if (e->kind == SB_Q_GAP) {
		const struct sub *s = sb_dict_get(c->subs, e->key);
		f = proto_of(h, s ? s->enc : c->proto)->gap(e->key, e->seq_first, e->seq_last, e->nlines);
		if (!f)
			h->m.drop_nomem++;
	} else {
		f = sb_frame_ref(e->frame);
	}
	sb_queue_pop(&c->q);
	if (f) {
		h->m.frames_out++;
		h->m.bytes_out += f->len;
	}
	return f ? f : sb_hub_client_next(h, c);
}

void sb_hub_client_set_encoding(struct sb_hub *h, struct sb_client *c, enum sb_proto_id enc)
{
	SB_UNUSED(h);
	c->enc = enc;
}

void sb_hub_client_set_ready(struct sb_hub *h, struct sb_client *c, int trusted)
{
	SB_UNUSED(h);
	c->ready = 1;
	c->trusted = trusted;
	c->hello_deadline = 0;
}

static const char *owner_lookup(const char *deploy, void *user)
{
	return sb_owners_get(((struct sb_hub *)user)->owners, deploy);
}

static enum sb_err authorize(struct sb_hub *h, const struct sb_jwt_claims *claims, int trusted,
			     const struct sb_chan_ref *ref, const char *name, enum sb_code *code,
			     char *reason, size_t rlen)
{
	struct sb_acl_ctx ctx = { h->p.jwt_key == NULL || trusted, claims, owner_lookup, h };
	int anon = 0;
	enum sb_err rc = sb_acl_check(&ctx, ref, name, &anon, reason, rlen);

	if (rc == SB_ERR_NOTFOUND)
		*code = SB_CODE_NOT_FOUND;
	else if (rc)
		*code = anon ? SB_CODE_UNAUTHORIZED : SB_CODE_FORBIDDEN;
	return rc;
}

enum sb_err sb_hub_subscribe(struct sb_hub *h, struct sb_client *c, const char *channel,
			     size_t len, int has_since, int64_t since, enum sb_code *code,
			     int *recovered, char *reason, size_t rlen)
{
	struct sb_chan_ref ref;
	char name[SB_CHAN_MAX_NAME + 1];
	struct chan *ch;
	struct sub *s;
	enum sb_err rc;

	*recovered = -1;
	rc = sb_chanmap_parse(h->p.map, channel, len, &ref, reason, rlen);
	if (rc) {
		*code = rc == SB_ERR_NOTFOUND ? SB_CODE_NOT_FOUND : SB_CODE_BAD_REQUEST;
		return rc;
	}
	sb_chanmap_name(&ref, name, sizeof(name));
	if (sb_dict_get(c->subs, name)) {
		snprintf(reason, rlen, "already subscribed to %s", name);
		*code = SB_CODE_BAD_REQUEST;
		return SB_ERR_EXISTS;
	}
	if (sb_dict_size(c->subs) >= (size_t)h->p.cfg->max_subscriptions) {
		snprintf(reason, rlen, "at most %d subscriptions per connection",
			 h->p.cfg->max_subscriptions);
		*code = SB_CODE_TOO_MANY_SUBSCRIPTIONS;
		return SB_ERR_LIMIT;
	}
	rc = authorize(h, c->claims, c->trusted, &ref, name, code, reason, rlen);
	if (rc)
		return rc;
	ch = chan_get(h, &ref, name);
	s = calloc(1, sizeof(*s));
	if (!ch || !s)
		goto nomem;
	if (ch->nsubs == ch->capsubs) {
		size_t cap = ch->capsubs ? ch->capsubs * 2 : 4;
		struct sub **n = realloc(ch->subs, cap * sizeof(*n));
		if (!n)
			goto nomem;
		ch->subs = n;
		ch->capsubs = cap;
	}
	if (sb_dict_set(c->subs, name, s) != SB_OK)
		goto nomem;
	s->chan = ch;
	s->client = c;
	s->idx = ch->nsubs;
	ch->subs[ch->nsubs++] = s;
	s->enc = c->enc;
	ch->nproto[s->enc]++;
	h->nsubs++;
	ch->linger_until = 0;   /* the timer stays armed only for pending work */
	if (has_since && ch->ref.tmpl->delivery.history_lines > 0) {
		/* complete when history holds every line after since (or the
		 * client is already ahead) */
		int64_t oldest = sb_history_first_seq(&ch->hist);
		*recovered = since >= ch->flushed_seq ? (ch->last_seq > 0 || since == 0) :
			     (oldest && oldest <= since + 1);
		s->expect_seq = since + 1;
	}
	return SB_OK;
nomem:
	free(s);
	h->m.drop_nomem++;
	*code = SB_CODE_INTERNAL;
	snprintf(reason, rlen, "out of memory");
	if (ch)
		chan_release(h, ch);
	return SB_ERR_NOMEM;
}

void sb_hub_send_initial(struct sb_hub *h, struct sb_client *c, const char *channel)
{
	struct sub *s = sb_dict_get(c->subs, channel);
	struct chan *ch;
	struct sb_dict_iter it;
	const char *topic;
	void *v;
	char key[SB_CHAN_MAX_NAME + SB_TOPIC_MAX + 8];

	if (!s)
		return;
	ch = s->chan;
	sb_dict_iter_init(&it, ch->snap);
	while (sb_dict_next(&it, &topic, &v)) {
		struct sb_frame *f = v;
		if (s->enc != SB_PROTO_V1) {
			struct sb_msg *m = sb_cache_get(h->cache, topic);
			const struct sb_kind *k = m ? sb_kinds_lookup(h->p.kinds, topic) : NULL;
			if (!k)
				continue;
			f = proto_of(h, s->enc)->event(ch->name, k->event, topic, 1, m->payload,
							 m->payload_len);
			status_key(key, sizeof(key), ch->name, topic);
			enqueue(h, c, SB_Q_STATUS, f, key, 0, 0, 1);
			sb_frame_unref(f);
			continue;
		}
		status_key(key, sizeof(key), ch->name, topic);
		/* the channel holds these frames anyway: a snapshot larger than
		 * the queue's bounds does not make a reading client "slow" */
		enqueue_ex(h, c, SB_Q_STATUS, f, key, 0, 0, 1, 1);
	}
	if (s->expect_seq && ch->hist.count) {
		/* replay history after `since` up to what was already flushed;
		 * the pending batch brings the rest */
		struct sb_msg *items[256];
		size_t n = 0;
		int64_t from = s->expect_seq, s0 = 0, s1 = 0;
		int64_t oldest = sb_history_first_seq(&ch->hist);

		if (oldest > from && from <= ch->flushed_seq) {
			int64_t to = oldest - 1 < ch->flushed_seq ? oldest - 1 : ch->flushed_seq;
			struct sb_frame *g = proto_of(h, s->enc)->gap(ch->name, from, to,
									(size_t)(to - from + 1));
			h->m.history_gaps++;
			enqueue(h, c, SB_Q_CTRL, g, NULL, 0, 0, 0);
			sb_frame_unref(g);
		}
		for (size_t i = 0; i < ch->hist.count; i++) {
			struct sb_msg *e = sb_history_at(&ch->hist, i);
			if (e->seq < from || e->seq > ch->flushed_seq)
				continue;
			if (!n)
				s0 = e->seq;
			s1 = e->seq;
			items[n++] = e;
			if (n == SB_ARRAY_LEN(items) || n == (size_t)ch->ref.tmpl->delivery.max_events * 10) {
				struct sb_frame *f = proto_of(h, s->enc)->batch(ch->name,
					event_name(sb_kinds_lookup(h->p.kinds, e->topic)), items, n);
				enqueue(h, c, SB_Q_LOG, f, ch->name, s0, s1, n);
				sb_frame_unref(f);
				h->m.history_served += n;
				n = 0;
			}
		}
		if (n) {
			struct sb_frame *f = proto_of(h, s->enc)->batch(ch->name,
				event_name(sb_kinds_lookup(h->p.kinds, items[0]->topic)), items, n);
			enqueue(h, c, SB_Q_LOG, f, ch->name, s0, s1, n);
			sb_frame_unref(f);
			h->m.history_served += n;
		}
		if (ch->flushed_seq >= s->expect_seq)
			s->expect_seq = ch->flushed_seq + 1;
	}
}

enum sb_err sb_hub_unsubscribe(struct sb_hub *h, struct sb_client *c, const char *channel)
{
	struct sub *s = sb_dict_get(c->subs, channel);

	if (!s)
		return SB_ERR_NOTFOUND;
	sub_remove(h, c, s);
	return SB_OK;
}

/* ---- statusbus.v1 requests -------------------------------------------------------- */

static enum sb_err verify_token(struct sb_hub *h, const char *token, size_t len,
				struct sb_jwt_claims **out, enum sb_code *code,
				char *reason, size_t rlen)
{
	struct sb_jwt_verify_opts o = {
		.now_s = wall_s(h), .leeway_s = h->p.cfg->token_leeway_s,
		.issuer = h->p.cfg->issuer, .audience = h->p.cfg->audience,
		.max_token_len = SB_MAX_TOKEN,
	};
	char why[160] = "";
	enum sb_err rc = sb_jwt_verify(h->p.jwt_key, token, len, &o, out, why, sizeof(why));

	if (rc) {
		h->m.auth_failures++;
		*code = rc == SB_ERR_EXPIRED ? SB_CODE_TOKEN_EXPIRED : SB_CODE_UNAUTHORIZED;
		snprintf(reason, rlen, "invalid token: %s", why[0] ? why : sb_strerror(rc));
	}
	return rc;
}

static void on_hello(struct sb_hub *h, struct sb_client *c, struct sb_req *r)
{
	char reason[200];
	enum sb_code code;

	if (c->ready) {
		send_error(h, c, r->has_id, r->id, SB_CODE_BAD_REQUEST, NULL, "hello was already sent");
		return;
	}
	if (h->p.jwt_key && r->token) {
		struct sb_jwt_claims *cl = NULL;
		if (verify_token(h, r->token, r->token_len, &cl, &code, reason, sizeof(reason))) {
			sb_log(SB_LOG_INFO, "client %s: hello refused: %s", c->session, reason);
			send_error(h, c, r->has_id, r->id, code, NULL, reason);
			client_fail(h, c, SB_CLOSE_UNAUTHORIZED, code == SB_CODE_TOKEN_EXPIRED ?
				    "token expired" : "unauthorized");
			return;
		}
		c->claims = cl;
		c->token_exp = cl->exp;
	}
	c->ready = 1;
	c->hello_deadline = 0;
	send_ctrl(h, c, sb_proto_welcome(c->session, h->p.cfg->heartbeat_s,
					 h->p.cfg->max_subscriptions, h->p.cfg->max_frame_bytes,
					 h->p.jwt_key != NULL));
}

static void on_sub(struct sb_hub *h, struct sb_client *c, struct sb_req *r)
{
	char reason[256], name[SB_CHAN_MAX_NAME + 1];
	enum sb_code code = SB_CODE_INTERNAL;
	int recovered;
	struct sb_chan_ref ref;

	if (sb_hub_subscribe(h, c, r->channel, r->channel_len, r->has_since, r->since, &code,
			     &recovered, reason, sizeof(reason)) != SB_OK) {
		int named = code != SB_CODE_BAD_REQUEST || memchr(r->channel, '\0', r->channel_len) == NULL;
		send_error(h, c, r->has_id, r->id, code,
			   named && r->channel_len <= SB_CHAN_MAX_NAME ? r->channel : NULL, reason);
		return;
	}
	sb_chanmap_parse(h->p.map, r->channel, r->channel_len, &ref, reason, sizeof(reason));
	sb_chanmap_name(&ref, name, sizeof(name));
	send_ctrl(h, c, sb_proto_ack(r->id, name, recovered));
	sb_hub_send_initial(h, c, name);
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
		send_ctrl(h, c, sb_proto_ack(r->id, name, -1));
}

/* Drops subscriptions the client's (new) token no longer allows. */
static void recheck_subs(struct sb_hub *h, struct sb_client *c)
{
	struct sb_dict_iter it;
	void *v;
	char reason[200];

	sb_dict_iter_init(&it, c->subs);
	while (sb_dict_next(&it, NULL, &v)) {
		struct sub *s = v;
		enum sb_code code;
		if (authorize(h, c->claims, c->trusted, &s->chan->ref, s->chan->name, &code, reason,
			      sizeof(reason)) == SB_OK)
			continue;
		send_error(h, c, 0, 0, code == SB_CODE_NOT_FOUND ? SB_CODE_FORBIDDEN : code,
			   s->chan->name, reason);
		sub_remove(h, c, s);
	}
}

static void on_refresh(struct sb_hub *h, struct sb_client *c, struct sb_req *r)
{
	struct sb_jwt_claims *cl = NULL;
	char reason[200];
	enum sb_code code;

	if (!h->p.jwt_key) {
		if (r->has_id)
			send_ctrl(h, c, sb_proto_ack(r->id, NULL, -1));
		return;
	}
	if (verify_token(h, r->token, r->token_len, &cl, &code, reason, sizeof(reason))) {
		send_error(h, c, r->has_id, r->id, code, NULL, reason);
		return;
	}
	if (c->claims && strcmp(c->claims->sub, cl->sub) != 0) {
		h->m.auth_failures++;
		sb_jwt_claims_destroy(cl);
		send_error(h, c, r->has_id, r->id, SB_CODE_FORBIDDEN, NULL,
			   "refresh token is for another user");
		return;
	}
	sb_jwt_claims_destroy(c->claims);
	c->claims = cl;
	c->token_exp = cl->exp;
	recheck_subs(h, c);
	if (r->has_id)
		send_ctrl(h, c, sb_proto_ack(r->id, NULL, -1));
}

static int rate_ok(struct sb_hub *h, struct sb_client *c)
{
	int64_t now = now_ms(h);
	double max = h->p.cfg->max_msgs_per_s;

	c->rate_tokens += (double)(now - c->rate_ms) * max / 1000.0;
	if (c->rate_tokens > max)
		c->rate_tokens = max;
	c->rate_ms = now;
	if (c->rate_tokens < 1.0)
		return 0;
	c->rate_tokens -= 1.0;
	return 1;
}

void sb_hub_client_frame(struct sb_hub *h, struct sb_client *c, const char *data, size_t len)
{
	struct sb_req r;
	int has_id;
	int64_t id = 0;
	char reason[200];
	enum sb_err rc;

	if (c->close_code)
		return;
	if (!rate_ok(h, c)) {
		h->m.rate_limited++;
		if (c->rate_tokens < -(double)h->p.cfg->max_msgs_per_s) {
			client_fail(h, c, SB_CLOSE_LIMIT, "rate limit");
			return;
		}
		c->rate_tokens -= 1.0;
		send_error(h, c, 0, 0, SB_CODE_RATE_LIMITED, NULL, "too many frames; slow down");
		return;
	}
	rc = sb_proto_parse(data, len, &r, &has_id, &id, reason, sizeof(reason));
	if (rc == SB_ERR_LIMIT) {
		h->m.auth_failures++;
		send_error(h, c, has_id, id, SB_CODE_UNAUTHORIZED, NULL, reason);
		client_fail(h, c, SB_CLOSE_UNAUTHORIZED, "token too large");
		return;
	}
	if (rc) {
		send_error(h, c, has_id, id, SB_CODE_BAD_REQUEST, NULL, reason);
		return;
	}
	if (!c->ready && r.op != SB_OP_HELLO) {
		send_error(h, c, r.has_id, r.id, SB_CODE_UNAUTHORIZED, NULL,
			   "the first frame must be hello");
		client_fail(h, c, SB_CLOSE_UNAUTHORIZED, "hello first");
		sb_req_free(&r);
		return;
	}
	switch (r.op) {
	case SB_OP_HELLO: on_hello(h, c, &r); break;
	case SB_OP_SUB: on_sub(h, c, &r); break;
	case SB_OP_UNSUB: on_unsub(h, c, &r); break;
	case SB_OP_REFRESH: on_refresh(h, c, &r); break;
	case SB_OP_PING: send_ctrl(h, c, sb_proto_pong(r.has_id, r.id)); break;
	}
	sb_req_free(&r);
}

/* ---- time -------------------------------------------------------------------------- */

static void sweep_clients(struct sb_hub *h, int64_t now)
{
	int64_t wall = wall_s(h);

	h->last_sweep = now;
	for (struct sb_client *c = h->clients; c; c = c->next) {
		if (c->close_code)
			continue;
		if (c->hello_deadline && now >= c->hello_deadline) {
			sb_log(SB_LOG_INFO, "client %s: no hello within %d s, closing 4001", c->session,
			       h->p.cfg->hello_timeout_s);
			client_fail(h, c, SB_CLOSE_UNAUTHORIZED, "no hello");
		} else if (c->token_exp && wall > c->token_exp + h->p.cfg->token_leeway_s) {
			send_error(h, c, 0, 0, SB_CODE_TOKEN_EXPIRED, NULL,
				   "token expired; send refresh with a new token before exp");
			client_fail(h, c, SB_CLOSE_UNAUTHORIZED, "token expired");
		}
	}
}

void sb_hub_tick(struct sb_hub *h)
{
	int64_t now = now_ms(h);
	struct chan *ch = h->armed;

	while (ch) {
		struct chan *next = ch->armed_next;
		if (ch->npending && now >= ch->batch_deadline)
			flush_batch(h, ch);
		if (ch->latest && sb_dict_size(ch->latest) && now >= ch->conflate_deadline)
			flush_conflate(h, ch);
		if (ch->linger_until && now >= ch->linger_until && !ch->nsubs) {
			sb_dict_take(h->chans, ch->name);
			chan_free(h, ch);
		} else if (chan_deadline(ch) == INT64_MAX) {
			disarm(h, ch);
		}
		ch = next;
	}
	if (h->clients && now >= h->last_sweep + 1000)
		sweep_clients(h, now);
	if (h->ops.timer)
		h->ops.timer(h->ops.ctx, sb_hub_next_deadline(h));
}

void sb_hub_flush_all(struct sb_hub *h)
{
	for (struct chan *ch = h->armed; ch; ch = ch->armed_next) {
		flush_batch(h, ch);
		if (ch->latest)
			flush_conflate(h, ch);
	}
}

void sb_hub_close_all(struct sb_hub *h, int code, const char *reason)
{
	for (struct sb_client *c = h->clients; c; c = c->next)
		client_fail(h, c, code, reason);
}

/* ---- life cycle and introspection ----------------------------------------------- */

static void free_chan_v(void *v) { SB_UNUSED(v); }

enum sb_err sb_hub_create(struct sb_hub **out, const struct sb_hub_params *p,
			  const struct sb_hub_ops *ops)
{
	struct sb_hub *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return SB_ERR_NOMEM;
	h->p = *p;
	h->ops = *ops;
	h->chans = sb_dict_create(free_chan_v);
	{
		struct sb_filter_ops fo = { ops->ctx, ops->mqtt_subscribe, ops->mqtt_unsubscribe };
		if (sb_filters_create(&h->filters, &fo) != SB_OK ||
		    sb_owners_create(&h->owners) != SB_OK) {
			sb_hub_destroy(h);
			return SB_ERR_NOMEM;
		}
	}
	h->rules.kinds = p->kinds;
	h->rules.schemas = p->schemas;
	h->rules.max_payload_bytes = (size_t)p->cfg->max_payload_bytes;
	h->rules.reject_unknown_topics = p->cfg->reject_unknown_topics;
	h->rules.validate = p->cfg->validate_payloads;
	h->reject_log = sb_dict_create(NULL);
	h->cache = sb_cache_create((size_t)p->cfg->cache_max_topics);
	if (!h->chans || !h->reject_log || !h->cache) {
		sb_hub_destroy(h);
		return SB_ERR_NOMEM;
	}
	h->last_sweep = now_ms(h);
	/* deploy owners are always learned (docs/protocol.md §4) */
	filter_ref(h, DEPLOY_STATUS_FILTER);
	*out = h;
	return SB_OK;
}

void sb_hub_destroy(struct sb_hub *h)
{
	struct sb_dict_iter it;
	void *v;

	if (!h)
		return;
	while (h->clients)
		sb_hub_client_gone(h, h->clients);
	if (h->chans) {
		sb_dict_iter_init(&it, h->chans);
		while (sb_dict_next(&it, NULL, &v))
			chan_free(h, v);
	}
	sb_dict_destroy(h->chans);
	sb_filters_destroy(h->filters);
	sb_owners_destroy(h->owners);
	sb_dict_destroy(h->reject_log);
	sb_cache_destroy(h->cache);
	free(h);
}

void sb_hub_register_proto(struct sb_hub *h, enum sb_proto_id id, const struct sb_proto_ops *ops)
{
	h->protos[id] = ops;
}

const struct sb_metrics *sb_hub_metrics(const struct sb_hub *h) { return &h->m; }

void sb_hub_count_auth_failure(struct sb_hub *h) { h->m.auth_failures++; }

void sb_hub_count_inbound_drop(struct sb_hub *h, uint64_t n) { h->m.drop_inbound_overflow += n; }

void sb_hub_gauges(const struct sb_hub *h, struct sb_hub_gauges *g)
{
	struct sb_dict_iter it;
	void *v;

	memset(g, 0, sizeof(*g));
	g->clients = h->nclients;
	g->channels = sb_dict_size(h->chans);
	g->subscriptions = h->nsubs;
	g->mqtt_filters = sb_filters_count(h->filters);
	g->mqtt_filters_active = sb_filters_active(h->filters);
	g->cache_topics = sb_cache_size(h->cache);
	g->mqtt_connected = h->mqtt_up;
	for (const struct sb_client *c = h->clients; c; c = c->next)
		g->queued_bytes += c->q.bytes;
	sb_dict_iter_init(&it, h->chans);
	while (sb_dict_next(&it, NULL, &v))
		g->history_lines += ((struct chan *)v)->hist.count;
}

/* ---- HTTP fallbacks ------------------------------------------------------------------ */

int sb_hub_http_query(struct sb_hub *h, const char *token, const char *channel, int history,
		      int64_t since, char **body)
{
	struct sb_chan_ref ref;
	char reason[256], name[SB_CHAN_MAX_NAME + 1];
	struct sb_jwt_claims *cl = NULL;
	enum sb_code code;
	enum sb_err rc;
	struct sb_buf b;
	struct chan *ch;
	int status = 200;

	*body = NULL;
	sb_buf_init(&b);
	rc = sb_chanmap_parse(h->p.map, channel, strlen(channel), &ref, reason, sizeof(reason));
	if (rc) {
		status = rc == SB_ERR_NOTFOUND ? 404 : 400;
		code = rc == SB_ERR_NOTFOUND ? SB_CODE_NOT_FOUND : SB_CODE_BAD_REQUEST;
		goto error;
	}
	sb_chanmap_name(&ref, name, sizeof(name));
	if (history && ref.tmpl->delivery.history_lines == 0) {
		status = 400;
		code = SB_CODE_BAD_REQUEST;
		snprintf(reason, sizeof(reason), "channel %.200s has no history", name);
		goto error;
	}
	if (h->p.jwt_key && token &&
	    verify_token(h, token, strlen(token), &cl, &code, reason, sizeof(reason))) {
		status = 401;
		goto error;
	}
	rc = authorize(h, cl, 0, &ref, name, &code, reason, sizeof(reason));
	if (rc) {
		status = code == SB_CODE_NOT_FOUND ? 404 : code == SB_CODE_UNAUTHORIZED ? 401 : 403;
		goto error;
	}
	ch = sb_dict_get(h->chans, name);
	sb_buf_puts(&b, "{\"channel\":");
	sb_buf_json_str(&b, name, strlen(name));
	sb_buf_puts(&b, ",\"events\":[");
	if (!history) {
		/* from the cache: one snapshot dict keyed by topic, so a topic
		 * matched by two filters is listed once */
		char **filters;
		size_t nf, n = 0;
		struct chan tmp;
		struct snap_ctx sc = { h, &tmp };
		struct sb_dict_iter it;
		void *v;

		memset(&tmp, 0, sizeof(tmp));
		tmp.name = name;
		tmp.snap = sb_dict_create(free_frame);
		if (tmp.snap && sb_chanmap_filters(&ref, &filters, &nf) == SB_OK) {
			for (size_t i = 0; i < nf; i++)
				sb_cache_foreach(h->cache, filters[i], snap_add, &sc);
			sb_chanmap_free_filters(filters, nf);
			sb_dict_iter_init(&it, tmp.snap);
			while (sb_dict_next(&it, NULL, &v)) {
				struct sb_frame *f = v;
				if (n++)
					sb_buf_puts(&b, ",");
				sb_buf_append(&b, sb_frame_data(f), f->len);
			}
		}
		sb_dict_destroy(tmp.snap);
		sb_buf_puts(&b, "]");
		/* retained topics the bridge is not subscribed to are unknown
		 * to it: say whether the answer is complete */
		sb_buf_printf(&b, ",\"live\":%s}", ch ? "true" : "false");
	} else {
		size_t n = 0;
		int64_t oldest = 0;
		if (ch && ch->hist.count)
			oldest = sb_history_first_seq(&ch->hist);
		for (size_t i = 0; ch && i < ch->hist.count; i++) {
			const struct sb_msg *e = sb_history_at(&ch->hist, i);
			if (e->seq <= since)
				continue;
			if (n++)
				sb_buf_puts(&b, ",");
			sb_buf_append(&b, e->payload, e->payload_len);
		}
		sb_buf_puts(&b, "],\"gap\":");
		if (oldest > since + 1)
			sb_buf_printf(&b, "{\"from\":%lld,\"to\":%lld}", (long long)since + 1,
				      (long long)oldest - 1);
		else
			sb_buf_puts(&b, "null");
		sb_buf_printf(&b, ",\"last_seq\":%lld,\"live\":%s}", ch ? (long long)ch->last_seq : 0LL,
			      ch ? "true" : "false");
	}
	if (!ch) {
		/* start following the channel so that the next poll is complete */
		struct chan *nc = chan_get(h, &ref, name);
		if (nc && !nc->nsubs) {
			nc->linger_until = now_ms(h) + LINGER_MS;
			arm(h, nc);
		}
	}
	sb_jwt_claims_destroy(cl);
	if (!sb_buf_str(&b)) {
		sb_buf_free(&b);
		return 500;
	}
	*body = strdup(sb_buf_str(&b));
	sb_buf_free(&b);
	return *body ? 200 : 500;
error:
	sb_jwt_claims_destroy(cl);
	sb_buf_free(&b);
	sb_buf_init(&b);
	sb_buf_printf(&b, "{\"error\":\"%s\",\"code\":\"%s\",\"message\":", sb_code_name(code),
		      sb_code_name(code));
	sb_buf_json_str(&b, reason, strlen(reason));
	sb_buf_puts(&b, "}");
	*body = sb_buf_str(&b) ? strdup(sb_buf_str(&b)) : NULL;
	sb_buf_free(&b);
	return status;
}
