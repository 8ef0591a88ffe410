/* SPDX-License-Identifier: MIT
 *
 * reload.c - SIGHUP (see reload.h): check everything the new file names,
 * then apply all of it or nothing.  What may change live is config.c's
 * table's business (its reloadable column, compared by
 * sb_config_reload); this file rebuilds what is derived from the values
 * (the JWT key, the schema set, the log settings, the TLS certificate) and
 * says in the log what changed, what needs a restart and why a reload was
 * refused.  Secrets are never logged, only the names of their keys.
 */
#include "reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "chanmap.h"
#include "hub.h"

/* ---- the JWT key ------------------------------------------------------------ */

/* The hint after "not found" for a secret file: how to make one. */
static const char *secret_hint(enum sb_err rc)
{
	return rc == SB_ERR_NOTFOUND ? " (create one: head -c 32 /dev/urandom | base64 > FILE; "
				       "scripts/dev-init.sh does it for run/secrets/jwt.secret)" : "";
}

enum sb_err sb_reload_make_key(const struct sb_config *cfg, struct sb_jwt_key **out,
			       char *err, size_t errlen)
{
	enum sb_jwt_alg alg;
	char *text = NULL, why[512] = "";
	size_t len = 0;
	enum sb_err rc;

	*out = NULL;
	sb_jwt_alg_parse(cfg->jwt_alg, &alg);
	if (alg == SB_JWT_HS256) {
		if (cfg->jwt_secret_file) {
			rc = sb_read_file(cfg->jwt_secret_file, 4096, 1, &text, &len);
			if (rc || len < 16) {
				snprintf(err, errlen, "auth.jwt_secret_file: %s: %s%s",
					 cfg->jwt_secret_file,
					 rc ? sb_strerror(rc) : "shorter than 16 bytes", secret_hint(rc));
				free(text);
				return rc ? rc : SB_ERR_INVAL;
			}
		} else {
			text = strdup(cfg->jwt_secret);
			len = text ? strlen(text) : 0;
		}
		rc = text ? sb_jwt_key_create_hmac(out, (unsigned char *)text, len) : SB_ERR_NOMEM;
	} else {
		rc = sb_read_file(cfg->jwt_public_key_file, 1 << 16, 0, &text, &len);
		if (rc) {
			snprintf(err, errlen, "auth.jwt_public_key_file: %s: %s",
				 cfg->jwt_public_key_file, sb_strerror(rc));
			return rc;
		}
		rc = sb_jwt_key_create_pem(out, alg, text, len, why, sizeof(why));
	}
	if (text) {
		memset(text, 0, len);
		free(text);
	}
	if (rc)
		snprintf(err, errlen, "auth: cannot use the key: %s", why[0] ? why : sb_strerror(rc));
	return rc;
}

/* ---- logging ------------------------------------------------------------------ */

void sb_reload_logging(const struct sb_config *cfg, int verbose)
{
	enum sb_log_level level = SB_LOG_INFO;
	enum sb_log_format format = SB_LOG_TEXT;

	sb_log_level_parse(cfg->log_level, &level);
	sb_log_format_parse(cfg->log_format, &format);
	sb_log_set_level(verbose ? SB_LOG_DEBUG : level);
	sb_log_set_format(format);
	/* lws's own lines: ws_server.c routed them into sb_log at create */
	lws_set_log_level(LLL_ERR | LLL_WARN | (sb_log_get_level() == SB_LOG_DEBUG ? LLL_NOTICE : 0),
			  NULL);
}

struct lint_out {
	const char *path;
	FILE *out;
};

static void lint_warn(void *arg, const char *key, const char *why)
{
	struct lint_out *o = arg;

	if (o->out)
		fprintf(o->out, "%s: %s: warning: %s\n", o->path, key, why);
	else
		sb_log(SB_LOG_WARN, "%s: %s: %s", o->path, key, why);
}

void sb_reload_lint(const struct sb_config *cfg, const char *path, FILE *out)
{
	struct lint_out o = { path, out };

	sb_config_lint(cfg, lint_warn, &o);
}

/* ---- TLS ------------------------------------------------------------------------ */

/* Checks that cert (a chain file) and key load and belong together, as
 * lws will load them; describes the certificate in info. */
static int tls_check(const char *cert, const char *key, char *err, size_t errlen, char *info,
		     size_t infolen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *what = "cannot allocate a TLS context";
	X509 *x;

	ERR_clear_error();
	if (ctx) {
		what = SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ? "listen.cert_file" :
		       SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ? "listen.key_file" :
		       SSL_CTX_check_private_key(ctx) != 1 ? "listen.key_file: does not match the "
							     "certificate" : NULL;
	}
	if (what) {
		char ossl[256] = "";

		ERR_error_string_n(ERR_get_error(), ossl, sizeof(ossl));
		snprintf(err, errlen, "%s: %s", what, ossl);
		SSL_CTX_free(ctx);
		return 0;
	}
	info[0] = '\0';
	if ((x = SSL_CTX_get0_certificate(ctx))) {
		char subject[256];
		BIO *b = BIO_new(BIO_s_mem());
		char *p;
		long n;

		X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
		if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) && (n = BIO_get_mem_data(b, &p)) > 0)
			snprintf(info, infolen, "%s, valid until %.*s", subject, (int)n, p);
		else
			snprintf(info, infolen, "%s", subject);
		BIO_free(b);
	}
	SSL_CTX_free(ctx);
	return 1;
}

/* ---- the reload ----------------------------------------------------------------- */

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* topics.json's checksum (0 when unreadable: the load reports why). */
static uint64_t topics_sum(const char *schemas_dir)
{
	char file[1100], *text;
	size_t len;
	uint64_t h;

	snprintf(file, sizeof(file), "%s/topics.json", schemas_dir);
	if (sb_read_file(file, 16 << 20, 0, &text, &len) != SB_OK)
		return 0;
	h = fnv1a(text, len);
	free(text);
	return h;
}

void sb_reload_init(struct sb_reload *r, const char *path, struct sb_config *cfg,
		    const char *client_id_template, struct sb_jwt_key **key,
		    struct sb_schema_set **schemas, struct sb_server *srv, int verbose)
{
	*r = (struct sb_reload){ path, cfg, client_id_template, key, schemas, srv, verbose,
				 topics_sum(cfg->schemas_dir) };
}

/* The keys a reload found changed, as two comma-separated lists. */
struct changes {
	char applied[768], restart[768];
	size_t napplied, nrestart;
};

static void add_key(char *list, size_t size, const char *key)
{
	size_t n = strlen(list);

	snprintf(list + n, size - n, "%s%s", n ? ", " : "", key);
}

static void on_change(void *arg, const char *key, int reloadable)
{
	struct changes *c = arg;

	if (reloadable) {
		add_key(c->applied, sizeof(c->applied), key);
		c->napplied++;
	} else {
		add_key(c->restart, sizeof(c->restart), key);
		c->nrestart++;
	}
}

/* What the new config needs beyond its own keys, built and checked before
 * anything changes. */
struct staged {
	struct sb_config *cfg;
	struct sb_jwt_key *key;          /* NULL: open mode, or the auth section came or went */
	struct sb_schema_set *schemas;   /* NULL: validation off */
	int tls;                         /* the certificate and key checked */
	char tls_info[400];
	int topics_changed;
};

static void staged_free(struct staged *s)
{
	sb_jwt_key_destroy(s->key);
	sb_schema_set_destroy(s->schemas);
	sb_config_destroy(s->cfg);
}

/* Reads and checks everything; 0 with err set on the first failure. */
static int stage(struct sb_reload *r, struct staged *s, char *err, size_t errlen)
{
	const struct sb_config *live = r->cfg;
	struct sb_chanmap *map = NULL;
	struct sb_kinds *kinds = NULL;
	char file[1100], why[1024];
	struct sb_config *next;

	if (sb_config_load(&s->cfg, r->path, err, errlen) != SB_OK)
		return 0;
	next = s->cfg;
	/* the running config holds the id its template expanded to: the same
	 * template is no change */
	if (next->mqtt_client_id && r->client_id_template &&
	    strcmp(next->mqtt_client_id, r->client_id_template) == 0) {
		char *id = strdup(live->mqtt_client_id);

		if (!id) {
			snprintf(err, errlen, "out of memory");
			return 0;
		}
		free(next->mqtt_client_id);
		next->mqtt_client_id = id;
	}
	/* restart-only, but a file the next start would refuse is refused now */
	if (next->channels && sb_chanmap_from_json(&map, next->channels, why, sizeof(why))) {
		snprintf(err, errlen, "%s: channels: %s", r->path, why);
		return 0;
	}
	sb_chanmap_destroy(map);
	/* schemas_dir needs a restart: the running one is read again */
	snprintf(file, sizeof(file), "%s/topics.json", live->schemas_dir);
	if (sb_kinds_load(&kinds, file, why, sizeof(why))) {
		snprintf(err, errlen, "%s: schemas_dir: %s", r->path, why);
		return 0;
	}
	sb_kinds_destroy(kinds);
	s->topics_changed = topics_sum(live->schemas_dir) != r->topics_sum;
	if (next->validate_payloads &&
	    sb_schema_set_load(&s->schemas, live->schemas_dir, why, sizeof(why))) {
		snprintf(err, errlen, "%s: schemas_dir: %s", r->path, why);
		return 0;
	}
	if (live->auth_enabled && next->auth_enabled &&
	    sb_reload_make_key(next, &s->key, why, sizeof(why)) != SB_OK) {
		snprintf(err, errlen, "%s: %s", r->path, why);
		return 0;
	}
	/* listen.cert_file and key_file need a restart; their files are read
	 * again for the connections to come */
	if (live->listen_cert_file) {
		if (!tls_check(live->listen_cert_file, live->listen_key_file, why, sizeof(why),
			       s->tls_info, sizeof(s->tls_info))) {
			snprintf(err, errlen, "%s: %s", r->path, why);
			return 0;
		}
		s->tls = 1;
	}
	return 1;
}

void sb_reload_run(void *arg)
{
	struct sb_reload *r = arg;
	struct sb_hub *hub = r->srv->hub;
	struct staged s;
	struct changes ch;
	char err[1400];

	memset(&s, 0, sizeof(s));
	memset(&ch, 0, sizeof(ch));
	sb_log(SB_LOG_INFO, "reload: SIGHUP: reading %s again", r->path);
	if (!stage(r, &s, err, sizeof(err))) {
		sb_log(SB_LOG_ERR, "reload: refused, the running config is kept: %s", err);
		staged_free(&s);
		if (hub)
			sb_hub_count_reload(hub, 0);
		return;
	}
	/* what the file says, before its values move */
	sb_reload_lint(s.cfg, r->path, NULL);
	/* from here on nothing fails */
	sb_config_reload(r->cfg, s.cfg, 1, on_change, &ch);
	/* first, so that the lines below are in the new format */
	sb_reload_logging(r->cfg, r->verbose);
	if (s.topics_changed)
		on_change(&ch, "schemas_dir/topics.json", 0);
	if (hub) {
		sb_hub_reload(hub, s.key, s.schemas);
		sb_hub_count_reload(hub, 1);
	}
	/* the hub borrows the new ones now; the old ones go with s */
	if (s.key) {
		struct sb_jwt_key *old = *r->key;

		*r->key = s.key;
		s.key = old;
		sb_log(SB_LOG_INFO, "reload: auth: %s key read again from %s", r->cfg->jwt_alg,
		       r->cfg->jwt_secret_file ? r->cfg->jwt_secret_file :
		       r->cfg->jwt_public_key_file ? r->cfg->jwt_public_key_file : "auth.jwt_secret");
	}
	{
		struct sb_schema_set *old = *r->schemas;

		*r->schemas = s.schemas;
		s.schemas = old;
	}
	if (s.tls) {
		lws_tls_cert_updated(r->srv->ctx, r->cfg->listen_cert_file, r->cfg->listen_key_file,
				     NULL, 0, NULL, 0);
		sb_log(SB_LOG_INFO, "reload: listen: TLS certificate read again for new connections "
		       "(%s)", s.tls_info);
	}
	if (ch.napplied)
		sb_log(SB_LOG_INFO, "reload: applied: %s", ch.applied);
	if (ch.nrestart)
		sb_log(SB_LOG_WARN, "reload: changed in the file but need a restart (the running "
		       "values stay): %s", ch.restart);
	sb_log(SB_LOG_INFO, "reload: done (%zu keys applied, %zu need a restart, schemas %s)",
	       ch.napplied, ch.nrestart, *r->schemas ? "read again" : "off");
	staged_free(&s);
}
