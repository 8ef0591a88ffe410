/* SPDX-License-Identifier: MIT
 *
 * hub_internal.h - the engine's shared state, seen by the engine's own
 * modules only (hub, channel, client, auth, session_v1, query); adapters
 * and sessions outside the engine use hub.h.
 *
 * Ownership: the hub owns every client (clients list) and every channel
 * (chans dict); a channel owns its subscriptions' slots, a client owns its
 * struct sb_sub records (subs dict, freed by sub removal); queues and
 * caches hold references to frames and messages.
 */
#ifndef SB_HUB_INTERNAL_H
#define SB_HUB_INTERNAL_H

#include "hub.h"

#include "cache.h"
#include "channel.h"
#include "client.h"
#include "dict.h"
#include "filters.h"
#include "intern.h"
#include "ingest.h"
#include "list.h"
#include "owners.h"
#include "timer.h"

#define SB_LINGER_MS 60000
#define SB_SWEEP_MS 1000

/* A subscribe for a resource (a deploy, an app, ...) whose owner is not
 * known yet: retried when an owner is learned, not_found at the deadline. */
struct sb_wait {
	struct sb_list_node node;
	struct sb_client *c;
	struct sb_sub_opts o;
	char channel[SB_CHAN_MAX_NAME + 1];
	char reason[256];
	int64_t deadline;
};

struct sb_session {
	const struct sb_session_ops *ops;
	void *self;
	int enc;
};

struct sb_hub {
	struct sb_hub_params p;
	struct sb_hub_ops ops;
	struct sb_ingest_rules rules;
	const struct sb_encoder *enc[SB_HUB_MAX_ENCODERS];
	int nenc;
	struct sb_session *sessions[SB_HUB_MAX_ENCODERS];
	int nsessions;
	struct sb_dict *chans;          /* name -> struct sb_chan */
	struct sb_filters *filters;
	struct sb_owners *owners;
	struct sb_dict *reject_log;     /* topic -> (intptr_t) last log s */
	struct sb_cache *cache;
	struct sb_list clients;         /* struct sb_client.node */
	/* channel names and topics as atoms (queue keys), and the pool every
	 * client's queue takes its entries from */
	struct sb_intern *atoms;
	struct sb_qpool qpool;
	size_t nsubs;
	uint64_t next_id;
	int mqtt_up;
	int warm;                       /* sb_hub_warm latched since the link came up */
	struct sb_timers timers;        /* channel deadlines */
	/* live acks (docs/architecture.md): subscriptions waiting for their
	 * channel to be live, subscribes waiting for a resource's owner, HTTP
	 * queries waiting for a channel; each FIFO, so deadline-ordered */
	struct sb_list pending;         /* struct sb_sub.pnode */
	struct sb_list waits;           /* struct sb_wait.node */
	struct sb_list waiters;         /* struct sb_hub_waiter.node */
	char *sync_topic;               /* $statusbus/sync/<bridge id> */
	/* after a lost MQTT session: cached topics the broker has not
	 * replayed yet (topic -> 1); NULL when there is nothing to check */
	struct sb_dict *unconfirmed;
	/* wildcard filters already warned about for an empty replay
	 * (live.c): filter -> 1 */
	struct sb_dict *replay_warned;
	long barrier;                   /* the last barrier number sent */
	long barrier_back;              /* the highest barrier number come back */
	int64_t last_sweep;
	size_t nfollowed;               /* channels held by follow.c */
	/* while a relayed Pusher event is routed: the connection it must
	 * not reach (its sender's socket_id), or NULL */
	const struct sb_client *exclude;
	int follow_full_logged;         /* logs.max_followed reached: said once */
	struct sb_pres *pres;           /* presence.c; NULL: no presence template */
	int fanning_out;                /* live deliveries being queued (their
					   frames' origin_us is measured) */
	struct sb_metrics m;
};

/* Seconds since `us` (sb_now_us()), 0 when it lies ahead. */
static inline double sb_hub__since_s(int64_t us)
{
	int64_t d = sb_now_us() - us;

	return d > 0 ? (double)d / 1e6 : 0.0;
}

/* 1 when m (of kind k) is kept as its topic's last-known message: a
 * retained kind's, a relayed Pusher event's marked cached (relay.h), or,
 * for an unknown topic, a message the broker flagged retained. */
static inline int sb_hub__kept(const struct sb_kind *k, const struct sb_msg *m)
{
	return k ? (k->relay ? m->kept : k->retained) : m->retained;
}

int64_t sb_hub__now(const struct sb_hub *h);
int64_t sb_hub__wall(const struct sb_hub *h);
/* The encoder of id, never NULL for a registered id. */
static inline const struct sb_encoder *sb_hub__enc(const struct sb_hub *h, int id)
{
	return h->enc[id];
}
/* Tells the adapter the next deadline changed. */
void sb_hub__rearm(struct sb_hub *h);
/* The session's error frame for c (counted as a client error). */
void sb_hub__error(struct sb_hub *h, struct sb_client *c, enum sb_code code,
		   const char *channel, const char *msg);
/* 0 when topic must not reach a channel of template t: for a template
 * authorized by a resource's owner (a deploy, an app, a database, a
 * service), a topic of that resource under a prefix other than its owner's
 * (team/43/deploy/<d>/status, team/43/app/<a>/logs for team 42's). */
int sb_hub__topic_allowed(const struct sb_hub *h, const struct sb_chan_tmpl *t,
			  const char *topic);
/* 1 when every MQTT filter of ch is granted and synced. */
int sb_hub__chan_live(const struct sb_hub *h, const struct sb_chan *ch);
/* Asks the ACL again about s (c's); when it no longer allows it, tells
 * the client and removes s (which may free its channel).  1 if removed. */
int sb_hub__sub_recheck(struct sb_hub *h, struct sb_client *c, struct sb_sub *s);
/* ch is going away: its HTTP waiters are answered now. */
void sb_hub__chan_gone(struct sb_hub *h, struct sb_chan *ch);
/* A subscribe that gives up at `deadline` (sb_hub_subscribe: now +
 * limits.subscribe_timeout_ms). */
enum sb_err sb_hub__subscribe_by(struct sb_hub *h, struct sb_client *c,
				 const struct sb_sub_opts *o, struct sb_sub_result *res,
				 int64_t deadline);
/* s resumes ch after `since`: sets what it is owed; returns `recovered`. */
int sb_hub__resume(struct sb_hub *h, struct sb_chan *ch, struct sb_sub *s, int64_t since);
/* Removes one subscription (and releases its channel). */
void sb_hub__sub_remove(struct sb_hub *h, struct sb_client *c, struct sb_sub *s);

/* auth.c: may claims (NULL: none) read channel `name`?  `trusted`: the
 * protocol authorized it itself (a Pusher signature).  On refusal *code
 * is the protocol code (not found, unauthorized, forbidden) and reason
 * says why; mapped to a wire code or HTTP status by the caller. */
enum sb_err sb_auth_channel(struct sb_hub *h, const struct sb_jwt_claims *claims, int trusted,
			    const struct sb_chan_ref *ref, const char *name, enum sb_code *code,
			    char *reason, size_t rlen);

/* ---- live.c: acks that mean live ---- */
enum sb_err sb_live_init(struct sb_hub *h);      /* refs the sync topic */
void sb_live_fini(struct sb_hub *h);
/* The broker granted filter: a barrier follows (or it is synced now). */
void sb_live_suback(struct sb_hub *h, const char *filter);
/* 1 when m was one of the bridge's barriers (consumed: settles what
 * waited for it). */
int sb_live_barrier_msg(struct sb_hub *h, const struct sb_msg *m);
/* A resume (`since`) is answered only once a barrier sent after it came
 * back: everything the broker had delivered to the session before, a
 * backlog queued while the link was down (or the bridge stalled) included,
 * is then in the history, so `recovered` speaks of every line published
 * before the ack.  Sends one and returns its number (0: no broker). */
long sb_live_resume_barrier(struct sb_hub *h);
/* s (pending) waits for its channel until deadline. */
void sb_live_pend(struct sb_hub *h, struct sb_sub *s, int64_t deadline);
/* Parks a subscribe for a resource not known yet; res has the not_found
 * reason for the deadline. */
enum sb_err sb_live_wait_owner(struct sb_hub *h, struct sb_client *c,
			       const struct sb_sub_opts *o, const struct sb_sub_result *res,
			       int64_t deadline);
void sb_live_owner_learned(struct sb_hub *h);
/* The MQTT session was lost: every cached topic must be replayed again. */
void sb_live_session_lost(struct sb_hub *h);
void sb_live_client_gone(struct sb_hub *h, struct sb_client *c);
void sb_live_expire(struct sb_hub *h, int64_t now);
int64_t sb_live_next_deadline(const struct sb_hub *h);
/* An HTTP query waits for ch to be live. */
void sb_live_wait_chan(struct sb_hub *h, struct sb_chan *ch, struct sb_hub_waiter *w);

/* ---- follow.c: logs of active deploys (docs/protocol.md §3.4) ---- */
/* A deploy status was accepted on `topic` (a routed one, not a replay of
 * what the cache held) with the payload's "status" (NULL: the status was
 * deleted): holds the deploy's log channel while the deploy is active
 * (logs.follow "active"), releases it (to linger) when it is not. */
void sb_follow_status(struct sb_hub *h, const char *topic, const char *status);

/* ---- presence.c: presence channels (docs/protocol.md §5.12) ---- */
struct sb_pres;
/* Subscribes the cluster's presence topics when a template has presence. */
enum sb_err sb_pres_init(struct sb_hub *h);
/* Clears this bridge's member lists and says it is offline (clean stop). */
void sb_pres_fini(struct sb_hub *h);
/* 1 when m was a presence message (consumed). */
int sb_pres_msg(struct sb_hub *h, const struct sb_msg *m);
/* The link is up: this bridge is online, its lists are published again. */
void sb_pres_link_up(struct sb_hub *h);
/* c's subscription to ch goes: it leaves ch's members (last connection). */
void sb_pres_sub_gone(struct sb_hub *h, struct sb_client *c, struct sb_chan *ch);
/* Members of every presence channel known here; *channels of them. */
size_t sb_pres_gauge(const struct sb_hub *h, size_t *channels);

#endif
