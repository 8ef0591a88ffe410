/* SPDX-License-Identifier: MIT
 *
 * inbox.c - the MQTT thread boundary (see inbox.h): a singly linked FIFO
 * under one mutex.  The only engine file that includes <pthread.h>.
 *
 * A message's slot is reserved under the lock before it is copied, and the
 * copy happens outside it: a refused message costs no allocation, the
 * service thread never waits on a producer's malloc, and concurrent
 * producers cannot overshoot a bound between checking and linking.
 *
 * A producer that finds no room waits on `room`, which the drain signals
 * whenever it pops a message while someone waits; the deadline is on
 * CLOCK_MONOTONIC, so a wall-clock step neither cuts a wait short nor
 * stretches it.
 */
#include "inbox.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum ev_kind { EV_MESSAGE, EV_CONNECTED, EV_LOST, EV_CONNECT_FAILED, EV_SUBACK, EV_PUBLISH_FAILED };

struct ev {
	struct ev *next;
	enum ev_kind kind;
	int num;                  /* session_present, granted qos */
	struct sb_msg *msg;       /* EV_MESSAGE: the inbox's reference */
	size_t charge;            /* EV_MESSAGE: bytes charged to the bound */
	const char *str, *cause;  /* into text[] or NULL */
	char text[];
};

struct sb_inbox {
	pthread_mutex_t lock;
	pthread_cond_t room;      /* a message left the queue */
	/* everything below is guarded by lock */
	struct ev *head, *tail;
	size_t max_msgs, max_bytes;
	size_t msgs, bytes;       /* queued plus reserved messages */
	uint64_t unreported;      /* drops not yet given to ops->dropped */
	unsigned wait_ms;         /* budget of a push waiting for room */
	size_t waiting;           /* pushes waiting on room now */
	sb_inbox_wake_fn wake;
	void *wake_ctx;
	struct sb_inbox_stats st; /* counters only; gauges filled on read */
};

static int cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int rc;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return rc;
}

enum sb_err sb_inbox_create(struct sb_inbox **out, size_t max_msgs, size_t max_bytes,
			    sb_inbox_wake_fn wake, void *wake_ctx)
{
	struct sb_inbox *in;

	*out = NULL;
	if (max_msgs == 0)
		return SB_ERR_INVAL;
	in = calloc(1, sizeof(*in));
	if (!in)
		return SB_ERR_NOMEM;
	if (pthread_mutex_init(&in->lock, NULL) != 0) {
		free(in);
		return SB_ERR_INTERNAL;
	}
	if (cond_init(&in->room) != 0) {
		pthread_mutex_destroy(&in->lock);
		free(in);
		return SB_ERR_INTERNAL;
	}
	in->max_msgs = max_msgs;
	in->max_bytes = max_bytes;
	in->wake = wake;
	in->wake_ctx = wake_ctx;
	*out = in;
	return SB_OK;
}

static void ev_free(struct ev *e)
{
	sb_msg_unref(e->msg);
	free(e);
}

void sb_inbox_destroy(struct sb_inbox *in)
{
	struct ev *e;

	if (!in)
		return;
	while ((e = in->head)) {
		in->head = e->next;
		ev_free(e);
	}
	pthread_cond_destroy(&in->room);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

void sb_inbox_set_wait(struct sb_inbox *in, unsigned wait_ms)
{
	pthread_mutex_lock(&in->lock);
	in->wait_ms = wait_ms;
	pthread_mutex_unlock(&in->lock);
}

void sb_inbox_set_wake(struct sb_inbox *in, sb_inbox_wake_fn wake, void *wake_ctx)
{
	pthread_mutex_lock(&in->lock);
	in->wake = wake;
	in->wake_ctx = wake_ctx;
	pthread_mutex_unlock(&in->lock);
}

/* lock held.  Idle = the service thread owes the inbox nothing; leaving it
 * is what earns a wake. */
static int idle(const struct sb_inbox *in)
{
	return !in->head && !in->unreported;
}

/* lock held: calling under the lock is what lets sb_inbox_set_wake promise
 * that an old wake is never called after it returns */
static void wake(struct sb_inbox *in)
{
	if (in->wake) {
		in->st.wakes++;
		in->wake(in->wake_ctx);
	}
}

/* lock held */
static void link_ev(struct sb_inbox *in, struct ev *e)
{
	int was_idle = idle(in);

	if (in->tail)
		in->tail->next = e;
	else
		in->head = e;
	in->tail = e;
	if (was_idle)
		wake(in);
}

/* lock held.  A message that could never fit alone is taken into an empty
 * inbox: refusing it would stall Paho's queue behind it forever. */
static int fits(const struct sb_inbox *in, size_t charge)
{
	if (in->msgs >= in->max_msgs)
		return 0;
	if (!in->max_bytes || in->msgs == 0)
		return 1;
	return in->bytes <= in->max_bytes && charge <= in->max_bytes - in->bytes;
}

/* lock held.  Waits up to the budget for room for `charge`; 1 when it
 * fits.  Only message pops make room, and the drain signals each one. */
static int wait_for_room(struct sb_inbox *in, size_t charge)
{
	struct timespec until;

	if (!in->wait_ms || clock_gettime(CLOCK_MONOTONIC, &until) != 0)
		return 0;
	until.tv_sec += (time_t)(in->wait_ms / 1000);
	until.tv_nsec += (long)(in->wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	in->waiting++;
	/* 0 is a signal (or a spurious wake-up): look again; anything else
	 * is ETIMEDOUT, or an error that must not spin */
	while (!fits(in, charge))
		if (pthread_cond_timedwait(&in->room, &in->lock, &until) != 0)
			break;
	in->waiting--;
	return fits(in, charge);
}

/* lock held: a message lost here, to be reported by the next drain */
static void count_drop(struct sb_inbox *in)
{
	int was_idle = idle(in);

	in->st.drop_inbound_overflow++;
	in->unreported++;
	if (was_idle)
		wake(in);
}

enum sb_inbox_verdict sb_inbox_push_message(struct sb_inbox *in, const char *topic,
					    size_t topic_len, const void *payload,
					    size_t payload_len, int retained)
{
	size_t charge = payload_len > SIZE_MAX - topic_len ? SIZE_MAX : topic_len + payload_len;
	struct sb_msg *m;
	struct ev *e;

	pthread_mutex_lock(&in->lock);
	if (!fits(in, charge)) {
		in->st.backpressure++;
		if (!wait_for_room(in, charge)) {
			count_drop(in);
			pthread_mutex_unlock(&in->lock);
			return SB_INBOX_OVERFLOW;
		}
	}
	in->msgs++;
	in->bytes += charge;
	pthread_mutex_unlock(&in->lock);

	e = calloc(1, sizeof(*e));
	m = e ? sb_msg_create(topic, topic_len, payload, payload_len, retained) : NULL;

	pthread_mutex_lock(&in->lock);
	if (!m) {
		in->msgs--;
		in->bytes -= charge;
		if (in->waiting)
			pthread_cond_broadcast(&in->room);
		count_drop(in);
		pthread_mutex_unlock(&in->lock);
		free(e);
		return SB_INBOX_NOMEM;
	}
	e->kind = EV_MESSAGE;
	e->msg = m;
	e->charge = charge;
	in->st.messages++;
	link_ev(in, e);
	pthread_mutex_unlock(&in->lock);
	return SB_INBOX_ACCEPTED;
}

static enum sb_err push_event(struct sb_inbox *in, enum ev_kind kind, int num, const char *str,
			      const char *cause)
{
	size_t slen = str ? strlen(str) + 1 : 0, clen = cause ? strlen(cause) + 1 : 0;
	struct ev *e = calloc(1, sizeof(*e) + slen + clen);

	if (!e) {
		pthread_mutex_lock(&in->lock);
		in->st.lost_events++;
		pthread_mutex_unlock(&in->lock);
		return SB_ERR_NOMEM;
	}
	e->kind = kind;
	e->num = num;
	if (str)
		e->str = memcpy(e->text, str, slen);
	if (cause)
		e->cause = memcpy(e->text + slen, cause, clen);
	pthread_mutex_lock(&in->lock);
	in->st.events++;
	link_ev(in, e);
	pthread_mutex_unlock(&in->lock);
	return SB_OK;
}

enum sb_err sb_inbox_push_connected(struct sb_inbox *in, int session_present, const char *cause)
{
	return push_event(in, EV_CONNECTED, session_present ? 1 : 0, NULL, cause);
}

enum sb_err sb_inbox_push_lost(struct sb_inbox *in, const char *cause)
{
	return push_event(in, EV_LOST, 0, NULL, cause);
}

enum sb_err sb_inbox_push_connect_failed(struct sb_inbox *in, const char *cause)
{
	return push_event(in, EV_CONNECT_FAILED, 0, NULL, cause);
}

enum sb_err sb_inbox_push_suback(struct sb_inbox *in, const char *filter, int granted_qos,
				 const char *cause)
{
	return push_event(in, EV_SUBACK, granted_qos, filter, cause);
}

enum sb_err sb_inbox_push_publish_failed(struct sb_inbox *in, const char *cause)
{
	return push_event(in, EV_PUBLISH_FAILED, 0, NULL, cause);
}

static void dispatch(const struct sb_inbox_ops *ops, void *ctx, const struct ev *e)
{
	switch (e->kind) {
	case EV_MESSAGE:
		if (ops->message)
			ops->message(ctx, e->msg);
		break;
	case EV_CONNECTED:
		if (ops->connected)
			ops->connected(ctx, e->num, e->cause);
		break;
	case EV_LOST:
		if (ops->lost)
			ops->lost(ctx, e->cause);
		break;
	case EV_CONNECT_FAILED:
		if (ops->connect_failed)
			ops->connect_failed(ctx, e->cause);
		break;
	case EV_SUBACK:
		if (ops->suback)
			ops->suback(ctx, e->str, e->num, e->cause);
		break;
	case EV_PUBLISH_FAILED:
		if (ops->publish_failed)
			ops->publish_failed(ctx, e->cause);
		break;
	}
}

size_t sb_inbox_drain(struct sb_inbox *in, const struct sb_inbox_ops *ops, void *ctx, size_t max)
{
	uint64_t dropped;
	size_t n = 0;

	pthread_mutex_lock(&in->lock);
	dropped = in->unreported;
	in->unreported = 0;
	pthread_mutex_unlock(&in->lock);
	if (dropped && ops->dropped)
		ops->dropped(ctx, dropped);
	/* one event per lock hold: a producer waits at most one pop, and a
	 * popped message frees its place in the bound at once */
	while (n < max) {
		struct ev *e;

		pthread_mutex_lock(&in->lock);
		e = in->head;
		if (e) {
			in->head = e->next;
			if (!in->head)
				in->tail = NULL;
			if (e->kind == EV_MESSAGE) {
				in->msgs--;
				in->bytes -= e->charge;
				/* broadcast: waiters may need different room */
				if (in->waiting)
					pthread_cond_broadcast(&in->room);
			}
		}
		pthread_mutex_unlock(&in->lock);
		if (!e)
			break;
		dispatch(ops, ctx, e);
		ev_free(e);
		n++;
	}
	/* Producers wake only an idle inbox.  Events left behind by `max`, or
	 * a drop made while the queue was busy, would otherwise wait for the
	 * next batch. */
	pthread_mutex_lock(&in->lock);
	if (!idle(in))
		wake(in);
	pthread_mutex_unlock(&in->lock);
	return n;
}

void sb_inbox_stats(struct sb_inbox *in, struct sb_inbox_stats *out)
{
	pthread_mutex_lock(&in->lock);
	*out = in->st;
	out->queued_msgs = in->msgs;
	out->queued_bytes = in->bytes;
	out->max_msgs = in->max_msgs;
	out->max_bytes = in->max_bytes;
	out->waiting = in->waiting;
	pthread_mutex_unlock(&in->lock);
}
