/* SPDX-License-Identifier: MIT
 *
 * acl.c - channel authorization.
 */
#include "acl.h"

#include <stdio.h>
#include <string.h>

int sb_acl_pattern_match(const char *p, const char *c)
{
	for (;;) {
		const char *pe = strchr(p, '.'), *ce = strchr(c, '.');
		size_t pl = pe ? (size_t)(pe - p) : strlen(p);
		size_t cl = ce ? (size_t)(ce - c) : strlen(c);

		if (cl == 0)
			return 0;
		if (!(pl == 1 && p[0] == '*') && (pl != cl || memcmp(p, c, pl) != 0))
			return 0;
		if (!pe || !ce)
			return !pe && !ce;
		p = pe + 1;
		c = ce + 1;
	}
}

static int has_team(const struct sb_jwt_claims *cl, const char *team)
{
	for (size_t i = 0; i < cl->n_teams; i++)
		if (strcmp(cl->teams[i], team) == 0)
			return 1;
	return 0;
}

enum sb_err sb_acl_check(const struct sb_acl_ctx *ctx, const struct sb_chan_ref *ref,
			 const char *name, int *anonymous_out, char *reason, size_t reasonlen)
{
	const struct sb_jwt_claims *cl = ctx->claims;
	const struct sb_chan_tmpl *t = ref->tmpl;
	const char *param = t->acl_param >= 0 ? ref->params[t->acl_param] : NULL;

	*anonymous_out = 0;
	if (ctx->open_mode || t->acl == SB_ACL_PUBLIC)
		return SB_OK;
	if (!cl) {
		*anonymous_out = 1;
		snprintf(reason, reasonlen, "channel %s needs a token (hello had none)", name);
		return SB_ERR_DENIED;
	}
	for (size_t i = 0; i < cl->n_channels; i++)
		if (sb_acl_pattern_match(cl->channels[i], name))
			return SB_OK;
	switch (t->acl) {
	case SB_ACL_TEAM:
		if (has_team(cl, param))
			return SB_OK;
		snprintf(reason, reasonlen, "team %s is not in your token", param);
		return SB_ERR_DENIED;
	case SB_ACL_DEPLOY:
	case SB_ACL_APP:
	case SB_ACL_DB:
	case SB_ACL_SERVICE: {
		const char *kind = sb_acl_owned_kind(t->acl);
		const char *owner = ctx->owner ? ctx->owner(kind, param, ctx->user) : NULL;
		if (!owner) {
			snprintf(reason, reasonlen, "%s %s is not known", kind, param);
			return SB_ERR_NOTFOUND;
		}
		if (!owner[0]) {
			/* claimed under two teams' prefixes: closed to both */
			snprintf(reason, reasonlen, "%s %s has statuses under more than one team; "
				 "closed until one is deleted", kind, param);
			return SB_ERR_DENIED;
		}
		if (has_team(cl, owner))
			return SB_OK;
		/* do not reveal the owner */
		snprintf(reason, reasonlen, "%s %s belongs to a team that is not in your token", kind,
			 param);
		return SB_ERR_DENIED;
	}
	case SB_ACL_USER:
		if (strcmp(param, cl->sub) == 0)
			return SB_OK;
		snprintf(reason, reasonlen, "channel %s is not yours", name);
		return SB_ERR_DENIED;
	case SB_ACL_CLAIMS:
	case SB_ACL_PUBLIC:
		break;
	}
	snprintf(reason, reasonlen, "channel %s is not in your token", name);
	return SB_ERR_DENIED;
}
