/* SPDX-License-Identifier: MIT
 *
 * owners.c - deploy -> team, from retained deploy statuses (see owners.h).
 */
#include "owners.h"

#include <stdlib.h>
#include <string.h>

#include "chanmap.h"
#include "topic.h"
#include "dict.h"

struct owner {
	char *team;      /* NULL: held before its owner was known */
	int deleted;     /* the owner's status was deleted (a tombstone) */
	size_t holds;    /* channels of the deploy (sb_owners_hold) */
};

struct sb_owners {
	struct sb_dict *map;   /* deploy uuid -> struct owner */
	size_t known;          /* entries with a team */
};

static void free_owner(void *p)
{
	struct owner *w = p;

	if (w)
		free(w->team);
	free(w);
}

static struct owner *entry(struct sb_owners *o, const char *deploy)
{
	struct owner *w = sb_dict_get(o->map, deploy);

	if (w)
		return w;
	if (!(w = calloc(1, sizeof(*w))) || sb_dict_set(o->map, deploy, w) != SB_OK) {
		free(w);
		return NULL;
	}
	return w;
}

/* Nothing of the deploy is left: forget it. */
static void forget(struct sb_owners *o, const char *deploy, struct owner *w)
{
	if (w->team)
		o->known--;
	sb_dict_del(o->map, deploy);
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
	free(o);
}

int sb_owners_split(const char *topic, char *team, size_t tlen, char *deploy, size_t dlen)
{
	const char *p = topic + 5, *e;

	if (strncmp(topic, "team/", 5) != 0 || !(e = strchr(p, '/')) || (size_t)(e - p) >= tlen)
		return 0;
	memcpy(team, p, (size_t)(e - p));
	team[e - p] = '\0';
	if (strncmp(e, "/deploy/", 8) != 0)
		return 0;
	p = e + 8;
	if (!(e = strchr(p, '/')) || strcmp(e, "/status") != 0 || (size_t)(e - p) >= dlen)
		return 0;
	memcpy(deploy, p, (size_t)(e - p));
	deploy[e - p] = '\0';
	return 1;
}

enum sb_owner_change sb_owners_learn(struct sb_owners *o, const char *topic, int deleted,
				     const char **owner)
{
	char team[SB_PARAM_MAX + 1], deploy[64];
	struct owner *w;

	if (!sb_owners_split(topic, team, sizeof(team), deploy, sizeof(deploy)) ||
	    !sb_uuid_valid(deploy, strlen(deploy)) || !sb_id_valid(team, strlen(team)))
		return SB_OWNER_IGNORED;
	w = sb_dict_get(o->map, deploy);
	if (w && w->team && strcmp(w->team, team) != 0) {
		/* a delete under another team's prefix takes nothing from the
		 * owner either: else delete + republish would move the deploy */
		if (owner)
			*owner = w->team;
		return SB_OWNER_CONFLICT;
	}
	if (deleted) {
		if (!w || !w->team)
			return SB_OWNER_IGNORED;
		if (w->holds) {
			/* its subscribers and history are still here: another
			 * team's status must not inherit them */
			w->deleted = 1;
			return SB_OWNER_DELETED;
		}
		forget(o, deploy, w);
		return SB_OWNER_FORGOTTEN;
	}
	if (w && w->team) {
		w->deleted = 0;   /* the owner published it again */
		return SB_OWNER_SAME;
	}
	if (!(w = entry(o, deploy)) || !(w->team = strdup(team))) {
		if (w && !w->holds)
			sb_dict_del(o->map, deploy);
		return SB_OWNER_NOMEM;
	}
	o->known++;
	return SB_OWNER_LEARNED;
}

enum sb_err sb_owners_hold(struct sb_owners *o, const char *deploy)
{
	struct owner *w = entry(o, deploy);

	if (!w)
		return SB_ERR_NOMEM;
	w->holds++;
	return SB_OK;
}

void sb_owners_release(struct sb_owners *o, const char *deploy)
{
	struct owner *w = sb_dict_get(o->map, deploy);

	if (!w || !w->holds)
		return;
	if (--w->holds == 0 && (!w->team || w->deleted))
		forget(o, deploy, w);
}

const char *sb_owners_get(const struct sb_owners *o, const char *deploy)
{
	const struct owner *w = sb_dict_get(o->map, deploy);

	return w ? w->team : NULL;
}

size_t sb_owners_count(const struct sb_owners *o)
{
	return o->known;
}
