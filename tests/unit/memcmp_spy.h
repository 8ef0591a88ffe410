/* SPDX-License-Identifier: MIT
 *
 * memcmp_spy.h - CRYPTO_memcmp interposed for a test executable: its
 * definition wins over libcrypto's, so every constant-time comparison the
 * code under test makes is counted (memcmp_calls) with its length
 * (memcmp_last_len).  Include it in one test file per executable.
 */
#ifndef SB_TEST_MEMCMP_SPY_H
#define SB_TEST_MEMCMP_SPY_H

#include <stddef.h>

static int memcmp_calls;
static size_t memcmp_last_len;

int CRYPTO_memcmp(const void *in_a, const void *in_b, size_t len);

int CRYPTO_memcmp(const void *in_a, const void *in_b, size_t len)
{
	const unsigned char *a = in_a, *b = in_b;
	unsigned char x = 0;

	memcmp_calls++;
	memcmp_last_len = len;
	for (size_t i = 0; i < len; i++)
		x |= a[i] ^ b[i];
	return x;
}

#endif
