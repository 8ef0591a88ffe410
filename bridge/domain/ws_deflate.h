/* SPDX-License-Identifier: MIT
 *
 * ws_deflate.h - permessage-deflate (RFC 7692) messages compressed once and
 * shared by every subscriber that negotiated the extension.
 *
 * Each message is compressed with a fresh context (deflateReset before it),
 * so the bytes do not depend on what else the connection received: one
 * compressed frame serves every compressed connection, whatever it was sent
 * before.  A server may always decline to use context takeover (RFC 7692
 * §7.1.1.1), so this is valid whatever the client offered.  The compressor
 * is one per bridge: no per-connection deflate state.
 *
 * Used on the service thread only.
 */
#ifndef SB_WS_DEFLATE_H
#define SB_WS_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct sb_wsdeflate;

/* level 1..9, window_bits 9..15 (zlib's raw deflate).  *out freed with
 * sb_wsdeflate_destroy.  SB_ERR_INVAL on bad arguments, SB_ERR_NOMEM. */
enum sb_err sb_wsdeflate_create(struct sb_wsdeflate **out, int level, int window_bits);
void sb_wsdeflate_destroy(struct sb_wsdeflate *d);

/* The complete compressed frame (header and RFC 7692 payload, trailing
 * 00 00 ff ff removed) for payload[0..len), as a new frame (refs = 1)
 * whose data are the bytes to write as they are.  NULL when compressing
 * would not make the frame smaller (*why = "no gain") or on failure. */
struct sb_frame *sb_wsdeflate_frame(struct sb_wsdeflate *d, const void *payload,
				    size_t len, const char **why);

/* Counters since creation: messages compressed, bytes in and out. */
void sb_wsdeflate_stats(const struct sb_wsdeflate *d, unsigned long long *msgs,
			unsigned long long *in, unsigned long long *out);

/* What /metrics shows (docs/metrics.md), counted by the adapter. */
struct sb_deflate_stats {
	uint64_t connections;      /* open connections that negotiated it */
	uint64_t messages;         /* frames compressed (once, shared) */
	uint64_t bytes_in, bytes_out;   /* of those, before and after */
	uint64_t skipped;          /* eligible, but compression gained nothing */
	uint64_t frames_sent;      /* compressed frames written to connections */
};

#endif
