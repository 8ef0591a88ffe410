/* SPDX-License-Identifier: MIT
 *
 * acl.h - the channel authorization rules of docs/protocol.md §4, default
 * deny.  Pure module: the caller supplies the verified claims and a lookup
 * of deploy owners (learned from retained deploy statuses).
 */
#ifndef SB_ACL_H
#define SB_ACL_H

#include <stddef.h>

#include "chanmap.h"
#include "jwt.h"
#include "sb_common.h"

struct sb_acl_ctx {
	int open_mode;                       /* no auth section: allow all */
	const struct sb_jwt_claims *claims;  /* NULL: anonymous */
	/* team owning a deploy uuid, or NULL when unknown */
	const char *(*deploy_owner)(const char *deploy, void *user);
	void *user;
};

/* Decides whether the client may subscribe to `ref` (named `name`).
 *   SB_OK            allowed
 *   SB_ERR_DENIED    not allowed; *anonymous_out tells whether a token
 *                    would have helped (error code unauthorized vs
 *                    forbidden)
 *   SB_ERR_NOTFOUND  a deploy channel whose deploy is unknown
 * `reason` gets a message for the client. */
enum sb_err sb_acl_check(const struct sb_acl_ctx *ctx, const struct sb_chan_ref *ref,
			 const char *name, int *anonymous_out,
			 char *reason, size_t reasonlen);

/* 1 when `channel` matches `pattern`, where a '*' segment matches exactly
 * one segment ("deploy.*.logs"). */
int sb_acl_pattern_match(const char *pattern, const char *channel);

#endif
