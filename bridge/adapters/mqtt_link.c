/* SPDX-License-Identifier: MIT
 *
 * mqtt_link.c - Paho MQTTAsync adapter (see mqtt_link.h for the thread
 * rules).  Paho's callbacks only push into the inbox; the first-connect
 * retry state and the link state the service thread acts on belong to the
 * service thread.
 *
 * The service thread never asks Paho whether the link is up
 * (MQTTAsync_isConnected) before subscribing or publishing: that takes
 * Paho's client mutex, which Paho's receive thread holds while it runs
 * messageArrived, and messageArrived may be waiting for the service
 * thread to drain the inbox.  It follows the connected/lost events of the
 * inbox instead; a call made in the short while before a loss is drained
 * fails in Paho and is logged (subscriptions are made again on connect).
 */
#include "mqtt_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTAsync.h>

#include "sb_common.h"

/* Context of one subscribe request: which filter the SUBACK is for. */
struct sub_req {
	struct sb_mqtt_link *link;
	char filter[];
};

struct sb_mqtt_link {
	const struct sb_config *cfg;
	struct sb_inbox *inbox;       /* borrowed */
	MQTTAsync client;
	char *password;               /* from password or password_file */
	/* Paho's receive thread only */
	int64_t drop_logged_ms;       /* last overflow/out-of-memory log line */
	uint64_t drops_unlogged;      /* drops since that line */
	/* service thread only */
	int64_t retry_at;             /* first-connect retry, 0 = none */
	int retry_s;
	int ever_connected;
	int up;                       /* as of the last connected/lost event drained */
};

/* ---- Paho's thread ------------------------------------------------------------ */

static void log_if_lost(enum sb_err rc, const char *what)
{
	if (rc != SB_OK)
		sb_log(SB_LOG_ERR, "mqtt: out of memory: %s event lost", what);
}

/* Logs a lost message at most every 10 s (a full inbox or out of memory
 * tend to last), with how many went since the last line; every one is
 * counted in statusbus_dropped_total{reason="inbound_overflow"}. */
static void log_drop(struct sb_mqtt_link *l, const char *why, const char *topic, size_t tlen)
{
	int64_t now = sb_now_ms();

	l->drops_unlogged++;
	if (l->drop_logged_ms && now - l->drop_logged_ms < 10000)
		return;
	sb_log(SB_LOG_WARN, "mqtt: %s: dropped a message on %.*s (%llu dropped since the last "
	       "report; counted in statusbus_dropped_total{reason=\"inbound_overflow\"})",
	       why, (int)tlen, topic, (unsigned long long)l->drops_unlogged);
	l->drop_logged_ms = now;
	l->drops_unlogged = 0;
}

/* A full inbox makes this wait, up to limits.inbound_wait_ms, for the
 * service thread to drain; still full, the message is dropped and counted.
 * It always returns 1.
 *
 * Returning 0 ("not received, offer it again") looks like loss-free back
 * pressure but is not, in Paho C 1.3 (MQTTAsyncUtils.c, MQTTProtocolClient.c):
 * a QoS 1 message is acknowledged to the broker whatever this returns, so
 * the broker does not slow down; the message is kept in a queue inside Paho
 * that has no bound; while that queue is not empty every new message is
 * appended to it; and Paho offers its head again at most once per round of
 * its receive loop that read something from the socket.  A burst larger
 * than the inbox thus leaves a backlog that drains one message per packet
 * received, and not at all once the broker goes quiet: the link stalls
 * (reproduced with limits.inbound_queue_msgs = 16 and a 5000-message QoS 1
 * burst).  Waiting here instead slows Paho's reading of the socket, so
 * TCP and the broker's queue hold the rest, and the budget bounds how long
 * Paho's thread (which holds its client lock meanwhile) can be held up by
 * a service thread that is stuck.  That lock is also why the service
 * thread must not call MQTTAsync_isConnected (see the top of the file). */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *pm)
{
	struct sb_mqtt_link *l = ctx;
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	size_t plen = pm->payloadlen > 0 ? (size_t)pm->payloadlen : 0;

	switch (sb_inbox_push_message(l->inbox, topic, tlen, pm->payload, plen, pm->retained)) {
	case SB_INBOX_OVERFLOW:
		log_drop(l, "inbound queue still full after limits.inbound_wait_ms", topic, tlen);
		break;
	case SB_INBOX_NOMEM:
		log_drop(l, "out of memory copying a message", topic, tlen);
		break;
	case SB_INBOX_ACCEPTED:
		break;
	}
	MQTTAsync_freeMessage(&pm);
	MQTTAsync_free(topic);
	return 1;
}

/* With a clean session the broker never has one to resume, and Paho's
 * connected callback does not carry the CONNACK flag: session_present is 0. */
static void on_connected(void *ctx, char *cause)
{
	struct sb_mqtt_link *l = ctx;

	log_if_lost(sb_inbox_push_connected(l->inbox, 0, cause), "connected");
}

static void on_lost(void *ctx, char *cause)
{
	struct sb_mqtt_link *l = ctx;

	log_if_lost(sb_inbox_push_lost(l->inbox, cause ? cause : "unknown cause"),
		    "connection lost");
}

static void failure_text(char *buf, size_t len, const MQTTAsync_failureData *resp,
			 const char *fallback)
{
	snprintf(buf, len, "%s (code %d)", resp && resp->message ? resp->message : fallback,
		 resp ? resp->code : 0);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
	struct sb_mqtt_link *l = ctx;
	char cause[256];

	failure_text(cause, sizeof(cause), resp, "no reason given");
	log_if_lost(sb_inbox_push_connect_failed(l->inbox, cause), "connect failed");
}

static void on_sub_success(void *ctx, MQTTAsync_successData *resp)
{
	struct sub_req *r = ctx;
	int qos = resp ? resp->alt.qos : 0;
	struct sb_inbox *in = r->link->inbox;

	if (qos == 0x80)
		log_if_lost(sb_inbox_push_suback(in, r->filter, -1, "refused by the broker"), "SUBACK");
	else
		log_if_lost(sb_inbox_push_suback(in, r->filter, qos, NULL), "SUBACK");
	free(r);
}

static void on_sub_failure(void *ctx, MQTTAsync_failureData *resp)
{
	struct sub_req *r = ctx;
	char cause[256];

	failure_text(cause, sizeof(cause), resp, "refused by the broker");
	log_if_lost(sb_inbox_push_suback(r->link->inbox, r->filter, -1, cause), "SUBACK");
	free(r);
}

static void on_publish_failure(void *ctx, MQTTAsync_failureData *resp)
{
	struct sb_mqtt_link *l = ctx;
	char cause[256];

	failure_text(cause, sizeof(cause), resp, "not sent");
	log_if_lost(sb_inbox_push_publish_failed(l->inbox, cause), "publish failed");
}

static void trace(enum MQTTASYNC_TRACE_LEVELS level, char *message)
{
	sb_log(level >= MQTTASYNC_TRACE_ERROR ? SB_LOG_ERR : SB_LOG_DEBUG, "paho: %s", message);
}

/* ---- service thread ----------------------------------------------------------- */

static int connect_now(struct sb_mqtt_link *l)
{
	MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	const struct sb_config *c = l->cfg;
	int rc;

	o.keepAliveInterval = c->mqtt_keepalive_s;
	o.cleansession = 1;
	o.automaticReconnect = 1;
	o.minRetryInterval = c->mqtt_reconnect_min_s;
	o.maxRetryInterval = c->mqtt_reconnect_max_s;
	o.username = c->mqtt_username;
	o.password = l->password;
	o.onFailure = on_connect_failure;
	o.context = l;
	o.connectTimeout = 10;
	if (c->mqtt_ca_file || c->mqtt_cert_file || !strncmp(c->mqtt_uri, "ssl://", 6) ||
	    !strncmp(c->mqtt_uri, "mqtts://", 8) || !strncmp(c->mqtt_uri, "wss://", 6)) {
		ssl.trustStore = c->mqtt_ca_file;
		ssl.keyStore = c->mqtt_cert_file;
		ssl.privateKey = c->mqtt_key_file;
		ssl.enableServerCertAuth = 1;
		ssl.verify = 1;
		ssl.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
		o.ssl = &ssl;
	}
	rc = MQTTAsync_connect(l->client, &o);
	if (rc != MQTTASYNC_SUCCESS) {
		sb_log(SB_LOG_ERR, "mqtt: cannot start connecting to %s: code %d", c->mqtt_uri, rc);
		return -1;
	}
	sb_log(SB_LOG_INFO, "mqtt: connecting to %s as %s", c->mqtt_uri, c->mqtt_client_id);
	return 0;
}

enum sb_err sb_mqtt_link_create(struct sb_mqtt_link **out, const struct sb_config *cfg,
				struct sb_inbox *inbox, char *err, size_t errlen)
{
	struct sb_mqtt_link *l;
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	int rc;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return SB_ERR_NOMEM;
	l->cfg = cfg;
	l->inbox = inbox;
	l->retry_s = cfg->mqtt_reconnect_min_s;
	if (cfg->mqtt_password_file) {
		enum sb_err e = sb_read_file(cfg->mqtt_password_file, 4096, 1, &l->password, NULL);
		if (e) {
			snprintf(err, errlen, "mqtt.password_file: %s: %s", cfg->mqtt_password_file,
				 sb_strerror(e));
			sb_mqtt_link_destroy(l, 0);
			return e;
		}
	} else if (cfg->mqtt_password) {
		l->password = strdup(cfg->mqtt_password);
	}
	MQTTAsync_setTraceCallback(trace);
	MQTTAsync_setTraceLevel(sb_log_get_level() == SB_LOG_DEBUG ? MQTTASYNC_TRACE_ERROR :
				MQTTASYNC_TRACE_SEVERE);
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.sendWhileDisconnected = 0;
	rc = MQTTAsync_createWithOptions(&l->client, cfg->mqtt_uri, cfg->mqtt_client_id,
					 MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		snprintf(err, errlen, "mqtt.uri: Paho refused \"%s\" (code %d)", cfg->mqtt_uri, rc);
		sb_mqtt_link_destroy(l, 0);
		return SB_ERR_INVAL;
	}
	MQTTAsync_setCallbacks(l->client, l, on_lost, on_message, NULL);
	MQTTAsync_setConnected(l->client, l, on_connected);
	*out = l;
	return SB_OK;
}

enum sb_err sb_mqtt_link_start(struct sb_mqtt_link *l)
{
	return connect_now(l) == 0 ? SB_OK : SB_ERR_IO;
}

void sb_mqtt_link_tick(struct sb_mqtt_link *l)
{
	if (l->retry_at && sb_now_ms() >= l->retry_at) {
		l->retry_at = 0;
		if (connect_now(l) != 0)
			l->retry_at = sb_now_ms() + (int64_t)l->retry_s * 1000;
	}
}

void sb_mqtt_link_note_connected(struct sb_mqtt_link *l)
{
	l->ever_connected = 1;
	l->up = 1;
	l->retry_s = l->cfg->mqtt_reconnect_min_s;
	l->retry_at = 0;
	sb_log(SB_LOG_INFO, "mqtt: connected to %s", l->cfg->mqtt_uri);
}

void sb_mqtt_link_note_lost(struct sb_mqtt_link *l)
{
	l->up = 0;
}

/* A failed attempt is rare and carries no messages: asking Paho here
 * cannot meet a messageArrived waiting on the inbox for long. */
int sb_mqtt_link_note_connect_failed(struct sb_mqtt_link *l)
{
	if (MQTTAsync_isConnected(l->client))
		return 0;
	l->up = 0;
	/* Paho's automatic reconnect covers lost connections, not a failed
	 * first connect: retry that with our own backoff */
	if (!l->ever_connected) {
		l->retry_at = sb_now_ms() + (int64_t)l->retry_s * 1000;
		l->retry_s *= 2;
		if (l->retry_s > l->cfg->mqtt_reconnect_max_s)
			l->retry_s = l->cfg->mqtt_reconnect_max_s;
	}
	return 1;
}

void sb_mqtt_link_subscribe(struct sb_mqtt_link *l, const char *filter)
{
	MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
	struct sub_req *r;
	size_t len = strlen(filter);
	int rc;

	if (!l->up)
		return;   /* every live filter is subscribed again on connect */
	r = malloc(sizeof(*r) + len + 1);
	if (!r) {
		sb_log(SB_LOG_ERR, "mqtt: subscribe %s: out of memory (retried on reconnect)", filter);
		return;
	}
	r->link = l;
	memcpy(r->filter, filter, len + 1);
	o.onSuccess = on_sub_success;
	o.onFailure = on_sub_failure;
	o.context = r;
	rc = MQTTAsync_subscribe(l->client, filter, 1, &o);
	if (rc != MQTTASYNC_SUCCESS) {
		free(r);
		sb_log(SB_LOG_WARN, "mqtt: subscribe %s: code %d (retried on reconnect)", filter, rc);
	} else
		sb_log(SB_LOG_DEBUG, "mqtt: subscribe %s", filter);
}

void sb_mqtt_link_unsubscribe(struct sb_mqtt_link *l, const char *filter)
{
	MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;

	if (!l->up)
		return;
	if (MQTTAsync_unsubscribe(l->client, filter, &o) != MQTTASYNC_SUCCESS)
		sb_log(SB_LOG_WARN, "mqtt: unsubscribe %s failed", filter);
	else
		sb_log(SB_LOG_DEBUG, "mqtt: unsubscribe %s", filter);
}

void sb_mqtt_link_publish(struct sb_mqtt_link *l, const char *topic, const void *payload,
			  size_t len)
{
	MQTTAsync_message m = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;

	if (!l->up)
		return;
	m.payload = (void *)payload;
	m.payloadlen = (int)len;
	m.qos = 0;
	m.retained = 0;
	/* a failure after the send started comes back through the inbox */
	o.onFailure = on_publish_failure;
	o.context = l;
	if (MQTTAsync_sendMessage(l->client, topic, &m, &o) != MQTTASYNC_SUCCESS)
		sb_log(SB_LOG_WARN, "mqtt: publish to %s failed", topic);
}

void sb_mqtt_link_destroy(struct sb_mqtt_link *l, int timeout_ms)
{
	if (!l)
		return;
	if (l->client) {
		if (MQTTAsync_isConnected(l->client)) {
			MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
			d.timeout = timeout_ms;
			MQTTAsync_disconnect(l->client, &d);
		}
		MQTTAsync_destroy(&l->client);
	}
	free(l->password);
	free(l);
}
