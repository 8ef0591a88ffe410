/* SPDX-License-Identifier: MIT
 *
 * session_v1.h - the statusbus.v1 protocol as a hub session
 * (docs/protocol.md §5): its encoder (event, batch, gap frames, and where a
 * batch's items are so that queued batches merge) and its request handling
 * (hello, sub, unsub, refresh, ping), on the hub's shared operations.
 */
#ifndef SB_SESSION_V1_H
#define SB_SESSION_V1_H

#include "hub.h"

/* Registers the v1 encoder and session on hub; returns the handle for
 * sb_hub_client_new(), NULL when out of memory or out of encoder slots. */
const struct sb_session *sb_session_v1_add(struct sb_hub *hub);

#endif
