/* SPDX-License-Identifier: MIT
 *
 * relay.h - events of the Pusher HTTP API on their way through the broker
 * (docs/protocol.md §9, docs/pusher.md): the bridge that takes a POST
 * publishes each event on
 *
 *   pusher/<channel>/<event>     QoS 1; retained for cache- channels
 *
 * where <channel> is the statusbus channel name (the Pusher name without
 * its private-, cache- or private-cache- prefix) and <event> the Pusher
 * event name, with this payload (schemas/pusher-event.json):
 *
 *   {"data":"<the event's data, a string>","socket_id":"<sender to skip>","cached":true}
 *
 * socket_id and cached are optional.  Every bridge subscribes
 * pusher/<channel>/+ for each channel it serves and hands such a message to
 * that channel's subscribers: Pusher clients get the event name and data as
 * sent, statusbus.v1 clients an `event` named after it.  MQTT 3.1.1 has no
 * user properties, and a live delivery carries no retain flag, so what the
 * receiving bridges need (the socket to skip, whether to keep the event as
 * the channel's last) travels in the payload.
 *
 * Pure module: builds and reads topics and payloads, never logs.
 */
#ifndef SB_RELAY_H
#define SB_RELAY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "sb_common.h"

#define SB_RELAY_PREFIX "pusher/"
#define SB_RELAY_PREFIX_LEN 7
#define SB_RELAY_MAX_EVENT 200      /* Pusher's longest event name */
#define SB_RELAY_SOCKET_ID_MAX 48   /* "<1-20 digits>.<1-20 digits>" + NUL */

/* 1 when topic is in the relay's namespace (pusher/...). */
int sb_relay_is_topic(const char *topic);
/* The <event> level of a relay topic (a pointer into topic), or NULL when
 * topic is not pusher/<channel>/<event>. */
const char *sb_relay_event(const char *topic);
/* 1 when s[0..len) may be an event name, and so a topic level: 1 to
 * SB_RELAY_MAX_EVENT bytes of UTF-8 with no '+', '#', '/' (MQTT's level
 * separator and wildcards), no control character, and not one of Pusher's
 * own (pusher: and pusher_internal: are the protocol's). */
int sb_relay_event_valid(const char *s, size_t len);
/* The filter of channel `channel`'s relayed events, pusher/<channel>/+,
 * malloc'ed; NULL when out of memory. */
char *sb_relay_filter(const char *channel);
/* Writes pusher/<channel>/<event> into buf; SB_ERR_LIMIT when it does not
 * fit in len. */
enum sb_err sb_relay_topic(char *buf, size_t len, const char *channel, const char *event);

/* The payload for an event with data[0..dlen) (any bytes but NUL; written
 * as a JSON string), socket_id (NULL or "" = none) and cached.  malloc'ed,
 * *outlen its length; NULL when out of memory. */
char *sb_relay_envelope(const char *data, size_t dlen, const char *socket_id, int cached,
			size_t *outlen);

struct sb_relay_env {
	int cached;                              /* keep as the channel's last */
	char socket_id[SB_RELAY_SOCKET_ID_MAX];  /* "" = nobody to skip */
};
/* Reads a parsed payload: SB_OK, or SB_ERR_INVAL with why (no string
 * "data", a "data" holding a NUL, a malformed socket_id, a cached that is
 * not a boolean). */
enum sb_err sb_relay_parse(const cJSON *doc, struct sb_relay_env *out, char *why, size_t whylen);
/* The data string of a payload, unescaped (malloc'ed, NUL-terminated,
 * *dlen bytes); NULL when the payload has none or memory ran out. */
char *sb_relay_data(const char *payload, size_t len, size_t *dlen);

struct sb_buf;
/* Appends a payload's data to b: as a JSON string (Pusher: the data as it
 * was sent), or, with `value`, as the JSON value that string holds when it
 * is one strict JSON text (statusbus.v1: an object, as every other event's
 * data), else as the string.  SB_ERR_NOMEM when out of memory (b is then
 * marked failed), SB_ERR_INVAL when the payload has no data. */
enum sb_err sb_relay_put_data(struct sb_buf *b, const char *payload, size_t len, int value);

#endif
