/* SPDX-License-Identifier: MIT
 *
 * config.c - table-driven configuration (Redis createIntConfig style): one
 * row per key with its type, range, default and whether SIGHUP may reload
 * it.  Every key of the file must be in the table.  Two rows of one section
 * that name the same field are one key under two names (an alias kept for
 * old configs); giving both with different values is an error.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "forwarded.h"
#include "jwt.h"

#define OFF(f) offsetof(struct sb_config, f)
#define STR(sec, name, f, def) { sec, name, T_STR, OFF(f), 0, 0, def, 0, 0, 0 }
/* a string SIGHUP may change (read where it is used, never copied) */
#define STRR(sec, name, f, def) { sec, name, T_STR, OFF(f), 0, 0, def, 0, 1, 0 }
#define STRLIST(sec, name, f, n, max, rl) { sec, name, T_STRLIST, OFF(f), 0, max, NULL, 0, rl, (int)OFF(n) }
#define INT(sec, name, f, min, max, def, rl) { sec, name, T_INT, OFF(f), min, max, NULL, def, rl, 0 }
#define LNG(sec, name, f, min, max, def, rl) { sec, name, T_LONG, OFF(f), min, max, NULL, def, rl, 0 }
#define BOOL(sec, name, f, def, rl) { sec, name, T_BOOL, OFF(f), 0, 1, NULL, def, rl, 0 }
#define SECTION(name) { NULL, name, T_SECTION, 0, 0, 0, NULL, 0, 0, -1 }
#define SECTION_FLAG(name, flag) { NULL, name, T_SECTION, 0, 0, 0, NULL, 0, 0, (int)OFF(flag) }

static const struct ckey keys[] = {
	SECTION("mqtt"),
	/* a string or a list of 1..16 (a cluster's nodes); default in check() */
	{ "mqtt", "uri", T_STRLIST, OFF(mqtt_uris), 1, 16, NULL, 0, 0, (int)OFF(n_mqtt_uris) },
	/* a template: one id per host, see sb_config_expand_client_id */
	STR("mqtt", "client_id", mqtt_client_id, "statusbus-{hostname}"),
	STR("mqtt", "username", mqtt_username, NULL),
	STR("mqtt", "password", mqtt_password, NULL),
	STR("mqtt", "password_file", mqtt_password_file, NULL),
	STR("mqtt", "ca_file", mqtt_ca_file, NULL),
	STR("mqtt", "cert_file", mqtt_cert_file, NULL),
	STR("mqtt", "key_file", mqtt_key_file, NULL),
	INT("mqtt", "keepalive_s", mqtt_keepalive_s, 5, 3600, 30, 0),
	/* NATS 2.9 (docs/scaling.md): repeats of a live message dropped
	 * within this window; 0 = off (Mosquitto sends one copy) */
	INT("mqtt", "dedup_ms", mqtt_dedup_ms, 0, 60000, 0, 0),
	INT("mqtt", "reconnect_min_s", mqtt_reconnect_min_s, 1, 60, 1, 0),
	INT("mqtt", "reconnect_max_s", mqtt_reconnect_max_s, 1, 3600, 30, 0),

	SECTION("listen"),
	STR("listen", "host", listen_host, "127.0.0.1"),
	INT("listen", "port", listen_port, 0, 65535, 8080, 0),
	STR("listen", "cert_file", listen_cert_file, NULL),
	STR("listen", "key_file", listen_key_file, NULL),
	STR("listen", "static_dir", static_dir, NULL),
	STRLIST("listen", "allowed_origins", allowed_origins, n_allowed_origins, 256, 1),
	/* proxies whose X-Forwarded-For names the client (docs/deploy.md) */
	STRLIST("listen", "trusted_proxies", trusted_proxies, n_trusted_proxies, 64, 1),
	/* permessage-deflate (docs/protocol.md §5.7): off, logs or all */
	STR("listen", "compression", compression, "off"),
	INT("listen", "compression_min_bytes", compression_min_bytes, 0, 1 << 24, 512, 0),
	INT("listen", "compression_level", compression_level, 1, 9, 6, 0),

	SECTION_FLAG("auth", auth_enabled),       /* no section: open dev mode */
	STRR("auth", "jwt_alg", jwt_alg, "HS256"),
	STRR("auth", "jwt_secret", jwt_secret, NULL),
	STRR("auth", "jwt_secret_file", jwt_secret_file, NULL),
	STRR("auth", "jwt_public_key_file", jwt_public_key_file, NULL),
	STRR("auth", "issuer", issuer, NULL),
	STRR("auth", "audience", audience, NULL),
	INT("auth", "leeway_s", token_leeway_s, 0, 300, 30, 1),
	/* the longest-lived token accepted (exp - iat, or exp - now): at most
	 * ten years, so that no token lives forever */
	INT("auth", "max_ttl_s", token_max_ttl_s, 60, 315360000, SB_JWT_DEFAULT_MAX_TTL, 1),
	BOOL("auth", "allow_wildcard_first_segment", allow_wildcard_first_segment, 0, 1),

	SECTION_FLAG("pusher", pusher_enabled),
	STRR("pusher", "app_id", pusher_app_id, NULL),
	STRR("pusher", "key", pusher_key, NULL),
	STRR("pusher", "secret", pusher_secret, NULL),
	INT("pusher", "activity_timeout_s", pusher_activity_timeout_s, 10, 600, 120, 1),
	BOOL("pusher", "client_events", pusher_client_events, 0, 1),
	/* the HTTP API's limits: Pusher's own by default */
	INT("pusher", "max_event_bytes", pusher_max_event_bytes, 1, 1 << 20, 10240, 0),
	INT("pusher", "max_event_channels", pusher_max_event_channels, 1, 10000, 100, 0),
	INT("pusher", "max_batch_events", pusher_max_batch_events, 1, 1000, 10, 0),
	/* a body is read into memory before its signature can be checked */
	LNG("pusher", "max_request_bytes", pusher_max_request_bytes, 1024, 1 << 20, 262144, 0),

	SECTION("validation"),
	BOOL("validation", "enabled", validate_payloads, 1, 1),
	BOOL("validation", "reject_unknown_topics", reject_unknown_topics, 0, 1),
	BOOL("validation", "republish_rejected", republish_rejected, 0, 1),
	INT("validation", "log_interval_s", reject_log_interval_s, 1, 86400, 60, 1),

	SECTION("limits"),
	INT("limits", "max_connections", max_connections, 1, 1000000, 50000, 1),
	INT("limits", "max_subscriptions", max_subscriptions, 1, 100000, 128, 1),
	/* distinct users per presence channel, cluster-wide (§5.12) */
	INT("limits", "presence_max_members", presence_max_members, 1, 100000, 100, 0),
	INT("limits", "max_frame_bytes", max_frame_bytes, 256, 16 << 20, 65536, 0),
	LNG("limits", "send_queue_soft_bytes", send_queue_soft_bytes, 1024, 1L << 32, 1 << 20, 1),
	/* its earlier name: a row for the same field is an alias */
	LNG("limits", "send_queue_bytes", send_queue_soft_bytes, 1024, 1L << 32, 1 << 20, 1),
	LNG("limits", "send_queue_hard_bytes", send_queue_hard_bytes, 0, 1L << 34, 0, 1),
	LNG("limits", "send_queue_frames", send_queue_frames, 16, 10000000, 10000, 1),
	LNG("limits", "max_payload_bytes", max_payload_bytes, 64, 256L << 20, 65536, 1),
	LNG("limits", "cache_max_topics", cache_max_topics, 16, 100000000, 1000000, 0),
	LNG("limits", "inbound_queue_msgs", inbound_queue_msgs, 16, 100000000, 100000, 0),
	LNG("limits", "inbound_queue_bytes", inbound_queue_bytes, 65536, 1L << 36, 64L << 20, 0),
	/* Paho's thread waits this long for room; far below any keepalive */
	INT("limits", "inbound_wait_ms", inbound_wait_ms, 0, 1000, 100, 0),
	INT("limits", "hello_timeout_s", hello_timeout_s, 1, 600, 10, 1),
	INT("limits", "subscribe_timeout_ms", subscribe_timeout_ms, 10, 600000, 5000, 1),
	/* SIGTERM closes the clients spread over this long; 0 = all at once */
	INT("limits", "drain_s", drain_s, 0, 3600, 10, 1),
	INT("limits", "heartbeat_s", heartbeat_s, 5, 3600, 25, 0),
	INT("limits", "idle_timeout_s", idle_timeout_s, 10, 7200, 60, 0),
	INT("limits", "max_msgs_per_s", max_msgs_per_s, 1, 1000000, 100, 1),
	/* the whole request head, however it is dribbled in */
	INT("limits", "handshake_timeout_s", handshake_timeout_s, 1, 300, 5, 0),
	/* per client address (an IPv6 /64); behind a proxy every client is
	 * the proxy's address: 0 turns a limit off */
	INT("limits", "max_connections_per_ip", max_connections_per_ip, 0, 1000000, 1024, 0),
	INT("limits", "max_handshakes_per_ip", max_handshakes_per_ip, 0, 65535, 256, 0),
	/* lws's header table holds what this allows (an unsigned short) */
	INT("limits", "max_header_bytes", max_header_bytes, 1024, 57344, 16384, 0),

	SECTION("metrics"),
	STR("metrics", "listen", metrics_listen, NULL),

	SECTION("logs"),
	STR("logs", "follow", logs_follow, "active"),
	INT("logs", "max_followed", logs_max_followed, 1, 1000000, 1000, 1),

	STR(NULL, "schemas_dir", schemas_dir, "schemas"),
	STRR(NULL, "log_level", log_level, "info"),
	STRR(NULL, "log_format", log_format, "text"),
	{ NULL, "channels", T_JSON, OFF(channels), 0, 0, NULL, 0, 0, 0 },
};


static void free_list(char ***list, size_t *n)
{
	for (size_t i = 0; *list && i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

static void set_defaults(struct sb_config *cfg)
{
	for (size_t i = 0; i < SB_ARRAY_LEN(keys); i++) {
		const struct ckey *k = &keys[i];
		switch (k->type) {
		case T_STR:
			*FIELD(cfg, k, char *) = k->def_str ? strdup(k->def_str) : NULL;
			break;
		case T_INT:
		case T_BOOL:
			*FIELD(cfg, k, int) = (int)k->def_num;
			break;
		case T_LONG:
			*FIELD(cfg, k, long) = k->def_num;
			break;
		default:
			break;
		}
	}
}

const struct ckey *const sb_config__keys = keys;
const size_t sb_config__nkeys = SB_ARRAY_LEN(keys);

const struct ckey *sb_config__lookup(const char *section, const char *name)
{
	for (size_t i = 0; i < SB_ARRAY_LEN(keys); i++) {
		const struct ckey *k = &keys[i];
		if (strcmp(k->name, name) != 0)
			continue;
		if ((section == NULL) != (k->section == NULL))
			continue;
		if (section && strcmp(section, k->section) != 0)
			continue;
		return k;
	}
	return NULL;
}

static enum sb_err set_value(struct sb_config *cfg, const struct ckey *k, const cJSON *v,
			     const char *path, char *err, size_t errlen)
{
	char kname[128];

	snprintf(kname, sizeof(kname), "%s%s%s", k->section ? k->section : "",
		 k->section ? "." : "", k->name);
	switch (k->type) {
	case T_STR: {
		char **f = FIELD(cfg, k, char *);
		if (cJSON_IsNull(v)) {
			free(*f);
			*f = NULL;
			return SB_OK;
		}
		if (!cJSON_IsString(v) || strlen(v->valuestring) > 4096) {
			snprintf(err, errlen, "%s: %s: must be a string or null", path, kname);
			return SB_ERR_INVAL;
		}
		free(*f);
		*f = strdup(v->valuestring);
		return *f ? SB_OK : SB_ERR_NOMEM;
	}
	case T_INT:
	case T_LONG: {
		double d = v->valuedouble;
		/* range first: casting an out-of-range double (1e300) is undefined */
		if (!cJSON_IsNumber(v) || d < (double)k->min || d > (double)k->max ||
		    d != (double)(long long)d) {
			snprintf(err, errlen, "%s: %s: must be an integer from %ld to %ld", path,
				 kname, k->min, k->max);
			return SB_ERR_INVAL;
		}
		if (k->type == T_INT)
			*FIELD(cfg, k, int) = (int)d;
		else
			*FIELD(cfg, k, long) = (long)d;
		return SB_OK;
	}
	case T_BOOL:
		if (!cJSON_IsBool(v)) {
			snprintf(err, errlen, "%s: %s: must be true or false", path, kname);
			return SB_ERR_INVAL;
		}
		*FIELD(cfg, k, int) = cJSON_IsTrue(v);
		return SB_OK;
	case T_STRLIST: {
		const cJSON *it;
		size_t n = 0;
		char **list;
		cJSON *one = NULL;
		enum sb_err rc;
		if (k->min == 1 && cJSON_IsString(v)) {
			/* a string is a list of one */
			if (!(one = cJSON_CreateArray()) ||
			    !cJSON_AddItemToArray(one, cJSON_CreateString(v->valuestring))) {
				cJSON_Delete(one);
				return SB_ERR_NOMEM;
			}
			rc = set_value(cfg, k, one, path, err, errlen);
			cJSON_Delete(one);
			return rc;
		}
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > k->max ||
		    cJSON_GetArraySize(v) < k->min) {
			snprintf(err, errlen, "%s: %s: must be %san array of %s%ld strings", path,
				 kname, k->min ? "a string or " : "", k->min ? "1 to " : "at most ",
				 k->max);
			return SB_ERR_INVAL;
		}
		list = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(char *));
		if (!list)
			return SB_ERR_NOMEM;
		cJSON_ArrayForEach(it, v) {
			if (!cJSON_IsString(it) || !(list[n] = strdup(it->valuestring))) {
				for (size_t i = 0; i < n; i++)
					free(list[i]);
				free(list);
				snprintf(err, errlen, "%s: %s: must hold strings", path, kname);
				return SB_ERR_INVAL;
			}
			n++;
		}
		/* a repeated key replaces the earlier list */
		free_list(FIELD(cfg, k, char **), FIELD_N(cfg, k));
		*FIELD(cfg, k, char **) = list;
		*FIELD_N(cfg, k) = n;
		return SB_OK;
	}
	case T_JSON:
		if (cJSON_IsNull(v))
			return SB_OK;
		cJSON_Delete(cfg->channels);
		cfg->channels = cJSON_Duplicate(v, 1);
		return cfg->channels ? SB_OK : SB_ERR_NOMEM;
	case T_SECTION:
		break;
	}
	return SB_ERR_INTERNAL;
}

/* A key whose name starts with '_' is a comment ("_comment": "..."): JSON
 * has none, and a config explains itself this way (--genconfig's output
 * does). */
static int is_comment(const char *name)
{
	return name[0] == '_';
}

/* The same field given earlier in `sec` under another name (an alias) with
 * a different value is an error: which one was meant is not known. */
static enum sb_err alias_conflict(const cJSON *sec, const cJSON *it, const struct ckey *k,
				  const char *path, char *err, size_t errlen)
{
	for (const cJSON *o = sec->child; o && o != it; o = o->next) {
		const struct ckey *ok = sb_config__lookup(sec->string, o->string);

		if (ok && ok != k && ok->off == k->off && !cJSON_Compare(o, it, 1)) {
			snprintf(err, errlen, "%s: %s.%s: given as %s too, with another value", path,
				 sec->string, it->string, o->string);
			return SB_ERR_INVAL;
		}
	}
	return SB_OK;
}

static int uri_scheme_ok(const char *u)
{
	static const char *const schemes[] = { "tcp://", "ssl://", "mqtt://", "mqtts://", "ws://",
					       "wss://" };

	for (size_t i = 0; i < SB_ARRAY_LEN(schemes); i++)
		if (!strncmp(u, schemes[i], strlen(schemes[i])) && u[strlen(schemes[i])])
			return 1;
	return 0;
}

/* mqtt.uri: the default when absent; every URI with a scheme Paho knows,
 * all plain or all TLS (one set of TLS options serves every node). */
static enum sb_err check_uris(struct sb_config *cfg, const char *path, char *err, size_t errlen)
{
	int tls0 = -1;

	if (!cfg->n_mqtt_uris) {
		free(cfg->mqtt_uris);
		if (!(cfg->mqtt_uris = calloc(2, sizeof(char *))) ||
		    !(cfg->mqtt_uris[0] = strdup("tcp://127.0.0.1:1883")))
			return SB_ERR_NOMEM;
		cfg->n_mqtt_uris = 1;
	}
	for (size_t i = 0; i < cfg->n_mqtt_uris; i++) {
		const char *u = cfg->mqtt_uris[i];
		int tls = !strncmp(u, "ssl://", 6) || !strncmp(u, "mqtts://", 8) || !strncmp(u, "wss://", 6);

		if (!uri_scheme_ok(u)) {
			snprintf(err, errlen, "%s: mqtt.uri: \"%.200s\" must start with tcp://, ssl://, "
				 "mqtt://, mqtts://, ws:// or wss://", path, u);
			return SB_ERR_INVAL;
		}
		if (tls0 >= 0 && tls != tls0) {
			snprintf(err, errlen, "%s: mqtt.uri: mixes TLS and plain-text URIs", path);
			return SB_ERR_INVAL;
		}
		tls0 = tls;
	}
	cfg->mqtt_uri = cfg->mqtt_uris[0];
	return SB_OK;
}

/* metrics.listen: "<IPv4>:<port>", "[<IPv6>]:<port>" or "localhost:<port>"
 * (127.0.0.1), port 1-65535.  Returns 0 when s is none of these. */
static int parse_metrics_listen(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon, *h = s, *hend;
	unsigned char addr[sizeof(struct in6_addr)];
	char *end;
	long p;

	if (*s == '[') {
		h = s + 1;
		hend = strchr(h, ']');
		if (!hend || hend[1] != ':')
			return 0;
		colon = hend + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return 0;   /* an IPv6 address goes in brackets */
		hend = colon;
	}
	if (hend == h || (size_t)(hend - h) >= hostlen || colon[1] < '0' || colon[1] > '9')
		return 0;
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 1 || p > 65535)
		return 0;
	snprintf(host, hostlen, "%.*s", (int)(hend - h), h);
	if (*s != '[' && strcmp(host, "localhost") == 0)
		snprintf(host, hostlen, "127.0.0.1");
	if (inet_pton(*s == '[' ? AF_INET6 : AF_INET, host, addr) != 1)
		return 0;
	*port = (int)p;
	return 1;
}

static enum sb_err check(struct sb_config *cfg, const char *path, char *err, size_t errlen)
{
	enum sb_err rc = check_uris(cfg, path, err, errlen);

	if (rc != SB_OK)
		return rc;
	/* the template's syntax; its length once expanded is checked where the
	 * host name is known (the bridge's start and --check-config) */
	if (cfg->mqtt_client_id) {
		char id[SB_CONFIG_CLIENT_ID_MAX + 1];
		const char *why;

		if (sb_config_expand_client_id(cfg->mqtt_client_id, "h", 1, id, sizeof(id), &why)) {
			snprintf(err, errlen, "%s: mqtt.client_id: %s", path, why);
			return SB_ERR_INVAL;
		}
	} else {
		snprintf(err, errlen, "%s: mqtt.client_id: required", path);
		return SB_ERR_INVAL;
	}
	if (cfg->mqtt_password && cfg->mqtt_password_file) {
		snprintf(err, errlen, "%s: mqtt.password_file: give password or password_file, not both", path);
		return SB_ERR_INVAL;
	}
	if (cfg->mqtt_reconnect_min_s > cfg->mqtt_reconnect_max_s) {
		snprintf(err, errlen, "%s: mqtt.reconnect_min_s: greater than reconnect_max_s", path);
		return SB_ERR_INVAL;
	}
	if (!!cfg->mqtt_cert_file != !!cfg->mqtt_key_file) {
		snprintf(err, errlen, "%s: mqtt.key_file: cert_file and key_file go together", path);
		return SB_ERR_INVAL;
	}
	if (!cfg->listen_host || !*cfg->listen_host) {
		snprintf(err, errlen, "%s: listen.host: required", path);
		return SB_ERR_INVAL;
	}
	if (!!cfg->listen_cert_file != !!cfg->listen_key_file) {
		snprintf(err, errlen, "%s: listen.key_file: cert_file and key_file go together", path);
		return SB_ERR_INVAL;
	}
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++)
		if (!sb_forwarded_valid(cfg->trusted_proxies[i])) {
			snprintf(err, errlen, "%s: listen.trusted_proxies: \"%s\" is not an address "
				 "or address/prefix", path, cfg->trusted_proxies[i]);
			return SB_ERR_INVAL;
		}
	cfg->metrics_port = 0;
	if (cfg->metrics_listen) {
		if (!parse_metrics_listen(cfg->metrics_listen, cfg->metrics_host,
					  sizeof(cfg->metrics_host), &cfg->metrics_port)) {
			snprintf(err, errlen, "%s: metrics.listen: \"%s\" is not <IPv4 address>:<port>, "
				 "[<IPv6 address>]:<port> or localhost:<port>", path, cfg->metrics_listen);
			return SB_ERR_INVAL;
		}
		if (cfg->metrics_port == cfg->listen_port) {
			snprintf(err, errlen, "%s: metrics.listen: port %d is listen.port's; /metrics "
				 "needs a port of its own", path, cfg->metrics_port);
			return SB_ERR_INVAL;
		}
	}
	if (cfg->auth_enabled) {
		if (!cfg->jwt_alg || (strcmp(cfg->jwt_alg, "HS256") && strcmp(cfg->jwt_alg, "RS256") &&
				      strcmp(cfg->jwt_alg, "ES256"))) {
			snprintf(err, errlen, "%s: auth.jwt_alg: must be HS256, RS256 or ES256", path);
			return SB_ERR_INVAL;
		}
		if (strcmp(cfg->jwt_alg, "HS256") == 0) {
			if (!!cfg->jwt_secret + !!cfg->jwt_secret_file != 1) {
				snprintf(err, errlen, "%s: auth.jwt_secret: HS256 needs exactly one of jwt_secret, jwt_secret_file", path);
				return SB_ERR_INVAL;
			}
			if (cfg->jwt_secret && strlen(cfg->jwt_secret) < 16) {
				snprintf(err, errlen, "%s: auth.jwt_secret: must be at least 16 characters", path);
				return SB_ERR_INVAL;
			}
		} else if (!cfg->jwt_public_key_file) {
			snprintf(err, errlen, "%s: auth.jwt_public_key_file: required for %s", path, cfg->jwt_alg);
			return SB_ERR_INVAL;
		}
	} else if (!sb_host_is_loopback(cfg->listen_host)) {
		snprintf(err, errlen, "%s: auth: open development mode (no auth section) refuses "
			 "listen.host \"%s\", which is not a loopback address", path, cfg->listen_host);
		return SB_ERR_DENIED;
	}
	if (cfg->pusher_enabled && (!cfg->pusher_app_id || !cfg->pusher_key || !cfg->pusher_secret)) {
		snprintf(err, errlen, "%s: pusher: app_id, key and secret are required", path);
		return SB_ERR_INVAL;
	}
	if (cfg->send_queue_hard_bytes == 0)
		cfg->send_queue_hard_bytes = cfg->send_queue_soft_bytes * 4;
	if (cfg->send_queue_hard_bytes < cfg->send_queue_soft_bytes) {
		snprintf(err, errlen, "%s: limits.send_queue_hard_bytes: smaller than send_queue_soft_bytes", path);
		return SB_ERR_INVAL;
	}
	if (cfg->idle_timeout_s <= cfg->heartbeat_s) {
		snprintf(err, errlen, "%s: limits.idle_timeout_s: must exceed heartbeat_s", path);
		return SB_ERR_INVAL;
	}
	if (!cfg->schemas_dir || !*cfg->schemas_dir) {
		snprintf(err, errlen, "%s: schemas_dir: required", path);
		return SB_ERR_INVAL;
	}
	/* "log_level": null leaves NULL: refuse it rather than crash */
	if (!sb_log_level_parse(cfg->log_level, &(enum sb_log_level){ 0 })) {
		snprintf(err, errlen, "%s: log_level: must be debug, info, warn or error", path);
		return SB_ERR_INVAL;
	}
	if (!sb_log_format_parse(cfg->log_format, &(enum sb_log_format){ 0 })) {
		snprintf(err, errlen, "%s: log_format: must be text or json", path);
		return SB_ERR_INVAL;
	}
	if (!cfg->logs_follow ||
	    (strcmp(cfg->logs_follow, "active") && strcmp(cfg->logs_follow, "watched"))) {
		snprintf(err, errlen, "%s: logs.follow: must be active or watched", path);
		return SB_ERR_INVAL;
	}
	cfg->logs_follow_active = strcmp(cfg->logs_follow, "active") == 0;
	if (!sb_config_compression_parse(cfg->compression, &cfg->compression_mode)) {
		snprintf(err, errlen, "%s: listen.compression: must be off, logs or all", path);
		return SB_ERR_INVAL;
	}
	if (!cfg->allowed_origins) {
		cfg->allowed_origins = calloc(2, sizeof(char *));
		if (!cfg->allowed_origins || !(cfg->allowed_origins[0] = strdup("*")))
			return SB_ERR_NOMEM;
		cfg->n_allowed_origins = 1;
	}
	return SB_OK;
}

int sb_config_compression_parse(const char *s, enum sb_compression *out)
{
	static const char *const names[] = { "off", "logs", "all" };

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*out = (enum sb_compression)i;
			return 1;
		}
	return 0;
}

enum sb_err sb_config_parse(struct sb_config **out, const char *text, const char *path,
			    char *err, size_t errlen)
{
	struct sb_config *cfg;
	cJSON *root;
	const cJSON *sec, *it;
	enum sb_err rc = SB_OK;

	*out = NULL;
	root = cJSON_Parse(text);
	if (!cJSON_IsObject(root)) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;
		for (const char *p = text; at && p < at && *p; p++)
			line += *p == '\n';
		snprintf(err, errlen, "%s: not a JSON object (syntax error near line %d)", path, line);
		cJSON_Delete(root);
		return SB_ERR_INVAL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		cJSON_Delete(root);
		return SB_ERR_NOMEM;
	}
	set_defaults(cfg);
	cJSON_ArrayForEach(sec, root) {
		const struct ckey *k = sb_config__lookup(NULL, sec->string);

		if (is_comment(sec->string))
			continue;
		if (!k) {
			sb_config__unknown_key(NULL, sec->string, path, err, errlen);
			rc = SB_ERR_INVAL;
			break;
		}
		if (k->type != T_SECTION) {
			rc = set_value(cfg, k, sec, path, err, errlen);
			if (rc)
				break;
			continue;
		}
		if (cJSON_IsNull(sec))
			continue;
		if (!cJSON_IsObject(sec)) {
			snprintf(err, errlen, "%s: %s: must be an object", path, sec->string);
			rc = SB_ERR_INVAL;
			break;
		}
		if (k->section_flag_off >= 0)
			*(int *)((char *)cfg + k->section_flag_off) = 1;
		cJSON_ArrayForEach(it, sec) {
			const struct ckey *kk = sb_config__lookup(sec->string, it->string);

			if (is_comment(it->string))
				continue;
			if (!kk) {
				sb_config__unknown_key(sec->string, it->string, path, err, errlen);
				rc = SB_ERR_INVAL;
				break;
			}
			if ((rc = alias_conflict(sec, it, kk, path, err, errlen)))
				break;
			rc = set_value(cfg, kk, it, path, err, errlen);
			if (rc)
				break;
		}
		if (rc)
			break;
	}
	cJSON_Delete(root);
	if (!rc)
		rc = check(cfg, path, err, errlen);
	if (rc) {
		sb_config_destroy(cfg);
		return rc;
	}
	*out = cfg;
	return SB_OK;
}

enum sb_err sb_read_file(const char *path, size_t max, int strip_nl, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	*out = NULL;
	if (!f)
		return errno == ENOENT ? SB_ERR_NOTFOUND : SB_ERR_IO;
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return SB_ERR_NOMEM;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		fclose(f);
		free(buf);
		return n > max ? SB_ERR_LIMIT : SB_ERR_IO;
	}
	fclose(f);
	if (strip_nl && n && buf[n - 1] == '\n')
		n--;
	if (strip_nl && n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return SB_OK;
}

enum sb_err sb_config_load(struct sb_config **out, const char *path, char *err, size_t errlen)
{
	char *text;
	enum sb_err rc = sb_read_file(path, 4 << 20, 0, &text, NULL);

	*out = NULL;
	if (rc) {
		snprintf(err, errlen, "%s: cannot read: %s", path, sb_strerror(rc));
		return rc;
	}
	rc = sb_config_parse(out, text, path, err, errlen);
	free(text);
	return rc;
}

void sb_config_destroy(struct sb_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < SB_ARRAY_LEN(keys); i++)
		if (keys[i].type == T_STR) {
			char **f = FIELD(cfg, &keys[i], char *);
			free(*f);
			*f = NULL;   /* an alias row names the same field */
		} else if (keys[i].type == T_STRLIST) {
			free_list(FIELD(cfg, &keys[i], char **), FIELD_N(cfg, &keys[i]));
		}
	cJSON_Delete(cfg->channels);
	free(cfg);
}

static int id_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

enum sb_err sb_config_expand_client_id(const char *tmpl, const char *hostname, long pid,
				       char *out, size_t outlen, const char **why)
{
	size_t max = outlen ? outlen - 1 : 0, n = 0;
	char pidbuf[24];

	if (max > SB_CONFIG_CLIENT_ID_MAX)
		max = SB_CONFIG_CLIENT_ID_MAX;
	while (*tmpl) {
		const char *ins = tmpl;
		size_t len = 1;
		int host = 0;

		if (!strncmp(tmpl, "{hostname}", 10)) {
			ins = hostname ? hostname : "";
			len = strlen(ins);
			host = 1;
			tmpl += 10;
		} else if (!strncmp(tmpl, "{pid}", 5)) {
			snprintf(pidbuf, sizeof(pidbuf), "%ld", pid);
			ins = pidbuf;
			len = strlen(pidbuf);
			tmpl += 5;
		} else if (*tmpl == '{') {
			*why = "the only placeholders are {hostname} and {pid}";
			return SB_ERR_INVAL;
		} else if (id_byte((unsigned char)*tmpl) || *tmpl == '.') {
			tmpl++;
		} else {
			*why = "may hold letters, digits, '-', '_', '.', {hostname} and {pid} only";
			return SB_ERR_INVAL;
		}
		if (len > max - n) {
			*why = "longer than 128 characters once expanded";
			return SB_ERR_LIMIT;
		}
		for (size_t i = 0; i < len; i++)
			out[n++] = host && !id_byte((unsigned char)ins[i]) ? '-' : ins[i];
	}
	if (!n) {
		*why = "must not be empty";
		return SB_ERR_INVAL;
	}
	out[n] = '\0';
	return SB_OK;
}

int sb_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}
