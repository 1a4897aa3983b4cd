/*
 * prune.h
 *		Deleting expired sessions, one batch at a time.
 */
#ifndef SESSION_PRUNE_H
#define SESSION_PRUNE_H

#include "storage/itemptr.h"
#include "utils/timestamp.h"

/* A prune in progress: where it is in the heap and what it has done. */
typedef struct PruneRun
{
	TimestampTz start;			/* when it began: sessions expired by then go */
	ItemPointerData after;		/* the heap position reached */
	uint64		deleted;
	uint64		batches;
	bool		more;			/* another batch may find something */
	TimestampTz working_since;	/* start of the work since the last pause */
	int64		overslept;		/* microseconds the last pause ran over */
} PruneRun;

extern void prune_begin(PruneRun *run);
extern void prune_step(PruneRun *run);
extern void prune_finish(PruneRun *run);
extern bool prune_last_start(TimestampTz *last_start);

#endif							/* SESSION_PRUNE_H */
