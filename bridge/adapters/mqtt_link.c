/* SPDX-License-Identifier: MIT
 *
 * mqtt_link.c - Paho MQTTAsync adapter (see mqtt_link.h for the session,
 * the takeover watch and the thread rules).  Paho's callbacks push into
 * the inbox, filter redeliveries, and run the takeover watch and the steps
 * of a connection (fresh session, claim); the retry state and the link
 * state the service thread acts on belong to the service thread, which
 * also replaces a Paho client that a failed publish left unusable
 * (renew_client).
 *
 * The service thread never asks Paho whether the link is up
 * (MQTTAsync_isConnected) before subscribing or publishing: that takes
 * Paho's client mutex, which Paho's receive thread holds while it runs
 * messageArrived, and messageArrived may be waiting for the service
 * thread to drain the inbox.  It follows the connected/lost events of the
 * inbox instead; a call made in the short while before a loss is drained
 * fails in Paho and is logged (subscriptions are made again on connect).
 *
 * Paho's API may be called from its callbacks (its own samples do): the
 * connection steps below chain connect, disconnect, subscribe and publish
 * that way.
 */
#include "mqtt_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "mqtt_claim.h"
#include "mqtt_dedup.h"
#include "mqtt_resub.h"
#include "mqtt_uris.h"
#include "presence.h"
#include "sb_common.h"

/* Context of one subscribe request: which filter the SUBACK is for. */
struct sub_req {
	struct sb_mqtt_link *link;
	char filter[];
};

struct sb_mqtt_link {
	const struct sb_config *cfg;
	struct sb_inbox *inbox;       /* borrowed */
	MQTTAsync client;             /* the current one (atomic: see renew_client) */
	int stale_publish;            /* atomic: a publish failed mid-write (renew_client) */
	unsigned left_behind;         /* Paho clients renew_client left (service thread) */
	char *password;               /* from password or password_file */
	struct sb_mqtt_claim claim;   /* the takeover watch (mqtt_claim.h) */
	int closed;                   /* the final disconnect is done (atomic) */
	/* the attempt's broker URI (atomic: step 3 of a first connection
	 * reads it on Paho's thread); the service thread picks it */
	const char *uri;
	struct sb_mqtt_uris uris;     /* mqtt.uri's nodes in turn (service thread) */
	int will;                     /* "offline" on $statusbus/bridges/<id> (presence) */
	/* Paho's receive thread only */
	int64_t drop_logged_ms;       /* last overflow/out-of-memory log line */
	uint64_t drops_unlogged;      /* drops since that line */
	/* per packet identifier, a hash of the topic and payload of the last
	 * QoS 1 message handed to the inbox (0 = none); NULL until the first */
	uint64_t *taken;
	struct sb_mqtt_dedup *dedup;  /* repeats of live messages (mqtt_dedup.h) */
	/* service thread only */
	int64_t retry_at;             /* next connection attempt, 0 = none */
	struct sb_mqtt_resub *resub;  /* refused subscriptions (mqtt_resub.h) */
	int retry_s;
	int ever_connected;
	int up;                       /* as of the last connected/lost event drained */
	uint64_t takeovers_at_loss;   /* sb_mqtt_link_takeovers at the last loss */
};

static int start_connect(struct sb_mqtt_link *l, int fresh);

/* A link that sb_mqtt_link_destroy could not free (see there). */
static struct sb_mqtt_link *kept_for_paho;

/* The current Paho client (renew_client replaces it while the link is
 * down; Paho's threads read it in callbacks). */
static MQTTAsync cur(const struct sb_mqtt_link *l)
{
	return __atomic_load_n(&l->client, __ATOMIC_ACQUIRE);
}

/* Paho reports a write that failed on a dead socket as code -1. */
static void note_publish_failure(struct sb_mqtt_link *l, const MQTTAsync_failureData *resp)
{
	if (resp && resp->code == MQTTASYNC_FAILURE)
		__atomic_store_n(&l->stale_publish, 1, __ATOMIC_RELEASE);
}

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

/* ---- the claim on the client id (Paho's receive thread; mqtt_claim.h) ---- */

static void on_claim_failure(void *ctx, MQTTAsync_failureData *resp)
{
	struct sb_mqtt_link *l = ctx;

	sb_log(SB_LOG_WARN, "mqtt: cannot claim client id %s on %s: %s (code %d); a takeover of the "
	       "id goes unnoticed on this connection", l->cfg->mqtt_client_id, l->claim.topic,
	       resp && resp->message ? resp->message : "no reason given", resp ? resp->code : 0);
}

static void on_claim_publish_failure(void *ctx, MQTTAsync_failureData *resp)
{
	note_publish_failure(ctx, resp);
	on_claim_failure(ctx, resp);
}

/* The owner topic is granted: its retained claim is on its way, ahead of
 * the one published now (the broker handles our packets in order). */
static void on_owner_granted(void *ctx, MQTTAsync_successData *resp)
{
	struct sb_mqtt_link *l = ctx;
	MQTTAsync_message m = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
	int rc;

	if (resp && resp->alt.qos == 0x80) {
		on_claim_failure(l, &(MQTTAsync_failureData){ .message = "subscription refused" });
		return;
	}
	m.payload = l->claim.text;
	m.payloadlen = (int)l->claim.len;
	m.qos = 1;
	m.retained = 1;
	o.onFailure = on_claim_publish_failure;
	o.context = l;
	if ((rc = MQTTAsync_sendMessage(cur(l), l->claim.topic, &m, &o)) != MQTTASYNC_SUCCESS)
		on_claim_failure(l, &(MQTTAsync_failureData){ .message = "publish refused", .code = rc });
}

static void watch_owner(struct sb_mqtt_link *l)
{
	MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
	int rc;

	sb_mqtt_claim_connected(&l->claim);
	o.onSuccess = on_owner_granted;
	o.onFailure = on_claim_failure;
	o.context = l;
	if ((rc = MQTTAsync_subscribe(cur(l), l->claim.topic, 1, &o)) != MQTTASYNC_SUCCESS)
		on_claim_failure(l, &(MQTTAsync_failureData){ .message = "subscribe refused", .code = rc });
}

/* ---- redeliveries (Paho's receive thread) ---- */

static uint64_t msg_hash(const char *topic, size_t tlen, const void *payload, size_t plen)
{
	const unsigned char *p = (const unsigned char *)topic;
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */

	for (size_t i = 0; i < tlen; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;      /* no topic byte is 0xff */
	p = payload;
	for (size_t i = 0; i < plen; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h | 1;
}

/* A resumed session makes the broker send again, flagged DUP and under
 * their first packet identifiers, the QoS 1 messages it has no PUBACK for
 * (MQTT 3.1.1 §4.4).  Some of them were handed to the inbox before the
 * link dropped (read, but the PUBACK never reached the broker: a freeze,
 * a cut); taking those again would show clients a status going back to
 * an older value.  The others (lost with the connection) are new to the
 * bridge.  A DUP whose identifier last carried the same topic and payload
 * is the former.  (After a PUBACK the broker may give the identifier to
 * another message; that one differs, or is an exact repeat.) */
static int already_taken(const struct sb_mqtt_link *l, const MQTTAsync_message *pm, uint64_t h)
{
	return pm->dup && l->taken && pm->msgid > 0 && pm->msgid <= 65535 &&
	       l->taken[pm->msgid] == h;
}

static void note_taken(struct sb_mqtt_link *l, const MQTTAsync_message *pm, uint64_t h)
{
	if (pm->qos < 1 || pm->msgid <= 0 || pm->msgid > 65535)
		return;
	if (!l->taken && !(l->taken = calloc(65536, sizeof(*l->taken))))
		return;   /* out of memory: redeliveries are taken again */
	l->taken[pm->msgid] = h;
}

/* ---- messages and connection steps (Paho's threads) ---- */

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
	uint64_t h;

	if (sb_mqtt_claim_is_topic(&l->claim, topic, tlen)) {
		sb_mqtt_claim_seen(&l->claim, pm->payload, plen);   /* the link's own, not the hub's */
		goto done;
	}
	h = msg_hash(topic, tlen, pm->payload, plen);
	if (already_taken(l, pm, h)) {
		sb_log(SB_LOG_DEBUG, "mqtt: skipped a redelivery of a message already taken on %.*s",
		       (int)tlen, topic);
		goto done;
	}
	if (!pm->retained && l->cfg->mqtt_dedup_ms &&
	    sb_mqtt_dedup_seen(&l->dedup, h, sb_now_ms(), l->cfg->mqtt_dedup_ms)) {
		sb_log(SB_LOG_DEBUG, "mqtt: dropped a repeat of a live message on %.*s",
		       (int)tlen, topic);
		goto done;
	}
	switch (sb_inbox_push_message(l->inbox, topic, tlen, pm->payload, plen, pm->retained)) {
	case SB_INBOX_OVERFLOW:
		log_drop(l, "inbound queue still full after limits.inbound_wait_ms", topic, tlen);
		break;
	case SB_INBOX_NOMEM:
		log_drop(l, "out of memory copying a message", topic, tlen);
		break;
	case SB_INBOX_ACCEPTED:
		note_taken(l, pm, h);
		break;
	}
done:
	MQTTAsync_freeMessage(&pm);
	MQTTAsync_free(topic);
	return 1;
}

/* The persistent connection is up; the CONNACK's session present flag
 * comes with it (Paho's connected callback does not carry it). */
static void on_connected(void *ctx, MQTTAsync_successData *resp)
{
	struct sb_mqtt_link *l = ctx;

	/* no session, nothing redelivered: the identifiers start over */
	if (!(resp && resp->alt.connect.sessionPresent) && l->taken)
		memset(l->taken, 0, 65536 * sizeof(*l->taken));
	log_if_lost(sb_inbox_push_connected(l->inbox, resp ? resp->alt.connect.sessionPresent : 0,
					    NULL), "connected");
	watch_owner(l);
}

static void on_lost(void *ctx, char *cause)
{
	struct sb_mqtt_link *l = ctx;

	/* Paho gives no cause for MQTT 3.1.1 (a takeover included): the
	 * owner topic tells a takeover on the next connection */
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

static void fresh_failed(struct sb_mqtt_link *l, const char *step, int rc)
{
	char cause[160];

	snprintf(cause, sizeof(cause), "%s (code %d)", step, rc);
	log_if_lost(sb_inbox_push_connect_failed(l->inbox, cause), "connect failed");
}

/* Step 3 of a process's first connection: the persistent one. */
static void on_fresh_closed(void *ctx, MQTTAsync_successData *resp)
{
	struct sb_mqtt_link *l = ctx;
	int rc;

	SB_UNUSED(resp);
	if ((rc = start_connect(l, 0)) != MQTTASYNC_SUCCESS)
		fresh_failed(l, "cannot connect after clearing the old session", rc);
}

static void on_fresh_close_failure(void *ctx, MQTTAsync_failureData *resp)
{
	fresh_failed(ctx, "cannot close the session-clearing connection", resp ? resp->code : 0);
}

/* Step 2: the broker has discarded whatever session the id had (MQTT
 * 3.1.1 §3.1.2.4: a clean session lasts as long as its connection); close
 * it, the persistent session starts on the next connection. */
static void on_fresh_connected(void *ctx, MQTTAsync_successData *resp)
{
	struct sb_mqtt_link *l = ctx;
	MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
	int rc;

	SB_UNUSED(resp);
	d.timeout = 0;   /* nothing is in flight on it */
	d.onSuccess = on_fresh_closed;
	d.onFailure = on_fresh_close_failure;
	d.context = l;
	if ((rc = MQTTAsync_disconnect(cur(l), &d)) != MQTTASYNC_SUCCESS)
		fresh_failed(l, "cannot close the session-clearing connection", rc);
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

	note_publish_failure(l, resp);
	failure_text(cause, sizeof(cause), resp, "not sent");
	log_if_lost(sb_inbox_push_publish_failed(l->inbox, cause), "publish failed");
}

static void trace(enum MQTTASYNC_TRACE_LEVELS level, char *message)
{
	sb_log(level >= MQTTASYNC_TRACE_ERROR ? SB_LOG_ERR : SB_LOG_DEBUG, "paho: %s", message);
}

/* ---- connecting (any thread) ---------------------------------------------------- */

/* Starts a connection: `fresh` (a process's first) with a clean session
 * that on_fresh_connected closes at once, else the persistent session.
 * Returns Paho's code. */
static int start_connect(struct sb_mqtt_link *l, int fresh)
{
	MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
	const struct sb_config *c = l->cfg;
	char *uri = (char *)__atomic_load_n(&l->uri, __ATOMIC_ACQUIRE);
	char will_topic[512];

	o.keepAliveInterval = c->mqtt_keepalive_s;
	/* Not Paho's default (3.1.1, falling back to 3.1): 3.1 has no session
	 * present flag, NATS does not speak it, and with a fallback left Paho
	 * 1.3 answers the loss of an established link by connecting again on
	 * its own (nextOrClose: "more to try"), without our onSuccess, under
	 * our own reconnection.  (A list of server URIs would do the same.) */
	o.MQTTVersion = MQTTVERSION_3_1_1;
	o.cleansession = fresh;
	/* a bridge that dies leaves the others' presence sets through its
	 * will (engine/presence.c says "online" there once connected); only
	 * with presence channels, so that a broker whose ACL predates them
	 * still takes the connection */
	if (l->will) {
		char id[256];

		snprintf(will_topic, sizeof(will_topic), SB_PRESENCE_BRIDGES_PREFIX "%s",
			 sb_presence_topic_level(id, sizeof(id), c->mqtt_client_id, 0));
		will.topicName = will_topic;
		will.message = "offline";
		will.retained = 1;
		will.qos = 1;
		o.will = &will;   /* Paho copies it */
	}
	/* our own reconnection (sb_mqtt_link_tick) goes through onSuccess,
	 * which carries the session present flag; Paho's does not */
	o.automaticReconnect = 0;
	o.username = c->mqtt_username;
	o.password = l->password;
	o.onSuccess = fresh ? on_fresh_connected : on_connected;
	o.onFailure = on_connect_failure;
	o.context = l;
	o.connectTimeout = 10;
	/* one node per attempt (mqtt_uris.h): Paho copies it */
	o.serverURIs = &uri;
	o.serverURIcount = 1;
	if (c->mqtt_ca_file || c->mqtt_cert_file || !strncmp(uri, "ssl://", 6) ||
	    !strncmp(uri, "mqtts://", 8) || !strncmp(uri, "wss://", 6)) {
		ssl.trustStore = c->mqtt_ca_file;
		ssl.keyStore = c->mqtt_cert_file;
		ssl.privateKey = c->mqtt_key_file;
		ssl.enableServerCertAuth = 1;
		ssl.verify = 1;
		ssl.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
		o.ssl = &ssl;   /* Paho copies it */
	}
	return MQTTAsync_connect(cur(l), &o);
}

/* ---- service thread ----------------------------------------------------------- */

/* Publishes Paho may hold for its send thread at once (the barriers and
 * the Pusher API's events are small). */
#define SB_MQTT_MAX_QUEUED_PUBLISHES 65536

static int new_client(struct sb_mqtt_link *l, MQTTAsync *out)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	int rc;

	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.sendWhileDisconnected = 0;
	/* Paho bounds (default 100) publishes queued while connected too: 1000
	 * channels at once had their barriers refused and got `unavailable` */
	co.maxBufferedMessages = SB_MQTT_MAX_QUEUED_PUBLISHES;
	rc = MQTTAsync_createWithOptions(out, l->cfg->mqtt_uri, l->cfg->mqtt_client_id,
					 MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if (rc == MQTTASYNC_SUCCESS)
		MQTTAsync_setCallbacks(*out, l, on_lost, on_message, NULL);
	return rc;
}

static int drop_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *pm)
{
	SB_UNUSED(ctx);
	SB_UNUSED(topic_len);
	MQTTAsync_freeMessage(&pm);
	MQTTAsync_free(topic);
	return 1;
}

/* Stops a Paho client that is left behind from calling back: its queued
 * internal disconnect would report a loss (requests in flight are never
 * answered on a session that is not resumed).  Paho refuses while it is
 * still closing the connection: tries for up to wait_ms.  1 when done. */
static int silence(MQTTAsync c, int wait_ms)
{
	for (int waited = 0;; waited += 10) {
		if (MQTTAsync_setCallbacks(c, NULL, NULL, drop_message, NULL) == MQTTASYNC_SUCCESS)
			return 1;
		if (waited >= wait_ms)
			return 0;
		usleep(10000);
	}
}

/* Paho 1.3.12 (MQTTAsync_processCommand in MQTTAsyncUtils.c) keeps a QoS 1
 * publish whose first write failed (the socket died under it) in flight
 * for the session, but frees the memory of its topic and payload.  On the
 * resumed session Paho would send it again from freed memory (Mosquitto
 * then closes every connection: "malformed packet"), and freeing the client
 * would free that memory twice.  So after such a failure the link leaves
 * that client behind, silenced, never connected again nor freed, and goes
 * on with a new one: the broker's session belongs to the client id, not to
 * the Paho client.  Service thread, link down.  Returns 0 when renewed. */
static int renew_client(struct sb_mqtt_link *l)
{
	MQTTAsync old = cur(l), fresh;
	int rc;

	if (!silence(old, 0))
		return -1;   /* still closing: at the next attempt */
	if ((rc = new_client(l, &fresh)) != MQTTASYNC_SUCCESS) {
		MQTTAsync_setCallbacks(old, l, on_lost, on_message, NULL);
		sb_log(SB_LOG_ERR, "mqtt: cannot create a new Paho client (code %d)", rc);
		return -1;
	}
	__atomic_store_n(&l->client, fresh, __ATOMIC_RELEASE);
	__atomic_store_n(&l->stale_publish, 0, __ATOMIC_RELEASE);
	l->left_behind++;
	sb_log(SB_LOG_WARN, "mqtt: a publish failed as the connection dropped; a Paho 1.3 defect "
	       "would send it again from freed memory, so a new Paho client takes over the "
	       "session (%u left behind, not freed)", l->left_behind);
	return 0;
}

static int connect_now(struct sb_mqtt_link *l)
{
	const struct sb_config *c = l->cfg;
	const char *uri;
	int rc;

	if (__atomic_load_n(&l->stale_publish, __ATOMIC_ACQUIRE) && renew_client(l) != 0)
		return -1;
	uri = sb_mqtt_uris_next(&l->uris);
	__atomic_store_n(&l->uri, uri, __ATOMIC_RELEASE);
	if ((rc = start_connect(l, !l->ever_connected)) != MQTTASYNC_SUCCESS) {
		sb_log(SB_LOG_ERR, "mqtt: cannot start connecting to %s: code %d", uri, rc);
		return -1;
	}
	sb_log(SB_LOG_INFO, "mqtt: connecting to %s (node %zu of %zu) as %s%s", uri,
	       sb_mqtt_uris_index(&l->uris), l->uris.n, c->mqtt_client_id,
	       l->ever_connected ? "" : " (clearing the session a previous run left first)");
	return 0;
}

enum sb_err sb_mqtt_link_create(struct sb_mqtt_link **out, const struct sb_config *cfg,
				struct sb_inbox *inbox, char *err, size_t errlen)
{
	struct sb_mqtt_link *l;
	int rc;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return SB_ERR_NOMEM;
	l->cfg = cfg;
	l->inbox = inbox;
	l->retry_s = cfg->mqtt_reconnect_min_s;
	sb_mqtt_uris_init(&l->uris, cfg->mqtt_uris, cfg->n_mqtt_uris);
	l->uri = cfg->mqtt_uri;
	if (sb_mqtt_claim_init(&l->claim, cfg->mqtt_client_id) != SB_OK) {
		sb_mqtt_link_destroy(l, 0);
		return SB_ERR_NOMEM;
	}
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
	if ((rc = new_client(l, &l->client)) != MQTTASYNC_SUCCESS) {
		snprintf(err, errlen, "mqtt.uri: Paho refused \"%s\" (code %d)", cfg->mqtt_uri, rc);
		sb_mqtt_link_destroy(l, 0);
		return SB_ERR_INVAL;
	}
	*out = l;
	return SB_OK;
}

/* The next attempt after reconnect_min_s, doubling up to reconnect_max_s. */
static void schedule_retry(struct sb_mqtt_link *l)
{
	l->retry_at = sb_now_ms() + (int64_t)l->retry_s * 1000;
	l->retry_s *= 2;
	if (l->retry_s > l->cfg->mqtt_reconnect_max_s)
		l->retry_s = l->cfg->mqtt_reconnect_max_s;
}

void sb_mqtt_link_set_will(struct sb_mqtt_link *l, int on)
{
	l->will = on;
}

enum sb_err sb_mqtt_link_start(struct sb_mqtt_link *l)
{
	if (connect_now(l) == 0)
		return SB_OK;
	schedule_retry(l);
	return SB_ERR_IO;
}

void sb_mqtt_link_tick(struct sb_mqtt_link *l)
{
	if (l->retry_at && sb_now_ms() >= l->retry_at) {
		l->retry_at = 0;
		if (connect_now(l) != 0)
			schedule_retry(l);
	}
}

int sb_mqtt_link_note_connected(struct sb_mqtt_link *l, int session_present)
{
	int had = l->ever_connected;

	l->ever_connected = 1;
	l->up = 1;
	l->retry_at = 0;
	sb_log(SB_LOG_INFO, "mqtt: connected to %s (%s)", sb_mqtt_uris_current(&l->uris),
	       session_present ? "session resumed" : had ? "the broker had no session" : "new session");
	return had;
}

void sb_mqtt_link_note_lost(struct sb_mqtt_link *l)
{
	uint64_t t = sb_mqtt_link_takeovers(l);

	l->up = 0;
	/* A takeover on the connection just lost means another process holds
	 * the id: keep doubling, so that two bridges given one id trade the
	 * connection every reconnect_max_s rather than every second. */
	if (t == l->takeovers_at_loss)
		l->retry_s = l->cfg->mqtt_reconnect_min_s;
	l->takeovers_at_loss = t;
	schedule_retry(l);
}

/* A failed attempt is rare and carries no messages: asking Paho here
 * cannot meet a messageArrived waiting on the inbox for long. */
int sb_mqtt_link_note_connect_failed(struct sb_mqtt_link *l)
{
	if (MQTTAsync_isConnected(cur(l)))
		return 0;
	l->up = 0;
	schedule_retry(l);
	return 1;
}

struct sb_mqtt_resub **sb_mqtt_link_resub(struct sb_mqtt_link *l)
{
	return &l->resub;
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
	rc = MQTTAsync_subscribe(cur(l), filter, 1, &o);
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
	if (MQTTAsync_unsubscribe(cur(l), filter, &o) != MQTTASYNC_SUCCESS)
		sb_log(SB_LOG_WARN, "mqtt: unsubscribe %s failed", filter);
	else
		sb_log(SB_LOG_DEBUG, "mqtt: unsubscribe %s", filter);
}

int sb_mqtt_link_publish_ex(struct sb_mqtt_link *l, const char *topic, const void *payload,
			    size_t len, int retain)
{
	MQTTAsync_message m = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;
	int rc;

	if (!l->up)
		return -1;
	m.payload = (void *)payload;
	m.payloadlen = (int)len;
	/* QoS 1: the replay barriers must arrive (docs/protocol.md §5), and
	 * the session resends what was in flight when the link dropped */
	m.qos = 1;
	m.retained = retain ? 1 : 0;
	/* a failure after the send started comes back through the inbox */
	o.onFailure = on_publish_failure;
	o.context = l;
	rc = MQTTAsync_sendMessage(cur(l), topic, &m, &o);
	if (rc != MQTTASYNC_SUCCESS) {
		sb_log(SB_LOG_WARN, "mqtt: publish to %s failed: %s (code %d)", topic,
		       MQTTAsync_strerror(rc), rc);
		return -1;
	}
	return 0;
}

void sb_mqtt_link_publish(struct sb_mqtt_link *l, const char *topic, const void *payload,
			  size_t len)
{
	sb_mqtt_link_publish_ex(l, topic, payload, len, 0);
}

uint64_t sb_mqtt_link_takeovers(const struct sb_mqtt_link *l)
{
	return sb_mqtt_claim_takeovers(&l->claim);
}

static void on_closed(void *ctx, MQTTAsync_successData *resp)
{
	SB_UNUSED(resp);
	__atomic_store_n((int *)ctx, 1, __ATOMIC_RELEASE);
}

static void on_close_failure(void *ctx, MQTTAsync_failureData *resp)
{
	SB_UNUSED(resp);
	__atomic_store_n((int *)ctx, 1, __ATOMIC_RELEASE);
}

void sb_mqtt_link_destroy(struct sb_mqtt_link *l, int timeout_ms)
{
	if (!l)
		return;
	if (l->client) {
		if (MQTTAsync_isConnected(l->client)) {
			MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
			MQTTAsync_responseOptions o = MQTTAsync_responseOptions_initializer;

			/* a clean stop leaves neither a claim (with {pid} in the id,
			 * one per run would pile up) nor a subscription that makes the
			 * broker queue for a session nobody resumes (the next run
			 * starts a fresh one) */
			MQTTAsync_send(l->client, l->claim.topic, 0, "", 0, 1, NULL);
			MQTTAsync_unsubscribe(l->client, l->claim.topic, &o);
			/* Paho sends the DISCONNECT once what is in flight is
			 * acknowledged or timeout_ms passed; destroying the client
			 * before then would drop it all */
			d.timeout = timeout_ms;
			d.onSuccess = on_closed;
			d.onFailure = on_close_failure;
			d.context = &l->closed;
			if (MQTTAsync_disconnect(l->client, &d) == MQTTASYNC_SUCCESS)
				for (int waited = 0; waited < timeout_ms + 500 &&
				     !__atomic_load_n(&l->closed, __ATOMIC_ACQUIRE); waited += 10)
					usleep(10000);
		}
		if (!__atomic_load_n(&l->stale_publish, __ATOMIC_ACQUIRE)) {
			MQTTAsync_destroy(&l->client);
		} else if (!silence(l->client, 1000)) {
			/* freeing it would free twice (see renew_client), and it may
			 * still call back with l: keep both, reachable */
			kept_for_paho = l;
			return;
		}
	}
	free(l->taken);
	sb_mqtt_dedup_free(l->dedup);
	sb_mqtt_resub_free(l->resub);
	sb_mqtt_claim_fini(&l->claim);
	free(l->password);
	free(l);
}
