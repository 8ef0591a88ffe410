/* SPDX-License-Identifier: MIT
 *
 * filters.h - the bridge's MQTT subscriptions, reference-counted over
 * channels: N channels (and so N browsers) on one filter cost one broker
 * subscription, and the last release unsubscribes.  Also the set the
 * broker acknowledged (SUBACK), cleared when the link drops, and the
 * resubscription of every filter when it comes back (Paho does not).
 *
 * A filter is *synced* once a replay barrier sent after its SUBACK came
 * back (docs/architecture.md, "Live acks"): from then on the broker's
 * retained replay for it is in the cache and nothing published on it is
 * missed.  Barriers are numbered by the caller; one coming back syncs every
 * filter that waited for it or an earlier one.
 *
 * A wildcard filter is also watched for its retained replay: one whose
 * barrier comes back with no retained message matching it since it was
 * subscribed is *silent* (a broker that sends no retained messages to
 * wildcard subscriptions, like RabbitMQ's MQTT plugin, or simply nothing
 * retained under it); the caller takes those and decides.
 *
 * Knows no protocol and no channel: it calls subscribe/unsubscribe through
 * the ops it is given.  Single-threaded (the service thread).
 */
#ifndef SB_FILTERS_H
#define SB_FILTERS_H

#include <stddef.h>

#include "sb_common.h"

struct sb_filters;

struct sb_filter_ops {
	void *ctx;
	void (*subscribe)(void *ctx, const char *filter);     /* may be NULL */
	void (*unsubscribe)(void *ctx, const char *filter);   /* may be NULL */
};

/* Caller frees with sb_filters_destroy() (accepts NULL).  ops is copied. */
enum sb_err sb_filters_create(struct sb_filters **out, const struct sb_filter_ops *ops);
void sb_filters_destroy(struct sb_filters *fs);

/* One more user of `filter`; the first subscribes. */
enum sb_err sb_filters_ref(struct sb_filters *fs, const char *filter);
/* A filter the bridge keeps for its life (the owners' team/+/<kind>/+/
 * status): ref'd as a *carrier*, before the filters it covers.  A filter
 * first ref'd while a carrier covers it (sb_topic_filter_covers) is
 * *carried*: not subscribed at the broker, since the carrier's
 * subscription already brings every message of it (and a second,
 * overlapping subscription would make some brokers, NATS among them,
 * send each message twice); it is acknowledged and synced when its
 * carrier is.  When a carrier goes, what it carried is subscribed on its
 * own.  SB_ERR_INVAL when the filter is already in use. */
enum sb_err sb_filters_ref_carrier(struct sb_filters *fs, const char *filter);
/* 1 when every carrier is synced (none: 1). */
int sb_filters_carriers_synced(const struct sb_filters *fs);
/* 1 when `filter` is in use and carried; how many are. */
int sb_filters_carried(const struct sb_filters *fs, const char *filter);
size_t sb_filters_carried_count(const struct sb_filters *fs);
/* One user less.  Returns 1 when that was the last one (the filter was
 * unsubscribed, or was carried), 0 otherwise. */
int sb_filters_unref(struct sb_filters *fs, const char *filter);
/* The link came up (every filter is subscribed again) or went down (no
 * filter is acknowledged any more). */
void sb_filters_link(struct sb_filters *fs, int up);
/* The broker acknowledged `filter` (ignored when nobody uses it); it is
 * synced when barrier number `barrier` (> 0) comes back. */
void sb_filters_suback(struct sb_filters *fs, const char *filter, long barrier);
/* Barrier number `barrier` came back: every filter waiting for it or an
 * earlier one is synced.  Returns how many became so. */
size_t sb_filters_barrier(struct sb_filters *fs, long barrier);
/* A retained message on `topic` arrived: the wildcard filters waiting for
 * their replay that match it are not silent. */
void sb_filters_retained(struct sb_filters *fs, const char *topic);
/* Calls fn for every wildcard filter synced with no retained message
 * since it was subscribed (see above), once each, and forgets it; returns
 * how many. */
size_t sb_filters_take_silent(struct sb_filters *fs,
			      void (*fn)(const char *filter, void *user), void *user);
/* 1 when `filter` is in use and acknowledged (synced or not). */
int sb_filters_acked(const struct sb_filters *fs, const char *filter);
/* 1 when `filter` is in use, acknowledged and synced. */
int sb_filters_synced(const struct sb_filters *fs, const char *filter);
/* 1 when some filter in use matches topic. */
int sb_filters_cover(const struct sb_filters *fs, const char *topic);
/* 1 when some synced filter matches topic. */
int sb_filters_cover_synced(const struct sb_filters *fs, const char *topic);
/* Filters subscribed at the broker (in use and not carried). */
size_t sb_filters_count(const struct sb_filters *fs);
size_t sb_filters_active(const struct sb_filters *fs);
/* Up to max filters in use (borrowed strings); returns how many exist. */
size_t sb_filters_list(const struct sb_filters *fs, const char **out, size_t max);

#endif
