/* SPDX-License-Identifier: MIT
 *
 * auth.c - the engine's two authorization questions, asked the same way by
 * every protocol and by the HTTP queries: is this token valid, and may
 * these claims read this channel (docs/protocol.md §3 and §4).  The answer
 * is an enum sb_code; each caller maps it to its own wire form (a v1 error
 * frame, a Pusher subscription_error, an HTTP status), like Mosquitto's
 * handle_subscribe.c maps one ACL result per filter at the call site.
 */
#include "hub_internal.h"

#include <stdio.h>

#include "acl.h"

static const char *owner_lookup(const char *kind, const char *id, void *user)
{
	const struct sb_owners *o = ((struct sb_hub *)user)->owners;

	int contested;
	const char *owner = sb_owners_lookup(o, kind, id, &contested);

	return contested ? SB_ACL_CONTESTED : owner;
}

enum sb_err sb_auth_channel(struct sb_hub *h, const struct sb_jwt_claims *claims, int trusted,
			    const struct sb_chan_ref *ref, const char *name, enum sb_code *code,
			    char *reason, size_t rlen)
{
	struct sb_acl_ctx ctx = { h->p.jwt_key == NULL || trusted, claims, owner_lookup, h };
	int anon = 0;
	enum sb_err rc = sb_acl_check(&ctx, ref, name, &anon, reason, rlen);

	if (rc == SB_ERR_NOTFOUND)
		*code = SB_CODE_NOT_FOUND;
	else if (rc)
		*code = anon ? SB_CODE_UNAUTHORIZED : SB_CODE_FORBIDDEN;
	return rc;
}

enum sb_err sb_hub_verify_token(struct sb_hub *h, const char *token, size_t len,
				struct sb_jwt_claims **out, enum sb_code *code,
				char *reason, size_t rlen)
{
	struct sb_jwt_verify_opts o = {
		.now_s = sb_hub__wall(h), .leeway_s = h->p.cfg->token_leeway_s,
		.issuer = h->p.cfg->issuer, .audience = h->p.cfg->audience,
		.max_token_len = SB_MAX_TOKEN, .max_ttl_s = h->p.cfg->token_max_ttl_s,
		.allow_wildcard_first_segment = h->p.cfg->allow_wildcard_first_segment,
	};
	char why[160] = "";
	enum sb_err rc = sb_jwt_verify(h->p.jwt_key, token, len, &o, out, why, sizeof(why));

	if (rc) {
		h->m.auth_failures++;
		*code = rc == SB_ERR_EXPIRED ? SB_CODE_TOKEN_EXPIRED : SB_CODE_UNAUTHORIZED;
		snprintf(reason, rlen, "invalid token: %s", why[0] ? why : sb_strerror(rc));
	}
	return rc;
}

int sb_hub__sub_recheck(struct sb_hub *h, struct sb_client *c, struct sb_sub *s)
{
	char reason[200];
	enum sb_code code;

	if (sb_auth_channel(h, c->claims, s->trusted, &s->chan->ref, s->chan->name, &code,
			    reason, sizeof(reason)) == SB_OK)
		return 0;
	sb_hub__error(h, c, code == SB_CODE_NOT_FOUND ? SB_CODE_FORBIDDEN : code,
		      s->chan->name, reason);
	sb_hub__sub_remove(h, c, s);
	return 1;
}

void sb_hub_client_set_claims(struct sb_hub *h, struct sb_client *c,
			      struct sb_jwt_claims *claims)
{
	struct sb_dict_iter it;
	void *v;

	sb_jwt_claims_destroy(c->claims);
	c->claims = claims;
	c->token_exp = claims ? claims->exp : 0;
	/* drop the subscriptions the new token no longer allows */
	sb_dict_iter_init(&it, c->subs);
	while (sb_dict_next(&it, NULL, &v))
		sb_hub__sub_recheck(h, c, v);
}
