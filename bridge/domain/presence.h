/* SPDX-License-Identifier: MIT
 *
 * presence.h - the member set of one presence channel (docs/protocol.md
 * §5.12, §9): who is on it, cluster-wide.
 *
 * A member is a user: an id (a token's `sub`, a Pusher `user_id`) and its
 * info (a JSON text: {"name":…} from a token, `user_info` from Pusher's
 * channel_data; NULL = none).  Its presence has two sources:
 *   - local: connections on this bridge, counted per user, so that a user
 *     with several tabs is one member and leaves with its last one;
 *   - remote: the member lists other bridges publish, retained, on
 *     $statusbus/presence/<channel>/<bridge id>, one list per bridge,
 *     replaced as a whole by each publication.
 * A user is a member while any source has it.  Every change reports the
 * users that became members (join) or stopped being one (leave) through a
 * callback, in order, so that joins and leaves are never sent twice.
 *
 * Bounded: at most max_members users; a local join past that is refused
 * (SB_ERR_LIMIT), a remote list's extra users are left out (counted in
 * sb_presence_overflow).
 *
 * The retained payload is {"members":[{"id":"u1","info":{…}},…]}, the
 * local users only (sb_presence_encode, sb_presence_decode).
 *
 * Pure module: no I/O, never logs.
 */
#ifndef SB_PRESENCE_H
#define SB_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "sb_common.h"

#define SB_PRESENCE_MAX_ID 128      /* bytes of a user id (Pusher's limit) */
#define SB_PRESENCE_MAX_INFO 1024   /* bytes of a user's info JSON (Pusher's 1 KB) */

struct sb_presence_set;

/* join = 1: `id` became a member; 0: it is not one any more.  info is the
 * member's (NULL = none), valid during the call. */
typedef void (*sb_presence_change_fn)(void *user, int join, const char *id, const char *info);

struct sb_presence_set *sb_presence_set_create(size_t max_members);
/* Accepts NULL. */
void sb_presence_set_destroy(struct sb_presence_set *s);

/* One more local connection of user id (info: JSON text or NULL).
 * SB_ERR_LIMIT when the set is full and id is not in it; SB_ERR_NOMEM. */
enum sb_err sb_presence_local_add(struct sb_presence_set *s, const char *id, const char *info,
				  sb_presence_change_fn cb, void *user);
/* One local connection of id fewer (nothing when it had none). */
void sb_presence_local_remove(struct sb_presence_set *s, const char *id,
			      sb_presence_change_fn cb, void *user);
/* Bridge `bridge`'s list is now ids[0..n) with infos[0..n) (entries NULL
 * allowed); n = 0 removes the bridge. */
enum sb_err sb_presence_remote_set(struct sb_presence_set *s, const char *bridge,
				   char *const *ids, char *const *infos, size_t n,
				   sb_presence_change_fn cb, void *user);

/* Members (distinct users), local connections, bridges with a list. */
size_t sb_presence_count(const struct sb_presence_set *s);
size_t sb_presence_local_conns(const struct sb_presence_set *s);
size_t sb_presence_bridges(const struct sb_presence_set *s);
/* 1 when bridge has a (non-empty) list here. */
int sb_presence_has_bridge(const struct sb_presence_set *s, const char *bridge);
/* Remote users left out because the set was full, so far. */
uint64_t sb_presence_overflow(const struct sb_presence_set *s);
/* 1 when id is a member. */
int sb_presence_has(const struct sb_presence_set *s, const char *id);
/* Every member, sorted by id (a stable answer for lists and hashes). */
typedef void (*sb_presence_member_fn)(void *user, const char *id, const char *info);
void sb_presence_foreach(const struct sb_presence_set *s, sb_presence_member_fn fn, void *user);

/* The retained payload of this bridge's local members; malloc'ed (*len
 * bytes), NULL when out of memory. */
char *sb_presence_encode(const struct sb_presence_set *s, size_t *len);
/* Reads a payload: *ids and *infos (malloc'ed arrays of malloc'ed strings,
 * free with sb_presence_list_free), *n entries, at most `max`.  SB_ERR_INVAL
 * with why when it is not such a payload. */
enum sb_err sb_presence_decode(const char *payload, size_t len, size_t max, char ***ids,
			       char ***infos, size_t *n, char *why, size_t whylen);
void sb_presence_list_free(char **ids, char **infos, size_t n);

/* A user id as a topic level and a key: 1 to SB_PRESENCE_MAX_ID bytes of
 * printable UTF-8 (no control characters). */
int sb_presence_id_valid(const char *id, size_t len);

/* The broker topics of presence (docs/protocol.md §5.12). */
#define SB_PRESENCE_TOPIC_PREFIX "$statusbus/presence/"
#define SB_PRESENCE_BRIDGES_PREFIX "$statusbus/bridges/"
/* A channel name or bridge id as one topic level (decode = 0) and back
 * (decode = 1), into out[0..outlen): '.' is ':' in the topic, since NATS's
 * MQTT listener refuses a '.' in a topic (it maps '/' to '.'); neither
 * holds a ':'.  out may be s.  Returns out. */
const char *sb_presence_topic_level(char *out, size_t outlen, const char *s, int decode);

/* statusbus.v1 frames (docs/protocol.md §5.12): the presence.join /
 * presence.leave event, data {"sub":id[,"name":info.name][,"info":info]}
 * ("info" only when it holds more than a name), and the answer to
 * {"op":"presence"}.  NULL when out of memory. */
struct sb_frame *sb_presence_v1_event(const char *channel, int join, const char *id,
				      const char *info);
struct sb_frame *sb_presence_v1_list(int has_id, int64_t req_id, const char *channel,
				     const struct sb_presence_set *s);
/* Appends the v1 member object of (id, info) to b. */
void sb_presence_v1_member(struct sb_buf *b, const char *id, const char *info);

#endif
