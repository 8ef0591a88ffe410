/* SPDX-License-Identifier: MIT
 *
 * ws_compress.h - permessage-deflate on the WebSocket side (RFC 7692,
 * listen.compression, docs/protocol.md §5.7).
 *
 * lws's built-in extension negotiates the extension and inflates what the
 * client sends compressed; every frame the bridge sends to a connection
 * that negotiated it is written already framed, with lws_write(
 * LWS_WRITE_RAW) as every connection's frames are (ws_server.c gathers
 * them): either the shared compressed copy of the frame (made once per
 * frame by ws_deflate.c, for every compressed subscriber), or the frame as
 * it is with RSV1 clear (an uncompressed message is legal on a compressed
 * connection).  lws's own per-connection deflater is
 * therefore never started: a compressed connection carries no deflate
 * state of its own on the sending side.
 */
#ifndef SB_WS_COMPRESS_H
#define SB_WS_COMPRESS_H

#include <libwebsockets.h>

#include "config.h"
#include "frame.h"
#include "ws_deflate.h"

struct sb_ws_compress;

/* NULL when listen.compression is off (nothing to create). */
enum sb_err sb_ws_compress_create(struct sb_ws_compress **out, const struct sb_config *cfg);
void sb_ws_compress_destroy(struct sb_ws_compress *z);

/* The extensions for lws_context_creation_info: NULL when z is NULL. */
const struct lws_extension *sb_ws_compress_extensions(const struct sb_ws_compress *z);

/* At LWS_CALLBACK_ESTABLISHED: 1 when this connection negotiated
 * permessage-deflate (then counted until sb_ws_compress_gone). */
int sb_ws_compress_established(struct sb_ws_compress *z, struct lws *wsi);
void sb_ws_compress_gone(struct sb_ws_compress *z);

/* The bytes to write for f on a connection that negotiated the extension
 * (*len of them): the shared compressed copy when f is to be compressed
 * and shrinks, else f as it is (sb_frame_ws).  Valid while f is held. */
unsigned char *sb_ws_compress_wire(struct sb_ws_compress *z, struct sb_frame *f, size_t *len);

/* For /metrics; all zero when z is NULL. */
const struct sb_deflate_stats *sb_ws_compress_stats(const struct sb_ws_compress *z);

#endif
