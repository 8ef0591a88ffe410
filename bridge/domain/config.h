/* SPDX-License-Identifier: MIT
 *
 * config.h - the bridge's JSON configuration (docs/protocol.md §11), read
 * through one table of keys with type, range, default and SIGHUP
 * reloadability (config.c).  Unknown keys are errors naming the file and
 * key.  Pure module.
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "sb_common.h"

/* listen.compression: which frames are sent compressed to a connection
 * that negotiated permessage-deflate */
enum sb_compression {
	SB_COMPRESS_OFF = 0,     /* the extension is not offered */
	SB_COMPRESS_LOGS,        /* batch frames (logs, batched channels) */
	SB_COMPRESS_ALL          /* every frame */
};

struct sb_config {
	/* mqtt */
	/* mqtt.uri: one broker URI or a list of them (the nodes of a cluster,
	 * tried in turn: mqtt_uris.h); mqtt_uri is the first, not owned */
	char **mqtt_uris;
	size_t n_mqtt_uris;
	const char *mqtt_uri;
	char *mqtt_client_id, *mqtt_username, *mqtt_password;
	char *mqtt_password_file, *mqtt_ca_file, *mqtt_cert_file, *mqtt_key_file;
	int mqtt_keepalive_s, mqtt_reconnect_min_s, mqtt_reconnect_max_s;
	int mqtt_dedup_ms;              /* mqtt.dedup_ms: 0 = off (mqtt_dedup.h) */
	/* listen */
	char *listen_host;
	int listen_port;
	char *listen_cert_file, *listen_key_file, *static_dir;
	char **allowed_origins;
	size_t n_allowed_origins;
	/* addresses or CIDR blocks of reverse proxies whose X-Forwarded-For is
	 * believed (listen.trusted_proxies) */
	char **trusted_proxies;
	size_t n_trusted_proxies;
	/* permessage-deflate: which frames a connection that negotiated it
	 * gets compressed (compression_mode from compression), those of at
	 * least compression_min_bytes, at compression_level */
	char *compression;
	enum sb_compression compression_mode;
	int compression_min_bytes;
	int compression_level;
	/* auth (auth_enabled = the section exists) */
	int auth_enabled;
	char *jwt_alg, *jwt_secret, *jwt_secret_file, *jwt_public_key_file;
	char *issuer, *audience;
	int token_leeway_s;
	int token_max_ttl_s;            /* auth.max_ttl_s */
	int allow_wildcard_first_segment;   /* auth.allow_wildcard_first_segment */
	/* pusher (pusher_enabled = the section exists) */
	int pusher_enabled;
	char *pusher_app_id, *pusher_key, *pusher_secret;
	int pusher_activity_timeout_s;
	int pusher_client_events;
	/* the HTTP API (docs/pusher.md): Pusher's limits by default */
	int pusher_max_event_bytes;     /* data of one event (10 KB) */
	int pusher_max_event_channels;  /* channels of one event (100) */
	int pusher_max_batch_events;    /* events of one batch_events (10) */
	long pusher_max_request_bytes;  /* a POST body, read into memory */
	/* payload validation */
	char *schemas_dir;
	int validate_payloads;          /* validation.enabled */
	int reject_unknown_topics;      /* validation.reject_unknown_topics */
	int republish_rejected;         /* validation.republish_rejected */
	int reject_log_interval_s;      /* validation.log_interval_s */
	/* limits */
	int max_connections, max_subscriptions, max_frame_bytes;
	int presence_max_members;      /* limits.presence_max_members */
	long send_queue_soft_bytes;     /* also accepted as send_queue_bytes */
	long send_queue_hard_bytes, send_queue_frames;
	long max_payload_bytes, cache_max_topics, inbound_queue_msgs;
	long inbound_queue_bytes;       /* MQTT hand-off: topic + payload bytes */
	int inbound_wait_ms;            /* MQTT hand-off: wait for room, then drop */
	int hello_timeout_s, heartbeat_s, idle_timeout_s;
	int subscribe_timeout_ms;   /* an ack waits this long to be live */
	int drain_s;                    /* SIGTERM: clients closed over this long */
	int max_msgs_per_s;             /* client frames per second */
	/* accept and request limits (conn_limits.h, docs/protocol.md §5.14) */
	int handshake_timeout_s;        /* a whole HTTP request head, from accept */
	int max_connections_per_ip;     /* 0 = no limit */
	int max_handshakes_per_ip;      /* connections in their request; 0 = no limit */
	int max_header_bytes;           /* a request head; over it: 431 */
	/* metrics.listen: /metrics on an address of its own ("127.0.0.1:9100",
	 * "[::1]:9100"), parsed by the checks into host and port; port 0 when
	 * unset (then /metrics is on the public port) */
	char *metrics_listen;
	char metrics_host[64];
	int metrics_port;
	/* logs (docs/protocol.md §3.4) */
	char *logs_follow;              /* "active" or "watched" */
	int logs_follow_active;         /* logs.follow is "active" (set by the checks) */
	int logs_max_followed;          /* deploys followed at once without a viewer */
	/* misc */
	char *log_level;
	char *log_format;               /* "text" or "json" */
	cJSON *channels;                /* owned; NULL = the default map */
};

/* Reads and validates `path`.  On failure returns non-SB_OK and writes
 * "<path>: <key>: <what is wrong>" into err.  Relative file paths inside
 * the config are kept as written (resolved against the working dir).
 * Caller frees with sb_config_destroy(). */
enum sb_err sb_config_load(struct sb_config **out, const char *path,
			   char *err, size_t errlen);

/* Same, from text (for tests); `name` is used in messages. */
enum sb_err sb_config_parse(struct sb_config **out, const char *text,
			    const char *name, char *err, size_t errlen);

/* Accepts NULL. */
void sb_config_destroy(struct sb_config *cfg);

/* What SIGHUP does with a config file read again (docs/protocol.md §11).
 * Compares `next` with the running `live` config key by key, in table
 * order, and calls cb(arg, key, reloadable) for each key whose value
 * differs ("section.name"; a section added or removed is one key, its
 * name, never reloadable, and its keys are not reported).  With apply set,
 * each differing reloadable value moves from next into live and next gets
 * live's old one (destroying next frees it); a value that needs a restart
 * stays as it runs.  Values are compared, never logged (some are secrets).
 * Returns how many differing keys need a restart. */
size_t sb_config_reload(struct sb_config *live, struct sb_config *next, int apply,
			void (*cb)(void *arg, const char *key, int reloadable), void *arg);

/* One warning of sb_config_lint: a key the config gives that does nothing
 * where it is (delivery.max_delay_ms on an immediate channel). */
typedef void (*sb_config_warn_fn)(void *arg, const char *key, const char *why);
/* Calls warn for every such key of cfg (config_lint.c).  Never fails: a
 * config it cannot read (broken channels) is the chanmap's to refuse. */
void sb_config_lint(const struct sb_config *cfg, sb_config_warn_fn warn, void *arg);

/* Reads a whole small file (a secret, a PEM) into a malloc'ed NUL-terminated
 * buffer, stripping one trailing newline when strip_nl.  Refuses files over
 * max bytes.  Caller frees. */
enum sb_err sb_read_file(const char *path, size_t max, int strip_nl,
			 char **out, size_t *len);

/* The longest MQTT client id the bridge uses, in bytes once expanded. */
#define SB_CONFIG_CLIENT_ID_MAX 128

/* Expands an mqtt.client_id template (docs/protocol.md §10.1): "{hostname}"
 * becomes `hostname` with every byte outside [A-Za-z0-9_-] replaced by
 * '-' (NULL counts as empty), "{pid}" becomes `pid` in decimal.  The rest
 * of the template may hold ASCII letters, digits, '-', '_' and '.': the id
 * also names the topic $statusbus/sync/<id>, so never '+', '#' or '/'.
 * Writes the NUL-terminated id into out[outlen].  Returns SB_OK, or
 * SB_ERR_INVAL (a character or placeholder not allowed, or an empty id) or
 * SB_ERR_LIMIT (longer than SB_CONFIG_CLIENT_ID_MAX bytes, or than outlen
 * - 1) with *why saying what is wrong (static text). */
enum sb_err sb_config_expand_client_id(const char *tmpl, const char *hostname, long pid,
				       char *out, size_t outlen, const char **why);

/* 1 when host is a loopback address or "localhost". */
int sb_host_is_loopback(const char *host);
/* "off", "logs" or "all" into *out; 0 for anything else (or NULL). */
int sb_config_compression_parse(const char *s, enum sb_compression *out);

#endif
