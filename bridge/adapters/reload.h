/* SPDX-License-Identifier: MIT
 *
 * reload.h - SIGHUP (docs/protocol.md §11): the config file read again on
 * the service thread, checked whole (the file, the channel map, topics.json,
 * the JWT key, the schemas, the TLS certificate and key) before anything
 * changes, then applied: the values config.c's table marks reloadable move
 * into the running config, the hub takes the new key and schemas, the log
 * level and format change, and new TLS connections get the new
 * certificate.  Keys that need a restart are named in the log and keep
 * running as they were.  A reload that fails anywhere changes nothing and
 * says why.  Each one is counted in /metrics.
 *
 * Thread hand-off: the signal handler only sets srv->reload and calls
 * lws_cancel_service() (through sb_server_wakeup), as SIGTERM's does;
 * ws_server.c calls sb_reload_run on the service thread.
 */
#ifndef SB_RELOAD_H
#define SB_RELOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "jwt.h"
#include "schema.h"
#include "ws_server.h"

struct sb_reload {
	const char *path;                 /* the config file, as given with -c */
	struct sb_config *cfg;            /* the running config, changed in place */
	const char *client_id_template;   /* mqtt.client_id as written at start */
	struct sb_jwt_key **key;          /* the running key (main's), replaced */
	struct sb_schema_set **schemas;   /* the running schemas (main's), replaced */
	struct sb_server *srv;            /* its hub, its lws context */
	int verbose;                      /* -v: debug whatever log_level says */
	uint64_t topics_sum;              /* of topics.json, at start */
};

/* Fills r (the pointers are borrowed and must outlive it) and remembers
 * topics.json as it is now: a later change of it needs a restart. */
void sb_reload_init(struct sb_reload *r, const char *path, struct sb_config *cfg,
		    const char *client_id_template, struct sb_jwt_key **key,
		    struct sb_schema_set **schemas, struct sb_server *srv, int verbose);

/* Reloads now (service thread; ws_server.c's reload_cb, arg = r). */
void sb_reload_run(void *r);

/* The JWT key the auth section names: HS256 from jwt_secret or
 * jwt_secret_file (at least 16 bytes), RS256/ES256 from
 * jwt_public_key_file.  At start and on every reload (a rotated file is
 * read again).  On failure *out is NULL and err says which key and why,
 * e.g. "auth.jwt_secret_file: run/secrets/jwt.secret: not found (...)".
 * Caller frees with sb_jwt_key_destroy(). */
enum sb_err sb_reload_make_key(const struct sb_config *cfg, struct sb_jwt_key **out,
			       char *err, size_t errlen);

/* Sets the log level (debug when verbose) and format from cfg, for sb_log
 * and for lws's own lines. */
void sb_reload_logging(const struct sb_config *cfg, int verbose);

/* Logs (or, when `out` is not NULL, prints there as "warning: ...")
 * every sb_config_lint warning of cfg. */
void sb_reload_lint(const struct sb_config *cfg, const char *path, FILE *out);

#endif
