/* SPDX-License-Identifier: MIT */
/*
 * lg_ws.h - the client side of RFC 6455 for sb-loadgen: the upgrade
 * request, the check of the server's answer, masked client frames and the
 * header of server frames.  No allocation: callers own every buffer.
 */
#ifndef LG_WS_H
#define LG_WS_H

#include <stddef.h>
#include <stdint.h>

enum { LG_WS_CONT = 0, LG_WS_TEXT = 1, LG_WS_BINARY = 2, LG_WS_CLOSE = 8, LG_WS_PING = 9,
       LG_WS_PONG = 10 };

/* Writes the GET upgrade request for path on host:port, with the
 * Sec-WebSocket-Protocol header when subprotocol is not NULL; returns its
 * length, or -1 when it does not fit in cap. */
int lg_ws_request(char *out, size_t cap, const char *host, int port, const char *path,
		  const char *subprotocol);

/* Looks at the start of the server's answer: returns the length of its
 * header block (through the blank line) when the status is 101, 0 while the
 * header block is incomplete, -1 when it is another status or over 8 KiB. */
int lg_ws_response(const uint8_t *buf, size_t len);

/* The most a client frame header takes (2 + 8 length + 4 mask). */
#define LG_WS_MAX_HDR 14
/* Writes one final, masked client frame of opcode with payload into out
 * (room for len + LG_WS_MAX_HDR bytes); returns the frame's length. */
size_t lg_ws_frame(uint8_t *out, int opcode, const void *payload, size_t len, uint32_t mask);

struct lg_ws_hdr {
	int fin, opcode;
	uint64_t len;  /* payload length */
	size_t hlen;   /* header length */
};
/* Parses a server frame header at buf: returns 1 and fills h, 0 while the
 * header is incomplete, -1 for a masked frame or reserved bits (servers
 * never send those here). */
int lg_ws_parse(const uint8_t *buf, size_t avail, struct lg_ws_hdr *h);

#endif
