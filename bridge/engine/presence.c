/* SPDX-License-Identifier: MIT
 *
 * presence.c - presence channels (docs/protocol.md §5.12, §9), cluster-wide.
 *
 * Per presence channel: its member set (domain/presence.h) and which local
 * connection joined as which user.  A join or leave is told to the
 * channel's subscribers through their encoder's `presence` frame (v1:
 * presence.join / presence.leave; Pusher presence-: member_added /
 * member_removed; other forms: nothing), never to the connection that
 * caused it.
 *
 * Through the broker:
 *   $statusbus/presence/<channel>/<bridge id>   retained, QoS 1: this
 *       bridge's local members of <channel> (presence.h's payload), empty
 *       (cleared) when it has none; every bridge reads every other's;
 *   $statusbus/bridges/<bridge id>              retained: "online" once the
 *       link is up, "offline" on a clean stop and as the MQTT will (set by
 *       the MQTT adapter), so that a bridge that dies (kill -9) leaves the
 *       others' sets within the broker's keepalive; the first bridge to see
 *       it also clears the dead bridge's retained lists.
 */
#include "hub_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "presence.h"

struct pchan {
	struct sb_presence_set *set;
	struct sb_dict *conns;   /* "<client id>" -> user id (malloc'ed) */
};

struct sb_pres {
	struct sb_dict *chans;     /* channel name -> struct pchan */
	struct sb_dict *offline;   /* bridge id -> (void *)1, seen offline */
	const char *me;            /* this bridge's id */
};

static void pchan_free(void *v)
{
	struct pchan *pc = v;

	if (!pc)
		return;
	sb_presence_set_destroy(pc->set);
	sb_dict_destroy(pc->conns);
	free(pc);
}

static const char *me_of(const struct sb_hub *h)
{
	return h->p.bridge_id ? h->p.bridge_id : "statusbus";
}

enum sb_err sb_pres_init(struct sb_hub *h)
{
	struct sb_pres *p;

	if (!sb_chanmap_has_presence(h->p.map))
		return SB_OK;
	if (!(p = calloc(1, sizeof(*p))))
		return SB_ERR_NOMEM;
	p->chans = sb_dict_create(pchan_free);
	p->offline = sb_dict_create(NULL);
	p->me = me_of(h);
	h->pres = p;
	if (!p->chans || !p->offline ||
	    sb_filters_ref(h->filters, SB_PRESENCE_TOPIC_PREFIX "+/+") != SB_OK ||
	    sb_filters_ref(h->filters, SB_PRESENCE_BRIDGES_PREFIX "+") != SB_OK)
		return SB_ERR_NOMEM;   /* the caller destroys the hub */
	return SB_OK;
}

static void publish(struct sb_hub *h, const char *topic, const char *payload, size_t len)
{
	if (h->mqtt_up && h->ops.publish_retained)
		h->ops.publish_retained(h->ops.ctx, topic, payload, len);
}

/* This bridge's list of `name` as it is now (cleared when empty). */
static void publish_chan(struct sb_hub *h, const char *name, const struct pchan *pc)
{
	char topic[sizeof(SB_PRESENCE_TOPIC_PREFIX) + SB_CHAN_MAX_NAME + 256];
	char *payload = NULL;
	size_t len = 0;
	char n[SB_CHAN_MAX_NAME + 1], me[256];

	snprintf(topic, sizeof(topic), SB_PRESENCE_TOPIC_PREFIX "%s/%s",
		 sb_presence_topic_level(n, sizeof(n), name, 0),
		 sb_presence_topic_level(me, sizeof(me), h->pres->me, 0));
	if (pc && sb_presence_local_conns(pc->set) && !(payload = sb_presence_encode(pc->set, &len))) {
		h->m.drop_nomem++;
		return;
	}
	publish(h, topic, payload ? payload : "", len);
	free(payload);
}

/* Says this bridge is `state` ("online" / "offline") and publishes each
 * channel's local list (clear = 1: clears them). */
static void announce(struct sb_hub *h, const char *state, int clear)
{
	struct sb_dict_iter it;
	const char *name;
	void *v;
	char topic[sizeof(SB_PRESENCE_BRIDGES_PREFIX) + 256], me[256];

	snprintf(topic, sizeof(topic), SB_PRESENCE_BRIDGES_PREFIX "%s",
		 sb_presence_topic_level(me, sizeof(me), h->pres->me, 0));
	if (!clear)
		publish(h, topic, state, strlen(state));
	sb_dict_iter_init(&it, h->pres->chans);
	while (sb_dict_next(&it, &name, &v))
		if (sb_presence_local_conns(((struct pchan *)v)->set))
			publish_chan(h, name, clear ? NULL : v);
	if (clear)
		publish(h, topic, state, strlen(state));
}

void sb_pres_fini(struct sb_hub *h)
{
	struct sb_pres *p = h->pres;

	if (!p)
		return;
	announce(h, "offline", 1);
	sb_dict_destroy(p->chans);
	sb_dict_destroy(p->offline);
	free(p);
	h->pres = NULL;
}

void sb_pres_link_up(struct sb_hub *h)
{
	if (h->pres)
		announce(h, "online", 0);
}

/* ---- telling the subscribers ------------------------------------------------------- */

struct tell_ctx {
	struct sb_hub *h;
	const char *channel;
	const struct sb_client *skip;
};

static void tell(void *user, int join, const char *id, const char *info)
{
	struct tell_ctx *t = user;
	struct sb_hub *h = t->h;
	struct sb_chan *ch = sb_dict_get(h->chans, t->channel);
	struct sb_frame *f[SB_HUB_MAX_ENCODERS] = { NULL };

	if (join)
		h->m.presence_joins++;
	else
		h->m.presence_leaves++;
	if (!ch)
		return;
	for (size_t i = 0; i < ch->nsubs; i++) {
		struct sb_sub *s = ch->subs[i];
		const struct sb_encoder *enc = sb_hub__enc(h, s->enc);

		if (s->pending || s->client == t->skip || !enc->presence)
			continue;
		if (!f[s->enc] && !(f[s->enc] = enc->presence(t->channel, join, id, info))) {
			h->m.drop_nomem++;
			continue;
		}
		sb_client__enqueue(h, s->client, SB_Q_EVENT, f[s->enc], 0, 0, 0, 0, 0, 0);
	}
	for (int e = 0; e < SB_HUB_MAX_ENCODERS; e++)
		sb_frame_unref(f[e]);
}

/* ---- channels ------------------------------------------------------------------------ */

static struct pchan *pchan_get(struct sb_hub *h, const char *name)
{
	struct pchan *pc = sb_dict_get(h->pres->chans, name);

	if (pc)
		return pc;
	if (!(pc = calloc(1, sizeof(*pc))))
		return NULL;
	pc->set = sb_presence_set_create((size_t)h->p.cfg->presence_max_members);
	pc->conns = sb_dict_create(free);
	if (!pc->set || !pc->conns || sb_dict_set(h->pres->chans, name, pc) != SB_OK) {
		pchan_free(pc);
		return NULL;
	}
	return pc;
}

static void pchan_maybe_free(struct sb_hub *h, const char *name, struct pchan *pc)
{
	if (!sb_presence_count(pc->set) && !sb_presence_bridges(pc->set) && !sb_dict_size(pc->conns))
		sb_dict_del(h->pres->chans, name);
}

int sb_hub_presence_enabled(const struct sb_hub *h, const char *name)
{
	struct sb_chan_ref ref;
	char why[8];

	return h->pres && sb_chanmap_parse(h->p.map, name, strlen(name), &ref, why, sizeof(why)) == SB_OK &&
	       ref.tmpl->presence;
}

enum sb_err sb_hub_presence_join(struct sb_hub *h, struct sb_client *c, const char *name,
				 const char *id, const char *info)
{
	struct tell_ctx t = { h, name, c };
	struct sb_sub *s = sb_dict_get(c->subs, name);
	struct pchan *pc;
	char key[24];
	char *uid;
	enum sb_err rc;

	if (!h->pres || !s || !s->chan->ref.tmpl->presence)
		return SB_ERR_NOTFOUND;
	if (!(pc = pchan_get(h, name)))
		return SB_ERR_NOMEM;
	snprintf(key, sizeof(key), "%" PRIu64, c->id);
	if (sb_dict_get(pc->conns, key))
		return SB_ERR_EXISTS;
	if (!(uid = strdup(id)) || sb_dict_set(pc->conns, key, uid) != SB_OK) {
		if (uid && !sb_dict_get(pc->conns, key))
			free(uid);
		pchan_maybe_free(h, name, pc);
		return SB_ERR_NOMEM;
	}
	rc = sb_presence_local_add(pc->set, id, info, tell, &t);
	if (rc != SB_OK) {
		sb_dict_del(pc->conns, key);
		if (rc == SB_ERR_LIMIT)
			h->m.presence_refused++;
		pchan_maybe_free(h, name, pc);
		return rc;
	}
	publish_chan(h, name, pc);
	return SB_OK;
}

void sb_pres_sub_gone(struct sb_hub *h, struct sb_client *c, struct sb_chan *ch)
{
	struct tell_ctx t = { h, ch->name, c };
	struct pchan *pc;
	char key[24];
	char *uid;

	if (!h->pres || !ch->ref.tmpl->presence || !(pc = sb_dict_get(h->pres->chans, ch->name)))
		return;
	snprintf(key, sizeof(key), "%" PRIu64, c->id);
	if (!(uid = sb_dict_take(pc->conns, key)))
		return;
	sb_presence_local_remove(pc->set, uid, tell, &t);
	free(uid);
	publish_chan(h, ch->name, pc);
	pchan_maybe_free(h, ch->name, pc);
}

int sb_client_subscribed(const struct sb_client *c, const char *name)
{
	const struct sb_sub *s = sb_dict_get(c->subs, name);

	return s && !s->pending;
}

const struct sb_presence_set *sb_hub_presence(const struct sb_hub *h, const char *name)
{
	const struct pchan *pc = h->pres ? sb_dict_get(h->pres->chans, name) : NULL;

	return pc ? pc->set : NULL;
}

void sb_hub_foreach_presence(const struct sb_hub *h, sb_hub_presence_fn cb, void *user)
{
	struct sb_dict_iter it;
	const char *name;
	void *v;

	if (!h->pres)
		return;
	sb_dict_iter_init(&it, h->pres->chans);
	while (sb_dict_next(&it, &name, &v))
		if (sb_presence_count(((struct pchan *)v)->set))
			cb(name, sb_presence_count(((struct pchan *)v)->set), user);
}

size_t sb_pres_gauge(const struct sb_hub *h, size_t *channels)
{
	struct sb_dict_iter it;
	size_t members = 0;
	void *v;

	*channels = 0;
	if (!h->pres)
		return 0;
	sb_dict_iter_init(&it, h->pres->chans);
	while (sb_dict_next(&it, NULL, &v)) {
		size_t n = sb_presence_count(((struct pchan *)v)->set);
		*channels += n > 0;
		members += n;
	}
	return members;
}

/* ---- other bridges --------------------------------------------------------------------- */

/* Bridge `bridge` is gone: its members leave every set, and its retained
 * lists are cleared. */
static void bridge_gone(struct sb_hub *h, const char *bridge)
{
	struct sb_dict_iter it;
	const char *name;
	void *v;
	char topic[sizeof(SB_PRESENCE_TOPIC_PREFIX) + SB_CHAN_MAX_NAME + 256];
	char n[SB_CHAN_MAX_NAME + 1], b[256];

	if (!sb_dict_get(h->pres->offline, bridge)) {
		h->m.presence_bridges_gone++;
		sb_log(SB_LOG_INFO, "presence: bridge %s is offline; its members leave", bridge);
		if (sb_dict_set(h->pres->offline, bridge, (void *)1) != SB_OK)
			h->m.drop_nomem++;
	}
	sb_dict_iter_init(&it, h->pres->chans);
	while (sb_dict_next(&it, &name, &v)) {
		struct pchan *pc = v;
		struct tell_ctx t = { h, name, NULL };

		if (!sb_presence_has_bridge(pc->set, bridge))
			continue;
		sb_presence_remote_set(pc->set, bridge, NULL, NULL, 0, tell, &t);
		snprintf(topic, sizeof(topic), SB_PRESENCE_TOPIC_PREFIX "%s/%s",
			 sb_presence_topic_level(n, sizeof(n), name, 0),
			 sb_presence_topic_level(b, sizeof(b), bridge, 0));
		publish(h, topic, "", 0);
		pchan_maybe_free(h, name, pc);
	}
}

static void on_bridge_state(struct sb_hub *h, const char *bridge, const struct sb_msg *m)
{
	if (!strcmp(bridge, h->pres->me))
		return;
	if (m->payload_len == 6 && !memcmp(m->payload, "online", 6)) {
		sb_dict_del(h->pres->offline, bridge);
		return;
	}
	bridge_gone(h, bridge);   /* "offline", or cleared */
}

static void on_list(struct sb_hub *h, const char *name, const char *bridge,
		    const struct sb_msg *m)
{
	struct tell_ctx t = { h, name, NULL };
	struct pchan *pc = sb_dict_get(h->pres->chans, name);
	char **ids = NULL, **infos = NULL, why[128];
	size_t n = 0;

	if (!strcmp(bridge, h->pres->me)) {
		/* our own: one left by an earlier run under the same id, or
		 * cleared by a bridge that took us for dead (our will), is put
		 * right; our own publications come back as they are */
		int have = pc && sb_presence_local_conns(pc->set);
		if ((m->payload_len != 0) != have)
			publish_chan(h, name, have ? pc : NULL);
		return;
	}
	if (sb_dict_get(h->pres->offline, bridge)) {
		if (m->payload_len)
			publish(h, m->topic, "", 0);   /* a dead bridge's list: cleared */
		return;
	}
	if (m->payload_len &&
	    sb_presence_decode((const char *)m->payload, m->payload_len,
			       (size_t)h->p.cfg->presence_max_members, &ids, &infos, &n, why,
			       sizeof(why)) != SB_OK) {
		h->m.presence_remote_invalid++;
		sb_log(SB_LOG_DEBUG, "presence: %s: %s", m->topic, why);
		return;
	}
	if (!pc && !n)
		return;
	if (!pc && !(pc = pchan_get(h, name))) {
		h->m.drop_nomem++;
		sb_presence_list_free(ids, infos, n);
		return;
	}
	h->m.presence_remote_updates++;
	if (sb_presence_remote_set(pc->set, bridge, ids, infos, n, tell, &t) != SB_OK)
		h->m.drop_nomem++;
	sb_presence_list_free(ids, infos, n);
	pchan_maybe_free(h, name, pc);
}

int sb_pres_msg(struct sb_hub *h, const struct sb_msg *m)
{
	const char *rest, *slash;
	char name[SB_CHAN_MAX_NAME + 1], id[256];
	struct sb_chan_ref ref;
	char why[8];
	size_t nl;

	if (strncmp(m->topic, "$statusbus/", 11) != 0)
		return 0;
	if (!h->pres)
		return !strncmp(m->topic, SB_PRESENCE_TOPIC_PREFIX, sizeof(SB_PRESENCE_TOPIC_PREFIX) - 1) ||
		       !strncmp(m->topic, SB_PRESENCE_BRIDGES_PREFIX, sizeof(SB_PRESENCE_BRIDGES_PREFIX) - 1);
	if (!strncmp(m->topic, SB_PRESENCE_BRIDGES_PREFIX, sizeof(SB_PRESENCE_BRIDGES_PREFIX) - 1)) {
		rest = m->topic + sizeof(SB_PRESENCE_BRIDGES_PREFIX) - 1;
		if (*rest && !strchr(rest, '/'))
			on_bridge_state(h, sb_presence_topic_level(id, sizeof(id), rest, 1), m);
		return 1;
	}
	if (strncmp(m->topic, SB_PRESENCE_TOPIC_PREFIX, sizeof(SB_PRESENCE_TOPIC_PREFIX) - 1) != 0)
		return 0;
	rest = m->topic + sizeof(SB_PRESENCE_TOPIC_PREFIX) - 1;
	slash = strchr(rest, '/');
	nl = slash ? (size_t)(slash - rest) : 0;
	if (!slash || !nl || nl > SB_CHAN_MAX_NAME || !slash[1] || strchr(slash + 1, '/')) {
		h->m.presence_remote_invalid++;
		return 1;
	}
	memcpy(name, rest, nl);
	name[nl] = '\0';
	sb_presence_topic_level(name, sizeof(name), name, 1);
	if (sb_chanmap_parse(h->p.map, name, nl, &ref, why, sizeof(why)) != SB_OK || !ref.tmpl->presence) {
		h->m.presence_remote_invalid++;   /* not a presence channel here */
		return 1;
	}
	on_list(h, name, sb_presence_topic_level(id, sizeof(id), slash + 1, 1), m);
	return 1;
}
