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
};

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
	if (!fs->refs || !fs->active || !fs->quiet) {
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
	free(fs);
}

enum sb_err sb_filters_ref(struct sb_filters *fs, const char *f)
{
	intptr_t n = (intptr_t)sb_dict_get(fs->refs, f);
	enum sb_err rc = sb_dict_set(fs->refs, f, (void *)(n + 1));

	if (rc != SB_OK)
		return rc;
	if (n == 0)
		subscribe(fs, f);
	return SB_OK;
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
		subscribe(fs, f);
}

void sb_filters_suback(struct sb_filters *fs, const char *f, long barrier)
{
	if (sb_dict_get(fs->refs, f))
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

int sb_filters_acked(const struct sb_filters *fs, const char *f)
{
	return sb_dict_get(fs->active, f) != NULL;
}

int sb_filters_synced(const struct sb_filters *fs, const char *f)
{
	return (intptr_t)sb_dict_get(fs->active, f) == SYNCED;
}

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

size_t sb_filters_count(const struct sb_filters *fs) { return sb_dict_size(fs->refs); }
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
