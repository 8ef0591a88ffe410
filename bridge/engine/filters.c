/* SPDX-License-Identifier: MIT
 *
 * filters.c - reference-counted MQTT filters and their SUBACK state (see
 * filters.h).
 */
#include "filters.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "topic.h"

#define SYNCED ((intptr_t)-1)
#define AWAITED ((intptr_t)1)   /* quiet: no retained message yet */
#define SILENT ((intptr_t)2)    /* quiet: synced with none */

struct sb_filters {
	struct sb_filter_ops ops;
	struct sb_dict *refs;     /* filter -> (intptr_t) users */
	struct sb_dict *active;   /* acknowledged: (intptr_t) barrier awaited,
				   * or SYNCED */
	struct sb_dict *quiet;    /* wildcard filters subscribed that had no
				   * retained message yet: AWAITED or SILENT */
	struct sb_dict *carriers; /* filters ref'd as carriers (value unused) */
	struct sb_dict *carried;  /* filter -> its carrier (the key string in
				   * carriers): not subscribed at the broker */
};

/* A carrier covering f, or NULL. */
static const char *carrier_of(const struct sb_filters *fs, const char *f)
{
	struct sb_dict_iter it;
	const char *g;

	sb_dict_iter_init(&it, fs->carriers);
	while (sb_dict_next(&it, &g, NULL))
		if (strcmp(g, f) != 0 && sb_topic_filter_covers(g, f))
			return g;
	return NULL;
}

/* A subscribe is sent for f: a wildcard filter's replay is awaited. */
static void subscribe(struct sb_filters *fs, const char *f)
{
	if (strpbrk(f, "+#") && sb_dict_set(fs->quiet, f, (void *)AWAITED) != SB_OK)
		sb_dict_del(fs->quiet, f);   /* out of memory: not watched */
	if (fs->ops.subscribe)
		fs->ops.subscribe(fs->ops.ctx, f);
}

enum sb_err sb_filters_create(struct sb_filters **out, const struct sb_filter_ops *ops)
{
	struct sb_filters *fs = calloc(1, sizeof(*fs));

	*out = NULL;
	if (!fs)
		return SB_ERR_NOMEM;
	fs->ops = *ops;
	fs->refs = sb_dict_create(NULL);
	fs->active = sb_dict_create(NULL);
	fs->quiet = sb_dict_create(NULL);
	fs->carriers = sb_dict_create(NULL);
	fs->carried = sb_dict_create(NULL);
	if (!fs->refs || !fs->active || !fs->quiet || !fs->carriers || !fs->carried) {
		sb_filters_destroy(fs);
		return SB_ERR_NOMEM;
	}
	*out = fs;
	return SB_OK;
}

void sb_filters_destroy(struct sb_filters *fs)
{
	if (!fs)
		return;
	sb_dict_destroy(fs->refs);
	sb_dict_destroy(fs->active);
	sb_dict_destroy(fs->quiet);
	sb_dict_destroy(fs->carried);
	sb_dict_destroy(fs->carriers);
	free(fs);
}

enum sb_err sb_filters_ref(struct sb_filters *fs, const char *f)
{
	intptr_t n = (intptr_t)sb_dict_get(fs->refs, f);
	enum sb_err rc = sb_dict_set(fs->refs, f, (void *)(n + 1));

	const char *g;

	if (rc != SB_OK)
		return rc;
	if (n != 0)
		return SB_OK;
	g = carrier_of(fs, f);
	if (!g || sb_dict_set(fs->carried, f, (void *)g) != SB_OK)
		subscribe(fs, f);
	return SB_OK;
}

enum sb_err sb_filters_ref_carrier(struct sb_filters *fs, const char *f)
{
	enum sb_err rc;

	if (sb_dict_get(fs->carried, f) || sb_dict_get(fs->refs, f))
		return SB_ERR_INVAL;   /* a carrier is subscribed from its first ref */
	rc = sb_dict_set(fs->carriers, f, (void *)1);
	if (rc == SB_OK && (rc = sb_filters_ref(fs, f)) != SB_OK)
		sb_dict_del(fs->carriers, f);
	return rc;
}

/* Carrier g goes: what it carried is subscribed on its own (or carried by
 * another carrier). */
static void drop_carrier(struct sb_filters *fs, const char *g)
{
	struct sb_dict_iter it;
	const char *f;
	void *v;

	sb_dict_iter_init(&it, fs->carried);
	while (sb_dict_next(&it, &f, &v))
		if (strcmp((const char *)v, g) == 0)
			sb_dict_set(fs->carried, f, (void *)"");   /* replaces: to re-home */
	sb_dict_del(fs->carriers, g);
	sb_dict_iter_init(&it, fs->carried);
	while (sb_dict_next(&it, &f, &v)) {
		const char *other;

		if (*(const char *)v)
			continue;
		other = carrier_of(fs, f);
		if (other) {
			sb_dict_set(fs->carried, f, (void *)other);   /* replaces */
		} else {
			subscribe(fs, f);
			sb_dict_del(fs->carried, f);   /* frees f: after */
		}
	}
}

int sb_filters_unref(struct sb_filters *fs, const char *f)
{
	intptr_t n = (intptr_t)sb_dict_get(fs->refs, f);

	if (n > 1) {
		sb_dict_set(fs->refs, f, (void *)(n - 1));   /* replaces: cannot fail */
		return 0;
	}
	if (n != 1)
		return 0;
	if (sb_dict_get(fs->carried, f)) {   /* never subscribed */
		sb_dict_del(fs->carried, f);
		sb_dict_del(fs->refs, f);
		return 1;
	}
	if (sb_dict_get(fs->carriers, f))
		drop_carrier(fs, f);
	sb_dict_del(fs->refs, f);
	sb_dict_del(fs->active, f);
	sb_dict_del(fs->quiet, f);
	if (fs->ops.unsubscribe)
		fs->ops.unsubscribe(fs->ops.ctx, f);
	return 1;
}

void sb_filters_link(struct sb_filters *fs, int up)
{
	struct sb_dict_iter it;
	const char *f;

	if (!up) {
		sb_dict_iter_init(&it, fs->active);
		while (sb_dict_next(&it, &f, NULL))
			sb_dict_del(fs->active, f);
		sb_dict_iter_init(&it, fs->quiet);
		while (sb_dict_next(&it, &f, NULL))
			sb_dict_del(fs->quiet, f);
		return;
	}
	sb_dict_iter_init(&it, fs->refs);
	while (sb_dict_next(&it, &f, NULL))
		if (!sb_dict_get(fs->carried, f))
			subscribe(fs, f);
}

void sb_filters_suback(struct sb_filters *fs, const char *f, long barrier)
{
	if (sb_dict_get(fs->refs, f) && !sb_dict_get(fs->carried, f))
		sb_dict_set(fs->active, f, (void *)(intptr_t)(barrier > 0 ? barrier : SYNCED));
}

size_t sb_filters_barrier(struct sb_filters *fs, long barrier)
{
	struct sb_dict_iter it;
	const char *f;
	void *v;
	size_t n = 0;

	sb_dict_iter_init(&it, fs->active);
	while (sb_dict_next(&it, &f, &v)) {
		intptr_t need = (intptr_t)v;
		if (need != SYNCED && need <= barrier) {
			sb_dict_set(fs->active, f, (void *)SYNCED);   /* replaces: cannot fail */
			if (sb_dict_get(fs->quiet, f))
				sb_dict_set(fs->quiet, f, (void *)SILENT);   /* replaces */
			n++;
		}
	}
	return n;
}

void sb_filters_retained(struct sb_filters *fs, const char *topic)
{
	struct sb_dict_iter it;
	const char *f;
	void *v;

	sb_dict_iter_init(&it, fs->quiet);
	while (sb_dict_next(&it, &f, &v))
		if ((intptr_t)v == AWAITED && sb_topic_matches(f, topic))
			sb_dict_del(fs->quiet, f);
}

size_t sb_filters_take_silent(struct sb_filters *fs,
			      void (*fn)(const char *filter, void *user), void *user)
{
	struct sb_dict_iter it;
	const char *f;
	void *v;
	size_t n = 0;

	sb_dict_iter_init(&it, fs->quiet);
	while (sb_dict_next(&it, &f, &v)) {
		if ((intptr_t)v != SILENT)
			continue;
		fn(f, user);
		sb_dict_del(fs->quiet, f);
		n++;
	}
	return n;
}

/* The filter whose broker subscription delivers f's topics. */
static const char *subscribed_as(const struct sb_filters *fs, const char *f)
{
	const char *g = sb_dict_get(fs->carried, f);

	return g ? g : f;
}

int sb_filters_acked(const struct sb_filters *fs, const char *f)
{
	return sb_dict_get(fs->active, subscribed_as(fs, f)) != NULL;
}

int sb_filters_synced(const struct sb_filters *fs, const char *f)
{
	return (intptr_t)sb_dict_get(fs->active, subscribed_as(fs, f)) == SYNCED;
}

int sb_filters_carriers_synced(const struct sb_filters *fs)
{
	struct sb_dict_iter it;
	const char *g;

	sb_dict_iter_init(&it, fs->carriers);
	while (sb_dict_next(&it, &g, NULL))
		if (!sb_filters_synced(fs, g))
			return 0;
	return 1;
}

int sb_filters_carried(const struct sb_filters *fs, const char *f)
{
	return sb_dict_get(fs->carried, f) != NULL;
}

size_t sb_filters_carried_count(const struct sb_filters *fs) { return sb_dict_size(fs->carried); }

int sb_filters_cover(const struct sb_filters *fs, const char *topic)
{
	struct sb_dict_iter it;
	const char *f;

	sb_dict_iter_init(&it, fs->refs);
	while (sb_dict_next(&it, &f, NULL))
		if (sb_topic_matches(f, topic))
			return 1;
	return 0;
}

int sb_filters_cover_synced(const struct sb_filters *fs, const char *topic)
{
	struct sb_dict_iter it;
	const char *f;
	void *v;

	sb_dict_iter_init(&it, fs->active);
	while (sb_dict_next(&it, &f, &v))
		if ((intptr_t)v == SYNCED && sb_topic_matches(f, topic))
			return 1;
	return 0;
}

size_t sb_filters_count(const struct sb_filters *fs)
{
	return sb_dict_size(fs->refs) - sb_dict_size(fs->carried);
}
size_t sb_filters_active(const struct sb_filters *fs) { return sb_dict_size(fs->active); }

size_t sb_filters_list(const struct sb_filters *fs, const char **out, size_t max)
{
	struct sb_dict_iter it;
	const char *f;
	size_t n = 0;

	sb_dict_iter_init(&it, fs->refs);
	while (sb_dict_next(&it, &f, NULL)) {
		if (n < max)
			out[n] = f;
		n++;
	}
	return n;
}
