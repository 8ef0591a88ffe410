/* SPDX-License-Identifier: MIT
 *
 * topic.h - MQTT topic names and filters (MQTT 3.1.1 section 4.7) and the
 * id rules of docs/protocol.md §2.  Pure functions, no allocation.
 */
#ifndef SB_TOPIC_H
#define SB_TOPIC_H

#include <stddef.h>

/* 1 when `name` (len bytes, no NUL inside) is a valid topic name to publish
 * to: non-empty, no wildcards, no NUL, at most 65535 bytes. */
int sb_topic_name_valid(const char *name, size_t len);

/* 1 when `filter` is a valid subscription filter: '#' only as the whole last
 * level, '+' only as a whole level. */
int sb_topic_filter_valid(const char *filter);

/* 1 when `topic` matches `filter`.  Per MQTT 4.7.2, a topic starting with
 * '$' is not matched by a filter starting with a wildcard.  Empty levels are
 * levels ("a//b" matches "a/+/b"); "a/#" also matches "a". */
int sb_topic_matches(const char *filter, const char *topic);
/* 1 when filter `wider` matches every topic filter `f` matches (MQTT
 * 3.1.1 §4.7), level by level: '#' covers the rest and its parent level,
 * '+' any one level but not a '#', a name only itself; a wildcard first
 * level covers no '$' topic.  Both valid filters. */
int sb_topic_filter_covers(const char *wider, const char *f);

/* 1 when s[0..len) is an id: [A-Za-z0-9_-]{1,64}. */
int sb_id_valid(const char *s, size_t len);
/* 1 when s[0..len) is a UUID (8-4-4-4-12 hex digits, any case). */
int sb_uuid_valid(const char *s, size_t len);

#endif
