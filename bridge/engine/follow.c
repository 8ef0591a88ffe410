/* SPDX-License-Identifier: MIT
 *
 * follow.c - logs of active deploys are followed by the bridge from their
 * first line, whether or not a browser watches yet (docs/protocol.md
 * §3.4), so that a viewer who opens a deploy mid-way, or just after it
 * ended, gets its history from line 1 (up to the ring's bound).
 *
 * The deploy statuses tell: while team/<t>/deploy/<d>/status says created,
 * queued or running, the channel deploy.<d>.logs is held (struct sb_chan
 * `held`): it exists, its MQTT filter is subscribed and its history ring
 * fills with no subscriber, and neither the last subscriber leaving nor a
 * linger deadline frees it.  Any other status (finished, failed, cancelled)
 * or a deleted one releases the hold, and the channel then lingers like any
 * log channel whose last subscriber left (60 s after the last one), so a
 * late viewer after the finish still gets the lines.  logs.follow
 * "watched" turns this off; logs.max_followed bounds the channels held.
 *
 * Where the stream starts.  A channel starts unsure (channel.c): having
 * seen no line, the bridge cannot tell whether lines were published before
 * it listened.  A deploy that is created or queued has written no line yet
 * (docs/protocol.md §2: a job numbers its lines 1, 2, 3, ... from its
 * start), so a channel created for one here knows its stream starts at
 * line 1: a resume from since=0 is recovered, and a first line above 1 is
 * a jump.  That holds only if the subscription is live before the job
 * starts writing: the job's `running` status is published before its
 * lines, and the broker delivers to the bridge in order, so a `running`
 * (or later) status that arrives while the channel's filter is not yet
 * live (granted and synced, live.c) and no line has come makes the stream
 * unsure again.  A deploy first seen running (the bridge started mid-way)
 * stays unsure until its first line, and a resume from since=0 then gets
 * recovered: false and a gap for the lines before the first one held.
 */
#include "hub_internal.h"

#include <stdio.h>
#include <string.h>

#include "topic.h"

static int is_status(const char *status, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(status, *set) == 0)
			return 1;
	return 0;
}

/* An active deploy: its logs are followed. */
static int active(const char *status)
{
	static const char *const set[] = { "created", "queued", "running", NULL };

	return status && is_status(status, set);
}

/* A deploy that has not started: it has written no line yet. */
static int not_started(const char *status)
{
	static const char *const set[] = { "created", "queued", NULL };

	return status && is_status(status, set);
}

/* The log channel of `deploy` (name: SB_CHAN_MAX_NAME + 1 bytes); 0 when
 * the channel map has none with history. */
static int logs_channel(const struct sb_hub *h, const char *deploy, struct sb_chan_ref *ref,
			char *name)
{
	char reason[128];
	int n = snprintf(name, SB_CHAN_MAX_NAME + 1, "deploy.%s.logs", deploy);

	if (n < 0 || n > SB_CHAN_MAX_NAME ||
	    sb_chanmap_parse(h->p.map, name, (size_t)n, ref, reason, sizeof(reason)) != SB_OK ||
	    ref->tmpl->delivery.history_lines <= 0)
		return 0;
	sb_chanmap_name(ref, name, SB_CHAN_MAX_NAME + 1);
	return 1;
}

static void hold(struct sb_hub *h, const struct sb_chan_ref *ref, const char *name,
		 struct sb_chan *ch, const char *status)
{
	int fresh = !ch;

	if (h->nfollowed >= (size_t)h->p.cfg->logs_max_followed) {
		h->m.follow_refused++;
		if (!h->follow_full_logged)
			sb_log(SB_LOG_WARN, "%s: logs.max_followed (%d) reached: followed only while "
			       "watched (further refusals counted, not logged)", name,
			       h->p.cfg->logs_max_followed);
		h->follow_full_logged = 1;
		return;
	}
	if (!ch && !(ch = sb_chan_get(h, ref, name))) {
		h->m.drop_nomem++;
		return;
	}
	ch->held = 1;
	h->nfollowed++;
	if (fresh && not_started(status))
		ch->seq_unsure = 0;   /* no line yet, and the first one is line 1 */
	if (ch->linger_until) {
		ch->linger_until = 0;   /* held: no longer lingering */
		sb_chan_rearm(h, ch);
	}
}

static void unhold(struct sb_hub *h, struct sb_chan *ch)
{
	ch->held = 0;
	h->nfollowed--;
	if (h->nfollowed < (size_t)h->p.cfg->logs_max_followed)
		h->follow_full_logged = 0;
	sb_chan_release(h, ch);   /* lingers once no subscriber is left */
}

void sb_follow_status(struct sb_hub *h, const char *topic, const char *status)
{
	char team[SB_PARAM_MAX + 1], kind[SB_PARAM_MAX + 1], deploy[SB_PARAM_MAX + 1];
	char name[SB_CHAN_MAX_NAME + 1];
	const char *owner, *leaf;
	int contested;
	struct sb_chan_ref ref;
	struct sb_chan *ch;

	/* deploys only: an app's, a database's or a service's runtime logs are
	 * endless and followed only while watched */
	if (!h->p.cfg->logs_follow_active ||
	    !(leaf = sb_owners_split(topic, team, sizeof(team), kind, sizeof(kind), deploy,
				     sizeof(deploy))) ||
	    strcmp(leaf, "status") != 0 || strcmp(kind, "deploy") != 0 ||
	    !sb_uuid_valid(deploy, strlen(deploy)))
		return;
	/* a status under another team's prefix does not speak for the deploy
	 * (owners.h: the first team seen keeps it) */
	owner = sb_owners_lookup(h->owners, "deploy", deploy, &contested);
	if (owner && strcmp(owner, team) != 0)
		return;   /* a status, or a delete, under another team's prefix */
	if (!logs_channel(h, deploy, &ref, name))
		return;
	ch = sb_dict_get(h->chans, name);
	/* claimed by two teams: nobody may read it, so nothing is followed
	 * (what is held lingers and goes; owners.h) */
	if (contested) {
		if (ch && ch->held)
			unhold(h, ch);
		return;
	}
	if (ch && !ch->seq_unsure && !ch->last_seq && !not_started(status) &&
	    !sb_hub__chan_live(h, ch))
		/* the job may be writing before the bridge listens */
		ch->seq_unsure = 1;
	if (active(status)) {
		if (!ch || !ch->held)
			hold(h, &ref, name, ch, status);
	} else if (ch && ch->held) {
		unhold(h, ch);
	}
}
