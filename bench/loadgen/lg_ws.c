// SPDX-License-Identifier: MIT
/*
 * lg_ws.c - RFC 6455 client framing for sb-loadgen.  The upgrade key is a
 * constant: the load client checks the 101 status and nothing else of the
 * answer, since every server under test is local and known.
 */
#define _GNU_SOURCE
#include "lg_ws.h"

#include <stdio.h>
#include <string.h>

int lg_ws_request(char *out, size_t cap, const char *host, int port, const char *path,
		  const char *subprotocol)
{
	char proto[160] = "";
	if (subprotocol)
		snprintf(proto, sizeof proto, "Sec-WebSocket-Protocol: %s\r\n", subprotocol);
	int n = snprintf(out, cap,
			 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\n%s\r\n",
			 path, host, port, proto);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int lg_ws_response(const uint8_t *buf, size_t len)
{
	const uint8_t *end = memmem(buf, len, "\r\n\r\n", 4);
	if (!end)
		return len > 8192 ? -1 : 0;
	if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0)
		return -1;
	return (int)(end - buf) + 4;
}

size_t lg_ws_frame(uint8_t *out, int opcode, const void *payload, size_t len, uint32_t mask)
{
	size_t h = 0;
	out[h++] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		out[h++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		out[h++] = 0x80 | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	uint8_t m[4] = { (uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
			 (uint8_t)mask };
	memcpy(out + h, m, 4);
	h += 4;
	const uint8_t *p = payload;
	for (size_t i = 0; i < len; i++)
		out[h + i] = p[i] ^ m[i & 3];
	return h + len;
}

int lg_ws_parse(const uint8_t *buf, size_t avail, struct lg_ws_hdr *h)
{
	if (avail < 2)
		return 0;
	if ((buf[0] & 0x70) || (buf[1] & 0x80))
		return -1;
	h->fin = buf[0] >> 7;
	h->opcode = buf[0] & 0x0f;
	uint64_t len = buf[1] & 0x7f;
	size_t hl = 2;
	if (len == 126) {
		if (avail < 4)
			return 0;
		len = (uint64_t)buf[2] << 8 | buf[3];
		hl = 4;
	} else if (len == 127) {
		if (avail < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | buf[2 + i];
		hl = 10;
	}
	h->len = len;
	h->hlen = hl;
	return 1;
}
