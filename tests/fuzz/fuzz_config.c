/* SPDX-License-Identifier: MIT
 *
 * fuzz_config.c - the config loader (domain/config.c): one input is one
 * config file's text, parsed as main.c does, and a config that loads has
 * its "channels" built into a channel map, as main.c does next.
 *
 * Oracles: no crash or leak; a refusal says why and names the file (every
 * message starts with "<path>: "); a config that loads has its numbers in
 * range and its pointers set where the rest of the bridge reads them
 * without checking.
 */
#include "fuzz_common.h"

#include "chanmap.h"
#include "config.h"

#define NAME "fuzz.json"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sb_log_set_level(SB_LOG_ERR);
	return 0;
}

static void check_loaded(const struct sb_config *c)
{
	struct sb_chanmap *map = NULL;
	char err[512];

	FZ_CHECK(c->listen_host && c->mqtt_uri && c->mqtt_client_id && c->log_level &&
		 c->logs_follow, "a default is missing");
	/* [] is a choice (no browser origin at all), NULL would crash ws_server.c */
	FZ_CHECK(c->allowed_origins != NULL, "allowed_origins");
	for (size_t i = 0; i < c->n_allowed_origins; i++)
		FZ_CHECK(c->allowed_origins[i] != NULL, "allowed_origins[%zu]", i);
	FZ_CHECK(c->listen_port >= 0 && c->listen_port <= 65535, "port %d", c->listen_port);
	FZ_CHECK(c->max_subscriptions > 0 && c->max_frame_bytes > 0 && c->max_connections > 0,
		 "limits");
	FZ_CHECK(c->send_queue_soft_bytes > 0 && c->send_queue_hard_bytes > 0 &&
		 c->send_queue_frames > 0, "queue limits");
	FZ_CHECK(c->max_payload_bytes > 0 && c->cache_max_topics > 0, "limits");
	FZ_CHECK(c->max_msgs_per_s > 0, "max_msgs_per_s %d", c->max_msgs_per_s);
	FZ_CHECK(!c->pusher_enabled || (c->pusher_key && c->pusher_secret && c->pusher_app_id),
		 "pusher section without its keys");
	if (c->channels) {
		if (sb_chanmap_from_json(&map, c->channels, err, sizeof(err)) == SB_OK)
			sb_chanmap_destroy(map);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fz_strndup(data, size), err[1024];
	struct sb_config *cfg = NULL;
	enum sb_err rc;

	memset(err, 'X', sizeof(err));
	rc = sb_config_parse(&cfg, text, NAME, err, sizeof(err));
	if (rc != SB_OK) {
		FZ_CHECK(cfg == NULL, "a refused config is returned");
		FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated");
		FZ_CHECK(strncmp(err, NAME ": ", strlen(NAME) + 2) == 0 || rc == SB_ERR_NOMEM,
			 "the message does not name the file: %s", err);
	} else {
		FZ_CHECK(cfg != NULL, "no config");
		check_loaded(cfg);
		sb_config_destroy(cfg);
	}
	free(text);
	return 0;
}
