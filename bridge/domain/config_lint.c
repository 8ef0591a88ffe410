/* SPDX-License-Identifier: MIT
 *
 * config_lint.c - help for the person writing the config: "did you mean
 * listen.port?" for a key the table does not have (the row closest to it
 * by edit distance, in its section first, then the same name in another
 * section), and warnings for keys that are valid but do nothing where they
 * are (delivery.max_delay_ms on an immediate channel, a public key file
 * with HS256).  Warnings never refuse a config: --check-config prints
 * them, the bridge logs them at start and on SIGHUP.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

/* ---- unknown keys ----------------------------------------------------------- */

/* Edit distance (insert, delete, replace, swap of two neighbours; letters
 * compared without case) of two short names; names past 63 bytes are far
 * from everything. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[64][64];

	if (la > 63 || lb > 63)
		return 64;
	for (size_t i = 0; i <= la; i++)
		for (size_t j = 0; j <= lb; j++) {
			size_t v;

			if (!i || !j) {
				d[i][j] = i + j;
				continue;
			}
			v = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) !=
					       tolower((unsigned char)b[j - 1]));
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* 1 when `name` is one of the '_'-separated words that end `key`
 * ("secret" in "jwt_secret", "port" is not in "support"). */
static int word_suffix(const char *key, const char *name)
{
	size_t lk = strlen(key), ln = strlen(name);

	return ln >= 3 && lk > ln && key[lk - ln - 1] == '_' && !strcmp(key + lk - ln, name);
}

/* How far the key `sec`.`name` (sec NULL: top level) is from table row k,
 * the lower the likelier; SIZE_MAX when too far to suggest.  In the same
 * section: one typo, then a name that is the last word of a key
 * (auth.secret: auth.jwt_secret), then two typos; then the same name in
 * another section (mqtt.port: listen.port), then a typo there. */
static size_t closeness(const char *sec, const char *name, const struct ckey *k)
{
	int same = (sec == NULL) == (k->section == NULL) && (!sec || !strcmp(sec, k->section));
	size_t d = distance(name, k->name), max = strlen(name) / 3;

	if (max < 1)
		max = 1;
	if (k->type == T_SECTION && sec)
		return SIZE_MAX;   /* a section is never inside another */
	if (same && d <= max)
		return 2 * d;
	if (same && word_suffix(k->name, name))
		return 3;
	if (!same && d == 0)
		return 2 * max + 4;
	if (!same && d <= max)
		return 2 * max + 5 + 2 * d;
	return SIZE_MAX;
}

void sb_config__unknown_key(const char *sec, const char *name, const char *path, char *err,
			    size_t errlen)
{
	const struct ckey *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; i < sb_config__nkeys; i++) {
		size_t d = closeness(sec, name, &sb_config__keys[i]);

		if (d < best_d) {
			best_d = d;
			best = &sb_config__keys[i];
		}
	}
	if (!best) {
		snprintf(err, errlen, "%s: %s%s%s: unknown key", path, sec ? sec : "", sec ? "." : "",
			 name);
		return;
	}
	snprintf(err, errlen, "%s: %s%s%s: unknown key (did you mean %s%s%s?)", path,
		 sec ? sec : "", sec ? "." : "", name, best->section ? best->section : "",
		 best->section ? "." : "", best->name);
}

/* ---- keys that do nothing --------------------------------------------------- */

/* The delivery keys each mode reads (chanmap.c); history_* in every mode. */
static void lint_delivery(const cJSON *ch, sb_config_warn_fn warn, void *arg)
{
	static const struct {
		const char *key, *modes;
	} used[] = {
		{ "max_events", "batch" }, { "max_delay_ms", "batch" }, { "interval_ms", "conflate" },
	};
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(ch, "name");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(ch, "delivery");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, "mode");
	const cJSON *hl = cJSON_GetObjectItemCaseSensitive(d, "history_lines");
	const char *mode = cJSON_IsString(m) ? m->valuestring : "immediate";
	char key[320], why[160];

	if (!cJSON_IsObject(d) || !cJSON_IsString(name))
		return;
	for (size_t i = 0; i < SB_ARRAY_LEN(used); i++) {
		if (!cJSON_GetObjectItemCaseSensitive(d, used[i].key) || !strcmp(mode, used[i].modes))
			continue;
		snprintf(key, sizeof(key), "channels[%s].delivery.%s", name->valuestring, used[i].key);
		snprintf(why, sizeof(why), "does nothing on a channel whose mode is %s (only %s reads it)",
			 mode, used[i].modes);
		warn(arg, key, why);
	}
	if (cJSON_GetObjectItemCaseSensitive(d, "history_bytes") &&
	    !(cJSON_IsNumber(hl) && hl->valuedouble > 0)) {
		snprintf(key, sizeof(key), "channels[%s].delivery.history_bytes", name->valuestring);
		warn(arg, key, "does nothing without history_lines above 0 (no history is kept)");
	}
}

void sb_config_lint(const struct sb_config *cfg, sb_config_warn_fn warn, void *arg)
{
	const cJSON *ch;
	int hs = cfg->jwt_alg && !strcmp(cfg->jwt_alg, "HS256");

	if (cJSON_IsArray(cfg->channels))
		cJSON_ArrayForEach(ch, cfg->channels)
			lint_delivery(ch, warn, arg);
	if (cfg->auth_enabled && hs && cfg->jwt_public_key_file)
		warn(arg, "auth.jwt_public_key_file", "does nothing with jwt_alg HS256 (the "
		     "secret verifies tokens)");
	if (cfg->auth_enabled && !hs && (cfg->jwt_secret || cfg->jwt_secret_file))
		warn(arg, cfg->jwt_secret ? "auth.jwt_secret" : "auth.jwt_secret_file",
		     "does nothing with a public-key jwt_alg (jwt_public_key_file verifies tokens)");
	/* Paho speaks TLS only for the URIs that say so */
	if ((cfg->mqtt_ca_file || cfg->mqtt_cert_file) && cfg->mqtt_uri &&
	    (!strncmp(cfg->mqtt_uri, "tcp://", 6) || !strncmp(cfg->mqtt_uri, "mqtt://", 7) ||
	     !strncmp(cfg->mqtt_uri, "ws://", 5)))
		warn(arg, cfg->mqtt_ca_file ? "mqtt.ca_file" : "mqtt.cert_file",
		     "does nothing with a plain-text mqtt.uri (use ssl://, mqtts:// or wss://)");
}
