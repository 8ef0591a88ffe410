/* SPDX-License-Identifier: MIT
 *
 * sb_publish.c - the MQTT half of libstatusbus-publish: a Paho MQTTAsync
 * client that publishes validated status records and deploy log lines at
 * QoS 1 and waits for the broker's PUBACKs with deadlines.
 *
 * Thread boundary: Paho calls on_* below on its own threads.  They touch
 * only the fields marked "guarded by lock" and the request they complete,
 * and signal `cond`; every other field belongs to the caller's thread.
 */
#include "sb_publish.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "config.h"
#include "logenc.h"
#include "topic.h"

#define DEFAULT_URI "tcp://127.0.0.1:1883"
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_INFLIGHT 256
#define MAX_INFLIGHT 65535

/* One publish in flight: the context of its Paho callbacks.  Freed by the
 * last of the waiter (if any) and the callback. */
struct req {
	struct sb_publisher *p;
	int refs;        /* guarded by p->lock */
	int done;        /* guarded by p->lock: 0 pending, 1 acked, -1 failed */
	int code;
	int is_log;
};

struct sb_publisher {
	MQTTAsync client;
	struct sb_validator *val;
	char *uri, *client_id, *username, *password, *ca_file, *cert_file, *key_file;
	int timeout_ms, max_inflight, keepalive_s;
	size_t max_payload;
	struct sb_log_stream *stream;   /* the open log stream, if any */

	pthread_mutex_t lock;
	pthread_cond_t cond;            /* signalled on every state change below */
	/* guarded by lock */
	int connected;
	int conn_failed;                /* a connect attempt failed */
	int conn_code;                  /* its code (CONNACK return code when > 0) */
	char conn_msg[256];             /* its reason, or the last TLS error */
	int disconnected;
	size_t inflight;                /* publishes handed to Paho, not completed */
	uint64_t log_failed;            /* log publishes that failed */
	int log_fail_code;
};

struct sb_log_stream {
	struct sb_publisher *p;
	enum sb_resource kind;
	char *team, *deploy, *topic;    /* deploy: the resource's id, of any kind */
	uint64_t failed_at_open;        /* p->log_failed when opened */
	uint64_t dropped;               /* lines never handed to Paho */
	char first_reason[256];
	struct sb_logenc enc;           /* large: keep last */
};

/* ---- small helpers ------------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	return !src || (*dst = strdup(src)) != NULL;
}

static struct timespec deadline_in(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Waits on p->cond (lock held) until `deadline`; 0 on timeout. */
static int wait_until(struct sb_publisher *p, const struct timespec *deadline)
{
	return pthread_cond_timedwait(&p->cond, &p->lock, deadline) != ETIMEDOUT;
}

static const char *paho_code(int code)
{
	switch (code) {
	case 1: return "unacceptable protocol version";
	case 2: return "client id rejected";
	case 3: return "server unavailable";
	case 4: return "bad user name or password";
	case 5: return "not authorized";
	case MQTTASYNC_DISCONNECTED: return "not connected";
	case MQTTASYNC_MAX_BUFFERED_MESSAGES: return "too many messages buffered";
	case MQTTASYNC_BAD_UTF8_STRING: return "topic is not valid UTF-8";
	case MQTTASYNC_TOPICNAME_TRUNCATED: return "topic contains NUL";
	default: return "failed";
	}
}

/* ---- Paho's threads --------------------------------------------------------- */

static void req_unref_locked(struct req *r)
{
	if (--r->refs == 0)
		free(r);
}

static void on_send_success(void *ctx, MQTTAsync_successData *resp)
{
	struct req *r = ctx;
	struct sb_publisher *p = r->p;

	SB_UNUSED(resp);
	pthread_mutex_lock(&p->lock);
	r->done = 1;
	p->inflight--;
	pthread_cond_broadcast(&p->cond);
	req_unref_locked(r);
	pthread_mutex_unlock(&p->lock);
}

static void on_send_failure(void *ctx, MQTTAsync_failureData *resp)
{
	struct req *r = ctx;
	struct sb_publisher *p = r->p;

	pthread_mutex_lock(&p->lock);
	r->done = -1;
	r->code = resp ? resp->code : MQTTASYNC_FAILURE;
	if (r->is_log) {
		p->log_failed++;
		p->log_fail_code = r->code;
	}
	p->inflight--;
	pthread_cond_broadcast(&p->cond);
	req_unref_locked(r);
	pthread_mutex_unlock(&p->lock);
}

static void on_connected(void *ctx, char *cause)
{
	struct sb_publisher *p = ctx;

	SB_UNUSED(cause);
	pthread_mutex_lock(&p->lock);
	p->connected = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
	struct sb_publisher *p = ctx;

	pthread_mutex_lock(&p->lock);
	p->conn_failed = 1;
	p->conn_code = resp ? resp->code : MQTTASYNC_FAILURE;
	if (resp && resp->code > 0)
		snprintf(p->conn_msg, sizeof(p->conn_msg), "%s", paho_code(resp->code));
	else if (!p->conn_msg[0])
		snprintf(p->conn_msg, sizeof(p->conn_msg), "%s",
			 resp && resp->message ? resp->message : "connect failed");
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void on_lost(void *ctx, char *cause)
{
	struct sb_publisher *p = ctx;

	SB_UNUSED(cause);
	pthread_mutex_lock(&p->lock);
	p->connected = 0;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	SB_UNUSED(ctx);
	SB_UNUSED(topic_len);
	MQTTAsync_freeMessage(&m);   /* we subscribe to nothing */
	MQTTAsync_free(topic);
	return 1;
}

/* OpenSSL's own words ("certificate verify failed") beat Paho's "TCP/TLS
 * connect failure". */
static int on_ssl_error(const char *str, size_t len, void *ctx)
{
	struct sb_publisher *p = ctx;

	pthread_mutex_lock(&p->lock);
	snprintf(p->conn_msg, sizeof(p->conn_msg), "TLS: %.*s", (int)(len > 200 ? 200 : len), str);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void on_disconnected(void *ctx, MQTTAsync_successData *resp)
{
	struct sb_publisher *p = ctx;

	SB_UNUSED(resp);
	pthread_mutex_lock(&p->lock);
	p->disconnected = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void on_disconnect_failure(void *ctx, MQTTAsync_failureData *resp)
{
	SB_UNUSED(resp);
	on_disconnected(ctx, NULL);
}

/* ---- the publisher ------------------------------------------------------------ */

void sb_publish_opts_init(struct sb_publish_opts *o)
{
	memset(o, 0, sizeof(*o));
}

static int uri_is_tls(const char *uri)
{
	return !strncmp(uri, "ssl://", 6) || !strncmp(uri, "mqtts://", 8) ||
	       !strncmp(uri, "wss://", 6);
}

static enum sb_err connect_wait(struct sb_publisher *p, char *err, size_t errlen)
{
	MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	struct timespec deadline = deadline_in(p->timeout_ms);
	enum sb_err rc = SB_OK;
	int prc;

	o.keepAliveInterval = p->keepalive_s;
	o.cleansession = 1;
	o.maxInflight = p->max_inflight + 16;
	o.username = p->username;
	o.password = p->password;
	o.connectTimeout = p->timeout_ms < 2000 ? 1 : p->timeout_ms / 2000;
	/* Paho retries a failed connect by itself (also the first one) and
	 * reconnects after a lost connection */
	o.automaticReconnect = 1;
	o.minRetryInterval = 1;
	o.maxRetryInterval = 30;
	o.onFailure = on_connect_failure;
	o.context = p;
	if (uri_is_tls(p->uri)) {
		ssl.trustStore = p->ca_file;
		ssl.keyStore = p->cert_file;
		ssl.privateKey = p->key_file;
		ssl.enableServerCertAuth = 1;
		ssl.verify = 1;
		ssl.ssl_error_cb = on_ssl_error;
		ssl.ssl_error_context = p;
		o.ssl = &ssl;
	}
	prc = MQTTAsync_connect(p->client, &o);
	if (prc != MQTTASYNC_SUCCESS) {
		seterr(err, errlen, "cannot connect to %s: Paho refused the options (code %d)",
		       p->uri, prc);
		return SB_ERR_INVAL;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->connected) {
		if (p->conn_failed && (p->conn_code == 4 || p->conn_code == 5)) {
			seterr(err, errlen, "%s refused the connection: %s", p->uri, p->conn_msg);
			rc = SB_ERR_DENIED;
			break;
		}
		if (!wait_until(p, &deadline) && !p->connected) {
			seterr(err, errlen, "cannot connect to %s within %d ms: %s", p->uri,
			       p->timeout_ms, p->conn_msg[0] ? p->conn_msg : "no answer");
			rc = SB_ERR_IO;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

enum sb_err sb_publisher_create(struct sb_publisher **out, const struct sb_publish_opts *o,
				char *err, size_t errlen)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	struct sb_publisher *p;
	pthread_condattr_t ca;
	char idbuf[64];
	enum sb_err rc;
	int prc;

	*out = NULL;
	if (o->password && o->password_file) {
		seterr(err, errlen, "give a password or a password file, not both");
		return SB_ERR_INVAL;
	}
	if (!!o->cert_file != !!o->key_file) {
		seterr(err, errlen, "a client certificate and its key go together");
		return SB_ERR_INVAL;
	}
	if (o->max_inflight < 0 || o->max_inflight > MAX_INFLIGHT || o->timeout_ms < 0) {
		seterr(err, errlen, "max_inflight must be 1-%d and timeout_ms positive", MAX_INFLIGHT);
		return SB_ERR_INVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return SB_ERR_NOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	p->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	p->max_inflight = o->max_inflight ? o->max_inflight : DEFAULT_INFLIGHT;
	p->keepalive_s = o->keepalive_s ? o->keepalive_s : 30;
	p->max_payload = o->max_payload_bytes ? o->max_payload_bytes : SB_PUBLISH_MAX_PAYLOAD;
	if (!o->client_id) {
		uint32_t r = 0;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (uint32_t)sb_wall_ms();
		snprintf(idbuf, sizeof(idbuf), "statusbus-publish-%ld-%08x", (long)getpid(), r);
	}
	if (!dup_opt(&p->uri, o->uri ? o->uri : DEFAULT_URI) ||
	    !dup_opt(&p->client_id, o->client_id ? o->client_id : idbuf) ||
	    !dup_opt(&p->username, o->username) || !dup_opt(&p->password, o->password) ||
	    !dup_opt(&p->ca_file, o->ca_file) || !dup_opt(&p->cert_file, o->cert_file) ||
	    !dup_opt(&p->key_file, o->key_file)) {
		sb_publisher_destroy(p);
		return SB_ERR_NOMEM;
	}
	if ((p->ca_file || p->cert_file) && !uri_is_tls(p->uri)) {
		seterr(err, errlen, "TLS files given but %s is not an ssl:// or mqtts:// URI", p->uri);
		sb_publisher_destroy(p);
		return SB_ERR_INVAL;
	}
	if (o->password_file) {
		rc = sb_read_file(o->password_file, 4096, 1, &p->password, NULL);
		if (rc != SB_OK) {
			seterr(err, errlen, "password file %s: %s", o->password_file,
			       rc == SB_ERR_NOTFOUND ? "no such file" : sb_strerror(rc));
			sb_publisher_destroy(p);
			return SB_ERR_IO;
		}
	}
	rc = sb_validator_load(&p->val, o->schemas_dir, err, errlen);
	if (rc != SB_OK) {
		sb_publisher_destroy(p);
		return rc;
	}

	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.sendWhileDisconnected = 1;    /* buffer through a reconnect ... */
	co.maxBufferedMessages = p->max_inflight + 16;   /* ... within the window */
	prc = MQTTAsync_createWithOptions(&p->client, p->uri, p->client_id,
					  MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (prc != MQTTASYNC_SUCCESS) {
		seterr(err, errlen, "Paho refused the URI \"%s\" or client id (code %d)", p->uri, prc);
		p->client = NULL;
		sb_publisher_destroy(p);
		return SB_ERR_INVAL;
	}
	MQTTAsync_setCallbacks(p->client, p, on_lost, on_message, NULL);
	MQTTAsync_setConnected(p->client, p, on_connected);
	rc = connect_wait(p, err, errlen);
	if (rc != SB_OK) {
		sb_publisher_destroy(p);
		return rc;
	}
	*out = p;
	return SB_OK;
}

/* Waits (lock held) until no publish is in flight or the deadline. */
static size_t drain_locked(struct sb_publisher *p, int timeout_ms)
{
	struct timespec deadline = deadline_in(timeout_ms);

	while (p->inflight > 0 && wait_until(p, &deadline))
		;
	return p->inflight;
}

void sb_publisher_destroy(struct sb_publisher *p)
{
	if (!p)
		return;
	if (p->client) {
		int connected;

		pthread_mutex_lock(&p->lock);
		connected = p->connected;
		if (connected)
			drain_locked(p, p->timeout_ms);
		pthread_mutex_unlock(&p->lock);
		if (connected) {
			MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
			struct timespec deadline = deadline_in(2000);

			d.timeout = 1000;
			d.onSuccess = on_disconnected;
			d.onFailure = on_disconnect_failure;
			d.context = p;
			if (MQTTAsync_disconnect(p->client, &d) == MQTTASYNC_SUCCESS) {
				pthread_mutex_lock(&p->lock);
				while (!p->disconnected && wait_until(p, &deadline))
					;
				pthread_mutex_unlock(&p->lock);
			}
		}
		/* no callback runs after this returns */
		MQTTAsync_destroy(&p->client);
	}
	sb_validator_destroy(p->val);
	free(p->uri);
	free(p->client_id);
	free(p->username);
	if (p->password)
		memset(p->password, 0, strlen(p->password));
	free(p->password);
	free(p->ca_file);
	free(p->cert_file);
	free(p->key_file);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

const struct sb_validator *sb_publisher_validator(const struct sb_publisher *p)
{
	return p->val;
}

/* Hands one QoS 1 message to Paho.  Log lines first wait for room in the
 * window.  With `out`, the caller gets a reference to the request to wait
 * on. */
static enum sb_err send_msg(struct sb_publisher *p, const char *topic, const char *payload,
			    size_t len, int retained, int is_log, struct req **out, char *err,
			    size_t errlen)
{
	MQTTAsync_message m = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	struct req *r;
	int prc;

	if (out)
		*out = NULL;
	pthread_mutex_lock(&p->lock);
	if (is_log && p->inflight >= (size_t)p->max_inflight) {
		struct timespec deadline = deadline_in(p->timeout_ms);

		while (p->inflight >= (size_t)p->max_inflight && wait_until(p, &deadline))
			;
		if (p->inflight >= (size_t)p->max_inflight) {
			pthread_mutex_unlock(&p->lock);
			seterr(err, errlen, "%d lines unacknowledged by the broker for %d ms%s",
			       p->max_inflight, p->timeout_ms,
			       p->connected ? "" : " (disconnected)");
			return SB_ERR_IO;
		}
	}
	pthread_mutex_unlock(&p->lock);

	r = calloc(1, sizeof(*r));
	if (!r)
		return SB_ERR_NOMEM;
	r->p = p;
	r->refs = out ? 2 : 1;
	r->is_log = is_log;
	m.payload = (void *)payload;
	m.payloadlen = (int)len;
	m.qos = 1;
	m.retained = retained;
	ro.onSuccess = on_send_success;
	ro.onFailure = on_send_failure;
	ro.context = r;
	pthread_mutex_lock(&p->lock);
	p->inflight++;
	pthread_mutex_unlock(&p->lock);
	prc = MQTTAsync_sendMessage(p->client, topic, &m, &ro);
	if (prc != MQTTASYNC_SUCCESS) {
		pthread_mutex_lock(&p->lock);
		p->inflight--;
		pthread_mutex_unlock(&p->lock);
		free(r);
		seterr(err, errlen, "cannot send to %s: %s (Paho code %d)", topic, paho_code(prc),
		       prc);
		return SB_ERR_IO;
	}
	if (out)
		*out = r;
	return SB_OK;
}

/* Waits for the PUBACK of r and drops the caller's reference. */
static enum sb_err wait_req(struct sb_publisher *p, struct req *r, const char *topic,
			    char *err, size_t errlen)
{
	struct timespec deadline = deadline_in(p->timeout_ms);
	enum sb_err rc = SB_OK;

	pthread_mutex_lock(&p->lock);
	while (!r->done && wait_until(p, &deadline))
		;
	if (r->done < 0) {
		seterr(err, errlen, "publish to %s failed: %s (code %d)", topic, paho_code(r->code),
		       r->code);
		rc = SB_ERR_IO;
	} else if (!r->done) {
		seterr(err, errlen, "no PUBACK for %s within %d ms%s", topic, p->timeout_ms,
		       p->connected ? "" : " (disconnected; it is sent on reconnect)");
		rc = SB_ERR_IO;
	}
	req_unref_locked(r);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static enum sb_err publish_acked(struct sb_publisher *p, const char *topic,
				 const char *payload, size_t len, int retained, char *err,
				 size_t errlen)
{
	struct req *r;
	enum sb_err rc = send_msg(p, topic, payload, len, retained, 0, &r, err, errlen);

	return rc == SB_OK ? wait_req(p, r, topic, err, errlen) : rc;
}

enum sb_err sb_publish_json(struct sb_publisher *p, const char *topic, const char *payload,
			    size_t len, char *err, size_t errlen)
{
	int retained = 0;
	enum sb_err rc;

	if (!sb_topic_name_valid(topic, strlen(topic))) {
		seterr(err, errlen, "\"%s\" is not a topic name", topic);
		return SB_ERR_INVAL;
	}
	rc = sb_validator_check(p->val, topic, payload, len, p->max_payload, &retained, err,
				errlen);
	if (rc != SB_OK)
		return rc;
	return publish_acked(p, topic, payload, len, retained, err, errlen);
}

enum sb_err sb_publish_status(struct sb_publisher *p, const struct sb_status *st, char *err,
			      size_t errlen)
{
	char *topic, *payload;
	enum sb_err rc = sb_status_build(st, &topic, &payload, err, errlen);

	if (rc != SB_OK)
		return rc;
	rc = sb_publish_json(p, topic, payload, strlen(payload), err, errlen);
	free(topic);
	free(payload);
	return rc;
}

enum sb_err sb_publish_delete(struct sb_publisher *p, const char *topic, char *err,
			      size_t errlen)
{
	int retained = 0;
	enum sb_err rc;

	if (!sb_topic_name_valid(topic, strlen(topic))) {
		seterr(err, errlen, "\"%s\" is not a topic name", topic);
		return SB_ERR_INVAL;
	}
	rc = sb_validator_check(p->val, topic, "", 0, p->max_payload, &retained, err, errlen);
	if (rc != SB_OK)
		return rc;
	if (!retained) {
		seterr(err, errlen, "%s is not a retained topic: nothing to delete", topic);
		return SB_ERR_INVAL;
	}
	return publish_acked(p, topic, "", 0, 1, err, errlen);
}

/* ---- log streams ------------------------------------------------------------------ */

static enum sb_err emit_line(void *user, uint64_t seq, const char *payload, size_t len)
{
	struct sb_log_stream *ls = user;
	char why[256];
	enum sb_err rc;

	SB_UNUSED(seq);
	rc = send_msg(ls->p, ls->topic, payload, len, 0, 1, NULL, why, sizeof(why));
	if (rc != SB_OK) {
		if (!ls->dropped)
			snprintf(ls->first_reason, sizeof(ls->first_reason), "%s", why);
		ls->dropped++;
	}
	return rc;
}

enum sb_err sb_log_stream_open_opts(struct sb_log_stream **out, struct sb_publisher *p,
				    const struct sb_log_stream_opts *o, char *err, size_t errlen)
{
	struct sb_log_stream *ls;
	char *topic;
	enum sb_err rc;

	*out = NULL;
	if (p->stream) {
		seterr(err, errlen, "this publisher already has an open log stream");
		return SB_ERR_EXISTS;
	}
	if ((rc = sb_log_topic(o->kind, o->team, o->id, &topic, err, errlen)) != SB_OK)
		return rc;
	ls = calloc(1, sizeof(*ls));
	if (!ls || !(ls->team = strdup(o->team)) || !(ls->deploy = strdup(o->id))) {
		if (ls)
			free(ls->team);
		free(ls);
		free(topic);
		return SB_ERR_NOMEM;
	}
	ls->p = p;
	ls->kind = o->kind;
	ls->topic = topic;
	sb_logenc_init(&ls->enc);
	if (o->first_seq)
		ls->enc.next_seq = o->first_seq;
	pthread_mutex_lock(&p->lock);
	ls->failed_at_open = p->log_failed;
	pthread_mutex_unlock(&p->lock);
	p->stream = ls;
	*out = ls;
	return SB_OK;
}

enum sb_err sb_log_stream_open(struct sb_log_stream **out, struct sb_publisher *p,
			       const char *team, const char *deploy, char *err, size_t errlen)
{
	struct sb_log_stream_opts o = { SB_RES_DEPLOY, team, deploy, 1 };

	return sb_log_stream_open_opts(out, p, &o, err, errlen);
}

enum sb_err sb_log_stream_line(struct sb_log_stream *ls, enum sb_stream stream,
			       const char *line)
{
	return sb_logenc_line(&ls->enc, stream, line, strlen(line), emit_line, ls);
}

enum sb_err sb_log_stream_write(struct sb_log_stream *ls, enum sb_stream stream,
				const void *buf, size_t len)
{
	return sb_logenc_write(&ls->enc, stream, buf, len, emit_line, ls);
}

uint64_t sb_log_stream_lines(const struct sb_log_stream *ls)
{
	return ls->enc.next_seq - 1;
}

enum sb_err sb_log_stream_close(struct sb_log_stream *ls, int exit_code, char *err,
				size_t errlen)
{
	struct sb_publisher *p;
	uint64_t failed, lines;
	size_t pending;
	int fail_code;
	enum sb_err rc = SB_OK;

	if (!ls)
		return SB_OK;
	p = ls->p;
	sb_logenc_flush(&ls->enc, emit_line, ls);
	lines = sb_log_stream_lines(ls);
	pthread_mutex_lock(&p->lock);
	pending = drain_locked(p, p->timeout_ms);
	failed = p->log_failed - ls->failed_at_open;
	fail_code = p->log_fail_code;
	pthread_mutex_unlock(&p->lock);
	if (ls->dropped || failed || pending) {
		seterr(err, errlen, "%llu of %llu log lines not delivered: %s",
		       (unsigned long long)(ls->dropped + failed + pending), (unsigned long long)lines,
		       ls->dropped ? ls->first_reason :
		       failed ? paho_code(fail_code) : "no PUBACK before the deadline");
		rc = SB_ERR_IO;
	}
	if (exit_code >= 0 && ls->kind == SB_RES_DEPLOY) {
		struct sb_status st;
		char why[512];
		enum sb_err frc;

		sb_status_init(&st, SB_RES_DEPLOY, ls->team, ls->deploy);
		st.status = exit_code == 0 ? "finished" : "failed";
		st.progress = 100;
		st.finished_at_ms = sb_wall_ms();
		st.ts_ms = st.finished_at_ms;
		frc = sb_publish_status(p, &st, why, sizeof(why));
		if (frc != SB_OK && rc == SB_OK) {
			seterr(err, errlen, "final deploy status: %s", why);
			rc = frc;
		}
	}
	p->stream = NULL;
	free(ls->team);
	free(ls->deploy);
	free(ls->topic);
	free(ls);
	return rc;
}
