/* SPDX-License-Identifier: MIT
 *
 * validator.c - local payload validation for publishers: the bridge's own
 * verdict (ingest.h: size, strict JSON, seq, schema) over the same topic
 * kinds (topics.json), so that a payload refused here is one the bridge
 * would refuse, and the reason reads the same.  Pure module.
 */
#include "sb_publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chanmap.h"
#include "ingest.h"
#include "schema.h"

#ifndef SB_PUB_INSTALLED_SCHEMAS
#define SB_PUB_INSTALLED_SCHEMAS "/usr/local/share/statusbus/schemas"
#endif

struct sb_validator {
	char *dir;
	struct sb_schema_set *schemas;
	struct sb_kinds *kinds;
};

const char *sb_validator_default_dir(const char *dir)
{
	const char *env = getenv("STATUSBUS_SCHEMAS");

	if (dir && *dir)
		return dir;
	if (env && *env)
		return env;
	if (access(SB_PUB_INSTALLED_SCHEMAS "/topics.json", R_OK) == 0)
		return SB_PUB_INSTALLED_SCHEMAS;
	return "schemas";
}

enum sb_err sb_validator_load(struct sb_validator **out, const char *dir, char *err,
			      size_t errlen)
{
	struct sb_validator *v;
	char path[4200], why[512];
	enum sb_err rc;

	*out = NULL;
	dir = sb_validator_default_dir(dir);
	v = calloc(1, sizeof(*v));
	if (!v || !(v->dir = strdup(dir))) {
		free(v);
		return SB_ERR_NOMEM;
	}
	snprintf(path, sizeof(path), "%s/topics.json", dir);
	why[0] = '\0';
	rc = sb_kinds_load(&v->kinds, path, why, sizeof(why));
	if (rc == SB_OK)
		rc = sb_schema_set_load(&v->schemas, dir, why, sizeof(why));
	if (rc != SB_OK) {
		if (err)
			snprintf(err, errlen, "cannot load the schemas in %s: %s%s", dir,
				 why[0] ? why : sb_strerror(rc),
				 " (give the directory with --schemas or STATUSBUS_SCHEMAS)");
		sb_validator_destroy(v);
		return rc == SB_ERR_NOMEM ? rc : SB_ERR_INVAL;
	}
	*out = v;
	return SB_OK;
}

void sb_validator_destroy(struct sb_validator *v)
{
	if (!v)
		return;
	sb_schema_set_destroy(v->schemas);
	sb_kinds_destroy(v->kinds);
	free(v->dir);
	free(v);
}

const char *sb_validator_dir(const struct sb_validator *v)
{
	return v->dir;
}

enum sb_err sb_validator_check(const struct sb_validator *v, const char *topic,
			       const char *payload, size_t len, size_t max_bytes,
			       int *retained, char *err, size_t errlen)
{
	const struct sb_kind *k = sb_kinds_lookup(v->kinds, topic);
	struct sb_ingest_rules rules = { v->kinds, v->schemas, 0, 1, 1 };
	struct sb_ingest_result res;

	if (retained)
		*retained = k ? k->retained : 0;
	if (!k) {
		if (err)
			snprintf(err, errlen, "topic %s is not in %s/topics.json", topic, v->dir);
		return SB_ERR_NOTFOUND;
	}
	if (len == 0 && !k->retained) {
		if (err)
			snprintf(err, errlen, "empty payload on %s, whose messages are not retained",
				 topic);
		return SB_ERR_INVAL;
	}
	if (len && k->schema && !sb_schema_set_get(v->schemas, k->schema)) {
		if (err)
			snprintf(err, errlen, "schema %s (for %s) is not in %s", k->schema, topic,
				 v->dir);
		return SB_ERR_NOTFOUND;
	}
	/* the rest is the bridge's own verdict (ingest.h), word for word */
	rules.max_payload_bytes = max_bytes ? max_bytes : SB_PUBLISH_MAX_PAYLOAD;
	sb_ingest_check(&rules, topic, strlen(topic), payload, len, k->retained, &res);
	if (res.verdict != SB_INGEST_REJECT)
		return SB_OK;
	if (err) {
		if (res.reason == SB_INGEST_SCHEMA)
			snprintf(err, errlen, "payload invalid for %s", res.why);
		else if (res.reason == SB_INGEST_NOT_JSON)
			snprintf(err, errlen, "payload invalid for %s: %s", k->schema ? k->schema : topic,
				 res.why);
		else
			snprintf(err, errlen, "%s", res.why);
	}
	return res.reason == SB_INGEST_OVERSIZE ? SB_ERR_LIMIT : SB_ERR_INVAL;
}
