/* SPDX-License-Identifier: MIT
 *
 * chanmap.h - the channel map of docs/protocol.md §3: channel name templates
 * ("deploy.{deploy:uuid}.logs") with their MQTT topic templates
 * ("deploy/{deploy}/logs"), ACL rule and delivery mode.
 *
 * Three directions: a channel name from a browser is parsed against the
 * templates (parameters validated, never spliced into a topic unchecked);
 * a parsed channel gives its MQTT filters; an MQTT topic gives the channel
 * names it belongs to (the routing index: cost proportional to the number
 * of templates, not of clients).  Pure module.
 */
#ifndef SB_CHANMAP_H
#define SB_CHANMAP_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "sb_common.h"

#define SB_CHAN_MAX_PARAMS 4
#define SB_CHAN_MAX_NAME 256
#define SB_PARAM_MAX 64

enum sb_delivery_mode { SB_DELIVER_IMMEDIATE = 0, SB_DELIVER_BATCH, SB_DELIVER_CONFLATE };
/* DEPLOY, APP, DB, SERVICE: the owning team of the resource named by the
 * rule's parameter (docs/protocol.md §4.2), see sb_acl_owned_kind(). */
enum sb_acl_rule {
	SB_ACL_TEAM = 0, SB_ACL_DEPLOY, SB_ACL_USER, SB_ACL_PUBLIC, SB_ACL_CLAIMS,
	SB_ACL_APP, SB_ACL_DB, SB_ACL_SERVICE,
};
enum sb_param_type { SB_PARAM_ID = 0, SB_PARAM_UUID };

struct sb_delivery {
	enum sb_delivery_mode mode;
	int max_events;        /* batch: flush at this many events */
	int max_delay_ms;      /* batch: or this long after the first */
	int interval_ms;       /* conflate: flush period */
	int history_lines;     /* batch channels with seq: resume history */
	size_t history_bytes;
};

struct sb_chan_seg {
	char *lit;     /* literal segment, or NULL for a parameter */
	int param;     /* parameter index when lit == NULL */
};

struct sb_chan_tmpl {
	char *name;                       /* as written in the config */
	struct sb_chan_seg *segs;
	size_t nsegs;
	char *param_names[SB_CHAN_MAX_PARAMS];
	enum sb_param_type param_types[SB_CHAN_MAX_PARAMS];
	int nparams;
	char **topics;                    /* topic templates */
	size_t ntopics;
	enum sb_acl_rule acl;
	int acl_param;                    /* index of the ACL rule's param, -1 */
	struct sb_delivery delivery;
	int presence;                     /* "presence": true (docs/protocol.md §5.12) */
	size_t index;                     /* position in the map */
};

struct sb_chan_ref {
	const struct sb_chan_tmpl *tmpl;
	char params[SB_CHAN_MAX_PARAMS][SB_PARAM_MAX + 1];
};

struct sb_chanmap;

/* Builds the map from the config's "channels" array.  On error `err` names
 * the entry and key.  Caller frees with sb_chanmap_destroy(). */
enum sb_err sb_chanmap_from_json(struct sb_chanmap **out, const cJSON *channels,
				 char *err, size_t errlen);
/* The map shipped in examples/bridge.json, used when the config has no
 * "channels". */
enum sb_err sb_chanmap_default(struct sb_chanmap **out, char *err, size_t errlen);
void sb_chanmap_destroy(struct sb_chanmap *map);

size_t sb_chanmap_count(const struct sb_chanmap *map);
/* 1 when a template has "presence": true. */
int sb_chanmap_has_presence(const struct sb_chanmap *map);
const struct sb_chan_tmpl *sb_chanmap_at(const struct sb_chanmap *map, size_t i);

/* Parses a channel name (len bytes; may contain NUL, which is refused).
 *   SB_ERR_INVAL     empty, too long, an empty segment, '+', '#', '/', NUL,
 *                    control characters, or a parameter of the wrong shape
 *   SB_ERR_NOTFOUND  well formed but no template has that shape
 * `reason` gets a message for the client. */
enum sb_err sb_chanmap_parse(const struct sb_chanmap *map, const char *name,
			     size_t len, struct sb_chan_ref *out,
			     char *reason, size_t reasonlen);

/* The MQTT filters of a parsed channel, malloc'ed; free with
 * sb_chanmap_free_filters(). */
enum sb_err sb_chanmap_filters(const struct sb_chan_ref *ref, char ***out,
			       size_t *n);
void sb_chanmap_free_filters(char **filters, size_t n);

/* Writes the channel name of `ref` into buf (SB_CHAN_MAX_NAME + 1). */
void sb_chanmap_name(const struct sb_chan_ref *ref, char *buf, size_t buflen);

/* Calls cb once for every channel `topic` belongs to, with its name (a
 * stack buffer, copy it to keep it).  A name that would be longer than
 * SB_CHAN_MAX_NAME is no channel: nobody can subscribe to it. */
typedef void (*sb_chanmap_route_fn)(const char *chan,
				    const struct sb_chan_tmpl *tmpl, void *user);
void sb_chanmap_route(const struct sb_chanmap *map, const char *topic,
		      sb_chanmap_route_fn cb, void *user);

/* The resource kind whose owner a rule asks for, which is also the
 * rule's name, its parameter's name and the topic level of the resource's
 * status (team/<t>/<kind>/<uuid>/status): "deploy", "app", "db",
 * "service"; NULL for a rule that names no owned resource.  Static. */
const char *sb_acl_owned_kind(enum sb_acl_rule rule);

/* The parameter `name` of ref, or NULL. */
const char *sb_chan_param(const struct sb_chan_ref *ref, const char *name);

/* Topic kinds (schemas/topics.json): event name, retention and schema of
 * every topic of the tree. */
struct sb_kind {
	char *filter;
	char *event;
	char *schema;      /* schema file name, or NULL */
	int retained;
	/* "relay": true, the Pusher API's pusher/<channel>/<event> (relay.h):
	 * the event is named by the topic's last level, kept as last-known
	 * when the payload says so, and delivered at once on any channel */
	int relay;
};
struct sb_kinds;

enum sb_err sb_kinds_load(struct sb_kinds **out, const char *path,
			  char *err, size_t errlen);
void sb_kinds_destroy(struct sb_kinds *kinds);
/* First kind whose filter matches `topic`, or NULL. */
const struct sb_kind *sb_kinds_lookup(const struct sb_kinds *kinds,
				      const char *topic);
size_t sb_kinds_count(const struct sb_kinds *kinds);
const struct sb_kind *sb_kinds_at(const struct sb_kinds *kinds, size_t i);

#endif
