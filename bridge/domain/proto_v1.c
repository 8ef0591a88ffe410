/* SPDX-License-Identifier: MIT
 *
 * proto.c - statusbus.v1 frames.
 */
#include "proto_v1.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "relay.h"

static const char *const code_names[] = {
	"bad_request", "unauthorized", "forbidden", "not_found",
	"too_many_subscriptions", "rate_limited", "token_expired", "internal",
	"unavailable",
};

const char *sb_code_name(enum sb_code code)
{
	return (size_t)code < SB_ARRAY_LEN(code_names) ? code_names[code] : "internal";
}

int sb_code_http_status(enum sb_code code)
{
	switch (code) {
	case SB_CODE_BAD_REQUEST: return 400;
	case SB_CODE_UNAUTHORIZED:
	case SB_CODE_TOKEN_EXPIRED: return 401;
	case SB_CODE_FORBIDDEN: return 403;
	case SB_CODE_NOT_FOUND: return 404;
	case SB_CODE_TOO_MANY_SUBSCRIPTIONS:
	case SB_CODE_RATE_LIMITED: return 429;
	case SB_CODE_UNAVAILABLE: return 503;
	case SB_CODE_INTERNAL: break;
	}
	return 500;
}

void sb_req_free(struct sb_req *req)
{
	cJSON_Delete(req->root);
	req->root = NULL;
}

/* JSON integers we accept: exact in a double, |v| <= 2^53 - 1. */
static int json_int64(const cJSON *v, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || fabs(d) > (double)SB_INT_MAX_EXACT)
		return 0;
	*out = (int64_t)d;
	return 1;
}

int sb_json_has_escaped_nul(const char *d, size_t len)
{
	for (size_t i = 0; i + 5 < len; i++) {
		if (d[i] != '\\')
			continue;
		/* cJSON reads \u with any non-hex digit in its four as NUL too */
		if (d[i + 1] == 'u' && (memcmp(d + i + 2, "0000", 4) == 0 ||
					!isxdigit((unsigned char)d[i + 2]) ||
					!isxdigit((unsigned char)d[i + 3]) ||
					!isxdigit((unsigned char)d[i + 4]) ||
					!isxdigit((unsigned char)d[i + 5])))
			return 1;
		i++;   /* skip the escaped character */
	}
	return 0;
}

enum sb_err sb_proto_parse(const char *data, size_t len, struct sb_req *out,
			   int *has_id_out, int64_t *id_out, char *reason, size_t reasonlen)
{
	cJSON *root, *op, *id, *it;
	static const char *const ops[] = { "hello", "sub", "unsub", "refresh", "ping",
					     "presence" };
	const char *end = NULL;
	size_t o;

	memset(out, 0, sizeof(*out));
	*has_id_out = 0;
	root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
	/* one JSON value per frame: only whitespace may follow it (cJSON
	 * itself stops after the value and ignores the rest) */
	while (root && end < data + len &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (root && end != data + len) {
		cJSON_Delete(root);
		root = NULL;
	}
	if (!root) {
		snprintf(reason, reasonlen, "frame is not JSON");
		return SB_ERR_INVAL;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(reason, reasonlen, "frame must be a JSON object");
		goto bad;
	}
	id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (id) {
		if (!json_int64(id, &out->id) || out->id < 0) {
			snprintf(reason, reasonlen, "id must be a non-negative integer");
			goto bad;
		}
		out->has_id = 1;
		*has_id_out = 1;
		*id_out = out->id;
	}
	/* cJSON cuts strings at an escaped NUL, so "team.42\u0000x" would
	 * silently become "team.42": no field of the protocol may hold one */
	if (sb_json_has_escaped_nul(data, len)) {
		snprintf(reason, reasonlen, "NUL (\\u0000) is not allowed in any field");
		goto bad;
	}
	op = cJSON_GetObjectItemCaseSensitive(root, "op");
	if (!cJSON_IsString(op)) {
		snprintf(reason, reasonlen, "op must be a string");
		goto bad;
	}
	for (o = 0; o < SB_ARRAY_LEN(ops); o++)
		if (strcmp(op->valuestring, ops[o]) == 0)
			break;
	if (o == SB_ARRAY_LEN(ops)) {
		snprintf(reason, reasonlen, "unknown op \"%.32s\"", op->valuestring);
		goto bad;
	}
	out->op = (enum sb_op)o;
	/* only the fields of the op; anything else is a client bug */
	cJSON_ArrayForEach(it, root) {
		const char *k = it->string;
		int ok = !strcmp(k, "op") || !strcmp(k, "id");
		switch (out->op) {
		case SB_OP_HELLO: ok |= !strcmp(k, "token"); break;
		case SB_OP_SUB: ok |= !strcmp(k, "channel") || !strcmp(k, "since"); break;
		case SB_OP_UNSUB:
		case SB_OP_PRESENCE: ok |= !strcmp(k, "channel"); break;
		case SB_OP_REFRESH: ok |= !strcmp(k, "token"); break;
		case SB_OP_PING: break;
		}
		if (!ok) {
			snprintf(reason, reasonlen, "unknown field \"%.32s\" for op %s", k, ops[o]);
			goto bad;
		}
	}
	if (out->op == SB_OP_SUB || out->op == SB_OP_UNSUB || out->op == SB_OP_PRESENCE) {
		it = cJSON_GetObjectItemCaseSensitive(root, "channel");
		if (!cJSON_IsString(it)) {
			snprintf(reason, reasonlen, "channel must be a string");
			goto bad;
		}
		out->channel = it->valuestring;
		out->channel_len = strlen(it->valuestring);
		if (out->op == SB_OP_SUB && !out->has_id) {
			snprintf(reason, reasonlen, "sub needs an id");
			goto bad;
		}
	}
	if (out->op == SB_OP_SUB) {
		it = cJSON_GetObjectItemCaseSensitive(root, "since");
		if (it && !cJSON_IsNull(it)) {
			if (!json_int64(it, &out->since) || out->since < 0) {
				snprintf(reason, reasonlen, "since must be a non-negative integer");
				goto bad;
			}
			out->has_since = 1;
		}
	}
	if (out->op == SB_OP_HELLO || out->op == SB_OP_REFRESH) {
		it = cJSON_GetObjectItemCaseSensitive(root, "token");
		if (it && !cJSON_IsNull(it)) {
			if (!cJSON_IsString(it)) {
				snprintf(reason, reasonlen, "token must be a string");
				goto bad;
			}
			out->token = it->valuestring;
			out->token_len = strlen(it->valuestring);
			if (out->token_len > SB_MAX_TOKEN) {
				snprintf(reason, reasonlen, "token longer than %d bytes", SB_MAX_TOKEN);
				cJSON_Delete(root);
				return SB_ERR_LIMIT;
			}
		} else if (out->op == SB_OP_REFRESH) {
			snprintf(reason, reasonlen, "refresh needs a token");
			goto bad;
		}
	}
	out->root = root;
	return SB_OK;
bad:
	cJSON_Delete(root);
	return SB_ERR_INVAL;
}

struct sb_frame *sb_proto_welcome(const char *session, int heartbeat_s, int max_subs,
				  int max_frame, int auth)
{
	struct sb_buf b;

	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"op\":\"welcome\",\"session\":");
	sb_buf_json_str(&b, session, strlen(session));
	sb_buf_printf(&b, ",\"heartbeat_s\":%d,\"limits\":{\"max_subscriptions\":%d,"
		      "\"max_frame_bytes\":%d},\"auth\":%s}", heartbeat_s, max_subs, max_frame,
		      auth ? "true" : "false");
	return sb_buf_to_frame(&b);
}

struct sb_frame *sb_proto_ack(int64_t id, const char *channel, int recovered)
{
	struct sb_buf b;

	sb_buf_init(&b);
	sb_buf_printf(&b, "{\"op\":\"ack\",\"id\":%lld", (long long)id);
	if (channel) {
		sb_buf_puts(&b, ",\"channel\":");
		sb_buf_json_str(&b, channel, strlen(channel));
	}
	if (recovered >= 0)
		sb_buf_printf(&b, ",\"recovered\":%s", recovered ? "true" : "false");
	sb_buf_puts(&b, "}");
	return sb_buf_to_frame(&b);
}

struct sb_frame *sb_proto_error(int has_id, int64_t id, enum sb_code code,
				const char *channel, const char *message)
{
	struct sb_buf b;

	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"op\":\"error\"");
	if (has_id)
		sb_buf_printf(&b, ",\"id\":%lld", (long long)id);
	sb_buf_printf(&b, ",\"code\":\"%s\"", sb_code_name(code));
	if (channel) {
		sb_buf_puts(&b, ",\"channel\":");
		sb_buf_json_str(&b, channel, strlen(channel));
	}
	sb_buf_puts(&b, ",\"message\":");
	sb_buf_json_str(&b, message, strlen(message));
	sb_buf_puts(&b, "}");
	return sb_buf_to_frame(&b);
}

struct sb_frame *sb_proto_pong(int has_id, int64_t id)
{
	struct sb_buf b;

	sb_buf_init(&b);
	if (has_id)
		sb_buf_printf(&b, "{\"op\":\"pong\",\"id\":%lld}", (long long)id);
	else
		sb_buf_puts(&b, "{\"op\":\"pong\"}");
	return sb_buf_to_frame(&b);
}

struct sb_frame *sb_proto_event(const char *channel, const char *event, const char *topic,
				int retained, const char *data, size_t data_len)
{
	struct sb_buf b;

	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"op\":\"event\",\"channel\":");
	sb_buf_json_str(&b, channel, strlen(channel));
	sb_buf_puts(&b, ",\"event\":");
	sb_buf_json_str(&b, event, strlen(event));
	sb_buf_puts(&b, ",\"topic\":");
	sb_buf_json_str(&b, topic, strlen(topic));
	sb_buf_printf(&b, ",\"retained\":%s,\"data\":", retained ? "true" : "false");
	if (data && sb_relay_is_topic(topic))
		sb_relay_put_data(&b, data, data_len, 1);   /* a Pusher API event */
	else if (data)
		sb_buf_append(&b, data, data_len);
	else
		sb_buf_puts(&b, "null");
	sb_buf_puts(&b, "}");
	return sb_buf_to_frame(&b);
}

struct sb_frame *sb_proto_gap(const char *channel, int64_t from, int64_t to, size_t lines)
{
	struct sb_buf b;

	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"op\":\"gap\",\"channel\":");
	sb_buf_json_str(&b, channel, strlen(channel));
	sb_buf_printf(&b, ",\"from\":%lld,\"to\":%lld,\"lines\":%zu}", (long long)from,
		      (long long)to, lines);
	return sb_buf_to_frame(&b);
}

void sb_proto_batch_begin(struct sb_buf *b, const char *channel, const char *event)
{
	sb_buf_init(b);
	sb_buf_puts(b, "{\"op\":\"batch\",\"channel\":");
	sb_buf_json_str(b, channel, strlen(channel));
	sb_buf_puts(b, ",\"event\":");
	sb_buf_json_str(b, event, strlen(event));
	sb_buf_puts(b, ",\"events\":[");
}

void sb_proto_batch_add(struct sb_buf *b, int first, const char *data, size_t len)
{
	if (!first)
		sb_buf_append(b, ",", 1);
	sb_buf_append(b, data, len);
}

struct sb_frame *sb_proto_batch_end(struct sb_buf *b)
{
	struct sb_frame *f;

	sb_buf_puts(b, "]}");
	f = sb_buf_to_frame(b);
	if (f)
		f->bulk = 1;
	return f;
}
