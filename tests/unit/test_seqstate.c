/* SPDX-License-Identifier: MIT
 *
 * test_seqstate.c - the state file that lets a log stream's seq go on
 * across restarts of its publisher (examples/publish/seqstate.c): a
 * missing file starts at the default, a file's seq wins over a smaller
 * default and never goes back, the file is moved a block ahead before a
 * seq is used (so a killed publisher resumes ahead, never behind) and a
 * clean close stores the exact next seq; a file holding anything but a
 * seq is refused with its name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "seqstate.h"

static char dir[64], path[128];

static int setup(void **state)
{
	SB_UNUSED(state);
	snprintf(dir, sizeof(dir), "/tmp/sb-seqstate-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/seq", dir);
	return 0;
}

static int teardown(void **state)
{
	char tmp[160];

	SB_UNUSED(state);
	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	return rmdir(dir);
}

static void put(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static unsigned long long held(void)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu", &v), 1);
	fclose(f);
	return v;
}

static void test_fresh_file(void **state)
{
	struct sb_seqstate s;
	uint64_t next = 0;
	char err[256];
	SB_UNUSED(state);

	unlink(path);
	assert_int_equal(sb_seqstate_open(&s, path, 0, &next, err, sizeof(err)), SB_OK);
	assert_int_equal(next, 1);
	assert_int_equal(sb_seqstate_open(&s, path, 40, &next, err, sizeof(err)), SB_OK);
	assert_int_equal(next, 40);
	assert_int_equal(access(path, F_OK), -1);   /* opening writes nothing */
	/* lines 40..49 about to go out: the file is moved a block past them */
	assert_int_equal(sb_seqstate_reserve(&s, 49, err, sizeof(err)), SB_OK);
	assert_int_equal(held(), 50 + SB_SEQSTATE_BLOCK);
	/* within the block: no write */
	put("999999\n");
	assert_int_equal(sb_seqstate_reserve(&s, 50 + SB_SEQSTATE_BLOCK - 1, err, sizeof(err)),
			 SB_OK);
	assert_int_equal(held(), 999999);
	/* past it: moved again */
	assert_int_equal(sb_seqstate_reserve(&s, 50 + SB_SEQSTATE_BLOCK, err, sizeof(err)), SB_OK);
	assert_int_equal(held(), 51 + 2 * SB_SEQSTATE_BLOCK);
	/* a clean close: exact */
	assert_int_equal(sb_seqstate_close(&s, 61, err, sizeof(err)), SB_OK);
	assert_int_equal(held(), 61);
}

static void test_restart_goes_on(void **state)
{
	struct sb_seqstate s;
	uint64_t next = 0;
	char err[256];
	SB_UNUSED(state);

	put("120\n");
	assert_int_equal(sb_seqstate_open(&s, path, 0, &next, err, sizeof(err)), SB_OK);
	assert_int_equal(next, 120);
	/* a larger --seq-from wins, a smaller one does not take it back */
	assert_int_equal(sb_seqstate_open(&s, path, 500, &next, err, sizeof(err)), SB_OK);
	assert_int_equal(next, 500);
	assert_int_equal(sb_seqstate_open(&s, path, 7, &next, err, sizeof(err)), SB_OK);
	assert_int_equal(next, 120);
	/* killed after a reservation: the next run starts past every seq used */
	assert_int_equal(sb_seqstate_reserve(&s, 130, err, sizeof(err)), SB_OK);
	assert_int_equal(sb_seqstate_open(&s, path, 0, &next, err, sizeof(err)), SB_OK);
	assert_true(next > 130);
}

static void test_bad_files(void **state)
{
	static const char *const bad[] = {
		"", "\n", "0\n", "-5\n", "abc\n", "12abc\n", "1 2\n", "9007199254740992\n",
		"99999999999999999999999\n", "+4\n",
	};
	struct sb_seqstate s;
	uint64_t next = 0;
	char err[256];
	SB_UNUSED(state);

	for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
		put(bad[i]);
		if (sb_seqstate_open(&s, path, 1, &next, err, sizeof(err)) != SB_ERR_INVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(strstr(err, path));
	}
	put("9007199254740991");
	assert_int_equal(sb_seqstate_open(&s, path, 1, &next, err, sizeof(err)), SB_OK);
	assert_int_equal(next, 9007199254740991ULL);
	/* the top stays the top */
	assert_int_equal(sb_seqstate_reserve(&s, 9007199254740991ULL, err, sizeof(err)), SB_OK);
	assert_int_equal(held(), 9007199254740991ULL);
	/* a directory that cannot be written: SB_ERR_IO, named */
	s.path = "/nonexistent-dir/seq";
	s.stored = 0;
	assert_int_equal(sb_seqstate_reserve(&s, 5, err, sizeof(err)), SB_ERR_IO);
	assert_non_null(strstr(err, "/nonexistent-dir/seq"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_file),
		cmocka_unit_test(test_restart_goes_on),
		cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
