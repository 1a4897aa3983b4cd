/*
 * compat.h
 *		Every table and index access method call whose signature differs
 *		between the PostgreSQL majors this builds against (15 to 19), behind
 *		one name each, so that the files using them carry no version guards.
 *
 * Where a change came in 16 the guard is at 16 (16 is built by these
 * guards, though only 15, 17, 18 and 19 are tested).
 */
#ifndef SESSION_COMPAT_H
#define SESSION_COMPAT_H

#include "access/genam.h"
#include "access/tableam.h"
#include "executor/executor.h"
#include "utils/relcache.h"

/* Which index entries a heap update left to be made (16: TU_UpdateIndexes) */
typedef enum SessionIndexUpdate
{
	SESSION_INDEX_NONE,			/* HOT: none */
	SESSION_INDEX_ALL,			/* every index */
	SESSION_INDEX_SUMMARIZING	/* HOT, but summarizing indexes (16 on) */
} SessionIndexUpdate;

/* The primary key's index (18 added deferrable_ok: ours is not deferrable) */
static inline Oid
session_primary_key_index(Relation rel)
{
#if PG_VERSION_NUM >= 180000
	return RelationGetPrimaryKeyIndex(rel, false);
#else
	return RelationGetPrimaryKeyIndex(rel);
#endif
}

/* An index scan (18 added instrumentation, 19 scan flags) */
static inline IndexScanDesc
session_index_beginscan(Relation heap, Relation index, Snapshot snapshot,
						int nkeys)
{
#if PG_VERSION_NUM >= 190000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, 0, 0);
#elif PG_VERSION_NUM >= 180000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, 0);
#else
	return index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
}

/* A sequential scan without keys (19 added scan flags) */
static inline TableScanDesc
session_table_beginscan(Relation rel, Snapshot snapshot)
{
#if PG_VERSION_NUM >= 190000
	return table_beginscan(rel, snapshot, 0, NULL, 0);
#else
	return table_beginscan(rel, snapshot, 0, NULL);
#endif
}

/* A TID range scan (19 added scan flags) */
static inline TableScanDesc
session_table_beginscan_tidrange(Relation rel, Snapshot snapshot,
								 ItemPointer mintid, ItemPointer maxtid)
{
#if PG_VERSION_NUM >= 190000
	return table_beginscan_tidrange(rel, snapshot, mintid, maxtid, 0);
#else
	return table_beginscan_tidrange(rel, snapshot, mintid, maxtid);
#endif
}

/* Delete one row version, not waiting (19: an options mask for changingPart) */
static inline TM_Result
session_table_tuple_delete(Relation rel, ItemPointer tid, CommandId cid,
						   Snapshot snapshot, TM_FailureData *tmfd)
{
#if PG_VERSION_NUM >= 190000
	return table_tuple_delete(rel, tid, cid, 0, snapshot, InvalidSnapshot,
							  false, tmfd);
#else
	return table_tuple_delete(rel, tid, cid, snapshot, InvalidSnapshot,
							  false, tmfd, false);
#endif
}

/*
 * Update one row version, waiting for a transaction changing it, and say
 * which index entries the new version needs (16: TU_UpdateIndexes rather
 * than a bool; 19 added an options mask).
 */
static inline TM_Result
session_table_tuple_update(Relation rel, ItemPointer otid,
						   TupleTableSlot *slot, CommandId cid,
						   Snapshot snapshot, TM_FailureData *tmfd,
						   LockTupleMode *lockmode,
						   SessionIndexUpdate *index_update)
{
	TM_Result	result;
#if PG_VERSION_NUM >= 160000
	TU_UpdateIndexes update_indexes = TU_None;

#if PG_VERSION_NUM >= 190000
	result = table_tuple_update(rel, otid, slot, cid, 0, snapshot,
								InvalidSnapshot, true, tmfd, lockmode,
								&update_indexes);
#else
	result = table_tuple_update(rel, otid, slot, cid, snapshot,
								InvalidSnapshot, true, tmfd, lockmode,
								&update_indexes);
#endif
	*index_update = update_indexes == TU_All ? SESSION_INDEX_ALL :
		update_indexes == TU_Summarizing ? SESSION_INDEX_SUMMARIZING :
		SESSION_INDEX_NONE;
#else
	bool		update_indexes = false;

	result = table_tuple_update(rel, otid, slot, cid, snapshot,
								InvalidSnapshot, true, tmfd, lockmode,
								&update_indexes);
	*index_update = update_indexes ? SESSION_INDEX_ALL : SESSION_INDEX_NONE;
#endif
	return result;
}

/*
 * Insert the index entries of the row version in slot (16 added
 * onlySummarizing; 19 turned the booleans into flags).
 */
static inline void
session_insert_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot,
							EState *estate, bool update, bool only_summarizing)
{
#if PG_VERSION_NUM >= 190000
	uint32		flags = 0;

	if (update)
		flags |= EIIT_IS_UPDATE;
	if (only_summarizing)
		flags |= EIIT_ONLY_SUMMARIZING;
	(void) ExecInsertIndexTuples(rri, estate, flags, slot, NIL, NULL);
#elif PG_VERSION_NUM >= 160000
	(void) ExecInsertIndexTuples(rri, slot, estate, update, false, NULL, NIL,
								 only_summarizing);
#else
	Assert(!only_summarizing);
	(void) ExecInsertIndexTuples(rri, slot, estate, update, false, NULL, NIL);
#endif
}

#endif							/* SESSION_COMPAT_H */
