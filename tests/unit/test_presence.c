/* SPDX-License-Identifier: MIT
 *
 * test_presence.c - unit tests for domain/presence.c: a user with several
 * connections is one member and leaves with its last; remote lists from
 * other bridges merge with the local ones (a user on two bridges is one
 * member, replaced lists tell only what changed, an empty list drops the
 * bridge); the bound; the retained payload round trip; the v1 frames;
 * Pusher's presence frames and channel_data (domain/pusher_presence.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "presence.h"
#include "pusher_presence.h"

/* What the callback told, as "+id" / "-id" joined by spaces. */
static char told[1024];

static void record(void *user, int join, const char *id, const char *info)
{
	(void)user;
	(void)info;
	snprintf(told + strlen(told), sizeof(told) - strlen(told), "%s%c%s", *told ? " " : "",
		 join ? '+' : '-', id);
}

static void reset(void) { told[0] = '\0'; }

/* f holds exactly the text want (frames are not NUL-terminated). */
static void assert_frame(struct sb_frame *f, const char *want)
{
	assert_non_null(f);
	if (f->len != strlen(want) || memcmp(sb_frame_data(f), want, f->len) != 0)
		fail_msg("frame %.*s, want %s", (int)f->len, sb_frame_data(f), want);
	sb_frame_unref(f);
}

static void test_several_connections_one_member(void **state)
{
	struct sb_presence_set *s = sb_presence_set_create(10);

	(void)state;
	reset();
	assert_int_equal(sb_presence_local_add(s, "alice", "{\"name\":\"Alice\"}", record, NULL), SB_OK);
	assert_int_equal(sb_presence_local_add(s, "alice", "{\"name\":\"Alice\"}", record, NULL), SB_OK);
	assert_int_equal(sb_presence_local_add(s, "bob", NULL, record, NULL), SB_OK);
	assert_string_equal(told, "+alice +bob");
	assert_int_equal(sb_presence_count(s), 2);
	assert_int_equal(sb_presence_local_conns(s), 3);
	reset();
	sb_presence_local_remove(s, "alice", record, NULL);
	assert_string_equal(told, "");              /* one tab left */
	assert_true(sb_presence_has(s, "alice"));
	sb_presence_local_remove(s, "alice", record, NULL);
	assert_string_equal(told, "-alice");        /* the last one */
	assert_false(sb_presence_has(s, "alice"));
	reset();
	sb_presence_local_remove(s, "alice", record, NULL);   /* none left: nothing */
	sb_presence_local_remove(s, "nobody", record, NULL);
	assert_string_equal(told, "");
	assert_int_equal(sb_presence_count(s), 1);
	sb_presence_set_destroy(s);
}

static void test_remote_lists_merge(void **state)
{
	struct sb_presence_set *s = sb_presence_set_create(10);
	char *b1[] = { "alice", "carol" }, *b1b[] = { "carol", "dave" }, *b2[] = { "carol" };

	(void)state;
	reset();
	sb_presence_local_add(s, "alice", NULL, record, NULL);
	assert_int_equal(sb_presence_remote_set(s, "B", b1, NULL, 2, record, NULL), SB_OK);
	assert_string_equal(told, "+alice +carol");   /* alice was local already: once */
	assert_int_equal(sb_presence_count(s), 2);
	reset();
	assert_int_equal(sb_presence_remote_set(s, "C", b2, NULL, 1, record, NULL), SB_OK);
	assert_string_equal(told, "");                /* carol is on two bridges */
	assert_int_equal(sb_presence_bridges(s), 2);
	reset();
	sb_presence_local_remove(s, "alice", record, NULL);
	assert_string_equal(told, "");                /* still on bridge B */
	reset();
	assert_int_equal(sb_presence_remote_set(s, "B", b1b, NULL, 2, record, NULL), SB_OK);
	assert_string_equal(told, "-alice +dave");    /* carol stays */
	reset();
	assert_int_equal(sb_presence_remote_set(s, "B", NULL, NULL, 0, record, NULL), SB_OK);
	assert_string_equal(told, "-dave");           /* carol is still on C */
	assert_int_equal(sb_presence_bridges(s), 1);
	reset();
	assert_int_equal(sb_presence_remote_set(s, "C", NULL, NULL, 0, record, NULL), SB_OK);
	assert_string_equal(told, "-carol");
	assert_int_equal(sb_presence_count(s), 0);
	sb_presence_set_destroy(s);
}

static void test_bound(void **state)
{
	struct sb_presence_set *s = sb_presence_set_create(2);
	char *r[] = { "x", "y", "a" };

	(void)state;
	reset();
	assert_int_equal(sb_presence_local_add(s, "a", NULL, record, NULL), SB_OK);
	assert_int_equal(sb_presence_local_add(s, "b", NULL, record, NULL), SB_OK);
	assert_int_equal(sb_presence_local_add(s, "c", NULL, record, NULL), SB_ERR_LIMIT);
	assert_int_equal(sb_presence_local_add(s, "a", NULL, record, NULL), SB_OK);   /* a member */
	assert_int_equal(sb_presence_remote_set(s, "B", r, NULL, 3, record, NULL), SB_OK);
	assert_int_equal(sb_presence_overflow(s), 2);   /* x and y left out */
	assert_string_equal(told, "+a +b");
	assert_int_equal(sb_presence_count(s), 2);
	sb_presence_set_destroy(s);
}

static void test_payload_round_trip(void **state)
{
	struct sb_presence_set *s = sb_presence_set_create(10), *t = sb_presence_set_create(10);
	char *p, **ids, **infos, why[128];
	size_t len, n;

	(void)state;
	sb_presence_local_add(s, "u2", "{\"name\":\"Bé\"}", NULL, NULL);
	sb_presence_local_add(s, "u1", NULL, NULL, NULL);
	sb_presence_local_add(s, "u1", NULL, NULL, NULL);
	sb_presence_remote_set(s, "B", (char *[]){ "remote" }, NULL, 1, NULL, NULL);
	p = sb_presence_encode(s, &len);
	assert_non_null(p);
	/* local members only, sorted, each once */
	assert_string_equal(p, "{\"members\":[{\"id\":\"u1\"},{\"id\":\"u2\",\"info\":{\"name\":\"Bé\"}}]}");
	assert_int_equal(sb_presence_decode(p, len, 10, &ids, &infos, &n, why, sizeof(why)), SB_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "u1");
	assert_null(infos[0]);
	assert_string_equal(infos[1], "{\"name\":\"Bé\"}");
	reset();
	sb_presence_remote_set(t, "A", ids, infos, n, record, NULL);
	assert_string_equal(told, "+u1 +u2");
	sb_presence_list_free(ids, infos, n);
	/* bound and bad entries */
	assert_int_equal(sb_presence_decode(p, len, 1, &ids, &infos, &n, why, sizeof(why)), SB_OK);
	assert_int_equal(n, 1);
	sb_presence_list_free(ids, infos, n);
	assert_int_equal(sb_presence_decode("{\"members\":[{\"id\":\"\"},{\"id\":3},{\"id\":\"ok\"}]}",
					    48, 10, &ids, &infos, &n, why, sizeof(why)), SB_OK);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "ok");
	sb_presence_list_free(ids, infos, n);
	assert_int_equal(sb_presence_decode("[1]", 3, 10, &ids, &infos, &n, why, sizeof(why)),
			 SB_ERR_INVAL);
	assert_int_equal(sb_presence_decode("{bad", 4, 10, &ids, &infos, &n, why, sizeof(why)),
			 SB_ERR_INVAL);
	free(p);
	sb_presence_set_destroy(s);
	sb_presence_set_destroy(t);
}

static void test_v1_frames(void **state)
{
	struct sb_presence_set *s = sb_presence_set_create(10);
	struct sb_frame *f;

	(void)state;
	f = sb_presence_v1_event("room.1", 1, "alice", "{\"name\":\"Alice\"}");
	assert_frame(f, "{\"op\":\"event\",\"channel\":\"room.1\",\"event\":\"presence.join\","
			    "\"data\":{\"sub\":\"alice\",\"name\":\"Alice\"}}");
	f = sb_presence_v1_event("room.1", 0, "7", "{\"name\":\"Al\",\"role\":\"dev\"}");
	assert_frame(f, "{\"op\":\"event\",\"channel\":\"room.1\",\"event\":\"presence.leave\","
			    "\"data\":{\"sub\":\"7\",\"name\":\"Al\",\"info\":{\"name\":\"Al\",\"role\":\"dev\"}}}");
	sb_presence_local_add(s, "b", NULL, NULL, NULL);
	sb_presence_local_add(s, "a", "{\"name\":\"A\"}", NULL, NULL);
	f = sb_presence_v1_list(1, 5, "room.1", s);
	assert_frame(f, "{\"op\":\"presence\",\"id\":5,\"channel\":\"room.1\",\"members\":"
			    "[{\"sub\":\"a\",\"name\":\"A\"},{\"sub\":\"b\"}]}");
	assert_true(sb_presence_id_valid("user-1", 6));
	assert_false(sb_presence_id_valid("", 0));
	assert_false(sb_presence_id_valid("a\nb", 3));
	sb_presence_set_destroy(s);
}

static void test_pusher_frames(void **state)
{
	struct sb_presence_set *s = sb_presence_set_create(10);

	(void)state;
	assert_frame(sb_pusher_presence_succeeded_frame("room.1", NULL),
		     "{\"event\":\"pusher_internal:subscription_succeeded\",\"channel\":\"presence-room.1\","
		     "\"data\":\"{\\\"presence\\\":{\\\"ids\\\":[],\\\"hash\\\":{},\\\"count\\\":0}}\"}");
	sb_presence_local_add(s, "7", "{\"name\":\"Bob\"}", NULL, NULL);
	sb_presence_local_add(s, "7", "{\"name\":\"Bob\"}", NULL, NULL);
	sb_presence_local_add(s, "alice", NULL, NULL, NULL);
	assert_frame(sb_pusher_presence_succeeded_frame("room.1", s),
		     "{\"event\":\"pusher_internal:subscription_succeeded\",\"channel\":\"presence-room.1\","
		     "\"data\":\"{\\\"presence\\\":{\\\"ids\\\":[\\\"7\\\",\\\"alice\\\"],"
		     "\\\"hash\\\":{\\\"7\\\":{\\\"name\\\":\\\"Bob\\\"},\\\"alice\\\":null},"
		     "\\\"count\\\":2}}\"}");
	assert_frame(sb_pusher_member_frame("room.1", 1, "7", "{\"name\":\"Bob\"}"),
		     "{\"event\":\"pusher_internal:member_added\",\"channel\":\"presence-room.1\","
		     "\"data\":\"{\\\"user_id\\\":\\\"7\\\",\\\"user_info\\\":{\\\"name\\\":\\\"Bob\\\"}}\"}");
	assert_frame(sb_pusher_member_frame("room.1", 0, "7", "{\"name\":\"Bob\"}"),
		     "{\"event\":\"pusher_internal:member_removed\",\"channel\":\"presence-room.1\","
		     "\"data\":\"{\\\"user_id\\\":\\\"7\\\"}\"}");
	sb_presence_set_destroy(s);
}

static void test_channel_data(void **state)
{
	char id[SB_PRESENCE_MAX_ID + 1], *info, why[256], big[SB_PUSHER_MAX_CHANNEL_DATA + 64];

	(void)state;
	assert_int_equal(sb_pusher_channel_data("{\"user_id\":\"u1\",\"user_info\":{\"name\": \"A\"}}",
						id, &info, why, sizeof(why)), SB_OK);
	assert_string_equal(id, "u1");
	assert_string_equal(info, "{\"name\":\"A\"}");   /* compact */
	free(info);
	assert_int_equal(sb_pusher_channel_data("{\"user_id\":42}", id, &info, why, sizeof(why)), SB_OK);
	assert_string_equal(id, "42");   /* Laravel's numeric ids */
	assert_null(info);
	assert_int_equal(sb_pusher_channel_data(NULL, id, &info, why, sizeof(why)), SB_ERR_INVAL);
	assert_non_null(strstr(why, "needs channel_data"));
	assert_int_equal(sb_pusher_channel_data("{\"user_id\":", id, &info, why, sizeof(why)), SB_ERR_INVAL);
	assert_non_null(strstr(why, "not a JSON object"));
	assert_int_equal(sb_pusher_channel_data("[1]", id, &info, why, sizeof(why)), SB_ERR_INVAL);
	assert_int_equal(sb_pusher_channel_data("{\"user_info\":{}}", id, &info, why, sizeof(why)), SB_ERR_INVAL);
	assert_non_null(strstr(why, "user_id"));
	assert_int_equal(sb_pusher_channel_data("{\"user_id\":1.5}", id, &info, why, sizeof(why)), SB_ERR_INVAL);
	assert_int_equal(sb_pusher_channel_data("{\"user_id\":true}", id, &info, why, sizeof(why)), SB_ERR_INVAL);
	assert_int_equal(sb_pusher_channel_data("{\"user_id\":\"a\\nb\"}", id, &info, why, sizeof(why)), SB_ERR_INVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sb_pusher_channel_data(big, id, &info, why, sizeof(why)), SB_ERR_INVAL);
	assert_non_null(strstr(why, "over 2048 bytes"));
	snprintf(big, sizeof(big), "{\"user_id\":\"u\",\"user_info\":\"%01100d\"}", 0);
	assert_int_equal(sb_pusher_channel_data(big, id, &info, why, sizeof(why)), SB_ERR_INVAL);
	assert_non_null(strstr(why, "user_info is over"));
	assert_null(info);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_several_connections_one_member),
		cmocka_unit_test(test_remote_lists_merge),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_payload_round_trip),
		cmocka_unit_test(test_v1_frames),
		cmocka_unit_test(test_pusher_frames),
		cmocka_unit_test(test_channel_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
