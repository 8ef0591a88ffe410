/* SPDX-License-Identifier: MIT
 *
 * owners.h - which team owns each resource a channel can be authorized by
 * (docs/protocol.md §4: a deploy's channels, and an app's, a database's or
 * a service's runtime logs, are allowed to its owner's members), learned
 * from the retained statuses on team/<team>/<kind>/<uuid>/status for the
 * kinds it is told to track ("deploy", "app", "db", "service").  A
 * resource is named by its kind and its id: an app and a deploy with the
 * same uuid are two resources.
 *
 * The first team seen for a resource keeps it: a status under another
 * team's prefix does not move it, and deleting that status does not free
 * it.  A resource never changes teams while the bridge holds anything of
 * it: when the owner deletes its status, the resource stays its owner's (a
 * tombstone) for as long as a channel of it exists (sb_owners_hold: its
 * subscribers, its log history); only once nothing of it is left is it
 * forgotten, and a later status under any team starts afresh.
 *
 * Two teams claiming one id.  The first team seen is not always the real
 * owner: a starting bridge gets the broker's retained statuses in topic
 * order, not publish order, and a team may publish a status for an id
 * before its owner does.  So a status for a known resource under another
 * team's prefix makes it contested: nobody owns it (sb_owners_get is NULL,
 * the caller drops its subscriptions and refuses new ones) until only one
 * team still has a status for it and nothing of it is held any more; that
 * team then owns it afresh.  Failing closed like this lets a team that
 * knows another's id lock its channels, never read them.
 * Pure module, never logs: every call says what happened and the caller
 * logs.
 */
#ifndef SB_OWNERS_H
#define SB_OWNERS_H

#include <stddef.h>

#include "sb_common.h"

#define SB_OWNERS_MAX_KINDS 8

struct sb_owners;

enum sb_owner_change {
	SB_OWNER_IGNORED = 0,  /* not a status topic of a tracked kind, or bad ids */
	SB_OWNER_SAME,         /* already known with this team */
	SB_OWNER_LEARNED,      /* a new resource and its team */
	SB_OWNER_CONFLICT,     /* known under another team: kept, not moved
				* (a delete under that team's prefix too) */
	SB_OWNER_FORGOTTEN,    /* the owner's status was deleted: dropped */
	SB_OWNER_DELETED,      /* the owner's status was deleted while a channel
				* of the resource holds it: kept, still the owner's */
	SB_OWNER_CONTESTED,    /* another team's status for a resource with an
				* owner: from now on nobody owns it (see above) */
	SB_OWNER_NOMEM,        /* could not record it */
};

/* Tracks no kind yet (sb_owners_track).  Caller frees with
 * sb_owners_destroy() (accepts NULL). */
enum sb_err sb_owners_create(struct sb_owners **out);
void sb_owners_destroy(struct sb_owners *o);
/* Learns the owners of `kind` (an id: "deploy", "app", ...) from now on;
 * tracking a kind twice is one.  SB_ERR_INVAL for a kind that is not an
 * id, SB_ERR_LIMIT past SB_OWNERS_MAX_KINDS. */
enum sb_err sb_owners_track(struct sb_owners *o, const char *kind);
/* 1 when `kind` is tracked. */
int sb_owners_tracks(const struct sb_owners *o, const char *kind);

/* Learns from a message on `topic` (deleted: an empty retained payload).
 * For SB_OWNER_CONFLICT, *owner (may be NULL) points at the team that keeps
 * the resource, valid until the next call. */
enum sb_owner_change sb_owners_learn(struct sb_owners *o, const char *topic, int deleted,
				     const char **owner);
/* team/<t>/<kind>/<id>/<leaf> (exactly five levels) -> t, kind and id
 * (NUL-terminated, at most tlen - 1, klen - 1 and idlen - 1 bytes); returns
 * a pointer to <leaf> inside topic, or NULL when topic has not that shape.
 * The ids are not checked. */
const char *sb_owners_split(const char *topic, char *team, size_t tlen, char *kind,
			    size_t klen, char *id, size_t idlen);
/* A channel of resource (kind, id) exists (hold) or is gone (release):
 * while held, the resource keeps its owner even once the owner's status is
 * deleted.  Holds count; a hold on a resource whose owner is not known yet
 * waits for it.  Release forgets a deleted or never learned resource at the
 * last one. */
enum sb_err sb_owners_hold(struct sb_owners *o, const char *kind, const char *id);
void sb_owners_release(struct sb_owners *o, const char *kind, const char *id);
/* The owning team of (kind, id) (also once deleted, while held), or NULL;
 * borrowed. */
const char *sb_owners_get(const struct sb_owners *o, const char *kind, const char *id);
/* Both answers in one lookup: the owner as sb_owners_get gives it, and
 * *contested = 1 while (kind, id) is claimed by more than one team. */
const char *sb_owners_lookup(const struct sb_owners *o, const char *kind, const char *id,
			     int *contested);
/* 1 while (kind, id) is claimed by more than one team (see above). */
int sb_owners_contested(const struct sb_owners *o, const char *kind, const char *id);
/* Resources with a known owner. */
size_t sb_owners_count(const struct sb_owners *o);

#endif
