/* SPDX-License-Identifier: MIT
 *
 * fuzz_proto_v1.c - the statusbus.v1 codec (domain/proto_v1.c): one input
 * is one client text frame, parsed as session_v1.c parses it, then
 * answered with the frames the session would build from what was parsed
 * (ack, error, pong).  Oracles: the parse result is self-consistent (an
 * op's required fields are there, ids and since in range, the token within
 * its bound), and every frame built is strict JSON and UTF-8 whatever the
 * client sent; a frame holding an escape that cJSON would decode as NUL
 * (cutting the string short) is refused.  A frame that is strict JSON is also used as a payload, the
 * way the hub splices payloads into event and batch frames.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "frame.h"
#include "proto_v1.h"

static void check_frame(struct sb_frame *f, const char *what)
{
	FZ_CHECK(f != NULL, "%s: no frame", what);
	FZ_CHECK(fz_json_strict((const char *)sb_frame_data(f), f->len),
		 "%s is not strict JSON: %.*s", what, (int)f->len, (const char *)sb_frame_data(f));
	sb_frame_unref(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sb_log_set_level(SB_LOG_ERR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exactly `size` bytes, no NUL after them: an over-read is ASan's */
	char *buf = malloc(size ? size : 1), reason[200];
	struct sb_req r;
	int has_id = 0, strict;
	int64_t id = -1;
	enum sb_err rc;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	memset(reason, 'X', sizeof(reason));
	rc = sb_proto_parse(buf, size, &r, &has_id, &id, reason, sizeof(reason));
	FZ_CHECK(memchr(reason, '\0', sizeof(reason)) != NULL || rc == SB_OK,
		 "reason not terminated");
	if (rc != SB_OK) {
		FZ_CHECK(rc == SB_ERR_INVAL || rc == SB_ERR_LIMIT, "rc %d", rc);
		FZ_CHECK(r.root == NULL, "a refused frame leaves a document");
		FZ_CHECK(!has_id || (id >= 0 && id <= 9007199254740991LL), "error id %lld",
			 (long long)id);
		check_frame(sb_proto_error(has_id, id, SB_CODE_BAD_REQUEST, NULL, reason),
			    "error frame");
	} else {
		FZ_CHECK(r.root != NULL, "no document");
		/* a field cut short by an escaped NUL would be another field */
		FZ_CHECK(!fz_json_nul_escape(buf, size), "accepted a frame with a NUL escape");
		FZ_CHECK((unsigned)r.op <= SB_OP_PING, "op %d", r.op);
		FZ_CHECK(r.has_id == has_id && (!has_id || r.id == id), "id out of sync");
		FZ_CHECK(!r.has_id || (r.id >= 0 && r.id <= 9007199254740991LL), "id %lld",
			 (long long)r.id);
		if (r.op == SB_OP_SUB || r.op == SB_OP_UNSUB) {
			FZ_CHECK(r.channel && strlen(r.channel) == r.channel_len, "channel");
			/* what session_v1.c answers with */
			check_frame(sb_proto_ack(r.id, r.channel, r.has_since), "ack frame");
			check_frame(sb_proto_error(r.has_id, r.id, SB_CODE_FORBIDDEN, r.channel,
						   r.channel), "error frame with channel");
		} else {
			FZ_CHECK(r.channel == NULL, "channel on op %d", r.op);
		}
		FZ_CHECK(r.op == SB_OP_SUB ? r.has_id : 1, "sub without id");
		FZ_CHECK(!r.has_since || (r.op == SB_OP_SUB && r.since >= 0), "since");
		if (r.op == SB_OP_REFRESH)
			FZ_CHECK(r.token != NULL, "refresh without token");
		if (r.token)
			FZ_CHECK(r.token_len <= SB_MAX_TOKEN && strlen(r.token) == r.token_len,
				 "token length");
		if (r.op == SB_OP_PING)
			check_frame(sb_proto_pong(r.has_id, r.id), "pong frame");
		sb_req_free(&r);
		FZ_CHECK(r.root == NULL, "sb_req_free");
	}
	/* a payload (ingest lets only strict JSON through) spliced into the
	 * frames that carry payloads as they are */
	strict = fz_json_strict(buf, size);
	if (strict) {
		struct sb_buf b;

		check_frame(sb_proto_event("team.42", "app.status", "team/42/app/x/status", 1, buf,
					   size), "event frame");
		sb_proto_batch_begin(&b, "deploy.x.logs", "deploy.log");
		sb_proto_batch_add(&b, 1, buf, size);
		sb_proto_batch_add(&b, 0, buf, size);
		check_frame(sb_proto_batch_end(&b), "batch frame");
	}
	/* channel names in gap frames come from the client too */
	{
		char *name = fz_strndup(data, size > 300 ? 300 : size);
		check_frame(sb_proto_gap(name, 1, 2, 2), "gap frame");
		check_frame(sb_proto_ack(1, name, -1), "ack frame");
		free(name);
	}
	free(buf);
	return 0;
}
