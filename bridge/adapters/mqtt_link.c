/* SPDX-License-Identifier: MIT
 *
 * mqtt_link.c - Paho MQTTAsync adapter (see mqtt_link.h for the thread
 * rules).
 */
#include "mqtt_link.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTAsync.h>

enum ev_type { EV_MSG, EV_UP, EV_DOWN, EV_CONNECT_FAILED, EV_SUBACK };

struct ev {
	struct ev *next;
	enum ev_type type;
	struct sb_msg *msg;
	char *filter;          /* EV_SUBACK */
};

/* Context of one subscribe request: which filter the SUBACK is for. */
struct sub_req {
	struct sb_mqtt_link *link;
	char filter[];
};

struct sb_mqtt_link {
	const struct sb_config *cfg;
	MQTTAsync client;
	char *password;               /* from password or password_file */
	void (*wakeup)(void *ctx);
	void *ctx;
	pthread_mutex_t lock;
	struct ev *head, *tail;       /* guarded by lock */
	size_t queued;                /* guarded by lock */
	uint64_t backpressure;        /* guarded by lock */
	/* service thread only */
	int64_t retry_at;             /* initial connect retry, 0 = none */
	int retry_s;
	uint64_t reconnects;
	int ever_connected;
};

/* ---- Paho's thread ----------------------------------------------------------- */

static void push_ev(struct sb_mqtt_link *l, enum ev_type type, struct sb_msg *m, char *filter)
{
	struct ev *e = calloc(1, sizeof(*e));

	if (!e) {
		sb_msg_unref(m);
		free(filter);
		return;
	}
	e->type = type;
	e->msg = m;
	e->filter = filter;
	pthread_mutex_lock(&l->lock);
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
	if (type == EV_MSG)
		l->queued++;
	pthread_mutex_unlock(&l->lock);
	l->wakeup(l->ctx);
}

static void push(struct sb_mqtt_link *l, enum ev_type type, struct sb_msg *m)
{
	push_ev(l, type, m, NULL);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *pm)
{
	struct sb_mqtt_link *l = ctx;
	struct sb_msg *m;
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	int full;

	pthread_mutex_lock(&l->lock);
	full = l->queued >= (size_t)l->cfg->inbound_queue_msgs;
	if (full)
		l->backpressure++;
	pthread_mutex_unlock(&l->lock);
	if (full) {
		/* returning 0 makes Paho deliver it again later: backpressure to
		 * the broker instead of a silent drop */
		l->wakeup(l->ctx);
		return 0;
	}
	m = sb_msg_create(topic, tlen, pm->payload, (size_t)(pm->payloadlen > 0 ? pm->payloadlen : 0),
			  pm->retained);
	if (!m)
		return 0;   /* out of memory: let Paho retry */
	push(l, EV_MSG, m);
	MQTTAsync_freeMessage(&pm);
	MQTTAsync_free(topic);
	return 1;
}

static void on_connected(void *ctx, char *cause)
{
	SB_UNUSED(cause);
	push(ctx, EV_UP, NULL);
}

static void on_lost(void *ctx, char *cause)
{
	sb_log(SB_LOG_WARN, "mqtt: connection lost: %s", cause ? cause : "unknown cause");
	push(ctx, EV_DOWN, NULL);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
	sb_log(SB_LOG_WARN, "mqtt: connect failed: %s (code %d)",
	       resp && resp->message ? resp->message : "no reason given", resp ? resp->code : 0);
	push(ctx, EV_CONNECT_FAILED, NULL);
}

static void on_sub_success(void *ctx, MQTTAsync_successData *resp)
{
	struct sub_req *r = ctx;

	if (resp && resp->alt.qos == 0x80)
		sb_log(SB_LOG_ERR, "mqtt: subscribe %s refused by the broker", r->filter);
	else
		push_ev(r->link, EV_SUBACK, NULL, strdup(r->filter));
	free(r);
}

static void on_sub_failure(void *ctx, MQTTAsync_failureData *resp)
{
	struct sub_req *r = ctx;

	sb_log(SB_LOG_ERR, "mqtt: subscribe %s failed (code %d): %s", r->filter, resp ? resp->code : 0,
	       resp && resp->message ? resp->message : "refused by the broker");
	free(r);
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
				void (*wakeup)(void *ctx), void *ctx, char *err, size_t errlen)
{
	struct sb_mqtt_link *l;
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	int rc;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return SB_ERR_NOMEM;
	l->cfg = cfg;
	l->wakeup = wakeup;
	l->ctx = ctx;
	l->retry_s = cfg->mqtt_reconnect_min_s;
	pthread_mutex_init(&l->lock, NULL);
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

size_t sb_mqtt_link_drain(struct sb_mqtt_link *l, struct sb_hub *hub, size_t max)
{
	size_t n = 0;

	if (l->retry_at && sb_now_ms() >= l->retry_at) {
		l->retry_at = 0;
		if (connect_now(l) != 0)
			l->retry_at = sb_now_ms() + (int64_t)l->retry_s * 1000;
	}
	while (n < max) {
		struct ev *e;

		pthread_mutex_lock(&l->lock);
		e = l->head;
		if (e) {
			l->head = e->next;
			if (!l->head)
				l->tail = NULL;
			if (e->type == EV_MSG)
				l->queued--;
		}
		pthread_mutex_unlock(&l->lock);
		if (!e)
			break;
		switch (e->type) {
		case EV_MSG:
			sb_hub_on_message(hub, e->msg);
			sb_msg_unref(e->msg);
			n++;
			break;
		case EV_UP:
			if (l->ever_connected)
				l->reconnects++;
			l->ever_connected = 1;
			l->retry_s = l->cfg->mqtt_reconnect_min_s;
			sb_log(SB_LOG_INFO, "mqtt: connected to %s", l->cfg->mqtt_uri);
			sb_hub_mqtt_state(hub, 1);
			break;
		case EV_DOWN:
			sb_hub_mqtt_state(hub, 0);
			break;
		case EV_SUBACK:
			if (e->filter)
				sb_hub_mqtt_suback(hub, e->filter);
			free(e->filter);
			break;
		case EV_CONNECT_FAILED:
			/* Paho's automatic reconnect covers lost connections, not
			 * a failed first connect: retry with our own backoff */
			if (!MQTTAsync_isConnected(l->client)) {
				sb_hub_mqtt_state(hub, 0);
				if (!l->ever_connected) {
					l->retry_at = sb_now_ms() + (int64_t)l->retry_s * 1000;
					l->retry_s = l->retry_s * 2 > l->cfg->mqtt_reconnect_max_s ?
						     l->cfg->mqtt_reconnect_max_s : l->retry_s * 2;
				}
			}
			break;
		}
		free(e);
	}
	return n;
}

int64_t sb_mqtt_link_retry_in_ms(const struct sb_mqtt_link *l)
{
	int64_t d;

	if (!l->retry_at)
		return -1;
	d = l->retry_at - sb_now_ms();
	return d < 0 ? 0 : d;
}

void sb_mqtt_link_subscribe(struct sb_mqtt_link *l, const char *filter)
{
	MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
	struct sub_req *r;
	size_t len = strlen(filter);
	int rc;

	if (!MQTTAsync_isConnected(l->client))
		return;   /* the hub resubscribes everything on connect */
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

	if (!MQTTAsync_isConnected(l->client))
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

	if (!MQTTAsync_isConnected(l->client))
		return;
	m.payload = (void *)payload;
	m.payloadlen = (int)len;
	m.qos = 0;
	m.retained = 0;
	if (MQTTAsync_sendMessage(l->client, topic, &m, &o) != MQTTASYNC_SUCCESS)
		sb_log(SB_LOG_WARN, "mqtt: publish to %s failed", topic);
}

uint64_t sb_mqtt_link_reconnects(const struct sb_mqtt_link *l) { return l->reconnects; }

void sb_mqtt_link_destroy(struct sb_mqtt_link *l, int timeout_ms)
{
	struct ev *e;

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
	while ((e = l->head)) {
		l->head = e->next;
		sb_msg_unref(e->msg);
		free(e->filter);
		free(e);
	}
	pthread_mutex_destroy(&l->lock);
	free(l->password);
	free(l);
}
