/*
 * shmem.h
 *		The extension's shared memory: per-database counters and the
 *		launcher's hand-off with its prune worker.  Exists only when the
 *		library is in shared_preload_libraries; session_shared is NULL
 *		otherwise, and every user of it must cope with that.
 */
#ifndef SESSION_SHMEM_H
#define SESSION_SHMEM_H

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/lwlock.h"

/* counters kept per database, since server start */
typedef enum SessionCounter
{
	SC_CREATES,
	SC_TOUCHES,
	SC_TOUCH_WRITES,
	SC_TOUCH_READS,
	SC_INVALID_TOKENS,
	SC_EXPIRED_TOKENS,
	SC_REGENERATIONS,
	SC_DESTROYS,
	SC_NUM_COUNTERS
} SessionCounter;

/* databases whose counters are kept at once; more show NULL counters */
#define SESSION_STATS_SLOTS 128

typedef struct SessionDbStats
{
	Oid			dboid;			/* InvalidOid: free; set under lock */
	pg_atomic_uint64 counters[SC_NUM_COUNTERS];
} SessionDbStats;

/* What a prune worker tells the launcher that started it. */
typedef enum PruneOutcome
{
	PRUNE_NO_REPORT = 0,		/* worker failed before reporting */
	PRUNE_NO_EXTENSION,			/* database does not have the extension */
	PRUNE_NOT_DUE,				/* the last run is recent enough */
	PRUNE_DONE,					/* pruned */
	PRUNE_INTERRUPTED,			/* stopped to let DDL or a drop through */
	PRUNE_FAILED,				/* an error (a user's trigger), logged */
	PRUNE_NO_SLOT				/* (the launcher's own) no worker could start */
} PruneOutcome;

typedef struct PruneReport
{
	Oid			dboid;
	PruneOutcome outcome;
	TimestampTz last_start;		/* of the database's latest run, if any */
	bool		has_last_start;
} PruneReport;

typedef struct SessionShared
{
	LWLock	   *lock;			/* slot allocation and the report */
	pg_atomic_uint64 slots_freed;	/* how many slots were ever freed */
	PruneReport report;
	SessionDbStats slots[SESSION_STATS_SLOTS];
} SessionShared;

extern SessionShared *session_shared;

extern void session_shmem_install_hooks(void);

#endif							/* SESSION_SHMEM_H */
