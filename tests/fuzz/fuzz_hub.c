/* SPDX-License-Identifier: MIT
 *
 * fuzz_hub.c - the engine (bridge/engine) driven by a script: the input is
 * a stream of operations, each an opcode byte and its arguments, played
 * against a real hub with the statusbus.v1 and Pusher sessions in auth
 * mode, on a fake clock, behind a small fake broker:
 *   - MQTT messages on topics of a small realistic alphabet (statuses of
 *     two teams, a deploy under both teams, log lines with chosen seqs,
 *     stats, notifications, public pages, unknown topics), with payloads
 *     from schemas/examples (valid and invalid), deletions, raw bytes,
 *     and QoS 1 redelivery;
 *   - the broker's side: SUBACKs, the retained replay of each new filter,
 *     replay barriers echoed, held, the link cut and restored (with or
 *     without the session);
 *   - clients of both protocols connecting, sending hello/sub/unsub/
 *     refresh/ping (with the script's tokens, channels and since values),
 *     Pusher subscriptions with and without the app's signature, client
 *     events, raw frames, reading some of their frames, choking, leaving;
 *   - clock advances (hub ticks, Pusher activity timers), HTTP queries.
 * Every frame a client reads goes through hub_model.c's checks.  At the
 * end every client reads everything left and the hub is destroyed (LSan
 * finds what leaked).
 */
#include "fuzz_common.h"

#include <dirent.h>

#include "chanmap.h"
#include "config.h"
#include "hub.h"
#include "hub_broker.h"
#include "hub_model.h"
#include "jwt.h"
#include "schema.h"
#include "session_pusher.h"
#include "session_v1.h"
#include "topic.h"

#define JWT_SECRET "fuzz secret for the hub, 32 bytes"
#define APP_KEY "app-key"
#define APP_SECRET "app-secret"
#define T0 1000000
#define W0 1700000000
#define NCL 4
#define NWAIT 3

struct hm_token hm_tokens[] = {
	{ "u1", { "42" }, { NULL }, 86400, 0, NULL },
	{ "u2", { "43" }, { NULL }, 86400, 0, NULL },
	{ "u1", { "42", "43" }, { NULL }, 86400, 0, NULL },
	{ "u1", { NULL }, { "deploy.*.logs" }, 86400, 0, NULL },
	{ "u1", { "42" }, { NULL }, 60, 0, NULL },          /* expires during a run */
	{ "u3", { "42" }, { NULL }, -3600, 0, NULL },       /* expired */
	{ "u1", { "42" }, { NULL }, 86400, 1, NULL },       /* forged */
	{ "u2", { "43" }, { "team.42" }, 86400, 0, NULL },
};
const size_t hm_ntokens = sizeof(hm_tokens) / sizeof(hm_tokens[0]);

static const char *const channels[] = {
	"team.42", "team.43", "team.42.stats", "team.43.stats",
	"deploy." HM_D1, "deploy." HM_D1 ".logs", "deploy." HM_D2, "deploy." HM_D2 ".logs",
	"deploy." HM_D3, "deploy." HM_D3 ".logs", "user.u1", "user.u2", "public.p1",
	"public.p2", "nosuch.x", "team.4+2",
};
#define NCHANNELS (sizeof(channels) / sizeof(channels[0]))

/* D1 only ever under team 42, D2 under 43: their owners are fixed (the
 * model relies on it); D3 under both. */
static const char *const topics[] = {
	"team/42/app/a1/status", "team/43/app/a2/status", "team/42/db/b1/status",
	"team/42/deploy/" HM_D1 "/status", "team/43/deploy/" HM_D2 "/status",
	"team/42/deploy/" HM_D3 "/status", "team/43/deploy/" HM_D3 "/status",
	"deploy/" HM_D1 "/logs", "deploy/" HM_D2 "/logs", "deploy/" HM_D3 "/logs",
	"team/42/app/a1/stats", "team/43/app/a2/stats", "user/u1/notify", "user/u2/notify",
	"public/p1/status", "team/42/incident/i1", "team/43/maintenance/m1",
	"team/42/server/s1/reachability", "unknown/topic/x",
};
#define NTOPICS (sizeof(topics) / sizeof(topics[0]))
static const char *const deploys[] = { HM_D1, HM_D2, HM_D3 };

static const char *const configs[] = {
	"{\"mqtt\":{\"client_id\":\"fuzz\"},\"auth\":{\"jwt_secret\":\"" JWT_SECRET "\"},"
	"\"pusher\":{\"app_id\":\"1\",\"key\":\"" APP_KEY "\",\"secret\":\"" APP_SECRET "\","
	"\"client_events\":true,\"activity_timeout_s\":10},"
	"\"validation\":{\"republish_rejected\":true},\"logs\":{\"max_followed\":2},"
	"\"limits\":{\"max_connections\":6,\"max_subscriptions\":6,\"send_queue_soft_bytes\":4096,"
	"\"send_queue_hard_bytes\":16384,\"send_queue_frames\":48,\"max_msgs_per_s\":20,"
	"\"subscribe_timeout_ms\":500,\"hello_timeout_s\":5,\"cache_max_topics\":16}}",
	"{\"mqtt\":{\"client_id\":\"fuzz\"},\"auth\":{\"jwt_secret\":\"" JWT_SECRET "\"},"
	"\"pusher\":{\"app_id\":\"1\",\"key\":\"" APP_KEY "\",\"secret\":\"" APP_SECRET "\"},"
	"\"validation\":{\"reject_unknown_topics\":true},\"logs\":{\"follow\":\"watched\"},"
	"\"limits\":{\"max_subscriptions\":3,\"max_msgs_per_s\":5}}",
};
#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))

static struct sb_config *cfgs[NCONFIGS];
static struct sb_chanmap *map;
static struct sb_kinds *kinds;
static struct sb_schema_set *schemas;
static struct sb_jwt_key *key;

/* schemas/examples payloads, per topic */
struct examples {
	char *valid[8], *invalid[12];
	size_t nvalid, ninvalid;
};
static struct examples ex[NTOPICS];
static int trace;   /* SB_FUZZ_TRACE=1: print what the script does (docs/fuzzing.md) */

/* ---- the world of one run ---------------------------------------------------------- */

struct cl {
	int used;
	struct sb_client *c;
	struct sb_pusher_conn *pc;
	int64_t ptimer;           /* Pusher activity check due */
	int64_t next_id;
	struct hm_client m;
};

struct waiter {
	int used, ready;
	struct sb_hub_waiter w;
	int tok;
	char chan[HM_NAME];
	int history;
	int64_t since;
};

static struct world {
	struct sb_hub *hub;
	struct sb_pusher *pusher;
	const struct sb_session *v1;
	int64_t now, seq[3];
	struct cl cl[NCL];
	struct waiter wt[NWAIT];
	struct hub_broker b;
	unsigned marks;
} W;

static int64_t now_fn(void) { return W.now; }
static int64_t wall_fn(void) { return W0 + (W.now - T0) / 1000; }

/* ---- the hub's operations: MQTT to the fake broker, the rest ignored --------------------- */

static void op_sub(void *ctx, const char *filter) { hb_subscribe(ctx, filter); }
static void op_unsub(void *ctx, const char *filter) { hb_unsubscribe(ctx, filter); }
static void op_wake(void *ctx, struct sb_client *c) { (void)ctx; (void)c; }
static void op_timer(void *ctx, int64_t d) { (void)ctx; (void)d; }
static void op_publish(void *ctx, const char *topic, const void *payload, size_t len)
{
	hb_hub_published(ctx, topic, payload, len);
}

/* ---- setup ------------------------------------------------------------------------------ */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 20000);
	size_t n;

	if (!f || !buf)
		abort();
	n = fread(buf, 1, 19999, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* In name order: an input means the same payload on every machine. */
static void load_examples(struct examples *e, const char *schema)
{
	char dir[512], path[800];
	size_t l = strlen(schema) - 5;   /* "app-status.json" -> "app-status" */

	for (int valid = 0; valid < 2; valid++) {
		struct dirent **de;
		int n;

		snprintf(dir, sizeof(dir), SB_SOURCE_DIR "/schemas/examples/%.*s/%s", (int)l, schema,
			 valid ? "valid" : "invalid");
		n = scandir(dir, &de, NULL, by_name);
		for (int i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, de[i]->d_name);
			if (strstr(de[i]->d_name, ".json") && valid && e->nvalid < 8)
				e->valid[e->nvalid++] = slurp(path);
			else if (strstr(de[i]->d_name, ".json") && !valid && e->ninvalid < 12)
				e->invalid[e->ninvalid++] = slurp(path);
			free(de[i]);
		}
		if (n >= 0)
			free(de);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512], claims[512];

	(void)argc;
	(void)argv;
	trace = hb_trace = getenv("SB_FUZZ_TRACE") != NULL;
	sb_log_set_level(trace ? SB_LOG_DEBUG : (enum sb_log_level)(SB_LOG_ERR + 1));
	for (size_t i = 0; i < NCONFIGS; i++)
		if (sb_config_parse(&cfgs[i], configs[i], "fuzz.json", err, sizeof(err)) != SB_OK) {
			fprintf(stderr, "config: %s\n", err);
			abort();
		}
	if (sb_chanmap_default(&map, err, sizeof(err)) != SB_OK ||
	    sb_kinds_load(&kinds, SB_SOURCE_DIR "/schemas/topics.json", err, sizeof(err)) != SB_OK ||
	    sb_schema_set_load(&schemas, SB_SOURCE_DIR "/schemas", err, sizeof(err)) != SB_OK ||
	    sb_jwt_key_create_hmac(&key, (const unsigned char *)JWT_SECRET,
				   strlen(JWT_SECRET)) != SB_OK) {
		fprintf(stderr, "setup: %s\n", err);
		abort();
	}
	hm_map = map;
	for (size_t i = 0; i < hm_ntokens; i++) {
		struct hm_token *t = &hm_tokens[i];
		int n = snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":%lld,\"teams\":[",
				 t->sub, (long long)(W0 + t->exp_off));
		for (size_t k = 0; k < 3 && t->teams[k]; k++)
			n += snprintf(claims + n, sizeof(claims) - (size_t)n, "%s\"%s\"", k ? "," : "",
				      t->teams[k]);
		n += snprintf(claims + n, sizeof(claims) - (size_t)n, "]");
		if (t->patterns[0])
			n += snprintf(claims + n, sizeof(claims) - (size_t)n, ",\"channels\":[\"%s\"]",
				      t->patterns[0]);
		snprintf(claims + n, sizeof(claims) - (size_t)n, "}");
		const char *secret = t->forged ? "another secret, at least 32 bytes" : JWT_SECRET;
		if (sb_jwt_sign_hs256(&t->jwt, (const unsigned char *)secret, strlen(secret),
				      claims) != SB_OK)
			abort();
	}
	for (size_t i = 0; i < NTOPICS; i++) {
		const struct sb_kind *k = sb_kinds_lookup(kinds, topics[i]);
		if (k && k->schema)
			load_examples(&ex[i], k->schema);
	}
	return 0;
}

/* ---- clients ---------------------------------------------------------------------------- */

static void gone(int k)
{
	struct cl *c = &W.cl[k];

	if (c->pc)
		sb_pusher_conn_gone(c->pc);
	sb_hub_client_gone(W.hub, c->c);
	memset(c, 0, sizeof(*c));
}

/* The client reads up to n frames, as ws_server.c writes them; a client
 * whose queue is empty and whose close verdict is set is closed. */
static void drain(int k, int n, int choke)
{
	struct cl *c = &W.cl[k];

	hb_pump(&W.b, 0);
	for (int i = 0; i < n; i++) {
		struct sb_frame *f;

		size_t len;

		sb_hub_client_choked(W.hub, c->c, 0);
		/* sized first, as ws_server.c sizes a gathered write */
		len = sb_hub_client_next_len(W.hub, c->c);
		f = sb_hub_client_next(W.hub, c->c);
		if (!f != !len || (f && f->len != len))
			abort();
		if (!f) {
			if (sb_client_close_code(c->c, NULL))
				gone(k);
			return;
		}
		if (trace)
			fprintf(stderr, "  client %d <- %.*s\n", k, (int)f->len,
				(const char *)sb_frame_data(f));
		hm_frame(&c->m, (const char *)sb_frame_data(f), f->len);
		sb_frame_unref(f);
		sb_hub_client_choked(W.hub, c->c, choke);
	}
}

static int new_client(int pusher, uint8_t how)
{
	int k;
	struct cl *c;

	for (k = 0; k < NCL && W.cl[k].used; k++)
		;
	if (k == NCL)
		return -1;
	c = &W.cl[k];
	c->c = sb_hub_client_new(W.hub, pusher ? sb_pusher_session(W.pusher) : W.v1, NULL);
	if (!c->c)
		return -1;   /* max_connections */
	c->used = 1;
	c->next_id = 1;
	hm_client_init(&c->m, pusher);
	if (pusher) {
		c->pc = sb_pusher_open(W.pusher, c->c, how % 16 ? "/app/" APP_KEY : "/app/nokey",
				       how % 8 ? "7" : how % 3 ? "6" : NULL);
		FZ_CHECK(c->pc != NULL, "out of memory");
		snprintf(c->m.socket_id, sizeof(c->m.socket_id), "%s", sb_pusher_socket_id(c->pc));
		c->ptimer = W.now + sb_pusher_timer(c->pc, W.now);
	}
	return k;
}

/* A client of the right protocol that has not left, or -1: the request is
 * still read from the input (so that the rest of the script keeps its
 * meaning when a client is gone) and then dropped. */
static int pick(struct fz *in, int pusher)
{
	int k = fz_u8(in) % NCL;

	return W.cl[k].used && W.cl[k].m.pusher == pusher ? k : -1;
}

static struct cl *client_of(int k)
{
	static struct cl scratch;

	if (k >= 0)
		return &W.cl[k];
	memset(&scratch, 0, sizeof(scratch));
	return &scratch;
}

static void send_text(int k, const char *text, size_t len)
{
	if (k < 0)
		return;
	if (trace)
		fprintf(stderr, "client %d -> %.*s\n", k, (int)len, text);
	sb_hub_client_frame(W.hub, W.cl[k].c, text, len);
}

/* Bytes from the input as a string: what a browser could send (text
 * frames are UTF-8: ws_server.c has lws check it). */
static size_t fuzz_string(struct fz *in, char *out, size_t max)
{
	size_t n;
	const uint8_t *p = fz_bytes(in, max - 1, &n);

	memcpy(out, p, n);
	out[n] = '\0';
	if (!fz_utf8_valid(out, n))
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)out[i] >= 0x80)
				out[i] = '?';
	return n;
}

/* A JSON string literal of s (quotes included) into out. */
static void json_str(const char *s, char *out, size_t max)
{
	size_t o = 0;

	out[o++] = '"';
	for (; *s && o + 8 < max; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, max - o, "\\%c", ch);
		else if (ch < 0x20)
			o += (size_t)snprintf(out + o, max - o, "\\u%04x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* A channel: one of the alphabet, or (b >= 224) bytes of the input. */
static void channel(struct fz *in, char *out, size_t max)
{
	uint8_t b = fz_u8(in);

	if (b >= 224)
		fuzz_string(in, out, max > 48 ? 48 : max);
	else
		snprintf(out, max, "%s", channels[b % NCHANNELS]);
}

static int token(uint8_t b)
{
	return b % (hm_ntokens + 1) == hm_ntokens ? -1 : (int)(b % (hm_ntokens + 1));
}

/* ---- one statusbus.v1 request ---------------------------------------------------------- */

static void v1_request(struct fz *in, int k)
{
	struct cl *c = client_of(k);
	uint8_t what = fz_u8(in);
	struct hm_req r = { 0 };
	char name[HM_NAME], q[HM_NAME + 16], text[12000];
	size_t n;

	switch (what % 6) {
	case 0:   /* hello */
		r.op = HM_HELLO;
		r.tok = token(fz_u8(in));
		if (!hm_sent(&c->m, &r))
			return;
		if (r.tok < 0)
			n = (size_t)snprintf(text, sizeof(text), "{\"op\":\"hello\"}");
		else
			n = (size_t)snprintf(text, sizeof(text), "{\"op\":\"hello\",\"token\":\"%s\"}",
					     hm_tokens[r.tok].jwt);
		break;
	case 1:   /* sub */
	case 2: {
		uint8_t s = fz_u8(in);
		r.op = HM_SUB;
		r.id = c->next_id++;
		channel(in, name, sizeof(name));
		snprintf(r.name, sizeof(r.name), "%s", name);
		r.has_since = s % 4 != 0;
		r.since = s % 4 == 1 ? 0 : s % 4 == 2 ? W.seq[s / 4 % 3] : s / 4;
		if (!hm_sent(&c->m, &r))
			return;
		json_str(name, q, sizeof(q));
		if (r.has_since)
			n = (size_t)snprintf(text, sizeof(text), "{\"op\":\"sub\",\"id\":%lld,"
					     "\"channel\":%s,\"since\":%lld}", (long long)r.id, q,
					     (long long)r.since);
		else
			n = (size_t)snprintf(text, sizeof(text), "{\"op\":\"sub\",\"id\":%lld,"
					     "\"channel\":%s}", (long long)r.id, q);
		break;
	}
	case 3:   /* unsub */
		r.op = HM_UNSUB;
		r.id = c->next_id++;
		channel(in, name, sizeof(name));
		snprintf(r.name, sizeof(r.name), "%s", name);
		if (!hm_sent(&c->m, &r))
			return;
		json_str(name, q, sizeof(q));
		n = (size_t)snprintf(text, sizeof(text), "{\"op\":\"unsub\",\"id\":%lld,\"channel\":%s}",
				     (long long)r.id, q);
		break;
	case 4:   /* refresh */
		r.op = HM_REFRESH;
		r.id = c->next_id++;
		r.tok = token(fz_u8(in));
		if (r.tok < 0 || !hm_sent(&c->m, &r))
			return;
		n = (size_t)snprintf(text, sizeof(text), "{\"op\":\"refresh\",\"id\":%lld,\"token\":\"%s\"}",
				     (long long)r.id, hm_tokens[r.tok].jwt);
		break;
	default: {   /* ping, or raw bytes that are no request the model must know */
		struct sb_req req;
		int has_id;
		int64_t id;
		char reason[200];

		n = fuzz_string(in, text, 256);
		if (sb_proto_parse(text, n, &req, &has_id, &id, reason, sizeof(reason)) == SB_OK) {
			int ping = req.op == SB_OP_PING;
			sb_req_free(&req);
			if (!ping)
				return;
		}
		break;
	}
	}
	send_text(k, text, n);
}

/* ---- one Pusher frame ---------------------------------------------------------------------- */

static void pusher_frame(struct fz *in, int k)
{
	static const char *const prefixes[] = { "", "private-", "private-cache-", "cache-" };
	struct cl *c = client_of(k);
	uint8_t what = fz_u8(in), form = fz_u8(in);
	char base[HM_NAME], name[HM_NAME + 20], q[HM_NAME + 40], auth[200], hex[65], text[2048];
	size_t n;

	channel(in, base, sizeof(base));
	snprintf(name, sizeof(name), "%s%s", prefixes[form % 4], base);
	json_str(name, q, sizeof(q));
	switch (what % 5) {
	case 0:   /* subscribe, signed by the app when form says so */
	case 1:
		if ((form / 4) % 3 == 0 && sb_pusher_sign(APP_SECRET, c->m.socket_id, name, hex) == SB_OK &&
		    hm_pusher_signed(&c->m, name)) {
			snprintf(auth, sizeof(auth), "\"" APP_KEY ":%s\"", hex);
		} else if ((form / 4) % 3 == 1) {
			snprintf(auth, sizeof(auth), "\"" APP_KEY ":%064d\"", 0);
		} else {
			snprintf(auth, sizeof(auth), "null");
		}
		n = (size_t)snprintf(text, sizeof(text), "{\"event\":\"pusher:subscribe\",\"data\":"
				     "{\"channel\":%s,\"auth\":%s}}", q, auth);
		break;
	case 2:   /* unsubscribe, then the marker */
		if (!hm_pusher_unsubscribed(&c->m, name, ++W.marks))
			return;
		n = (size_t)snprintf(text, sizeof(text), "{\"event\":\"pusher:unsubscribe\",\"data\":"
				     "{\"channel\":%s}}", q);
		send_text(k, text, n);
		if (k >= 0 && !W.cl[k].used)
			return;
		n = (size_t)snprintf(text, sizeof(text), "{\"event\":\"fuzz:marker-%u\",\"data\":{}}",
				     W.marks);
		break;
	case 3:   /* a client event */
		n = (size_t)snprintf(text, sizeof(text), "{\"event\":\"client-typing\",\"channel\":%s,"
				     "\"data\":{\"who\":\"u1\"}}", q);
		break;
	default: {   /* ping, or raw bytes */
		struct sb_pusher_msg m;
		char reason[256];

		n = fuzz_string(in, text, 256);
		if (sb_pusher_parse(text, n, &m, reason, sizeof(reason)) == SB_OK) {
			int ok = m.op == SB_PUSHER_OP_PING || m.op == SB_PUSHER_OP_PONG ||
				 (m.op == SB_PUSHER_OP_OTHER && strncmp(m.event, "fuzz:", 5) != 0);
			sb_pusher_msg_free(&m);
			if (!ok)
				return;
		}
		break;
	}
	}
	send_text(k, text, n);
}

/* ---- MQTT ------------------------------------------------------------------------------------- */

static void mqtt_message(struct fz *in)
{
	size_t t = fz_u8(in) % NTOPICS, n;
	uint8_t sel = fz_u8(in), arg = fz_u8(in);
	const struct sb_kind *k = sb_kinds_lookup(kinds, topics[t]);
	int status = k && k->retained;
	const struct examples *e = &ex[t];
	char buf[512];
	const char *payload = buf;

	if (strncmp(topics[t], "deploy/", 7) == 0 && sel % 8 < 5) {
		int d = (int)(t - 7);
		int64_t *seq = &W.seq[d];
		switch (sel % 8) {
		case 0: case 1: ++*seq; break;
		case 2: *seq += 1 + arg % 20; break;
		case 3: *seq -= arg % 5; break;
		default: break;   /* the same again */
		}
		if (*seq < 1)
			*seq = 1;
		n = (size_t)snprintf(buf, sizeof(buf), "{\"seq\":%lld,\"ts\":\"2024-06-01T12:00:00Z\","
				     "\"level\":\"info\",\"stream\":\"stdout\",\"msg\":\"line %lld of %s\"}",
				     (long long)*seq, (long long)*seq, deploys[d]);
	} else if (sel % 8 < 4 && e->nvalid) {
		payload = e->valid[arg % e->nvalid];
		n = strlen(payload);
	} else if (sel % 8 == 4 && e->ninvalid) {
		payload = e->invalid[arg % e->ninvalid];
		n = strlen(payload);
	} else if (sel % 8 == 5) {
		n = 0;   /* an empty message: a deletion on a status topic */
	} else {
		const uint8_t *p = fz_bytes(in, sizeof(buf), &n);
		memcpy(buf, p, n);
	}
	if (trace)
		fprintf(stderr, "mqtt %s%s: %.*s\n", topics[t], (sel / 8) % 4 == 0 ? " (retain)" : "",
			(int)n, payload);
	hb_publish(&W.b, topics[t], payload, n, status, (sel / 8) % 4 == 0);
}

static void broker(struct fz *in)
{
	switch (fz_u8(in) % 8) {
	case 0: case 1: hb_pump(&W.b, 0); break;
	case 2: hb_pump(&W.b, 1); break;
	case 3: W.b.hold = !W.b.hold; break;
	case 4: hb_link(&W.b, 0, 0); break;
	case 5: hb_link(&W.b, 1, 0); break;
	case 6: hb_link(&W.b, 1, 1); break;
	default: hb_redeliver(&W.b); break;
	}
}

/* ---- time and queries ---------------------------------------------------------------------------- */

static void advance(struct fz *in)
{
	static const int64_t steps[] = { 1, 10, 50, 100, 250, 1000, 5000, 12000, 31000, 65000 };

	W.now += steps[fz_u8(in) % 10];
	if (trace)
		fprintf(stderr, "clock +%lld ms\n", (long long)(W.now - T0));
	for (int guard = 0; sb_hub_next_deadline(W.hub) <= W.now && guard < 100; guard++)
		sb_hub_tick(W.hub);
	for (int k = 0; k < NCL; k++) {
		struct cl *c = &W.cl[k];
		if (c->used && c->pc && c->ptimer <= W.now) {
			int64_t d = sb_pusher_timer(c->pc, W.now);
			c->ptimer = d < 0 ? INT64_MAX : W.now + d;
		}
	}
}

static void waiter_ready(void *arg)
{
	((struct waiter *)arg)->ready = 1;
}

static void query(int tok, const char *chan, int history, int64_t since, struct waiter *w)
{
	char *body = NULL;
	enum sb_code code = SB_CODE_INTERNAL;
	enum sb_err rc;

	rc = sb_hub_query(W.hub, tok >= 0 ? hm_tokens[tok].jwt : NULL, chan, history, since, &body,
			  &code, w ? &w->w : NULL);
	if (rc == SB_ERR_PENDING) {
		FZ_CHECK(w && !body, "pending without a waiter");
		w->used = 1;
		w->ready = 0;
		w->tok = tok;
		snprintf(w->chan, sizeof(w->chan), "%s", chan);
		w->history = history;
		w->since = since;
		return;
	}
	FZ_CHECK(!body || fz_json_strict(body, strlen(body)), "query body is not JSON: %s", body);
	if (rc == SB_OK) {
		FZ_CHECK(tok < 0 || (!hm_tokens[tok].forged &&
				     W0 + hm_tokens[tok].exp_off + 30 + 2 >= wall_fn()),
			 "query with the refused token %d answered", tok);
		FZ_CHECK(hm_allowed(tok, chan) != 0, "query of %s answered for token %d", chan, tok);
	}
	free(body);
}

static void http(struct fz *in)
{
	uint8_t b = fz_u8(in), s = fz_u8(in);
	int tok = token(fz_u8(in));
	char chan[HM_NAME];
	struct waiter *w = &W.wt[b % NWAIT];

	channel(in, chan, sizeof(chan));
	if (w->used && w->ready) {
		/* the answer is ready: ask again, without a waiter */
		w->used = 0;
		query(w->tok, w->chan, w->history, w->since, NULL);
	} else if (w->used || b % 2) {
		query(tok, chan, (b / 2) % 2, s, NULL);
	} else {
		memset(&w->w, 0, sizeof(w->w));
		w->w.ready = waiter_ready;
		w->w.arg = w;
		query(tok, chan, (b / 2) % 2, s, w);
	}
}

static void step(struct fz *in)
{
	int k;

	switch (fz_u8(in) % 16) {
	case 0: case 1: case 2:
		mqtt_message(in);
		break;
	case 3:
		(void)new_client(fz_u8(in) % 2, fz_u8(in));
		break;
	case 4: case 5: case 6:
		v1_request(in, pick(in, 0));
		break;
	case 7: case 8:
		pusher_frame(in, pick(in, 1));
		break;
	case 9: case 10: {
		uint8_t b = fz_u8(in);
		if (W.cl[b % NCL].used)
			drain(b % NCL, 1 + (b / 4) % 16, (b / 64) == 3);
		break;
	}
	case 11:
		advance(in);
		break;
	case 12:
		broker(in);
		break;
	case 13:
		if (W.cl[(k = fz_u8(in) % NCL)].used)
			gone(k);
		break;
	case 14:
		http(in);
		break;
	default:
		if (fz_u8(in) % 8 == 0)
			sb_hub_flush_all(W.hub);
		else if (fz_u8(in) % 16 == 0)
			sb_hub_close_all(W.hub, SB_CLOSE_GOING_AWAY, "bridge shutting down");
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	const struct sb_config *cfg = cfgs[fz_u8(&in) % NCONFIGS];
	struct sb_hub_params p = { 0 };
	struct sb_hub_ops ops = { &W.b, op_sub, op_unsub, op_wake, op_publish, op_timer, NULL };

	memset(&W, 0, sizeof(W));
	W.now = T0;
	p.cfg = cfg;
	p.map = map;
	p.kinds = kinds;
	p.schemas = schemas;
	p.jwt_key = key;
	p.bridge_id = "fuzz";
	p.now_ms = now_fn;
	p.wall_s = wall_fn;
	FZ_CHECK(sb_hub_create(&W.hub, &p, &ops) == SB_OK, "hub");
	W.v1 = sb_session_v1_add(W.hub);
	FZ_CHECK(W.v1 && sb_pusher_create(&W.pusher, W.hub, cfg) == SB_OK, "sessions");
	sb_pusher_set_clock(W.pusher, now_fn);
	W.b.hub = W.hub;
	hb_link(&W.b, 1, 0);
	hb_pump(&W.b, 0);

	for (int steps = 0; fz_more(&in) && steps < 400; steps++)
		step(&in);

	/* the end: the broker answers, every client reads all, then leaves */
	W.b.hold = 0;
	hb_link(&W.b, 1, 0);
	hb_pump(&W.b, 0);
	for (int k = 0; k < NCL; k++)
		if (W.cl[k].used) {
			drain(k, 100000, 0);
			if (W.cl[k].used)
				gone(k);
		}
	for (int i = 0; i < NWAIT; i++)
		sb_hub_waiter_cancel(W.hub, &W.wt[i].w);
	sb_hub_destroy(W.hub);
	sb_pusher_destroy(W.pusher);
	hb_free(&W.b);
	return 0;
}
