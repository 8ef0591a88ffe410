/* SPDX-License-Identifier: MIT
 *
 * fuzz_pusher.c - the Pusher protocol 7 codec (domain/pusher_codec.c): one
 * input is one client frame, parsed as session_pusher.c parses it; the
 * channel name it names is split into form and statusbus channel, checked
 * against the default channel map, signed and verified, and answered with
 * the frames the session would build.  The raw input is also tried as a
 * socket id and as a hub session id.
 *
 * Oracles: the parse result is self-consistent and no field was cut short
 * by an escape cJSON decodes as NUL; a name's prefix plus its
 * base is the name; only the right signature verifies (one made with
 * sb_pusher_sign does, the auth the client sent does only if it is that
 * one); every frame built is strict JSON and UTF-8, and the "data" string
 * of every server event is itself strict JSON; a socket id made from any
 * session id is a valid one.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "chanmap.h"
#include "frame.h"
#include "pusher_codec.h"

#define KEY "app-key"
#define SECRET "app-secret"
#define SOCKET_ID "1234.5678"

static struct sb_chanmap *map;

/* The frame is strict JSON; with inner = 1 its "data" is a string that is
 * strict JSON too (every server event but client events and pusher:error). */
static void check_frame(struct sb_frame *f, int inner, const char *what)
{
	const char *d = (const char *)sb_frame_data(f);
	cJSON *j, *data;

	FZ_CHECK(f != NULL, "%s: no frame", what);
	FZ_CHECK(fz_json_strict(d, f->len), "%s is not strict JSON: %.*s", what, (int)f->len, d);
	j = cJSON_ParseWithLength(d, f->len);
	FZ_CHECK(cJSON_IsObject(j), "%s: not an object", what);
	FZ_CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "event")), "%s: event", what);
	data = cJSON_GetObjectItemCaseSensitive(j, "data");
	if (inner && data) {
		FZ_CHECK(cJSON_IsString(data), "%s: data is not a string", what);
		FZ_CHECK(fz_json_strict(data->valuestring, strlen(data->valuestring)),
			 "%s: data is not strict JSON: %s", what, data->valuestring);
	}
	cJSON_Delete(j);
	sb_frame_unref(f);
}

/* Bytes of the JSON value cJSON reads at the start of d. */
static size_t json_len(const char *d, size_t n)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(d, n, &end, 0);

	cJSON_Delete(j);
	return j && end ? (size_t)(end - d) : n;
}

static int socket_id_ref(const char *s)
{
	size_t a = strspn(s, "0123456789"), b;

	if (a == 0 || a > 20 || s[a] != '.')
		return 0;
	b = strspn(s + a + 1, "0123456789");
	return b > 0 && b <= 20 && s[a + 1 + b] == '\0';
}

static void names(const char *name, const char *auth)
{
	const char *base = NULL;
	enum sb_pusher_name form = sb_pusher_name_parse(name, &base);
	const char *prefix = sb_pusher_name_prefix(form);
	char hex[65], goodauth[128], reason[256] = "";
	struct sb_chan_ref ref;
	enum sb_err rc;

	FZ_CHECK(base >= name && base <= name + strlen(name), "base outside the name");
	if (form != SB_PUSHER_UNSUPPORTED)
		FZ_CHECK(strlen(prefix) == (size_t)(base - name) &&
			 strncmp(name, prefix, strlen(prefix)) == 0, "prefix + base != name");
	/* a statusbus name inside: the map decides, and never crashes */
	(void)sb_chanmap_parse(map, base, strlen(base), &ref, reason, sizeof(reason));

	rc = sb_pusher_sign(SECRET, SOCKET_ID, name, hex);
	if (rc != SB_OK)
		return;   /* longer than a name can be: nothing to sign */
	FZ_CHECK(strlen(hex) == 64 && strspn(hex, "0123456789abcdef") == 64, "signature %s", hex);
	snprintf(goodauth, sizeof(goodauth), KEY ":%s", hex);
	FZ_CHECK(sb_pusher_verify(KEY, SECRET, SOCKET_ID, name, goodauth, reason,
				  sizeof(reason)) == SB_OK, "a good signature is refused: %s", reason);
	if (auth) {
		rc = sb_pusher_verify(KEY, SECRET, SOCKET_ID, name, auth, reason, sizeof(reason));
		FZ_CHECK((rc == SB_OK) == (strcmp(auth, goodauth) == 0),
			 "verify(%s) = %d for the signature %s", auth, rc, goodauth);
	}
	/* the frames that name the channel */
	check_frame(sb_pusher_subscription_error_frame(name, "AuthError", reason, 401), 1,
		    "subscription_error");
	if (form == SB_PUSHER_UNSUPPORTED)
		return;
	check_frame(sb_pusher_subscription_succeeded_frame(form, base), 1, "subscription_succeeded");
	check_frame(sb_pusher_cache_miss_frame(form, base), 1, "cache_miss");
	check_frame(sb_pusher_gap_frame(form, base, 3, 9, 7), 1, "gap");
	check_frame(sb_pusher_event_frame(form, base, "app.status", "team/1/app/x/status", 1,
					  NULL, 0), 1, "deleted event");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	sb_log_set_level(SB_LOG_ERR);
	if (sb_chanmap_default(&map, err, sizeof(err)) != SB_OK) {
		fprintf(stderr, "default map: %s\n", err);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the session gets NUL-terminated frames (ws_server.c) */
	char *buf = fz_strndup(data, size), reason[256], sid[SB_PUSHER_SOCKET_ID_MAX];
	struct sb_pusher_msg m;
	enum sb_err rc;

	rc = sb_pusher_parse(buf, size, &m, reason, sizeof(reason));
	if (rc != SB_OK) {
		FZ_CHECK(rc == SB_ERR_INVAL, "rc %d", rc);
		FZ_CHECK(m.root == NULL && m.data_doc == NULL, "a refused frame leaves documents");
		check_frame(sb_pusher_error_frame(-1, reason), 0, "pusher:error");
	} else {
		FZ_CHECK(m.root && m.event, "no event");
		/* cJSON reads one value and ignores what follows it: only the
		 * value holds fields */
		FZ_CHECK(!fz_json_nul_escape(buf, json_len(buf, size)),
			 "accepted a frame with a NUL escape");
		FZ_CHECK(strlen(m.event) <= SB_PUSHER_MAX_EVENT_NAME, "event name length");
		switch (m.op) {
		case SB_PUSHER_OP_SUBSCRIBE:
		case SB_PUSHER_OP_UNSUBSCRIBE:
			FZ_CHECK(m.channel != NULL, "no channel");
			FZ_CHECK(!m.auth || m.op == SB_PUSHER_OP_SUBSCRIBE, "auth on unsubscribe");
			names(m.channel, m.auth);
			break;
		case SB_PUSHER_OP_CLIENT_EVENT:
			FZ_CHECK(m.channel != NULL && strncmp(m.event, "client-", 7) == 0, "client event");
			names(m.channel, NULL);
			check_frame(sb_pusher_client_event_frame(m.event, m.channel, m.data), 0,
				    "client event");
			break;
		default:
			FZ_CHECK(m.channel == NULL, "channel on op %d", m.op);
			break;
		}
		sb_pusher_msg_free(&m);
	}
	/* a payload as the hub hands it over: only strict JSON gets that far */
	if (fz_json_strict(buf, size)) {
		struct sb_msg *items[2];

		items[0] = sb_msg_create("deploy/x/logs", 13, buf, size, 0);
		items[1] = sb_msg_create("deploy/x/logs", 13, buf, size, 0);
		FZ_CHECK(items[0] && items[1], "out of memory");
		check_frame(sb_pusher_batch_frame(SB_PUSHER_CACHE, "deploy.x.logs", "deploy.log",
						  items, 2), 1, "batch");
		check_frame(sb_pusher_event_frame(SB_PUSHER_PRIVATE, "team.1", "app.status",
						  "team/1/app/x/status", 1, buf, size), 1, "event");
		sb_msg_unref(items[0]);
		sb_msg_unref(items[1]);
	}
	/* the raw input as a socket id, and as a hub session id */
	FZ_CHECK(sb_pusher_socket_id_valid(buf) == socket_id_ref(buf), "socket id check");
	sb_pusher_make_socket_id(buf, sid, sizeof(sid));
	FZ_CHECK(sb_pusher_socket_id_valid(sid), "made an invalid socket id %s", sid);
	if (size < 300)
		names(buf, buf);
	free(buf);
	return 0;
}
