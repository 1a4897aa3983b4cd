/*
 * keys.c
 *		Signing keys: kept in session_internal.keys, cached per backend,
 *		rotated on demand and retired once no session uses them.
 *
 * The cache holds every key, newest first, as ready-made HMAC states (the
 * key bytes themselves are wiped once those are made); the newest signs new
 * tokens and any of them verifies.  A row trigger on the table
 * (session_internal.keys_changed) queues a relcache invalidation for it,
 * which clears the cache in every backend when it is processed: at the
 * next transaction start, lock acquisition, or use of a key, whichever
 * comes first.
 *
 * The cache is read the way PostgreSQL's own caches are: marked valid
 * first, then read under a snapshot taken after every invalidation queued
 * so far was processed, never under the transaction's snapshot.  A change
 * committed before that snapshot is in it; one committed after sends its
 * invalidation after it becomes visible, and that clears the mark again.
 * So a REPEATABLE READ transaction, or a statement that began before a
 * rotation, still uses the key set as committed when it read it.
 *
 * Rotation and retirement take a self-conflicting lock on the table, so
 * they never run at once, and retirement decides which key is the newest
 * and how long the others have been superseded under a snapshot taken
 * after that lock: a key rotated in while a prune ran is never retired.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "keys.h"
#include "owner.h"
#include "relations.h"

typedef struct SigningKey
{
	SessionKeyId id;
	TimestampTz created_at;
	SessionKeyState state;
} SigningKey;

/* A key superseded this long ago may be retired once unused. */
#define KEY_RETIRE_GRACE_USECS	(10 * USECS_PER_MINUTE)

/* Columns of session_internal.keys, as the install scripts make them. */
enum
{
	KEY_COL_ID = 1,
	KEY_COL_SECRET,
	KEY_COL_CREATED_AT,
	KEY_COL_SUPERSEDED_AT
};

static SigningKey *cached_keys = NULL;	/* in TopMemoryContext */
static int	n_cached_keys = 0;
static bool keys_valid = false;
static Oid	keys_relid = InvalidOid;

static void
keys_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == keys_relid)
		keys_valid = false;
}

/* Wipe and free n keys. */
static void
wipe_keys(SigningKey *keys, int n)
{
	if (keys == NULL)
		return;
	explicit_bzero(keys, sizeof(SigningKey) * n);
	pfree(keys);
}

/* Newest first: the order in which the newest is keys[0]. */
static int
newest_first(const void *a, const void *b)
{
	const SigningKey *ka = (const SigningKey *) a;
	const SigningKey *kb = (const SigningKey *) b;

	if (ka->created_at != kb->created_at)
		return ka->created_at > kb->created_at ? -1 : 1;
	if (ka->id != kb->id)
		return ka->id > kb->id ? -1 : 1;
	return 0;
}

/*
 * Read every key under snapshot into a fresh array in TopMemoryContext,
 * newest first; returns how many.  The key bytes are read straight from
 * the table's buffer (32 bytes are never compressed or moved out of line)
 * into the HMAC states, so no copy of them is left behind; on error
 * whatever was loaded is wiped.
 */
static int
read_keys(Relation rel, Snapshot snapshot, SigningKey **result)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TableScanDesc scan;
	TupleTableSlot *slot;
	SigningKey *volatile keys = NULL;
	volatile int n = 0;
	volatile int allocated = 0;

	if (desc->natts < KEY_COL_CREATED_AT ||
		TupleDescAttr(desc, KEY_COL_SECRET - 1)->atttypid != BYTEAOID)
		elog(ERROR, "session signing key table has an unexpected shape");

	scan = session_table_beginscan(rel, snapshot);
	slot = table_slot_create(rel, NULL);
	PG_TRY();
	{
		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			Datum		secret;
			bytea	   *b;

			CHECK_FOR_INTERRUPTS();
			if (n == allocated)
			{
				int			grown = Max(4, allocated * 2);
				SigningKey *bigger = MemoryContextAllocZero(TopMemoryContext,
															sizeof(SigningKey) * grown);

				if (keys != NULL)
				{
					memcpy(bigger, keys, sizeof(SigningKey) * n);
					wipe_keys(keys, n);
				}
				keys = bigger;
				allocated = grown;
			}

			keys[n].id = DatumGetInt64(slot_getattr(slot, KEY_COL_ID, &isnull));
			keys[n].created_at =
				DatumGetTimestampTz(slot_getattr(slot, KEY_COL_CREATED_AT, &isnull));
			secret = slot_getattr(slot, KEY_COL_SECRET, &isnull);
			b = (bytea *) DatumGetPointer(secret);
			if (isnull || VARATT_IS_EXTERNAL(b) || VARATT_IS_COMPRESSED(b) ||
				VARSIZE_ANY_EXHDR(b) != SESSION_KEY_BYTES)
				elog(ERROR, "session signing key has the wrong length or storage");
			if (session_token_key_init(&keys[n].state,
									   (const uint8 *) VARDATA_ANY(b)) != TOKEN_OK)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("could not prepare session signing key")));
			n++;
		}
	}
	PG_CATCH();
	{
		wipe_keys(keys, allocated);
		PG_RE_THROW();
	}
	PG_END_TRY();
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);

	if (n > 1)
		qsort(keys, n, sizeof(SigningKey), newest_first);
	*result = keys;
	return n;
}

/*
 * Make sure the cache reflects the table as committed now (see the top).
 * Invalidations are processed first, so a deletion committed by another
 * backend is honoured at this backend's next use of a key, whatever its
 * isolation level.
 */
static void
load_keys(void)
{
	static bool callback_registered = false;
	Relation	rel;
	Snapshot	snapshot;
	SigningKey *keys;
	int			n;

	AcceptInvalidationMessages();
	if (keys_valid && n_cached_keys > 0)
		return;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(keys_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	keys_relid = session_internal_relid("keys", false);

	wipe_keys(cached_keys, n_cached_keys);
	cached_keys = NULL;
	n_cached_keys = 0;

	/* valid from here on, unless an invalidation arrives before we are done */
	keys_valid = true;
	rel = table_open(keys_relid, AccessShareLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	n = read_keys(rel, snapshot, &keys);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);

	if (n == 0)
	{
		keys_valid = false;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no session signing key exists"),
				 errhint("Call session_rotate_key() as the extension owner.")));
	}
	cached_keys = keys;
	n_cached_keys = n;
}

/*
 * Which cached key, if any, signed tok: its index, or -1.  Every key is
 * tried in full so the time taken does not say how close a forgery came.
 */
static int
signer_of(const SessionToken *tok)
{
	int			signer = -1;
	int			i;

	load_keys();
	for (i = 0; i < n_cached_keys; i++)
	{
		SessionTokenStatus status;

		status = session_token_verify(tok, &cached_keys[i].state);
		if (status == TOKEN_CRYPTO_FAILURE)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not compute session token signature")));
		if (status == TOKEN_OK)
			signer = i;
	}
	return signer;
}

/* Which key, if any, signed tok?  0 if none. */
SessionKeyId
session_keys_verify(const SessionToken *tok)
{
	int			signer = signer_of(tok);

	return signer < 0 ? 0 : cached_keys[signer].id;
}

/*
 * The CSRF token of the session tok names, into csrf (SESSION_CSRF_CHARS
 * characters), derived with the key that signed tok; false when no key did.
 */
bool
session_keys_csrf(const SessionToken *tok, char *csrf)
{
	int			signer = signer_of(tok);

	if (signer < 0)
		return false;
	if (session_token_csrf(tok->id, &cached_keys[signer].state, csrf) != TOKEN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute session CSRF token")));
	return true;
}

/* Sign id with the newest key into token; returns that key's id. */
SessionKeyId
session_keys_sign(const char *id, char *token)
{
	load_keys();
	if (session_token_sign(id, &cached_keys[0].state, token) != TOKEN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute session token signature")));
	return cached_keys[0].id;
}

/*
 * The lock that serializes rotation and retirement: it conflicts with
 * itself and with row changes, not with the reads of load_keys.
 */
#define KEYS_CHANGE_LOCK	ShareRowExclusiveLock

/* Add a new newest key. */
void
session_keys_rotate(void)
{
	uint8		secret[SESSION_KEY_BYTES];
	int64		id;
	bytea	   *secret_datum;
	Datum		values[2];
	Oid			types[2] = {INT8OID, BYTEAOID};
	OwnerScope	scope;
	int			rc;

	/* waits for a retirement in progress, which is short */
	LockRelationOid(session_internal_relid("keys", false), KEYS_CHANGE_LOCK);

	if (!pg_strong_random(secret, sizeof(secret)) ||
		!pg_strong_random(&id, sizeof(id)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random signing key")));

	/*
	 * A random id rather than a sequence: after pg_dump and restore, CREATE
	 * EXTENSION makes a fresh key and the dumped keys are loaded beside it.
	 */
	id &= PG_INT64_MAX;
	if (id == 0)
		id = 1;

	secret_datum = palloc(VARHDRSZ + SESSION_KEY_BYTES);
	SET_VARSIZE(secret_datum, VARHDRSZ + SESSION_KEY_BYTES);
	memcpy(VARDATA(secret_datum), secret, SESSION_KEY_BYTES);
	explicit_bzero(secret, sizeof(secret));

	values[0] = Int64GetDatum(id);
	values[1] = PointerGetDatum(secret_datum);

	session_sql_begin(&scope);
	rc = SPI_execute_with_args("INSERT INTO " SESSION_INTERNAL_SCHEMA ".keys (id, secret)"
							   " VALUES ($1, $2)",
							   2, types, values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_with_args failed: %s",
			 SPI_result_code_string(rc));
	session_sql_end(&scope);

	explicit_bzero(VARDATA(secret_datum), SESSION_KEY_BYTES);
	pfree(secret_datum);
}

#define NEWEST_KEY \
	"(SELECT n.id FROM " SESSION_INTERNAL_SCHEMA ".keys n" \
	" ORDER BY n.created_at DESC, n.id DESC LIMIT 1)"

/*
 * Retire keys that no longer sign new tokens and that no stored session was
 * signed with, once they have been superseded for the grace period.  The
 * grace covers a backend that began signing with the old key just before a
 * rotation committed and has not committed its session yet; it counts from
 * the first retirement that saw the key superseded (superseded_at), which
 * is after the rotation committed, however long its transaction was open.
 * Skipped, returning 0, while a rotation is in progress.  Caller holds a
 * session_sql_begin() scope.  Returns how many keys went.
 */
uint64
session_keys_retire(void)
{
	static SPIPlanPtr mark_plan = NULL;
	static SPIPlanPtr retire_plan = NULL;
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	TimestampTz now = GetCurrentTimestamp();
	int			rc;
	Oid			relid = session_internal_relid("keys", false);

	if (!ConditionalLockRelationOid(relid, KEYS_CHANGE_LOCK))
		return 0;
	/* a database not yet updated to 1.2 keeps its keys until it is */
	if (get_attnum(relid, "superseded_at") != KEY_COL_SUPERSEDED_AT)
		return 0;

	if (mark_plan == NULL)
		mark_plan = session_sql_prepare("UPDATE " SESSION_INTERNAL_SCHEMA ".keys k SET superseded_at = $1"
										" WHERE k.superseded_at IS NULL"
										" AND k.id OPERATOR(pg_catalog.<>) " NEWEST_KEY,
										1, types, 0);
	if (retire_plan == NULL)
		retire_plan = session_sql_prepare("DELETE FROM " SESSION_INTERNAL_SCHEMA ".keys k"
										  " WHERE k.superseded_at OPERATOR(pg_catalog.<=) $1"
										  " AND k.id OPERATOR(pg_catalog.<>) " NEWEST_KEY
										  " AND NOT EXISTS (SELECT FROM " SESSION_INTERNAL_SCHEMA ".sessions s"
										  "      WHERE s.key_id OPERATOR(pg_catalog.=) k.id)",
										  1, types, 0);

	/*
	 * Under a snapshot taken now, with the lock held: every rotation has
	 * committed or not started, and what the statements see is the table
	 * as it is, whatever the isolation level of the caller's transaction.
	 */
	values[0] = TimestampTzGetDatum(now);
	rc = SPI_execute_snapshot(mark_plan, values, NULL, GetLatestSnapshot(),
							  InvalidSnapshot, false, true, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute_snapshot failed: %s", SPI_result_code_string(rc));

	values[0] = TimestampTzGetDatum(now - KEY_RETIRE_GRACE_USECS);
	rc = SPI_execute_snapshot(retire_plan, values, NULL, GetLatestSnapshot(),
							  InvalidSnapshot, false, true, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "SPI_execute_snapshot failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * Row and TRUNCATE trigger on the keys table: tell every backend, this one
 * included, to reload its cache once this transaction commits.
 */
PG_FUNCTION_INFO_V1(session_keys_changed);
Datum
session_keys_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("session_keys_changed() must be called as a trigger")));

	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}
