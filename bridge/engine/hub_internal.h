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
#include "ingest.h"
#include "list.h"
#include "owners.h"
#include "timer.h"

#define SB_DEPLOY_STATUS_FILTER "team/+/deploy/+/status"
#define SB_LINGER_MS 60000
#define SB_SWEEP_MS 1000

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
	size_t nsubs;
	uint64_t next_id;
	int mqtt_up;
	struct sb_timers timers;        /* channel deadlines */
	int64_t last_sweep;
	struct sb_metrics m;
};

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
/* Removes one subscription (and releases its channel). */
void sb_hub__sub_remove(struct sb_hub *h, struct sb_client *c, struct sb_sub *s);

/* auth.c: may claims (NULL: none) read channel `name`?  `trusted`: the
 * protocol authorized it itself (a Pusher signature).  On refusal *code
 * is the protocol code (not found, unauthorized, forbidden) and reason
 * says why; mapped to a wire code or HTTP status by the caller. */
enum sb_err sb_auth_channel(struct sb_hub *h, const struct sb_jwt_claims *claims, int trusted,
			    const struct sb_chan_ref *ref, const char *name, enum sb_code *code,
			    char *reason, size_t rlen);

#endif
