/*
 * keys.c
 *		Signing keys: kept in session_internal.keys, cached per backend,
 *		rotated on demand and retired once no session uses them.
 *
 * The cache holds every key, newest first; the newest signs new tokens and
 * any of them verifies.  It is reloaded only after the keys table changes:
 * a statement trigger on the table (session_internal.keys_changed) queues a
 * relcache invalidation for it, which every backend receives at its next
 * transaction start and which clears the cache here.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "keys.h"
#include "owner.h"
#include "session.h"

typedef struct SigningKey
{
	SessionKeyId id;
	uint8		secret[SESSION_KEY_BYTES];
} SigningKey;

/* A key superseded this long ago may be retired once unused. */
#define KEY_RETIRE_GRACE_USECS	(10 * USECS_PER_MINUTE)

static SigningKey *cached_keys = NULL;	/* in TopMemoryContext */
static int	n_cached_keys = 0;
static bool keys_valid = false;
static Oid	keys_relid = InvalidOid;
static bool callback_registered = false;

static void
keys_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == keys_relid)
		keys_valid = false;
}

static void
discard_cached_keys(void)
{
	if (cached_keys != NULL)
	{
		explicit_bzero(cached_keys, sizeof(SigningKey) * n_cached_keys);
		pfree(cached_keys);
	}
	cached_keys = NULL;
	n_cached_keys = 0;
	session_token_forget_key();
}

/* Make sure the cache reflects the table. */
static void
load_keys(void)
{
	static SPIPlanPtr plan = NULL;
	OwnerScope	scope;
	MemoryContext oldcxt;
	int			rc;
	uint64		i;

	/* an error part-way through a load leaves no keys, so it is retried */
	if (keys_valid && n_cached_keys > 0)
		return;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(keys_relcache_callback, (Datum) 0);
		callback_registered = true;
	}

	keys_relid = session_internal_relid("keys", false);

	discard_cached_keys();

	/* set before reading, so a change committed meanwhile clears it again */
	keys_valid = true;

	session_sql_begin(&scope);
	if (plan == NULL)
	{
		plan = SPI_prepare("SELECT id, secret FROM " SESSION_INTERNAL_SCHEMA ".keys"
						   " ORDER BY created_at DESC, id DESC", 0, NULL);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
	}
	rc = SPI_execute_plan(plan, NULL, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no session signing key exists"),
				 errhint("Call session_rotate_key() as the extension owner.")));

	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	cached_keys = palloc0(sizeof(SigningKey) * SPI_processed);
	MemoryContextSwitchTo(oldcxt);

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		id = SPI_getbinval(tup, desc, 1, &isnull);
		bytea	   *secret;

		secret = DatumGetByteaPP(SPI_getbinval(tup, desc, 2, &isnull));
		if (VARSIZE_ANY_EXHDR(secret) != SESSION_KEY_BYTES)
			elog(ERROR, "signing key has the wrong length");
		cached_keys[i].id = DatumGetInt64(id);
		memcpy(cached_keys[i].secret, VARDATA_ANY(secret), SESSION_KEY_BYTES);
	}
	n_cached_keys = (int) SPI_processed;

	session_sql_end(&scope);
}

/*
 * Which key, if any, signed tok?  Every key is tried in full so the time
 * taken does not say how close a forgery came.
 */
SessionKeyId
session_keys_verify(const SessionToken *tok)
{
	SessionKeyId found = 0;
	int			i;

	load_keys();
	for (i = 0; i < n_cached_keys; i++)
	{
		SessionTokenStatus status;

		status = session_token_verify(tok, cached_keys[i].secret);
		if (status == TOKEN_CRYPTO_FAILURE)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not compute session token signature")));
		if (status == TOKEN_OK)
			found = cached_keys[i].id;
	}
	return found;
}

/* Sign id with the newest key into token; returns that key's id. */
SessionKeyId
session_keys_sign(const char *id, char *token)
{
	load_keys();
	if (session_token_sign(id, cached_keys[0].secret, token) != TOKEN_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute session token signature")));
	return cached_keys[0].id;
}

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

/*
 * Delete keys that no longer sign new tokens and that no stored session was
 * signed with.  The grace period covers a backend that began signing with
 * the old key just before a rotation and has not committed its session yet.
 * Returns how many keys went.
 */
uint64
session_keys_retire(TimestampTz now)
{
	Datum		values[2];
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	OwnerScope	scope;
	int			rc;
	uint64		retired;

	load_keys();
	if (n_cached_keys < 2)
		return 0;

	values[0] = Int64GetDatum(cached_keys[0].id);
	values[1] = TimestampTzGetDatum(now - KEY_RETIRE_GRACE_USECS);

	session_sql_begin(&scope);
	rc = SPI_execute_with_args(
							   "DELETE FROM " SESSION_INTERNAL_SCHEMA ".keys k"
							   " WHERE k.id OPERATOR(pg_catalog.<>) $1"
							   " AND (SELECT c.created_at FROM " SESSION_INTERNAL_SCHEMA ".keys c"
							   "      WHERE c.id OPERATOR(pg_catalog.=) $1)"
							   "     OPERATOR(pg_catalog.<=) $2"
							   " AND NOT EXISTS (SELECT FROM " SESSION_INTERNAL_SCHEMA ".sessions s"
							   "      WHERE s.key_id OPERATOR(pg_catalog.=) k.id)",
							   2, types, values, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "SPI_execute_with_args failed: %s",
			 SPI_result_code_string(rc));
	retired = SPI_processed;
	session_sql_end(&scope);
	return retired;
}

/*
 * Statement trigger on the keys table: tell every backend, this one
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
