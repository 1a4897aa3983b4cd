/*
 * prune.h
 *		Deleting expired sessions: what the background worker asks of a
 *		prune (session_prune() is the SQL entry point, in prune.c too).
 */
#ifndef SESSION_PRUNE_H
#define SESSION_PRUNE_H

#include "datatype/timestamp.h"

/* What the worker needs to know before it prunes a database. */
typedef struct PruneCheck
{
	bool		has_extension;
	bool		usable;			/* has it, not in recovery, nobody waiting
								 * for its tables */
	bool		has_last_start;
	TimestampTz last_start;		/* of the latest run, when has_last_start */
	char	   *dbname;			/* in TopMemoryContext */
} PruneCheck;

typedef enum PruneEnd
{
	PRUNE_FINISHED,				/* pruned and recorded */
	PRUNE_STEPPED_ASIDE			/* stopped to let other work through */
} PruneEnd;

extern void session_prune_check(PruneCheck *check);
extern PruneEnd session_prune_in_worker(const char *dbname, TimestampTz *start);

#endif							/* SESSION_PRUNE_H */
