/* SPDX-License-Identifier: MIT
 *
 * genconfig.c - `statusbus-bridge --genconfig`: a starting config, valid as
 * printed (--check-config passes on it), with a fresh random HS256 secret
 * and "_comment" keys (JSON has no comments; config.c skips keys that
 * start with '_') that say what each section is for and where every key
 * is documented.  Paths are absolute: the schemas and the dashboard where
 * this binary finds them (installed next to it in ../share/statusbus, or a
 * source checkout in the working directory), so the config works from any
 * directory.
 */
#include "genconfig.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#ifndef SB_INSTALL_DATADIR
#define SB_INSTALL_DATADIR "/usr/local/share/statusbus"
#endif

static int is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The first of: <exe>/../share/statusbus/<installed>, ./<checkout> (a
 * source tree), SB_INSTALL_DATADIR/<installed>, as an absolute path into
 * out; 0 when none is a directory. */
static int find_dir(const char *installed, const char *checkout, char *out, size_t size)
{
	char exe[PATH_MAX], cand[PATH_MAX + 64], real[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')))
			*slash = '\0';
		snprintf(cand, sizeof(cand), "%s/../share/statusbus/%s", exe, installed);
		if (is_dir(cand) && realpath(cand, real)) {
			snprintf(out, size, "%s", real);
			return 1;
		}
	}
	if (checkout && is_dir(checkout) && realpath(checkout, real)) {
		snprintf(out, size, "%s", real);
		return 1;
	}
	snprintf(cand, sizeof(cand), "%s/%s", SB_INSTALL_DATADIR, installed);
	if (is_dir(cand) && realpath(cand, real)) {
		snprintf(out, size, "%s", real);
		return 1;
	}
	return 0;
}

static cJSON *section(cJSON *root, const char *name, const char *comment)
{
	cJSON *s = cJSON_AddObjectToObject(root, name);

	if (s && comment)
		cJSON_AddStringToObject(s, "_comment", comment);
	return s;
}

int sb_genconfig_print(FILE *out, char *err, size_t errlen)
{
	unsigned char rnd[32];
	char secret[65], schemas[PATH_MAX], dashboard[PATH_MAX], stamp[64], *text;
	cJSON *root, *s, *origins;
	time_t now = time(NULL);
	struct tm tm;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		snprintf(err, errlen, "cannot read random bytes for the secret");
		return -1;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(secret + 2 * i, 3, "%02x", rnd[i]);
	if (!find_dir("schemas", "schemas", schemas, sizeof(schemas))) {
		snprintf(err, errlen, "cannot find the schemas (not in ../share/statusbus/schemas next "
			 "to this binary, ./schemas, or %s/schemas)", SB_INSTALL_DATADIR);
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "_comment",
		"statusbus-bridge config written by --genconfig; keys starting with '_' are "
		"comments. Every key, its default and whether SIGHUP reloads it: README "
		"'Configuration' and docs/protocol.md section 11. Check with: statusbus-bridge "
		"--check-config -c FILE");
	cJSON_AddStringToObject(root, "_generated", stamp);

	s = section(root, "mqtt", "The broker: one MQTT session per bridge (client_id: {hostname} "
		    "and {pid} are filled in). Give username and password_file when the broker "
		    "needs them (docs/broker.md).");
	cJSON_AddStringToObject(s, "uri", "tcp://127.0.0.1:1883");
	cJSON_AddStringToObject(s, "client_id", "statusbus-{hostname}");
	cJSON_AddNullToObject(s, "username");
	cJSON_AddNullToObject(s, "password_file");

	s = section(root, "listen", "WebSocket /v1/ws, HTTP /v1/*, /healthz, /metrics and the "
		    "dashboard. Behind nginx or Caddy (docs/deploy.md) keep host on loopback and "
		    "name the proxy in trusted_proxies; cert_file/key_file serve TLS directly.");
	cJSON_AddStringToObject(s, "host", "127.0.0.1");
	cJSON_AddNumberToObject(s, "port", 8080);
	cJSON_AddNullToObject(s, "cert_file");
	cJSON_AddNullToObject(s, "key_file");
	if (find_dir("dashboard", "examples/dashboard", dashboard, sizeof(dashboard)))
		cJSON_AddStringToObject(s, "static_dir", dashboard);
	else
		cJSON_AddNullToObject(s, "static_dir");
	origins = cJSON_AddArrayToObject(s, "allowed_origins");
	cJSON_AddItemToArray(origins, cJSON_CreateString("*"));
	cJSON_AddArrayToObject(s, "trusted_proxies");

	s = section(root, "auth", "HS256 tokens signed with this fresh random secret (mint one: "
		    "statusbus-token --secret S --sub u1 --teams 42). Better: move it into a file "
		    "only the bridge can read and give jwt_secret_file instead (SIGHUP reads it "
		    "again). Without this section the bridge runs in open development mode.");
	cJSON_AddStringToObject(s, "jwt_alg", "HS256");
	cJSON_AddStringToObject(s, "jwt_secret", secret);
	cJSON_AddNullToObject(s, "issuer");
	cJSON_AddNullToObject(s, "audience");

	s = section(root, "metrics", "listen: \"127.0.0.1:9100\" serves GET /metrics there "
		    "only, not on the public port (docs/metrics.md); null keeps it on listen.port.");
	cJSON_AddNullToObject(s, "listen");

	cJSON_AddStringToObject(root, "schemas_dir", schemas);
	cJSON_AddStringToObject(root, "log_level", "info");
	cJSON_AddStringToObject(root, "log_format", "text");

	s = section(root, "limits", "Bounds on what clients and the broker may cost; the "
		    "defaults are shown. max_connections also needs as many open files "
		    "(LimitNOFILE in the systemd unit).");
	cJSON_AddNumberToObject(s, "max_connections", 50000);
	cJSON_AddNumberToObject(s, "max_subscriptions", 128);
	cJSON_AddNumberToObject(s, "max_frame_bytes", 65536);
	cJSON_AddNumberToObject(s, "send_queue_soft_bytes", 1048576);
	cJSON_AddNumberToObject(s, "max_payload_bytes", 65536);
	cJSON_AddNumberToObject(s, "drain_s", 10);

	text = cJSON_Print(root);
	cJSON_Delete(root);
	memset(secret, 0, sizeof(secret));
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	fprintf(out, "%s\n", text);
	memset(text, 0, strlen(text));   /* the secret */
	free(text);
	return 0;
}
