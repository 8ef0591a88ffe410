/* SPDX-License-Identifier: MIT
 *
 * cache.h - the bridge's cache of retained messages: the last-known status
 * of every retained topic it is subscribed to, so that a browser joining a
 * channel whose MQTT subscription already exists gets the snapshot at once
 * (docs/protocol.md §3).  Indexed by the first two topic levels
 * ("team/42") so a team's snapshot does not scan other teams.  Pure
 * module, single-threaded.
 */
#ifndef SB_CACHE_H
#define SB_CACHE_H

#include <stddef.h>

#include "frame.h"

struct sb_cache;

/* Caller frees with sb_cache_destroy(). */
struct sb_cache *sb_cache_create(size_t max_topics);
void sb_cache_destroy(struct sb_cache *c);

enum sb_cache_result {
	SB_CACHE_SAME = 0,    /* identical payload already cached */
	SB_CACHE_CHANGED,     /* new topic or new payload: stored */
	SB_CACHE_FULL,        /* max_topics reached: not stored */
	SB_CACHE_NOMEM,
};

/* Stores a reference to m (non-empty payload) as the topic's status. */
enum sb_cache_result sb_cache_put(struct sb_cache *c, struct sb_msg *m);
/* Removes the topic; 1 when it was cached. */
int sb_cache_del(struct sb_cache *c, const char *topic);
/* Borrowed, or NULL. */
struct sb_msg *sb_cache_get(const struct sb_cache *c, const char *topic);
size_t sb_cache_size(const struct sb_cache *c);

/* Calls cb for every cached message whose topic matches `filter`. */
typedef void (*sb_cache_fn)(struct sb_msg *m, void *user);
void sb_cache_foreach(const struct sb_cache *c, const char *filter,
		      sb_cache_fn cb, void *user);

/* Removes every topic matching `filter` for which keep(topic, user)
 * returns 0 (used when an MQTT subscription goes away: what no remaining
 * subscription covers would go stale). */
void sb_cache_evict(struct sb_cache *c, const char *filter,
		    int (*keep)(const char *topic, void *user), void *user);

#endif
