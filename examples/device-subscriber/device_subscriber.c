/* SPDX-License-Identifier: MIT
 *
 * statusbus-device-subscriber - what an embedded device runs: it reads its
 * team's status straight from the broker (no bridge, no browser), over
 * MQTT/TLS with its client certificate, and prints every change on one
 * line ("app 6f1c2a3b… running (was starting)").
 *
 * Subscribes to team/<T>/+/+/status and team/<T>/server/+/reachability at
 * QoS 1.  The broker's ACL (broker-conf/, docs/protocol.md §4.4) lets a
 * device read its own team only.  Retained messages give the current state
 * at every (re)connect.
 *
 * Staying connected: Paho's automatic reconnect with exponential backoff
 * (1 s doubling to --max-backoff) covers a lost connection and also a
 * failed first connect - Paho 1.3 keeps retrying once MQTTAsync_connect was
 * called with automaticReconnect, so there is no second timer here that
 * could race it.  Paho does not resubscribe (clean session): on_connected
 * does, on every connect.
 *
 * Threads: Paho's callbacks print and count under `lock`; the main thread
 * only waits on a pipe for "done" (--once N reached, or a signal).
 */
#define _GNU_SOURCE   /* pipe2 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "config.h"
#include "sb_publish.h"
#include "topic.h"

#ifndef SB_PUB_VERSION
#define SB_PUB_VERSION "0.0.0"
#endif

#define PROG "statusbus-device-subscriber"

static const char usage_text[] =
"usage: " PROG " --team T [--uri URI | --host H --port P]\n"
"                 [--cafile F --cert F --key F] [--username U --password-file F]\n"
"                 [--client-id ID] [--once N] [--max-backoff S] [--quiet]\n"
"\n"
"Subscribes to team T's status topics on the broker (team/T/+/+/status,\n"
"team/T/server/+/reachability) and prints each change on one line to stdout.\n"
"Reconnects forever with backoff.  Connection notices go to stderr.\n"
"\n"
"  --team T             the device's team\n"
"  --uri URI            ssl://host:8883 (or tcp:// for a local test broker)\n"
"  --host H, --port P   instead of --uri: ssl://H:P when TLS files are given\n"
"  --cafile F           CA that signed the broker's certificate\n"
"  --cert F, --key F    the device's client certificate and key\n"
"  --username U, --password-file F   for a password listener\n"
"  --client-id ID       default statusbus-device-<host>-<pid>\n"
"  --once N             exit 0 after printing N messages\n"
"  --max-backoff S      longest wait between reconnects (default 60)\n"
"  -q, --quiet          no connection notices\n"
"  -h, --help, -V, --version\n";

struct dev {
	MQTTAsync client;
	const char *uri;
	char filters[2][160];
	long once;
	int quiet;
	int done_fd;                /* write end of the wakeup pipe */
	pthread_mutex_t lock;
	long printed;               /* guarded by lock */
	long connects;              /* guarded by lock */
};

static int wake_fd = -1;

static void note(const struct dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const struct dev *d, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	if (d->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": %s\n", line);
}

static void wake(int fd)
{
	char c = 1;

	if (fd >= 0 && write(fd, &c, 1) < 0) {
		/* the pipe is full: a wakeup is already pending */
	}
}

static void on_signal(int sig)
{
	SB_UNUSED(sig);
	wake(wake_fd);
}

/* ---- Paho's threads --------------------------------------------------------- */

static void on_subscribed(void *ctx, MQTTAsync_successData *resp)
{
	struct dev *d = ctx;

	SB_UNUSED(resp);
	note(d, "subscribed to %s, %s", d->filters[0], d->filters[1]);
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct dev *d = ctx;

	note(d, "subscribe failed (code %d); retried at the next reconnect",
	     resp ? resp->code : 0);
}

static void on_connected(void *ctx, char *cause)
{
	struct dev *d = ctx;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char *filters[2] = { d->filters[0], d->filters[1] };
	int qos[2] = { 1, 1 };
	long n;
	int rc;

	/* Paho's `cause` says "automatic reconnect" whenever the connect had no
	 * onSuccess, the first connect included: count for ourselves */
	SB_UNUSED(cause);
	pthread_mutex_lock(&d->lock);
	n = ++d->connects;
	pthread_mutex_unlock(&d->lock);
	note(d, "%s to %s", n > 1 ? "reconnected" : "connected", d->uri);
	/* clean session: the broker forgot our subscriptions */
	ro.onSuccess = on_subscribed;
	ro.onFailure = on_subscribe_failed;
	ro.context = d;
	rc = MQTTAsync_subscribeMany(d->client, 2, filters, qos, &ro);
	if (rc != MQTTASYNC_SUCCESS)
		note(d, "subscribe: Paho code %d; retried at the next reconnect", rc);
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *resp)
{
	struct dev *d = ctx;

	note(d, "cannot connect to %s: %s (code %d); retrying with backoff", d->uri,
	     resp && resp->message ? resp->message : "no reason given", resp ? resp->code : 0);
}

static void on_lost(void *ctx, char *cause)
{
	struct dev *d = ctx;

	note(d, "connection lost: %s; reconnecting with backoff", cause ? cause : "no reason given");
}

static int on_ssl_error(const char *str, size_t len, void *ctx)
{
	note(ctx, "TLS: %.*s", (int)(len > 300 ? 300 : len), str);
	return 0;
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	struct dev *d = ctx;
	char line[2048];

	SB_UNUSED(topic_len);
	pthread_mutex_lock(&d->lock);
	if (!d->once || d->printed < d->once) {
		sb_status_describe(topic, m->payload, m->payloadlen > 0 ? (size_t)m->payloadlen : 0,
				   line, sizeof(line));
		printf("%s\n", line);
		fflush(stdout);
		d->printed++;
		if (d->once && d->printed == d->once)
			wake(d->done_fd);
	}
	pthread_mutex_unlock(&d->lock);
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "team", required_argument, NULL, 't' },
		{ "uri", required_argument, NULL, 'u' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'P' },
		{ "cafile", required_argument, NULL, 'A' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "username", required_argument, NULL, 'U' },
		{ "password-file", required_argument, NULL, 'W' },
		{ "client-id", required_argument, NULL, 'I' },
		{ "once", required_argument, NULL, 'o' },
		{ "max-backoff", required_argument, NULL, 'b' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	const char *team = NULL, *host = NULL, *cafile = NULL, *cert = NULL, *key = NULL;
	const char *username = NULL, *password_file = NULL, *client_id = NULL;
	char uri[512] = "", idbuf[128], host_name[64], *password = NULL;
	struct dev d;
	struct sigaction sa;
	int c, port = 0, max_backoff = 60, pipefd[2], rc;
	long once = 0;

	memset(&d, 0, sizeof(d));
	while ((c = getopt_long(argc, argv, "qhV", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 't': team = optarg; break;
		case 'u': snprintf(uri, sizeof(uri), "%s", optarg); break;
		case 'H': host = optarg; break;
		case 'P':
			port = (int)strtol(optarg, &end, 10);
			if (*end || port < 1 || port > 65535)
				goto usage;
			break;
		case 'A': cafile = optarg; break;
		case 'C': cert = optarg; break;
		case 'K': key = optarg; break;
		case 'U': username = optarg; break;
		case 'W': password_file = optarg; break;
		case 'I': client_id = optarg; break;
		case 'o':
			once = strtol(optarg, &end, 10);
			if (*end || once < 1)
				goto usage;
			break;
		case 'b':
			max_backoff = (int)strtol(optarg, &end, 10);
			if (*end || max_backoff < 1 || max_backoff > 3600)
				goto usage;
			break;
		case 'q': d.quiet = 1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf(PROG " %s\n", SB_PUB_VERSION); return 0;
		default: goto usage;
		}
	}
	if (optind < argc || !team || !sb_id_valid(team, strlen(team)) ||
	    (uri[0] && (host || port)) || !!cert != !!key) {
		fprintf(stderr, PROG ": %s\n", !team ? "--team is required" :
			!sb_id_valid(team, strlen(team)) ? "--team must match [A-Za-z0-9_-]{1,64}" :
			"bad arguments");
		goto usage;
	}
	if (!uri[0]) {
		int tls = cafile || cert;

		snprintf(uri, sizeof(uri), "%s://%s:%d", tls ? "ssl" : "tcp", host ? host : "127.0.0.1",
			 port ? port : tls ? 8883 : 1883);
	}
	if (password_file) {
		enum sb_err e = sb_read_file(password_file, 4096, 1, &password, NULL);

		if (e != SB_OK) {
			fprintf(stderr, PROG ": %s: %s\n", password_file, sb_strerror(e));
			return 1;
		}
	}
	if (!client_id) {
		gethostname(host_name, sizeof(host_name));
		host_name[sizeof(host_name) - 1] = '\0';
		snprintf(idbuf, sizeof(idbuf), "statusbus-device-%s-%ld", host_name, (long)getpid());
		client_id = idbuf;
	}
	d.uri = uri;
	d.once = once;
	snprintf(d.filters[0], sizeof(d.filters[0]), "team/%s/+/+/status", team);
	snprintf(d.filters[1], sizeof(d.filters[1]), "team/%s/server/+/reachability", team);
	pthread_mutex_init(&d.lock, NULL);
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK)) {
		perror(PROG ": pipe");
		return 1;
	}
	d.done_fd = wake_fd = pipefd[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	co.MQTTVersion = MQTTVERSION_3_1_1;
	rc = MQTTAsync_createWithOptions(&d.client, uri, client_id, MQTTCLIENT_PERSISTENCE_NONE,
					 NULL, &co);
	if (rc != MQTTASYNC_SUCCESS) {
		fprintf(stderr, PROG ": Paho refused the URI %s (code %d)\n", uri, rc);
		return 1;
	}
	MQTTAsync_setCallbacks(d.client, &d, on_lost, on_message, NULL);
	MQTTAsync_setConnected(d.client, &d, on_connected);

	o.keepAliveInterval = 30;
	o.cleansession = 1;
	o.automaticReconnect = 1;
	o.minRetryInterval = 1;
	o.maxRetryInterval = max_backoff;
	o.connectTimeout = 10;
	o.username = username;
	o.password = password;
	o.onFailure = on_connect_failed;
	o.context = &d;
	if (!strncmp(uri, "ssl://", 6) || !strncmp(uri, "mqtts://", 8)) {
		ssl.trustStore = cafile;
		ssl.keyStore = cert;
		ssl.privateKey = key;
		ssl.enableServerCertAuth = 1;
		ssl.verify = 1;
		ssl.ssl_error_cb = on_ssl_error;
		ssl.ssl_error_context = &d;
		o.ssl = &ssl;
	} else if (cafile || cert) {
		fprintf(stderr, PROG ": TLS files given but %s is not an ssl:// URI\n", uri);
		return 2;
	}
	rc = MQTTAsync_connect(d.client, &o);
	if (rc != MQTTASYNC_SUCCESS) {
		fprintf(stderr, PROG ": cannot start connecting to %s (Paho code %d)\n", uri, rc);
		MQTTAsync_destroy(&d.client);
		return 1;
	}

	for (;;) {
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		char buf[16];

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		if (read(pipefd[0], buf, sizeof(buf)) > 0)
			break;
	}

	if (MQTTAsync_isConnected(d.client)) {
		MQTTAsync_disconnectOptions dis = MQTTAsync_disconnectOptions_initializer;

		dis.timeout = 1000;
		MQTTAsync_disconnect(d.client, &dis);
	}
	MQTTAsync_destroy(&d.client);
	pthread_mutex_destroy(&d.lock);
	if (password)
		memset(password, 0, strlen(password));
	free(password);
	return 0;

usage:
	fputs("try: " PROG " --help\n", stderr);
	return 2;
}
