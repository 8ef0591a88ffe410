/* SPDX-License-Identifier: MIT
 *
 * dict.c - string-keyed hash table (FNV-1a, power-of-two buckets, doubling
 * at load factor 1).
 */
#include "dict.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	void *value;
	size_t hash;
	char key[];
};

struct sb_dict {
	struct entry **buckets;   /* &one until the second entry */
	size_t nbuckets, size;
	sb_dict_free_fn free_value;
	/* most dicts stay empty or hold one entry (a client's subscriptions,
	 * its queue's indexes): one inline bucket, no array, until then */
	struct entry *one;
};

#define FIRST_BUCKETS 4

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

struct sb_dict *sb_dict_create(sb_dict_free_fn free_value)
{
	struct sb_dict *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->nbuckets = 1;
	d->buckets = &d->one;
	d->free_value = free_value;
	return d;
}

void sb_dict_destroy(struct sb_dict *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nbuckets; i++) {
		struct entry *e = d->buckets[i];
		while (e) {
			struct entry *n = e->next;
			if (d->free_value)
				d->free_value(e->value);
			free(e);
			e = n;
		}
	}
	if (d->buckets != &d->one)
		free(d->buckets);
	free(d);
}

static struct entry **find(const struct sb_dict *d, const char *key, size_t h)
{
	struct entry **pp = &d->buckets[h & (d->nbuckets - 1)];

	while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
		pp = &(*pp)->next;
	return pp;
}

void *sb_dict_get(const struct sb_dict *d, const char *key)
{
	struct entry *e = *find(d, key, hash_str(key));

	return e ? e->value : NULL;
}

const char *sb_dict_key(const struct sb_dict *d, const char *key)
{
	struct entry *e = *find(d, key, hash_str(key));

	return e ? e->key : NULL;
}

static void grow(struct sb_dict *d)
{
	size_t n = d->buckets == &d->one ? FIRST_BUCKETS : d->nbuckets * 2;
	struct entry **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* keep the longer chains; still correct */
	for (size_t i = 0; i < d->nbuckets; i++) {
		struct entry *e = d->buckets[i];
		while (e) {
			struct entry *next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	if (d->buckets != &d->one)
		free(d->buckets);
	d->one = NULL;
	d->buckets = nb;
	d->nbuckets = n;
}

enum sb_err sb_dict_set(struct sb_dict *d, const char *key, void *value)
{
	size_t h = hash_str(key), len;
	struct entry **pp = find(d, key, h), *e;

	if (*pp) {
		if (d->free_value && (*pp)->value != value)
			d->free_value((*pp)->value);
		(*pp)->value = value;
		return SB_OK;
	}
	len = strlen(key);
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return SB_ERR_NOMEM;
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->value = value;
	e->next = NULL;
	*pp = e;
	if (++d->size > d->nbuckets)
		grow(d);
	return SB_OK;
}

void *sb_dict_take(struct sb_dict *d, const char *key)
{
	struct entry **pp = find(d, key, hash_str(key)), *e = *pp;
	void *v;

	if (!e)
		return NULL;
	*pp = e->next;
	v = e->value;
	free(e);
	d->size--;
	return v;
}

enum sb_err sb_dict_del(struct sb_dict *d, const char *key)
{
	struct entry **pp = find(d, key, hash_str(key)), *e = *pp;

	if (!e)
		return SB_ERR_NOTFOUND;
	*pp = e->next;
	if (d->free_value)
		d->free_value(e->value);
	free(e);
	d->size--;
	return SB_OK;
}

size_t sb_dict_size(const struct sb_dict *d) { return d->size; }

void sb_dict_iter_init(struct sb_dict_iter *it, const struct sb_dict *d)
{
	it->d = d;
	it->bucket = 0;
	it->entry = NULL;
	it->next = d->nbuckets ? d->buckets[0] : NULL;
}

int sb_dict_next(struct sb_dict_iter *it, const char **key, void **value)
{
	struct entry *e = it->next;

	while (!e) {
		if (++it->bucket >= it->d->nbuckets)
			return 0;
		e = it->d->buckets[it->bucket];
	}
	it->entry = e;
	it->next = e->next;
	if (key)
		*key = e->key;
	if (value)
		*value = e->value;
	return 1;
}
