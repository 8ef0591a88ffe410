/* SPDX-License-Identifier: MIT
 *
 * owners.h - which team owns each deploy, learned from the retained
 * statuses on team/<team>/deploy/<uuid>/status (docs/protocol.md §4: a
 * deploy's channels are allowed to its owner's members).
 *
 * The first team seen for a deploy keeps it: a status under another team's
 * prefix does not move it, and deleting that status does not free it.  A
 * deploy never changes teams while the bridge holds anything of it: when
 * the owner deletes its status, the deploy stays its owner's (a tombstone)
 * for as long as a channel of the deploy exists (sb_owners_hold: its
 * subscribers, its log history); only once nothing of it is left is it
 * forgotten, and a later status under any team starts afresh.
 * Pure module, never logs: every call says what happened and the caller
 * logs.
 */
#ifndef SB_OWNERS_H
#define SB_OWNERS_H

#include <stddef.h>

#include "sb_common.h"

struct sb_owners;

enum sb_owner_change {
	SB_OWNER_IGNORED = 0,  /* not a deploy status topic, or bad ids */
	SB_OWNER_SAME,         /* already known with this team */
	SB_OWNER_LEARNED,      /* a new deploy and its team */
	SB_OWNER_CONFLICT,     /* known under another team: kept, not moved
				* (a delete under that team's prefix too) */
	SB_OWNER_FORGOTTEN,    /* the owner's status was deleted: dropped */
	SB_OWNER_DELETED,      /* the owner's status was deleted while a channel
				* of the deploy holds it: kept, still the owner's */
	SB_OWNER_NOMEM,        /* could not record it */
};

/* Caller frees with sb_owners_destroy() (accepts NULL). */
enum sb_err sb_owners_create(struct sb_owners **out);
void sb_owners_destroy(struct sb_owners *o);

/* Learns from a message on `topic` (deleted: an empty retained payload).
 * For SB_OWNER_CONFLICT, *owner (may be NULL) points at the team that keeps
 * the deploy, valid until the next call. */
enum sb_owner_change sb_owners_learn(struct sb_owners *o, const char *topic, int deleted,
				     const char **owner);
/* team/<t>/deploy/<d>/status -> t and d (NUL-terminated, at most tlen - 1
 * and dlen - 1 bytes); 0 when topic is not one. */
int sb_owners_split(const char *topic, char *team, size_t tlen, char *deploy, size_t dlen);
/* A channel of `deploy` exists (hold) or is gone (release): while held,
 * the deploy keeps its owner even once the owner's status is deleted.
 * Holds count; a hold on a deploy whose owner is not known yet waits for
 * it.  Release forgets a deleted or never learned deploy at the last one. */
enum sb_err sb_owners_hold(struct sb_owners *o, const char *deploy);
void sb_owners_release(struct sb_owners *o, const char *deploy);
/* The owning team of `deploy` (also once deleted, while held), or NULL;
 * borrowed. */
const char *sb_owners_get(const struct sb_owners *o, const char *deploy);
/* Deploys with a known owner. */
size_t sb_owners_count(const struct sb_owners *o);

#endif
