/* SPDX-License-Identifier: MIT
 *
 * acl.h - the channel authorization rules of docs/protocol.md §4, default
 * deny.  Pure module: the caller supplies the verified claims and a lookup
 * of resource owners (learned from retained statuses: a deploy's, an
 * app's, a database's, a service's).
 */
#ifndef SB_ACL_H
#define SB_ACL_H

#include <stddef.h>

#include "chanmap.h"
#include "jwt.h"
#include "sb_common.h"

/* What ctx->owner returns for a resource claimed by two teams: nobody
 * may read it (not a team id: those are never empty). */
#define SB_ACL_CONTESTED ""

struct sb_acl_ctx {
	int open_mode;                       /* no auth section: allow all */
	const struct sb_jwt_claims *claims;  /* NULL: anonymous */
	/* team owning resource `id` of `kind` (sb_acl_owned_kind), NULL
	 * when unknown, SB_ACL_CONTESTED when two teams claim it (owners.h) */
	const char *(*owner)(const char *kind, const char *id, void *user);
	void *user;
};

/* Decides whether the client may subscribe to `ref` (named `name`).
 *   SB_OK            allowed
 *   SB_ERR_DENIED    not allowed; *anonymous_out tells whether a token
 *                    would have helped (error code unauthorized vs
 *                    forbidden)
 *   SB_ERR_NOTFOUND  the channel of an owned resource (a deploy, an app,
 *                    a database, a service) whose owner is unknown
 * `reason` gets a message for the client. */
enum sb_err sb_acl_check(const struct sb_acl_ctx *ctx, const struct sb_chan_ref *ref,
			 const char *name, int *anonymous_out,
			 char *reason, size_t reasonlen);

/* 1 when `channel` matches `pattern`, where a '*' segment matches exactly
 * one segment ("deploy.*.logs"). */
int sb_acl_pattern_match(const char *pattern, const char *channel);

#endif
