/* SPDX-License-Identifier: MIT
 *
 * intern.c - interned strings: a slot array indexed by atom and an
 * open-addressing (linear probing, backward-shift deletion) table of atoms
 * keyed by the string's hash.
 */
#include "intern.h"

#include <stdlib.h>
#include <string.h>

struct slot {
	char *s;           /* NULL: free id, next_free links it */
	size_t len;
	uint32_t hash;
	uint32_t refs;
	uint32_t next_free;
};

struct sb_intern {
	struct slot *slots;   /* index = atom; slots[0] unused */
	uint32_t nslots, cap_slots;
	uint32_t free_head;   /* 0 = none */
	uint32_t *table;      /* atoms; 0 = empty */
	size_t mask;          /* table size - 1 (a power of two) */
	size_t count;
};

static uint32_t hash_of(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

struct sb_intern *sb_intern_create(void)
{
	struct sb_intern *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->mask = 63;
	t->table = calloc(t->mask + 1, sizeof(*t->table));
	t->cap_slots = 64;
	t->slots = calloc(t->cap_slots, sizeof(*t->slots));
	if (!t->table || !t->slots) {
		sb_intern_destroy(t);
		return NULL;
	}
	t->nslots = 1;
	return t;
}

void sb_intern_destroy(struct sb_intern *t)
{
	if (!t)
		return;
	if (t->slots)
		for (uint32_t i = 1; i < t->nslots; i++)
			free(t->slots[i].s);
	free(t->slots);
	free(t->table);
	free(t);
}

/* The table position holding the atom of s, or of the empty cell where it
 * would go. */
static size_t probe(const struct sb_intern *t, const char *s, size_t len, uint32_t h)
{
	size_t i = h & t->mask;

	for (;;) {
		uint32_t a = t->table[i];
		const struct slot *sl;

		if (!a)
			return i;
		sl = &t->slots[a];
		if (sl->hash == h && sl->len == len && memcmp(sl->s, s, len) == 0)
			return i;
		i = (i + 1) & t->mask;
	}
}

uint32_t sb_intern_find(const struct sb_intern *t, const char *s, size_t len)
{
	return t->table[probe(t, s, len, hash_of(s, len))];
}

static int grow_table(struct sb_intern *t)
{
	size_t n = (t->mask + 1) * 2;
	uint32_t *nt = calloc(n, sizeof(*nt));

	if (!nt)
		return -1;
	for (size_t i = 0; i <= t->mask; i++) {
		uint32_t a = t->table[i];
		size_t j;

		if (!a)
			continue;
		for (j = t->slots[a].hash & (n - 1); nt[j]; j = (j + 1) & (n - 1))
			;
		nt[j] = a;
	}
	free(t->table);
	t->table = nt;
	t->mask = n - 1;
	return 0;
}

/* A free id (its slot zeroed), or 0 when out of memory. */
static uint32_t new_id(struct sb_intern *t)
{
	uint32_t a;

	if (t->free_head) {
		a = t->free_head;
		t->free_head = t->slots[a].next_free;
		return a;
	}
	if (t->nslots == UINT32_MAX)
		return 0;
	if (t->nslots == t->cap_slots) {
		uint32_t nc = t->cap_slots > UINT32_MAX / 2 ? UINT32_MAX : t->cap_slots * 2;
		struct slot *ns = realloc(t->slots, (size_t)nc * sizeof(*ns));

		if (!ns)
			return 0;
		memset(ns + t->cap_slots, 0, (size_t)(nc - t->cap_slots) * sizeof(*ns));
		t->slots = ns;
		t->cap_slots = nc;
	}
	return t->nslots++;
}

uint32_t sb_intern_ref(struct sb_intern *t, const char *s, size_t len)
{
	uint32_t h = hash_of(s, len), a;
	size_t i;
	struct slot *sl;
	char *copy;

	i = probe(t, s, len, h);
	if ((a = t->table[i])) {
		t->slots[a].refs++;
		return a;
	}
	/* keep the table at most half full */
	if ((t->count + 1) * 2 > t->mask + 1) {
		if (grow_table(t))
			return 0;
		i = probe(t, s, len, h);
	}
	if (!(copy = malloc(len + 1)))
		return 0;
	if (!(a = new_id(t))) {
		free(copy);
		return 0;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	sl = &t->slots[a];
	*sl = (struct slot){ copy, len, h, 1, 0 };
	t->table[i] = a;
	t->count++;
	return a;
}

void sb_intern_hold(struct sb_intern *t, uint32_t atom)
{
	if (atom)
		t->slots[atom].refs++;
}

/* Removes the atom at table position i, shifting later members of its
 * probe run back so that no lookup stops early. */
static void table_remove(struct sb_intern *t, size_t i)
{
	size_t j = i;

	t->table[i] = 0;
	for (;;) {
		size_t home;
		uint32_t a;

		j = (j + 1) & t->mask;
		if (!(a = t->table[j]))
			return;
		home = t->slots[a].hash & t->mask;
		/* a stays unless its home lies cyclically in (i, j] */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			t->table[i] = a;
			t->table[j] = 0;
			i = j;
		}
	}
}

void sb_intern_unref(struct sb_intern *t, uint32_t atom)
{
	struct slot *sl;

	if (!atom)
		return;
	sl = &t->slots[atom];
	if (--sl->refs)
		return;
	table_remove(t, probe(t, sl->s, sl->len, sl->hash));
	free(sl->s);
	*sl = (struct slot){ NULL, 0, 0, 0, t->free_head };
	t->free_head = atom;
	t->count--;
}

const char *sb_intern_str(const struct sb_intern *t, uint32_t atom)
{
	return atom && atom < t->nslots ? t->slots[atom].s : NULL;
}

size_t sb_intern_count(const struct sb_intern *t)
{
	return t->count;
}
