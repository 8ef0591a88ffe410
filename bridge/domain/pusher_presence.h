/* SPDX-License-Identifier: MIT
 *
 * pusher_presence.h - Pusher presence channels on the wire (docs/pusher.md,
 * docs/protocol.md §9): the channel_data of a presence subscription, and
 * the frames that carry a member set.
 *
 *   channel_data  {"user_id":"<id>","user_info":{…}} as the app's auth
 *                 endpoint signed it ("<socket_id>:<channel>:<channel_data>",
 *                 sb_pusher_verify_data); user_id a string or an integer
 *                 (Laravel sends numbers), user_info any JSON, optional
 *   subscription_succeeded  data {"presence":{"ids":[…],"hash":{id:info},"count":n}}
 *   member_added  data {"user_id":id,"user_info":info}
 *   member_removed  data {"user_id":id}
 *
 * Pure module: no state, never logs.
 */
#ifndef SB_PUSHER_PRESENCE_H
#define SB_PUSHER_PRESENCE_H

#include <stddef.h>

#include "frame.h"
#include "presence.h"
#include "sb_common.h"

/* The longest channel_data taken: a user id and 1 KB of user_info
 * (Pusher's limits) with room for the JSON around them. */
#define SB_PUSHER_MAX_CHANNEL_DATA 2048

/* Reads channel_data (NUL-terminated): the user id into id[SB_PRESENCE_MAX_ID
 * + 1] and user_info as compact JSON into *info (malloc'ed; NULL when
 * absent or null).  SB_ERR_INVAL with a reason for the client when it is
 * missing, too big, not a JSON object, or has no usable user_id;
 * SB_ERR_NOMEM. */
enum sb_err sb_pusher_channel_data(const char *cd, char id[SB_PRESENCE_MAX_ID + 1], char **info,
				   char *reason, size_t reasonlen);

/* Frames on "presence-<channel>" (channel: the statusbus name; s NULL: no
 * members); NULL when out of memory. */
struct sb_frame *sb_pusher_presence_succeeded_frame(const char *channel,
						    const struct sb_presence_set *s);
struct sb_frame *sb_pusher_member_frame(const char *channel, int added, const char *id,
					const char *info);

#endif
