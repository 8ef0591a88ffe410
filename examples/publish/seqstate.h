/* SPDX-License-Identifier: MIT
 *
 * seqstate.h - where a log stream's seq goes on after its publisher
 * restarts: a state file holding the next seq to use (decimal, one line).
 *
 * A viewer's resume is exact only if seqs keep growing (docs/protocol.md
 * §5.9: the bridge drops a line whose seq is not above the last one it saw
 * as a duplicate).  So the file must never fall behind what was published,
 * even when the publisher is killed: before a seq is used, the file is
 * moved a block past it (written to a temporary file, flushed, renamed),
 * and a clean close writes the exact next seq.  After a crash the stream
 * resumes at most a block ahead: a `gap` its viewers are told about,
 * never a line dropped as a duplicate.  Pure file I/O, internal to
 * libstatusbus-publish (statusbus-publish --state-file).
 */
#ifndef SB_SEQSTATE_H
#define SB_SEQSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "sb_common.h"

/* How far ahead of the seq in use the file is moved. */
#define SB_SEQSTATE_BLOCK 1000
/* The largest seq (a JSON number stays exact up to 2^53 - 1). */
#define SB_SEQ_MAX 9007199254740991ULL

struct sb_seqstate {
	const char *path;   /* borrowed */
	uint64_t stored;    /* what the file holds: no seq below it is used again */
};

/* Reads `path`: *next is the seq it holds, or `dflt` when the file does
 * not exist yet (or the larger of the two: a seq never goes back).
 * SB_ERR_INVAL when the file holds anything but a seq in [1, SB_SEQ_MAX],
 * SB_ERR_IO when it cannot be read; err says which. */
enum sb_err sb_seqstate_open(struct sb_seqstate *s, const char *path, uint64_t dflt,
			     uint64_t *next, char *err, size_t errlen);
/* Seqs up to `last` (inclusive) are about to be used: when the file does
 * not hold more, it is moved to last + 1 + SB_SEQSTATE_BLOCK.  SB_ERR_IO
 * when it cannot be written (then do not publish them). */
enum sb_err sb_seqstate_reserve(struct sb_seqstate *s, uint64_t last, char *err, size_t errlen);
/* The stream ended cleanly: the file holds exactly `next`. */
enum sb_err sb_seqstate_close(struct sb_seqstate *s, uint64_t next, char *err, size_t errlen);

#endif
