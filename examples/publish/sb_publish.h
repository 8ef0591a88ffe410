/* SPDX-License-Identifier: MIT
 *
 * sb_publish.h - libstatusbus-publish: what a backend job links to publish
 * statusbus status records, deploy logs and the runtime logs of apps,
 * databases and services (docs/protocol.md §2 topic tree, §8 payload
 * validation).
 *
 * Two layers:
 *   - pure functions (no MQTT, no threads): build the topic and JSON payload
 *     of a status record or a log line, detect a log line's level, validate
 *     a payload locally with the same schemas and topics.json the bridge
 *     uses, describe a record in one readable line;
 *   - a publisher on Eclipse Paho (MQTTAsync): connect, publish a status
 *     retained at QoS 1 and wait for its PUBACK, stream deploy log lines at
 *     QoS 1 with a bounded in-flight window.
 *
 * Errors: every function that can fail returns an enum sb_err (sb_common.h)
 * and, where a human needs the reason, writes it into a caller-supplied
 * `err` buffer (may be NULL).  Nothing here calls exit() or prints: the
 * caller logs once, at its boundary.
 *
 * Threads: the pure functions are reentrant.  A publisher and its log
 * stream may be used by one thread at a time; Paho runs its callbacks on
 * its own threads and they only touch state guarded inside the publisher.
 */
#ifndef SB_PUBLISH_H
#define SB_PUBLISH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "sb_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Unset marker for the optional integer fields of struct sb_status. */
#define SB_UNSET INT_MIN

/* The largest payload the bridge forwards by default (its
 * limits.max_payload_bytes); a bigger one is refused locally. */
#define SB_PUBLISH_MAX_PAYLOAD 65536

/* The longest log line, in bytes of output, sent as one record.  Longer
 * lines are cut into several records at UTF-8 boundaries.  Half of
 * log-line.json's msg maxLength (16384 characters), so that even a line of
 * control characters (escaped as \u00XX in JSON) stays under
 * SB_PUBLISH_MAX_PAYLOAD. */
#define SB_LOG_MAX_LINE 8192

/* ---- status records (pure) ------------------------------------------------ */

enum sb_resource {
	SB_RES_APP = 0,   /* team/<t>/app/<uuid>/status           app-status.json */
	SB_RES_DB,        /* team/<t>/db/<uuid>/status            db-status.json */
	SB_RES_SERVICE,   /* team/<t>/service/<uuid>/status       service-status.json */
	SB_RES_SERVER,    /* team/<t>/server/<uuid>/reachability  server-reachability.json */
	SB_RES_DEPLOY,    /* team/<t>/deploy/<uuid>/status        deploy-status.json */
};

/* One status record.  Strings are borrowed (not copied, not freed).  NULL
 * strings, SB_UNSET integers and negative latency are left out of the
 * payload; sb_status_init() sets every optional field to unset.  Which
 * fields a resource takes is the schema's business: a field its schema
 * does not allow (progress on an app) fails validation, it is not silently
 * dropped. */
struct sb_status {
	enum sb_resource kind;
	const char *team;          /* [A-Za-z0-9_-]{1,64} */
	const char *id;            /* the resource's UUID */
	int64_t ts_ms;             /* ms since the epoch; 0 = now */

	/* app, db, service, deploy */
	const char *status;
	const char *old_status;
	/* app, db, service, server */
	const char *reason;
	const char *name;

	/* server */
	int reachable;             /* 0, 1 or SB_UNSET */
	int old_reachable;         /* 0, 1 or SB_UNSET */
	double latency_ms;         /* < 0: unset */

	/* deploy */
	int progress;              /* 0-100 (required by the schema) */
	const char *step;
	int step_index;
	int total_steps;
	const char *commit;
	const char *triggered_by;
	const char *app;           /* UUID of the application deployed */
	int64_t started_at_ms;     /* 0: unset */
	int64_t finished_at_ms;    /* 0: unset */
};

/* Zeroes `st`, sets kind, team, id and every optional field to unset. */
void sb_status_init(struct sb_status *st, enum sb_resource kind, const char *team,
		    const char *id);

/* "app", "db", "service", "server", "deploy". Static. */
const char *sb_resource_name(enum sb_resource kind);

/* Builds the topic and the JSON payload of `st` (ts = now when ts_ms is 0).
 * Checks the ids that go into the topic (team, id: SB_ERR_INVAL with the
 * offending value in err); does NOT validate the payload against its
 * schema - see sb_validator_check().
 * On SB_OK the caller frees *topic and *payload with free(); on error both
 * are NULL. */
enum sb_err sb_status_build(const struct sb_status *st, char **topic, char **payload,
			    char *err, size_t errlen);

/* Writes `ms` (since the epoch) as RFC 3339 UTC with milliseconds,
 * "2024-05-01T12:00:00.123Z", into buf (at least 25 bytes).  Returns buf. */
char *sb_rfc3339(int64_t ms, char *buf, size_t buflen);

/* ---- log lines (pure) ------------------------------------------------------ */

/* The topic of a resource's log stream: deploy/<id>/logs for a deploy (not
 * team-scoped), team/<team>/<kind>/<id>/logs for the runtime logs of an
 * app, a database or a service.  Checks the ids like sb_status_build();
 * SB_ERR_INVAL for a server (it has no log stream).  Caller frees *topic. */
enum sb_err sb_log_topic(enum sb_resource kind, const char *team, const char *id, char **topic,
			 char *err, size_t errlen);

enum sb_stream { SB_STREAM_STDOUT = 0, SB_STREAM_STDERR };

/* "stdout" / "stderr".  Static. */
const char *sb_stream_name(enum sb_stream stream);
/* "debug", "info", "warn", "error".  Static. */
const char *sb_level_name(enum sb_log_level level);

/* The level of a log line, from its text: the first keyword found, as a
 * whole word, case-insensitive (a "TypeError"-style suffix counts too):
 *   error, err, fatal, panic, critical  -> SB_LOG_ERR
 *   warn, warning                        -> SB_LOG_WARN
 *   debug                                -> SB_LOG_DEBUG
 * and SB_LOG_INFO when there is none.  The stream does not change the
 * level: build tools write ordinary progress to stderr. */
enum sb_log_level sb_log_level_detect(const char *text, size_t len);

/* Builds the payload of one log-line.json record.  `text` (len bytes) is
 * cleaned first: a trailing CR is dropped, terminal escape sequences
 * (colours) are removed and invalid UTF-8 becomes U+FFFD, so that browsers
 * always get valid text; it is cut to SB_LOG_MAX_LINE characters.  The level is
 * sb_log_level_detect() of the cleaned text.  Caller frees *payload. */
enum sb_err sb_log_line_build(uint64_t seq, int64_t ts_ms, enum sb_stream stream,
			      const char *text, size_t len, char **payload, size_t *payload_len);

/* ---- local validation (pure) --------------------------------------------------- */

struct sb_validator;

/* The schemas directory to use: `dir` when not NULL, else $STATUSBUS_SCHEMAS,
 * else the installed share directory when it holds topics.json, else
 * "schemas".  Static or borrowed. */
const char *sb_validator_default_dir(const char *dir);

/* Loads `dir`/topics.json and every schema in `dir` (sb_validator_default_dir
 * is applied to `dir`).  err names the file that failed.  Caller frees with
 * sb_validator_destroy(). */
enum sb_err sb_validator_load(struct sb_validator **out, const char *dir, char *err,
			      size_t errlen);

/* Accepts NULL. */
void sb_validator_destroy(struct sb_validator *v);

/* Checks a payload for `topic` as the bridge would:
 *   SB_OK            valid (or the topic's kind has no schema)
 *   SB_ERR_NOTFOUND  the topic is in no kind of topics.json
 *   SB_ERR_LIMIT     more than max_bytes (0: SB_PUBLISH_MAX_PAYLOAD)
 *   SB_ERR_INVAL     not JSON, or invalid for the schema; err gets
 *                    "payload invalid for app-status.json: /status: ..."
 * `retained` (may be NULL) gets whether topics.json says the topic's
 * messages are retained. */
enum sb_err sb_validator_check(const struct sb_validator *v, const char *topic,
			       const char *payload, size_t len, size_t max_bytes,
			       int *retained, char *err, size_t errlen);

/* The directory the validator was loaded from.  Borrowed. */
const char *sb_validator_dir(const struct sb_validator *v);

/* ---- readable form (pure) ------------------------------------------------------ */

/* One line for a person, e.g. "app 6f1c2a3b… running (was starting): OOM"
 * or "server 1a2b3c4d… unreachable (was reachable)" or "app 6f1c2a3b…
 * deleted" for an empty payload.  Understands the five status topics of
 * enum sb_resource; anything else is "<topic> <payload>".  A payload that
 * is not JSON gives "<kind> <id>… (payload is not JSON)".  Always writes a
 * NUL-terminated line (truncated to buflen); returns buf. */
char *sb_status_describe(const char *topic, const char *payload, size_t len, char *buf,
			 size_t buflen);

/* ---- the publisher (MQTT) --------------------------------------------------------- */

struct sb_publish_opts {
	const char *uri;            /* "tcp://host:1883", "ssl://host:8883"; NULL: tcp://127.0.0.1:1883 */
	const char *client_id;      /* NULL: "statusbus-publish-<pid>-<random>" */
	const char *username;
	const char *password;       /* or password_file (first line), not both */
	const char *password_file;
	const char *ca_file;        /* TLS: CA that signed the broker's certificate */
	const char *cert_file;      /* TLS client certificate (PEM) and its key */
	const char *key_file;
	const char *schemas_dir;    /* see sb_validator_default_dir() */
	int timeout_ms;             /* connect, PUBACK and drain deadline; 0: 10000 */
	int max_inflight;           /* log lines not yet acknowledged; 0: 256 */
	int keepalive_s;            /* 0: 30 */
	size_t max_payload_bytes;   /* 0: SB_PUBLISH_MAX_PAYLOAD */
};

/* Defaults (all NULL / 0). */
void sb_publish_opts_init(struct sb_publish_opts *o);

struct sb_publisher;

/* Loads the schemas, then connects (TLS when the URI is ssl:// or mqtts://
 * or a CA/cert is given; the broker's certificate and host name are
 * verified).  A refused or failed connect is retried with backoff until
 * timeout_ms; after that the publisher reconnects by itself when the
 * connection drops.  Returns
 *   SB_ERR_INVAL   bad options or schemas
 *   SB_ERR_DENIED  the broker refused the credentials (CONNACK 4 or 5)
 *   SB_ERR_IO      unreachable until the deadline, unreadable password file
 * The options' strings are copied.  Caller frees with
 * sb_publisher_destroy(). */
enum sb_err sb_publisher_create(struct sb_publisher **out, const struct sb_publish_opts *o,
				char *err, size_t errlen);

/* Waits up to timeout_ms for messages in flight, disconnects, frees.
 * Accepts NULL. */
void sb_publisher_destroy(struct sb_publisher *p);

/* The publisher's validator (borrowed), for callers that build their own
 * payloads. */
const struct sb_validator *sb_publisher_validator(const struct sb_publisher *p);

/* Builds `st`, validates it locally, publishes it retained at QoS 1 and
 * waits for the PUBACK.  Nothing is sent when the record is invalid
 * (SB_ERR_INVAL, err says why).  SB_ERR_IO: no PUBACK before the deadline
 * or the connection is down (the message may still arrive later). */
enum sb_err sb_publish_status(struct sb_publisher *p, const struct sb_status *st,
			      char *err, size_t errlen);

/* Publishes any payload of the topic tree: validated locally by the
 * topic's schema (SB_ERR_NOTFOUND for a topic outside topics.json),
 * retained as topics.json says, QoS 1, waits for the PUBACK. */
enum sb_err sb_publish_json(struct sb_publisher *p, const char *topic, const char *payload,
			    size_t len, char *err, size_t errlen);

/* Clears a retained status: an empty retained publish, which the bridge
 * forwards as a `deleted` event (the resource is gone).  SB_ERR_INVAL for a
 * topic whose kind is not retained. */
enum sb_err sb_publish_delete(struct sb_publisher *p, const char *topic, char *err,
			      size_t errlen);

/* ---- log streams ----------------------------------------------------------------- */

struct sb_log_stream;

/* Which log a stream writes. */
struct sb_log_stream_opts {
	enum sb_resource kind;     /* SB_RES_DEPLOY, or SB_RES_APP, _DB, _SERVICE
				    * (runtime logs) */
	const char *team;          /* the owning team */
	const char *id;            /* the resource's UUID */
	uint64_t first_seq;        /* seq of the first line; 0: 1.  A stream
				    * continued by another process (a restart)
				    * goes on from the last seq + 1, so that a
				    * viewer's resume stays exact */
};

/* Starts a log stream (ids checked, sb_log_topic): lines are numbered from
 * first_seq.  One stream per publisher at a time (SB_ERR_EXISTS
 * otherwise).  The strings are copied.  The stream is freed by
 * sb_log_stream_close(). */
enum sb_err sb_log_stream_open_opts(struct sb_log_stream **out, struct sb_publisher *p,
				    const struct sb_log_stream_opts *o, char *err, size_t errlen);

/* The log of deploy `deploy` of team `team` from seq 1:
 * sb_log_stream_open_opts with kind SB_RES_DEPLOY. */
enum sb_err sb_log_stream_open(struct sb_log_stream **out, struct sb_publisher *p,
			       const char *team, const char *deploy, char *err, size_t errlen);

/* Publishes one line (NUL-terminated; a trailing "\n" or "\r\n" is
 * dropped, an embedded newline starts another record) at QoS 1, not
 * retained.  Returns as soon as Paho has the message, unless max_inflight
 * lines are unacknowledged: then it waits for the broker, up to
 * timeout_ms, and on timeout drops the line and returns SB_ERR_IO (its seq
 * is not reused, so subscribers see the hole).  Failures are counted and
 * the first one's reason is reported by sb_log_stream_close(). */
enum sb_err sb_log_stream_line(struct sb_log_stream *ls, enum sb_stream stream,
			       const char *line);

/* Raw output (e.g. read() from a pipe): complete lines are published,
 * a partial last line is kept per stream until more bytes or close. */
enum sb_err sb_log_stream_write(struct sb_log_stream *ls, enum sb_stream stream,
				const void *buf, size_t len);

/* The last seq numbered so far (first_seq - 1 before the first line). */
uint64_t sb_log_stream_lines(const struct sb_log_stream *ls);

/* Publishes the partial last lines, waits up to timeout_ms for every line
 * to be acknowledged, then - for a deploy's stream, unless exit_code < 0 -
 * publishes the final team/<team>/deploy/<deploy>/status (a runtime log
 * has no final status: exit_code is ignored): "finished" when exit_code is 0,
 * "failed" otherwise, progress 100, finished_at now (retained, QoS 1,
 * PUBACK awaited).  Frees ls (accepts NULL).  SB_OK when every line and
 * the final status were acknowledged; otherwise SB_ERR_IO with err saying
 * how many lines were lost and why. */
enum sb_err sb_log_stream_close(struct sb_log_stream *ls, int exit_code, char *err,
				size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
