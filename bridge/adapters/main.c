/* SPDX-License-Identifier: MIT
 *
 * main.c - statusbus-bridge: command line, configuration, wiring of the
 * core (hub) to its adapters (mqtt_link through the inbox, whose events
 * mqtt_events.c hands to the hub; ws_server), signals.
 *
 * Exit codes: 0 clean stop or valid config, 1 bad config or start failure,
 * 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chanmap.h"
#include "config.h"
#include "genconfig.h"
#include "hub.h"
#include "inbox.h"
#include "jwt.h"
#include "metrics_listen.h"
#include "mqtt_link.h"
#include "reload.h"
#include "schema.h"
#include "sd_notify.h"
#include "session_pusher.h"
#include "session_v1.h"
#include "sb_version.h"
#include "ws_server.h"

static struct sb_server server;
static struct sb_reload reload;


static void usage(FILE *f)
{
	fprintf(f,
		"Usage: statusbus-bridge -c FILE [--check-config]\n"
		"       statusbus-bridge --genconfig > FILE\n"
		"Carries statusbus MQTT topics to browsers over WebSocket (statusbus.v1).\n\n"
		"  -c, --config FILE   JSON configuration (see examples/bridge.json)\n"
		"      --check-config  validate FILE (and the files it names) and exit 0/1\n"
		"      --genconfig     print a valid starting config with a fresh secret\n"
		"  -v, --verbose       debug logging (overrides log_level)\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n\n"
		"Signals: SIGTERM/SIGINT drain (/readyz 503, new WebSockets refused, clients closed\n"
		"with 1001 over limits.drain_s after their pending batches), exit 0;\n"
		"SIGHUP reloads FILE (keys that need a restart are logged; a bad file changes nothing).\n");
}

static void on_signal(int sig)
{
	SB_UNUSED(sig);
	server.stop = 1;
	sb_server_wakeup(&server);
}

/* SIGHUP: reload.c runs on the service thread, woken as for SIGTERM */
static void on_hup(int sig)
{
	SB_UNUSED(sig);
	server.reload = 1;
	sb_server_wakeup(&server);
}

struct runtime {
	struct sb_config *cfg;
	struct sb_chanmap *map;
	struct sb_kinds *kinds;
	struct sb_schema_set *schemas;
	struct sb_jwt_key *key;
	char *client_id_template;   /* mqtt.client_id as written */
};

static void runtime_free(struct runtime *rt)
{
	free(rt->client_id_template);
	sb_jwt_key_destroy(rt->key);
	sb_schema_set_destroy(rt->schemas);
	sb_kinds_destroy(rt->kinds);
	sb_chanmap_destroy(rt->map);
	sb_config_destroy(rt->cfg);
}

/* mqtt.client_id is a template (docs/protocol.md §10.1).  From here on the
 * config holds the id it expands to on this host and process: the link
 * connects with it and the hub names its replay barriers after it. */
static int expand_client_id(struct runtime *rt, const char *path)
{
	char host[256], id[SB_CONFIG_CLIENT_ID_MAX + 1];
	const char *why;

	if (gethostname(host, sizeof(host)) != 0) {
		fprintf(stderr, "statusbus-bridge: %s: mqtt.client_id: cannot read the host name: %s\n",
			path, strerror(errno));
		return -1;
	}
	host[sizeof(host) - 1] = '\0';
	if (sb_config_expand_client_id(rt->cfg->mqtt_client_id, host, (long)getpid(), id,
				       sizeof(id), &why) != SB_OK) {
		fprintf(stderr, "statusbus-bridge: %s: mqtt.client_id: \"%s\" on host %s: %s\n", path,
			rt->cfg->mqtt_client_id, host, why);
		return -1;
	}
	rt->client_id_template = rt->cfg->mqtt_client_id;
	if (!(rt->cfg->mqtt_client_id = strdup(id))) {
		fprintf(stderr, "statusbus-bridge: out of memory\n");
		return -1;
	}
	return 0;
}

/* Loads everything the config names; on failure prints the reason. */
static int load(struct runtime *rt, const char *path)
{
	char err[1024], file[1100];
	enum sb_err rc;

	memset(rt, 0, sizeof(*rt));
	if (sb_config_load(&rt->cfg, path, err, sizeof(err))) {
		fprintf(stderr, "statusbus-bridge: %s\n", err);
		return -1;
	}
	if (expand_client_id(rt, path) != 0)
		return -1;
	rc = rt->cfg->channels ? sb_chanmap_from_json(&rt->map, rt->cfg->channels, err, sizeof(err)) :
				 sb_chanmap_default(&rt->map, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "statusbus-bridge: %s: channels: %s\n", path, err);
		return -1;
	}
	snprintf(file, sizeof(file), "%s/topics.json", rt->cfg->schemas_dir);
	if (sb_kinds_load(&rt->kinds, file, err, sizeof(err))) {
		fprintf(stderr, "statusbus-bridge: %s: schemas_dir: %s\n", path, err);
		return -1;
	}
	if (rt->cfg->validate_payloads &&
	    sb_schema_set_load(&rt->schemas, rt->cfg->schemas_dir, err, sizeof(err))) {
		fprintf(stderr, "statusbus-bridge: %s: schemas_dir: %s\n", path, err);
		return -1;
	}
	if (rt->cfg->auth_enabled && sb_reload_make_key(rt->cfg, &rt->key, err, sizeof(err))) {
		fprintf(stderr, "statusbus-bridge: %s: %s\n", path, err);
		return -1;
	}
	if (rt->cfg->static_dir) {
		FILE *f;
		snprintf(file, sizeof(file), "%s/.", rt->cfg->static_dir);
		if (!(f = fopen(file, "r"))) {
			fprintf(stderr, "statusbus-bridge: %s: listen.static_dir: %s is not a readable directory\n",
				path, rt->cfg->static_dir);
			return -1;
		}
		fclose(f);
	}
	return 0;
}

/* ---- the hub's MQTT side: filters and rejected reports go to the link ----
 * Before the link exists (hub creation) there is nothing to do: the hub
 * subscribes every live filter when the link comes up. */
static void op_subscribe(void *ctx, const char *f)
{
	struct sb_server *srv = ctx;

	if (srv->link)
		sb_mqtt_link_subscribe(srv->link, f);
}

static void op_unsubscribe(void *ctx, const char *f)
{
	struct sb_server *srv = ctx;

	if (srv->link)
		sb_mqtt_link_unsubscribe(srv->link, f);
}

static void op_publish(void *ctx, const char *topic, const void *p, size_t len)
{
	struct sb_server *srv = ctx;

	if (srv->link)
		sb_mqtt_link_publish(srv->link, topic, p, len);
}

static void op_publish_retained(void *ctx, const char *topic, const void *p, size_t len)
{
	struct sb_server *srv = ctx;

	if (srv->link)
		sb_mqtt_link_publish_ex(srv->link, topic, p, len, 1);
}

/* The hub and the protocols it serves: statusbus.v1 always, Pusher when
 * configured. */
static enum sb_err make_hub(struct runtime *rt)
{
	struct sb_hub_params hp;
	struct sb_hub_ops ops;

	memset(&hp, 0, sizeof(hp));
	hp.cfg = rt->cfg;
	hp.map = rt->map;
	hp.kinds = rt->kinds;
	hp.schemas = rt->schemas;
	hp.jwt_key = rt->key;
	hp.bridge_id = rt->cfg->mqtt_client_id;   /* its replay barriers */
	memset(&ops, 0, sizeof(ops));
	ops.mqtt_subscribe = op_subscribe;
	ops.mqtt_unsubscribe = op_unsubscribe;
	ops.publish = op_publish;
	ops.publish_retained = op_publish_retained;   /* presence */
	sb_server_hub_ops(&server, &ops);
	if (sb_hub_create(&server.hub, &hp, &ops) != SB_OK ||
	    !(server.v1 = sb_session_v1_add(server.hub)))
		return SB_ERR_NOMEM;
	if (rt->cfg->pusher_enabled)
		return sb_pusher_create(&server.pusher, server.hub, rt->cfg);
	return SB_OK;
}

/* Builds the hub, the inbox, the MQTT link and the server, runs until
 * SIGTERM, and takes them down in the order their ownership needs (each
 * step undone on a failure too).  Returns the exit code. */
static int serve(struct runtime *rt, const char *path)
{
	char err[1024];
	int rc = 1;

	server.cfg = rt->cfg;
	if (make_hub(rt) != SB_OK) {
		sb_log(SB_LOG_ERR, "out of memory");
		goto hub;
	}
	/* the inbox wakes the service thread; what its events mean is
	 * mqtt_events.c's business, drained by ws_server.c */
	if (sb_inbox_create(&server.inbox, (size_t)rt->cfg->inbound_queue_msgs,
			    (size_t)rt->cfg->inbound_queue_bytes, sb_server_wakeup, &server) != SB_OK) {
		sb_log(SB_LOG_ERR, "out of memory");
		goto hub;
	}
	/* a full inbox makes Paho's thread wait this long, then drop */
	sb_inbox_set_wait(server.inbox, (unsigned)rt->cfg->inbound_wait_ms);
	if (sb_mqtt_link_create(&server.link, rt->cfg, server.inbox, err, sizeof(err))) {
		sb_log(SB_LOG_ERR, "%s: %s", path, err);
		goto inbox;
	}
	sb_mqtt_link_set_will(server.link, sb_chanmap_has_presence(rt->map));
	if (sb_server_create(&server, err, sizeof(err)) != SB_OK ||
	    sb_metrics_listen_start(&server, err, sizeof(err)) != SB_OK) {
		sb_log(SB_LOG_ERR, "%s: %s", path, err);
		goto server;
	}
	sb_mqtt_link_start(server.link);
	sb_sd_notify("READY=1\nSTATUS=listening");   /* systemd Type=notify */
	sb_server_run(&server);
	rc = 0;
server:
	/* Paho's thread keeps pushing until the link is destroyed: from here
	 * on it must not wake the lws context being destroyed, nor wait for
	 * room that no drain will make (that would slow the disconnect) */
	if (server.inbox) {
		sb_inbox_set_wake(server.inbox, NULL, NULL);
		sb_inbox_set_wait(server.inbox, 0);
	}
	sb_server_destroy(&server);
	/* after the context: its connections are gone */
	sb_pusher_destroy(server.pusher);
	server.pusher = NULL;
	/* the hub goes first: destroying channels unsubscribes through the link */
	sb_hub_destroy(server.hub);
	server.hub = NULL;
	sb_mqtt_link_destroy(server.link, rc == 0 ? 1000 : 0);
	server.link = NULL;
inbox:
	/* what Paho pushed since the last drain goes with it */
	sb_inbox_destroy(server.inbox);
	server.inbox = NULL;
hub:
	sb_pusher_destroy(server.pusher);
	server.pusher = NULL;
	sb_hub_destroy(server.hub);
	server.hub = NULL;
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "genconfig", no_argument, NULL, 'g' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int check = 0, verbose = 0, genconfig = 0, c;
	struct runtime rt;
	int rc;
	struct sigaction sa;

	while ((c = getopt_long(argc, argv, "c:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'k': check = 1; break;
		case 'g': genconfig = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("statusbus-bridge %s\n", SB_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (genconfig && !path && optind == argc) {
		char err[512];

		if (sb_genconfig_print(stdout, err, sizeof(err)) == 0)
			return 0;
		fprintf(stderr, "statusbus-bridge: --genconfig: %s\n", err);
		return 1;
	}
	if (!path || optind != argc || genconfig) {
		usage(stderr);
		return 2;
	}
	if (load(&rt, path) != 0) {
		runtime_free(&rt);
		return 1;
	}
	if (check) {
		sb_reload_lint(rt.cfg, path, stderr);
		printf("%s: ok (%zu channel templates, %zu topic kinds, auth %s, MQTT client id %s)\n",
		       path, sb_chanmap_count(rt.map), sb_kinds_count(rt.kinds),
		       rt.cfg->auth_enabled ? rt.cfg->jwt_alg : "off (open development mode)",
		       rt.cfg->mqtt_client_id);
		runtime_free(&rt);
		return 0;
	}
	sb_reload_logging(rt.cfg, verbose);
	sb_reload_lint(rt.cfg, path, NULL);
	sb_log(SB_LOG_INFO, "statusbus-bridge %s starting (config %s)", SB_VERSION, path);
	sb_log(SB_LOG_INFO, "mqtt: client id %s (mqtt.client_id \"%s\")", rt.cfg->mqtt_client_id,
	       rt.client_id_template);
	if (!rt.cfg->auth_enabled)
		sb_log(SB_LOG_WARN, "no auth section: open development mode, every channel is allowed "
		       "without a token (loopback only)");
	if (!rt.cfg->validate_payloads)
		sb_log(SB_LOG_WARN, "payload validation is off (validation.enabled = false)");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sb_reload_init(&reload, path, rt.cfg, rt.client_id_template, &rt.key, &rt.schemas, &server,
		       verbose);
	server.reload_cb = sb_reload_run;
	server.reload_arg = &reload;
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = serve(&rt, path);
	runtime_free(&rt);
	if (rc == 0)
		sb_log(SB_LOG_INFO, "stopped");
	return rc;
}
