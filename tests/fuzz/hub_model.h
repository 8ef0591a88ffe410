/* SPDX-License-Identifier: MIT
 *
 * hub_model.h - what fuzz_hub.c checks every frame a client receives
 * against: a model of the connection as the client sees it, built only
 * from what the client sent and what it received (hub_model.c).  It knows
 * which requests are outstanding, which channels the client is subscribed
 * to (from the ack of a sub to the ack of its unsub, or an error dropping
 * it), which token is in force, and the last log seq of each subscription.
 *
 * Invariants of docs/protocol.md checked on every frame:
 *   - the frame is strict JSON and UTF-8 (a Pusher event's data string is
 *     JSON too);
 *   - a channel's traffic reaches only a client subscribed to it, and only
 *     when the token in force (or a Pusher signature) allows that channel;
 *     a status event's topic is under a team of the token;
 *   - log lines of one subscription come in increasing seq, none twice,
 *     none at or below the `since` it resumed from; a gap never covers a
 *     line already delivered, and no line inside it follows.
 */
#ifndef SB_FUZZ_HUB_MODEL_H
#define SB_FUZZ_HUB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define HM_MAX_SUBS 24
#define HM_MAX_REQS 64
#define HM_MAX_SIGNED 16
#define HM_MAX_MARKS 16
#define HM_NAME 300

/* The tokens of the script (fuzz_hub.c signs them at start). */
struct hm_token {
	const char *sub;
	const char *teams[3];      /* NULL-terminated */
	const char *patterns[2];   /* the "channels" claim */
	int64_t exp_off;           /* exp = wall clock at start + exp_off */
	int forged;                /* signed with another secret: refused */
	char *jwt;
};
extern struct hm_token hm_tokens[];
extern const size_t hm_ntokens;

enum hm_op { HM_SUB = 1, HM_UNSUB, HM_REFRESH, HM_HELLO };

struct hm_req {
	enum hm_op op;
	int64_t id;
	char name[HM_NAME];
	int tok;
	int has_since;
	int64_t since;
};

struct hm_sub {
	char name[HM_NAME];        /* as the client names it (Pusher: with prefix) */
	int active;
	int64_t last;              /* highest seq delivered or given up (gap) */
	int has_last;
};

struct hm_client {
	int pusher;
	int tok;                   /* token in force, -1 = none */
	int welcomed;              /* v1: welcome seen; Pusher: established */
	char socket_id[32];        /* Pusher */
	struct hm_req reqs[HM_MAX_REQS];
	size_t nreqs;
	struct hm_sub subs[HM_MAX_SUBS];
	char signed_names[HM_MAX_SIGNED][HM_NAME];   /* Pusher: names the app signed */
	size_t nsigned;
	/* Pusher unsubscribe has no answer: the harness sends a marker event
	 * right after it, whose error frame says everything queued before
	 * the unsubscribe has been received */
	struct { unsigned id; char name[HM_NAME]; } marks[HM_MAX_MARKS];
	size_t nmarks;
	size_t frames;
};

void hm_client_init(struct hm_client *m, int pusher);

/* What the client sent (the harness calls these before sending). */
int hm_sent(struct hm_client *m, const struct hm_req *r);   /* 0: no room, do not send */
/* Pusher: the app signed `name` for this connection; 0: no room, do not
 * send the signature. */
int hm_pusher_signed(struct hm_client *m, const char *name);
/* Pusher: unsubscribe `name`, followed by the marker event `mark`. */
int hm_pusher_unsubscribed(struct hm_client *m, const char *name, unsigned mark);

/* One frame the client received: checks it (aborts on a broken invariant)
 * and updates the model. */
void hm_frame(struct hm_client *m, const char *data, size_t len);

/* 1 when token `tok` (-1: none) may read channel `name` (statusbus name),
 * 0 when not, -1 when the model cannot say (a contested deploy). */
int hm_allowed(int tok, const char *name);

/* The default channel map the model parses names with (fuzz_hub.c owns it). */
struct sb_chanmap;
extern const struct sb_chanmap *hm_map;

/* The deploys of the script (owners: D1 team 42, D2 team 43, D3 both). */
#define HM_D1 "0b8f7c1e-1111-2222-3333-444455556666"
#define HM_D2 "9f0e1d2c-aaaa-bbbb-cccc-ddddeeeeffff"
#define HM_D3 "5c3d2e1f-0000-4000-8000-00000000d003"

#endif
