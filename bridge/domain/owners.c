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

struct sb_owners {
	struct sb_dict *map;   /* deploy uuid -> team (char *) */
};

enum sb_err sb_owners_create(struct sb_owners **out)
{
	struct sb_owners *o = calloc(1, sizeof(*o));

	*out = NULL;
	if (!o || !(o->map = sb_dict_create(free))) {
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
	const char *old;
	char *t;

	if (!sb_owners_split(topic, team, sizeof(team), deploy, sizeof(deploy)) ||
	    !sb_uuid_valid(deploy, strlen(deploy)) || !sb_id_valid(team, strlen(team)))
		return SB_OWNER_IGNORED;
	old = sb_dict_get(o->map, deploy);
	if (old && strcmp(old, team) != 0) {
		/* a delete under another team's prefix takes nothing from the
		 * owner either: else delete + republish would move the deploy */
		if (owner)
			*owner = old;
		return SB_OWNER_CONFLICT;
	}
	if (deleted)
		return old && sb_dict_del(o->map, deploy) == SB_OK ? SB_OWNER_FORGOTTEN :
								     SB_OWNER_IGNORED;
	if (old)
		return SB_OWNER_SAME;
	t = strdup(team);
	if (!t || sb_dict_set(o->map, deploy, t) != SB_OK) {
		free(t);
		return SB_OWNER_NOMEM;
	}
	return SB_OWNER_LEARNED;
}

const char *sb_owners_get(const struct sb_owners *o, const char *deploy)
{
	return sb_dict_get(o->map, deploy);
}

size_t sb_owners_count(const struct sb_owners *o)
{
	return sb_dict_size(o->map);
}
