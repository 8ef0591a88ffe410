/* SPDX-License-Identifier: MIT
 *
 * owners.c - resource -> team, from retained statuses (see owners.h).
 */
#include "owners.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chanmap.h"
#include "topic.h"
#include "dict.h"

/* "<kind>/<id>": kinds and ids are ids or UUIDs, neither holds a '/' */
#define KEY_MAX (2 * SB_PARAM_MAX + 2)

/* Rival claims remembered per resource; past this many the resource stays
 * contested until nothing of it is held (a rival's delete may go unseen). */
#define MAX_RIVALS 4

struct owner {
	char *team;      /* NULL: held before its owner was known */
	int deleted;     /* the owner's status was deleted (a tombstone) */
	size_t holds;    /* channels of the resource (sb_owners_hold) */
	/* other teams with a live status for the same id: while any has one
	 * (and while anything of the resource is held after that), nobody
	 * owns it (owners.h) */
	int contested;
	char *rivals[MAX_RIVALS];
	size_t nrivals;
	int rivals_lost;  /* more rivals than MAX_RIVALS were seen */
};

struct sb_owners {
	struct sb_dict *map;   /* "<kind>/<id>" -> struct owner */
	size_t known;          /* entries with a team */
	char *kinds[SB_OWNERS_MAX_KINDS];
	size_t nkinds;
};

static void free_owner(void *p)
{
	struct owner *w = p;

	if (w) {
		free(w->team);
		for (size_t i = 0; i < w->nrivals; i++)
			free(w->rivals[i]);
	}
	free(w);
}

static int rival_index(const struct owner *w, const char *team)
{
	for (size_t i = 0; i < w->nrivals; i++)
		if (strcmp(w->rivals[i], team) == 0)
			return (int)i;
	return -1;
}

/* A rival's status (or its deletion) for w's resource. */
static void note_rival(struct owner *w, const char *team, int deleted)
{
	int i = rival_index(w, team);

	if (deleted) {
		if (i >= 0) {
			free(w->rivals[i]);
			w->rivals[i] = w->rivals[--w->nrivals];
		}
		return;
	}
	if (i >= 0)
		return;
	if (w->nrivals == MAX_RIVALS || !(w->rivals[w->nrivals] = strdup(team)))
		w->rivals_lost = 1;
	else
		w->nrivals++;
}

/* The dict key of (kind, id) in buf (KEY_MAX bytes); 0 when it cannot be
 * one (too long: no resource has it). */
static int key_of(char *buf, const char *kind, const char *id)
{
	int n = snprintf(buf, KEY_MAX, "%s/%s", kind, id);

	return n > 0 && n < KEY_MAX;
}

static struct owner *entry(struct sb_owners *o, const char *key)
{
	struct owner *w = sb_dict_get(o->map, key);

	if (w)
		return w;
	if (!(w = calloc(1, sizeof(*w))) || sb_dict_set(o->map, key, w) != SB_OK) {
		free(w);
		return NULL;
	}
	return w;
}

/* Nothing of the resource is left: forget it. */
static void forget(struct sb_owners *o, const char *key, struct owner *w)
{
	if (w->team)
		o->known--;
	sb_dict_del(o->map, key);
}

/* A contested resource of which nothing is held any more (no subscriber,
 * no history): with no live claim left it is forgotten; with exactly one,
 * that team owns it afresh.  1 when it was forgotten. */
static int settle(struct sb_owners *o, const char *key, struct owner *w)
{
	if (!w->contested || w->holds || w->rivals_lost)
		return 0;
	if (!w->deleted && w->nrivals == 0) {
		w->contested = 0;
		return 0;
	}
	if (w->deleted && w->nrivals == 1) {
		free(w->team);
		w->team = w->rivals[0];
		w->nrivals = 0;
		w->deleted = 0;
		w->contested = 0;
		return 0;
	}
	if (w->deleted && w->nrivals == 0) {
		forget(o, key, w);
		return 1;
	}
	return 0;
}

enum sb_err sb_owners_create(struct sb_owners **out)
{
	struct sb_owners *o = calloc(1, sizeof(*o));

	*out = NULL;
	if (!o || !(o->map = sb_dict_create(free_owner))) {
		free(o);
		return SB_ERR_NOMEM;
	}
	*out = o;
	return SB_OK;
}

void sb_owners_destroy(struct sb_owners *o)
{
	if (!o)
		return;
	sb_dict_destroy(o->map);
	for (size_t i = 0; i < o->nkinds; i++)
		free(o->kinds[i]);
	free(o);
}

int sb_owners_tracks(const struct sb_owners *o, const char *kind)
{
	for (size_t i = 0; i < o->nkinds; i++)
		if (strcmp(o->kinds[i], kind) == 0)
			return 1;
	return 0;
}

enum sb_err sb_owners_track(struct sb_owners *o, const char *kind)
{
	if (!kind || !sb_id_valid(kind, strlen(kind)))
		return SB_ERR_INVAL;
	if (sb_owners_tracks(o, kind))
		return SB_OK;
	if (o->nkinds == SB_OWNERS_MAX_KINDS)
		return SB_ERR_LIMIT;
	if (!(o->kinds[o->nkinds] = strdup(kind)))
		return SB_ERR_NOMEM;
	o->nkinds++;
	return SB_OK;
}

/* Copies the level at p (up to the next '/') into out; the '/' after it,
 * or NULL when there is none or it does not fit. */
static const char *level(const char *p, char *out, size_t len)
{
	const char *e = strchr(p, '/');

	if (!e || (size_t)(e - p) >= len)
		return NULL;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return e;
}

const char *sb_owners_split(const char *topic, char *team, size_t tlen, char *kind,
			    size_t klen, char *id, size_t idlen)
{
	const char *p;

	if (strncmp(topic, "team/", 5) != 0 || !(p = level(topic + 5, team, tlen)) ||
	    !(p = level(p + 1, kind, klen)) || !(p = level(p + 1, id, idlen)) ||
	    strchr(p + 1, '/'))
		return NULL;
	return p + 1;
}

enum sb_owner_change sb_owners_learn(struct sb_owners *o, const char *topic, int deleted,
				     const char **owner)
{
	char team[SB_PARAM_MAX + 1], kind[SB_PARAM_MAX + 1], id[SB_PARAM_MAX + 1], key[KEY_MAX];
	const char *leaf = sb_owners_split(topic, team, sizeof(team), kind, sizeof(kind), id,
					   sizeof(id));
	struct owner *w;

	if (!leaf || strcmp(leaf, "status") != 0 || !sb_owners_tracks(o, kind) ||
	    !sb_uuid_valid(id, strlen(id)) || !sb_id_valid(team, strlen(team)) ||
	    !key_of(key, kind, id))
		return SB_OWNER_IGNORED;
	w = sb_dict_get(o->map, key);
	if (w && w->team && strcmp(w->team, team) != 0) {
		/* another team's status for the same id: the first one seen is
		 * not always the real owner (a retained replay comes in topic
		 * order, not publish order), so nobody owns it until only one
		 * claim is left and nothing of it is held */
		int was = w->contested;

		note_rival(w, team, deleted);
		if (owner)
			*owner = w->team;
		if (deleted) {
			settle(o, key, w);
			return SB_OWNER_CONFLICT;
		}
		w->contested = 1;
		return was ? SB_OWNER_CONFLICT : SB_OWNER_CONTESTED;
	}
	if (deleted) {
		if (!w || !w->team)
			return SB_OWNER_IGNORED;
		if (w->holds || w->contested) {
			/* its subscribers and history are still here: another
			 * team's status must not inherit them */
			w->deleted = 1;
			return settle(o, key, w) ? SB_OWNER_FORGOTTEN : SB_OWNER_DELETED;
		}
		forget(o, key, w);
		return SB_OWNER_FORGOTTEN;
	}
	if (w && w->team) {
		w->deleted = 0;   /* the owner published it again */
		return SB_OWNER_SAME;
	}
	if (!(w = entry(o, key)) || !(w->team = strdup(team))) {
		if (w && !w->holds)
			sb_dict_del(o->map, key);
		return SB_OWNER_NOMEM;
	}
	o->known++;
	return SB_OWNER_LEARNED;
}

enum sb_err sb_owners_hold(struct sb_owners *o, const char *kind, const char *id)
{
	char key[KEY_MAX];
	struct owner *w;

	if (!key_of(key, kind, id))
		return SB_ERR_INVAL;
	if (!(w = entry(o, key)))
		return SB_ERR_NOMEM;
	w->holds++;
	return SB_OK;
}

void sb_owners_release(struct sb_owners *o, const char *kind, const char *id)
{
	char key[KEY_MAX];
	struct owner *w;

	if (!key_of(key, kind, id) || !(w = sb_dict_get(o->map, key)) || !w->holds)
		return;
	if (--w->holds)
		return;
	if (w->contested)
		settle(o, key, w);
	else if (!w->team || w->deleted)
		forget(o, key, w);
}

const char *sb_owners_lookup(const struct sb_owners *o, const char *kind, const char *id,
			     int *contested)
{
	char key[KEY_MAX];
	const struct owner *w = key_of(key, kind, id) ? sb_dict_get(o->map, key) : NULL;

	*contested = w && w->contested;
	return w && !w->contested ? w->team : NULL;
}

const char *sb_owners_get(const struct sb_owners *o, const char *kind, const char *id)
{
	int contested;

	return sb_owners_lookup(o, kind, id, &contested);
}

int sb_owners_contested(const struct sb_owners *o, const char *kind, const char *id)
{
	int contested;

	sb_owners_lookup(o, kind, id, &contested);
	return contested;
}

size_t sb_owners_count(const struct sb_owners *o)
{
	return o->known;
}
