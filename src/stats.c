/*
 * stats.c
 *		Activity counters for the session_stats view: one slot per database
 *		in shared memory, counted with atomics so the request path takes no
 *		lock once a backend has found its slot.  A slot is freed when its
 *		database is dropped, so it serves another database, and a database
 *		made later with the same OID starts from zero.
 *
 * Counters count calls as they happen: a create, regenerate or destroy
 * whose transaction rolls back has been counted.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "settings.h"
#include "stats.h"

/* this backend's slot, once found or claimed */
static SessionDbStats *my_slot = NULL;

/*
 * Every slot was taken when we last tried to claim one: not tried again
 * until a slot is freed (session_shared->slots_freed moves on).
 */
static bool slots_full = false;
static uint64 slots_full_seen = 0;

/* a DROP DATABASE in this transaction: its slot goes if it commits */
static Oid	dropping_dboid = InvalidOid;

static object_access_hook_type prev_object_access_hook = NULL;

/* Free the slot of a database that is gone.  Caller holds no lock. */
static void
free_slot(Oid dboid)
{
	int			i;

	LWLockAcquire(session_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < SESSION_STATS_SLOTS; i++)
		if (session_shared->slots[i].dboid == dboid)
		{
			session_shared->slots[i].dboid = InvalidOid;
			pg_atomic_fetch_add_u64(&session_shared->slots_freed, 1);
		}
	LWLockRelease(session_shared->lock);
}

/*
 * Free the slots of databases that no longer exist: dropped while this
 * library was not loaded in the dropping backend, say.  Looked up outside
 * the lock; a slot is freed only if it still names the same database.
 * Returns whether any was.
 */
static bool
reclaim_stale_slots(void)
{
	Oid			dboids[SESSION_STATS_SLOTS];
	bool		freed = false;
	int			i;

	LWLockAcquire(session_shared->lock, LW_SHARED);
	for (i = 0; i < SESSION_STATS_SLOTS; i++)
		dboids[i] = session_shared->slots[i].dboid;
	LWLockRelease(session_shared->lock);

	for (i = 0; i < SESSION_STATS_SLOTS; i++)
		if (OidIsValid(dboids[i]) &&
			!SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dboids[i])))
		{
			free_slot(dboids[i]);
			freed = true;
		}
	return freed;
}

/* Find or, with create, claim a free slot for dboid, under the lock. */
static SessionDbStats *
find_slot(Oid dboid, bool create)
{
	SessionDbStats *found = NULL;
	int			i;

	LWLockAcquire(session_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < SESSION_STATS_SLOTS; i++)
	{
		SessionDbStats *slot = &session_shared->slots[i];

		if (slot->dboid == dboid)
		{
			found = slot;
			break;
		}
		if (found == NULL && slot->dboid == InvalidOid && create)
			found = slot;
	}
	if (found != NULL && found->dboid == InvalidOid)
	{
		int			c;

		for (c = 0; c < SC_NUM_COUNTERS; c++)
			pg_atomic_write_u64(&found->counters[c], 0);
		found->dboid = dboid;
	}
	LWLockRelease(session_shared->lock);
	return found;
}

/* Find (or claim) the current database's slot; NULL if none. */
static SessionDbStats *
database_slot(bool create)
{
	SessionDbStats *found;
	uint64		freed;

	if (session_shared == NULL || !OidIsValid(MyDatabaseId))
		return NULL;
	if (my_slot != NULL)
		return my_slot;
	freed = pg_atomic_read_u64(&session_shared->slots_freed);
	if (slots_full && freed == slots_full_seen)
		return NULL;

	found = find_slot(MyDatabaseId, create);
	if (found == NULL && create && reclaim_stale_slots())
		found = find_slot(MyDatabaseId, create);
	if (found == NULL && create)
	{
		slots_full = true;
		slots_full_seen = pg_atomic_read_u64(&session_shared->slots_freed);
	}
	else
		slots_full = false;
	my_slot = found;
	return found;
}

static void
stats_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access == OAT_DROP && classId == DatabaseRelationId)
		dropping_dboid = objectId;
}

/*
 * DROP DATABASE calls the drop hook before the checks that may still make
 * it fail (other users connected, say), so the slot goes only once the
 * drop has committed: a database made later with the same OID starts from
 * zero.
 */
static void
stats_xact_callback(XactEvent event, void *arg)
{
	if (!OidIsValid(dropping_dboid))
		return;
	if (event == XACT_EVENT_COMMIT && session_shared != NULL)
		free_slot(dropping_dboid);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		dropping_dboid = InvalidOid;
}

/* Called from _PG_init during preload. */
void
session_stats_install_hooks(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = stats_object_access;
	RegisterXactCallback(stats_xact_callback, NULL);
}

/* Add n to a counter of the current database, if counters are kept. */
void
session_count(SessionCounter counter, uint64 n)
{
	SessionDbStats *slot = my_slot;

	if (slot == NULL)
	{
		if (session_shared == NULL)
			return;
		slot = database_slot(true);
		if (slot == NULL)
			return;
	}
	pg_atomic_fetch_add_u64(&slot->counters[counter], n);
}

/*
 * The counters and the prune interval for the session_stats view.  The
 * counters are NULL when they are not kept for this database: the library
 * is not preloaded, or every slot is taken by another database; the
 * interval when the worker is off too.
 */
PG_FUNCTION_INFO_V1(session_stats_counters);
Datum
session_stats_counters(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[SC_NUM_COUNTERS + 1];
	bool		nulls[SC_NUM_COUNTERS + 1];
	SessionDbStats *slot;
	int			c;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts != SC_NUM_COUNTERS + 1)
		elog(ERROR, "return type has %d columns, expected %d",
			 tupdesc->natts, SC_NUM_COUNTERS + 1);

	slot = database_slot(true);
	for (c = 0; c < SC_NUM_COUNTERS; c++)
	{
		nulls[c] = (slot == NULL);
		values[c] = slot == NULL ? (Datum) 0 :
			Int64GetDatum((int64) pg_atomic_read_u64(&slot->counters[c]));
	}

	if (session_shared == NULL || session_prune_interval == 0)
	{
		nulls[SC_NUM_COUNTERS] = true;
		values[SC_NUM_COUNTERS] = (Datum) 0;
	}
	else
	{
		Interval   *iv = palloc0(sizeof(Interval));

		iv->time = (int64) session_prune_interval * USECS_PER_SEC;
		nulls[SC_NUM_COUNTERS] = false;
		values[SC_NUM_COUNTERS] = IntervalPGetDatum(iv);
	}

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Zero the current database's counters. */
PG_FUNCTION_INFO_V1(session_stats_reset);
Datum
session_stats_reset(PG_FUNCTION_ARGS)
{
	SessionDbStats *slot = database_slot(false);
	int			c;

	if (slot != NULL)
		for (c = 0; c < SC_NUM_COUNTERS; c++)
			pg_atomic_write_u64(&slot->counters[c], 0);
	PG_RETURN_VOID();
}
