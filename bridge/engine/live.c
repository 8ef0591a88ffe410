/* SPDX-License-Identifier: MIT
 *
 * live.c - acknowledgements that mean live (docs/protocol.md §5): a
 * subscription is acknowledged only once every MQTT filter its channel
 * needs is granted by the broker and the broker's retained replay for it
 * has arrived; an HTTP snapshot of a channel nobody followed waits for the
 * same; a subscribe for a resource (a deploy, an app, a database, a
 * service) the bridge has not heard of waits for the resource's status.
 * Each wait ends by limits.subscribe_timeout_ms.
 *
 * The replay barrier.  After the SUBACK of a filter, the bridge publishes
 * (QoS 1) a numbered message to $statusbus/sync/<bridge id>, a topic only
 * it subscribes to.  The broker queues the retained messages of a new
 * subscription for the bridge before it handles that later publish, and
 * delivers to one client in order, so when the barrier comes back every
 * retained message of the filter is in the cache (the inbox keeps the
 * order up to here).  A barrier is only sent once the sync topic itself is
 * granted, and that grant sends one covering every filter still waiting.
 * Without a publish op (no broker) a SUBACK syncs at once.  A wildcard
 * filter whose barrier comes back with no retained message, while the
 * cache knows statuses under it, is a broker that did not replay them
 * (RabbitMQ's MQTT plugin sends none to wildcard subscriptions): warned.
 *
 * Callbacks into a session (sub_ready) may change the lists, so each pass
 * restarts from the head; the lists are short (subscribes in flight).
 */
#include "hub_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum sb_err sb_live_init(struct sb_hub *h)
{
	const char *id = h->p.bridge_id && *h->p.bridge_id ? h->p.bridge_id : "statusbus";
	size_t len = strlen("$statusbus/sync/") + strlen(id) + 1;

	h->sync_topic = malloc(len);
	if (!h->sync_topic)
		return SB_ERR_NOMEM;
	snprintf(h->sync_topic, len, "$statusbus/sync/%s", id);
	h->replay_warned = sb_dict_create(NULL);
	if (!h->replay_warned)
		return SB_ERR_NOMEM;
	return sb_filters_ref(h->filters, h->sync_topic);
}

static void free_wait(struct sb_wait *w)
{
	sb_list_remove(&w->node);
	free(w);
}

void sb_live_fini(struct sb_hub *h)
{
	sb_dict_destroy(h->unconfirmed);
	h->unconfirmed = NULL;
	sb_dict_destroy(h->replay_warned);
	h->replay_warned = NULL;
	while (h->waits.head)
		free_wait(sb_container_of(h->waits.head, struct sb_wait, node));
	while (h->waiters.head)
		sb_list_remove(h->waiters.head);
	free(h->sync_topic);
	h->sync_topic = NULL;
}

int sb_hub__chan_live(const struct sb_hub *h, const struct sb_chan *ch)
{
	if (!h->mqtt_up)
		return 0;
	for (size_t i = 0; i < ch->nfilters; i++)
		if (!sb_filters_synced(h->filters, ch->filters[i]))
			return 0;
	return 1;
}

/* ---- settling ------------------------------------------------------------------------- */

static void sub_ready(struct sb_hub *h, struct sb_client *c, int64_t tag, enum sb_err rc,
		     const struct sb_sub_result *res)
{
	if (c->sess->ops->sub_ready)
		c->sess->ops->sub_ready(c->sess->self, h, c, tag, rc, res);
}

/* s's channel is live: acknowledge it. */
static void activate(struct sb_hub *h, struct sb_sub *s)
{
	struct sb_chan *ch = s->chan;
	struct sb_sub_result res;

	sb_list_remove(&s->pnode);
	s->pending = 0;
	memset(&res, 0, sizeof(res));
	res.recovered = -1;
	snprintf(res.name, sizeof(res.name), "%s", ch->name);
	if (s->has_since && ch->ref.tmpl->delivery.history_lines > 0)
		res.recovered = sb_hub__resume(h, ch, s, s->since);
	sub_ready(h, s->client, s->tag, SB_OK, &res);
}

/* s could not become live in time: it goes, and its session says why. */
static void give_up(struct sb_hub *h, struct sb_sub *s)
{
	struct sb_client *c = s->client;
	int64_t tag = s->tag;
	struct sb_sub_result res;

	memset(&res, 0, sizeof(res));
	res.recovered = -1;
	res.code = SB_CODE_UNAVAILABLE;
	snprintf(res.name, sizeof(res.name), "%s", s->chan->name);
	snprintf(res.reason, sizeof(res.reason), "the broker did not confirm %.160s within %d ms; "
		 "try again", s->chan->name, h->p.cfg->subscribe_timeout_ms);
	sb_log(SB_LOG_WARN, "client %s: %s", c->session, res.reason);
	h->m.subscribe_timeouts++;
	sb_hub__sub_remove(h, c, s);
	sub_ready(h, c, tag, SB_ERR_LIMIT, &res);
}

struct collect {
	struct sb_hub *h;
	struct sb_dict *into;
};

static void collect_one(struct sb_msg *m, void *user)
{
	struct collect *c = user;

	if (sb_dict_set(c->into, m->topic, (void *)1) != SB_OK)
		c->h->m.drop_nomem++;
}

void sb_live_session_lost(struct sb_hub *h)
{
	struct collect c = { h, NULL };

	sb_dict_destroy(h->unconfirmed);
	h->unconfirmed = c.into = sb_dict_create(NULL);
	if (!c.into) {
		h->m.drop_nomem++;
		return;
	}
	sb_cache_foreach(h->cache, "#", collect_one, &c);
}

/* After a lost session: a cached status whose filter's replay is complete
 * and did not include it was deleted while the link was down.  It goes
 * through intake as the empty retained message the bridge missed. */
static void reconcile(struct sb_hub *h)
{
	struct sb_dict_iter it;
	const char *topic;
	int again = 1;

	while (h->unconfirmed && again) {
		again = 0;
		sb_dict_iter_init(&it, h->unconfirmed);
		while (sb_dict_next(&it, &topic, NULL)) {
			struct sb_msg *m;

			if (!sb_filters_cover_synced(h->filters, topic))
				continue;
			m = sb_msg_create(topic, strlen(topic), "", 0, 1);
			sb_dict_del(h->unconfirmed, topic);   /* before: topic is its key */
			if (!m) {
				h->m.drop_nomem++;
			} else {
				h->m.reconciled_deletes++;
				sb_hub_on_message(h, m);
				sb_msg_unref(m);
			}
			again = 1;
			break;   /* the dict changed: iterate afresh */
		}
	}
	if (h->unconfirmed && !sb_dict_size(h->unconfirmed)) {
		sb_dict_destroy(h->unconfirmed);
		h->unconfirmed = NULL;
	}
}

/* Settles what became live: pending subscriptions (a resume also once
 * its own barrier is back), then HTTP waiters. */
static void check(struct sb_hub *h)
{
	struct sb_list_node *n;
	int again = 1;

	reconcile(h);   /* before anyone is acknowledged a stale snapshot */
	while (again) {
		again = 0;
		for (n = h->pending.head; n; n = n->next) {
			struct sb_sub *s = sb_container_of(n, struct sb_sub, pnode);
			if (sb_hub__chan_live(h, s->chan) && s->barrier <= h->barrier_back) {
				activate(h, s);
				again = 1;
				break;
			}
		}
	}
	for (n = h->waiters.head; n;) {
		struct sb_hub_waiter *w = sb_container_of(n, struct sb_hub_waiter, node);
		n = n->next;
		if (sb_hub__chan_live(h, w->chan)) {
			sb_list_remove(&w->node);
			w->ready(w->arg);
		}
	}
}

void sb_hub__chan_gone(struct sb_hub *h, struct sb_chan *ch)
{
	struct sb_list_node *n;

	for (n = h->waiters.head; n;) {
		struct sb_hub_waiter *w = sb_container_of(n, struct sb_hub_waiter, node);
		n = n->next;
		if (w->chan == ch) {
			sb_list_remove(&w->node);
			w->ready(w->arg);
		}
	}
}

/* ---- barriers ------------------------------------------------------------------------- */

static void count_one(struct sb_msg *m, void *user)
{
	SB_UNUSED(m);
	(*(size_t *)user)++;
}

/* A wildcard filter's replay came back with no retained message: when the
 * cache knows statuses under it (from an overlapping filter, or from before
 * a resubscription), the broker did not send the retained messages it
 * holds.  Counted each time, said once per filter. */
static void silent_replay(const char *filter, void *user)
{
	struct sb_hub *h = user;
	size_t known = 0;

	sb_cache_foreach(h->cache, filter, count_one, &known);
	if (!known)
		return;
	h->m.retained_missing++;
	if (!h->replay_warned || sb_dict_get(h->replay_warned, filter) ||
	    sb_dict_set(h->replay_warned, filter, (void *)1) != SB_OK)
		return;
	sb_log(SB_LOG_WARN, "mqtt: the broker sent no retained messages for %s although %zu %s "
	       "known (a broker that does not send retained messages to wildcard subscriptions, "
	       "like RabbitMQ's MQTT plugin, is not supported: see docs/scaling.md)", filter, known,
	       known == 1 ? "is" : "are");
}

static void send_barrier(struct sb_hub *h, long n)
{
	char payload[32];
	int len = snprintf(payload, sizeof(payload), "%ld", n);

	h->ops.publish(h->ops.ctx, h->sync_topic, payload, (size_t)len);
	h->m.barriers_sent++;
}

long sb_live_resume_barrier(struct sb_hub *h)
{
	long n;

	if (!h->ops.publish)
		return 0;
	n = ++h->barrier;
	/* before the sync topic is granted, its grant sends one past n */
	if (sb_filters_acked(h->filters, h->sync_topic))
		send_barrier(h, n);
	return n;
}

void sb_live_suback(struct sb_hub *h, const char *filter)
{
	long n;

	if (!h->ops.publish) {
		/* nobody to ask: granted is as good as it gets */
		sb_filters_suback(h->filters, filter, 0);
		check(h);
		return;
	}
	n = ++h->barrier;
	sb_filters_suback(h->filters, filter, n);
	/* a barrier comes back only once the sync topic is granted; its own
	 * grant sends one that covers every filter waiting so far */
	if (sb_filters_acked(h->filters, h->sync_topic))
		send_barrier(h, n);
}

int sb_live_barrier_msg(struct sb_hub *h, const struct sb_msg *m)
{
	char buf[32];
	char *end;
	long n;

	if (m->topic_len != strlen(h->sync_topic) || memcmp(m->topic, h->sync_topic, m->topic_len))
		return 0;
	if (m->payload_len == 0 || m->payload_len >= sizeof(buf))
		return 1;   /* our retained leftovers, or not ours: ignored */
	memcpy(buf, m->payload, m->payload_len);
	buf[m->payload_len] = '\0';
	n = strtol(buf, &end, 10);
	if (*end || n <= 0 || n > h->barrier)
		return 1;
	if (n > h->barrier_back)
		h->barrier_back = n;
	if (sb_filters_barrier(h->filters, n)) {
		sb_filters_take_silent(h->filters, silent_replay, h);
		check(h);   /* after: a reconcile would delete what is counted */
	} else if (h->pending.head) {
		check(h);   /* a resume waiting for this barrier */
	}
	return 1;
}

/* ---- waiting ---------------------------------------------------------------------------- */

void sb_live_pend(struct sb_hub *h, struct sb_sub *s, int64_t deadline)
{
	s->deadline = deadline;
	sb_list_add_tail(&h->pending, &s->pnode);
	sb_hub__rearm(h);
}

enum sb_err sb_live_wait_owner(struct sb_hub *h, struct sb_client *c,
			       const struct sb_sub_opts *o, const struct sb_sub_result *res,
			       int64_t deadline)
{
	struct sb_wait *w = calloc(1, sizeof(*w));

	if (!w || o->len > SB_CHAN_MAX_NAME) {
		free(w);
		return SB_ERR_NOTFOUND;
	}
	w->c = c;
	w->o = *o;
	memcpy(w->channel, o->channel, o->len);
	w->channel[o->len] = '\0';
	w->o.channel = w->channel;
	snprintf(w->reason, sizeof(w->reason), "%s", res->reason);
	w->deadline = deadline;
	sb_list_add_tail(&h->waits, &w->node);
	sb_hub__rearm(h);
	return SB_OK;
}

/* A waiting subscribe tried again: settled now, pending on its channel, or
 * parked again (its own deadline kept). */
static void retry(struct sb_hub *h, struct sb_wait *w)
{
	struct sb_sub_result res;
	enum sb_err rc = sb_hub__subscribe_by(h, w->c, &w->o, &res, w->deadline);

	if (rc != SB_OK || !res.pending)
		sub_ready(h, w->c, w->o.tag, rc, &res);
}

void sb_live_owner_learned(struct sb_hub *h)
{
	struct sb_list mine = { 0 };
	struct sb_list_node *n;

	if (!h->waits.count)
		return;
	/* retry each once: one that parks again goes back on h->waits */
	while ((n = h->waits.head)) {
		sb_list_remove(n);
		sb_list_add_tail(&mine, n);
	}
	while ((n = mine.head)) {
		struct sb_wait *w = sb_container_of(n, struct sb_wait, node);
		sb_list_remove(n);
		retry(h, w);
		free(w);
	}
}

void sb_live_client_gone(struct sb_hub *h, struct sb_client *c)
{
	struct sb_list_node *n, *nx;

	sb_list_foreach_safe(&h->waits, n, nx) {
		struct sb_wait *w = sb_container_of(n, struct sb_wait, node);
		if (w->c == c)
			free_wait(w);
	}
}

void sb_live_expire(struct sb_hub *h, int64_t now)
{
	struct sb_list_node *n;

	while ((n = h->pending.head) &&
	       sb_container_of(n, struct sb_sub, pnode)->deadline <= now)
		give_up(h, sb_container_of(n, struct sb_sub, pnode));
	while ((n = h->waits.head) && sb_container_of(n, struct sb_wait, node)->deadline <= now) {
		struct sb_wait *w = sb_container_of(n, struct sb_wait, node);
		struct sb_sub_result res;

		memset(&res, 0, sizeof(res));
		res.recovered = -1;
		res.code = SB_CODE_NOT_FOUND;
		snprintf(res.name, sizeof(res.name), "%s", w->channel);
		snprintf(res.reason, sizeof(res.reason), "%s", w->reason);
		sb_list_remove(n);
		sub_ready(h, w->c, w->o.tag, SB_ERR_NOTFOUND, &res);
		free(w);
	}
	while ((n = h->waiters.head) &&
	       sb_container_of(n, struct sb_hub_waiter, node)->deadline <= now) {
		struct sb_hub_waiter *w = sb_container_of(n, struct sb_hub_waiter, node);
		sb_list_remove(n);
		w->ready(w->arg);
	}
}

int64_t sb_live_next_deadline(const struct sb_hub *h)
{
	int64_t d = INT64_MAX;

	if (h->pending.head)
		d = sb_container_of(h->pending.head, struct sb_sub, pnode)->deadline;
	if (h->waits.head && sb_container_of(h->waits.head, struct sb_wait, node)->deadline < d)
		d = sb_container_of(h->waits.head, struct sb_wait, node)->deadline;
	if (h->waiters.head &&
	    sb_container_of(h->waiters.head, struct sb_hub_waiter, node)->deadline < d)
		d = sb_container_of(h->waiters.head, struct sb_hub_waiter, node)->deadline;
	return d;
}

/* ---- HTTP queries ------------------------------------------------------------------------ */

void sb_live_wait_chan(struct sb_hub *h, struct sb_chan *ch, struct sb_hub_waiter *w)
{
	w->chan = ch;
	w->deadline = sb_hub__now(h) + h->p.cfg->subscribe_timeout_ms;
	sb_list_add_tail(&h->waiters, &w->node);
	sb_hub__rearm(h);
}

void sb_hub_waiter_cancel(struct sb_hub *h, struct sb_hub_waiter *w)
{
	SB_UNUSED(h);
	if (w && w->node.owner)
		sb_list_remove(&w->node);
}
