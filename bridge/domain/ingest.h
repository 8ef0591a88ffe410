/* SPDX-License-Identifier: MIT
 *
 * ingest.h - the whole verdict on one MQTT message before any client sees
 * it (docs/protocol.md §8): topic length, known topic, empty payload
 * (a deleted retained status), size, strict JSON (UTF-8, only what a
 * browser's JSON.parse takes, nothing after the value: payloads are
 * spliced into frames as they are), a log line's seq, and the topic's
 * JSON Schema.  Also the JSON report republished on
 * $statusbus/rejected/<topic>.
 *
 * The bridge and the publisher toolkit (examples/publish/validator.c) call
 * the same function, so a payload the publisher accepts is one the bridge
 * accepts.  Pure module, never logs: the verdict carries the reason.
 */
#ifndef SB_INGEST_H
#define SB_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "chanmap.h"
#include "relay.h"
#include "schema.h"

#define SB_TOPIC_MAX 512   /* longer topics are refused */

struct sb_ingest_rules {
	const struct sb_kinds *kinds;         /* borrowed */
	const struct sb_schema_set *schemas;  /* borrowed; NULL = no validation */
	size_t max_payload_bytes;
	int reject_unknown_topics;
	int validate;                         /* check payloads against schemas */
};

enum sb_ingest_verdict {
	SB_INGEST_ACCEPT = 0,   /* deliver it */
	SB_INGEST_DELETE,       /* empty retained payload: the resource is gone */
	SB_INGEST_IGNORE,       /* means nothing ($-topics, empty non-status) */
	SB_INGEST_REJECT,       /* refused: see reason */
};

enum sb_ingest_reason {
	SB_INGEST_OK = 0,
	SB_INGEST_OVERSIZE,       /* topic or payload over its limit */
	SB_INGEST_UNKNOWN_TOPIC,  /* no kind in topics.json (when refused) */
	SB_INGEST_NOT_JSON,       /* not one strict JSON value */
	SB_INGEST_SCHEMA,         /* invalid for the topic's schema */
};

struct sb_ingest_result {
	enum sb_ingest_verdict verdict;
	enum sb_ingest_reason reason;
	const struct sb_kind *kind;   /* NULL for an unknown topic */
	const char *schema;           /* the schema that refused it, or NULL */
	int64_t seq;                  /* a log line's "seq" (1 .. 2^53-1), else 0 */
	/* a status record's top-level "status" string (a deploy's state:
	 * created, queued, running, ...); "" when absent or too long */
	char status[32];
	/* kept as the last-known message of its topic (the bridge's cache and
	 * the channels' snapshots): a retained kind's, or a relayed Pusher
	 * event's marked "cached" (relay.h) */
	int keep;
	/* a relayed Pusher event: the socket it must not reach ("" = none) */
	char origin[SB_RELAY_SOCKET_ID_MAX];
	char why[400];                /* human reason when refused */
};

/* Judges one message (retained: the MQTT retain flag).  Fills *out. */
void sb_ingest_check(const struct sb_ingest_rules *rules, const char *topic, size_t topic_len,
		     const char *payload, size_t len, int retained,
		     struct sb_ingest_result *out);

/* 1 when s[0..len) is one strict JSON value (what a browser's JSON.parse
 * takes, UTF-8, nothing after it but white space): safe to splice into a
 * frame as it is. */
int sb_ingest_json_strict(const char *s, size_t len);

/* The JSON body republished on $statusbus/rejected/<topic>: topic, reason,
 * ts (RFC 3339 from now_s), bytes, the payload's first 1024 bytes as a JSON
 * string and whether it was truncated.  malloc'ed (caller frees), *outlen
 * its length; NULL when out of memory. */
char *sb_ingest_reject_report(const char *topic, size_t topic_len, const char *payload,
			      size_t len, const char *why, int64_t now_s, size_t *outlen);

#endif
