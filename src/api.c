/*
 * api.c
 *		The SQL-callable functions: argument checks, token handling and
 *		result shapes.  Storage is in store.c, keys in keys.c.
 *
 * Anything wrong with a token (NULL, empty, huge, malformed, unsigned,
 * unknown, expired, ended) yields zero rows, NULL or false, never an error,
 * and is decided without touching a table when the signature is wrong.  Bad
 * arguments other than tokens raise class-22 errors before anything is
 * written.  No token or id is ever put into a message.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "bind.h"
#include "keys.h"
#include "limit.h"
#include "owner.h"
#include "settings.h"
#include "stats.h"
#include "store.h"
#include "token.h"

/* The instant a request happens, for every expiry decision in it. */
static inline TimestampTz
request_time(void)
{
	return GetCurrentStatementStartTimestamp();
}

/* Raise the error for what token.c could not do making or hashing an id. */
static void
id_failed(SessionTokenStatus status)
{
	if (status == TOKEN_RANDOM_FAILURE)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random session id")));
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("could not compute session id hash")));
}

static void
hash_id(const char *id, uint8 *hash)
{
	SessionTokenStatus status = session_token_hash_id(id, hash);

	if (status != TOKEN_OK)
		id_failed(status);
}

/*
 * Argument argno as a token, parsed (its signature decoded, not verified);
 * false for NULL and anything malformed.
 */
static bool
token_arg(FunctionCallInfo fcinfo, int argno, SessionToken *tok)
{
	Datum		arg;
	text	   *t;

	if (PG_ARGISNULL(argno))
		return false;
	arg = PG_GETARG_DATUM(argno);
	/* a wrong length is known without detoasting a possibly huge value */
	if (toast_raw_datum_size(arg) != VARHDRSZ + SESSION_TOKEN_CHARS)
		return false;
	t = DatumGetTextPP(arg);
	return session_token_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), tok) == TOKEN_OK;
}

/*
 * Is argument argno a token that one of our keys signed?  If so, *hash is
 * the stored form of its id.
 */
static bool
verified_token(FunctionCallInfo fcinfo, int argno, uint8 *hash)
{
	SessionToken tok;

	if (PG_ARGISNULL(argno))
		return false;
	if (!token_arg(fcinfo, argno, &tok) || session_keys_verify(&tok) == 0)
	{
		session_count(SC_INVALID_TOKENS, 1);
		return false;
	}

	hash_id(tok.id, hash);
	return true;
}

/*
 * A fresh id that routes to this shard, signed with the newest key, and its
 * stored hash.
 */
static SessionKeyId
new_token(char *token, uint8 *hash)
{
	char		id[SESSION_ID_CHARS];
	SessionTokenStatus status;

	if (session_shard >= session_shards)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("session.shard (%d) must be less than session.shards (%d)",
						session_shard, session_shards)));
	status = session_token_generate_id(id, hash, session_shards, session_shard);
	if (status != TOKEN_OK)
		id_failed(status);
	return session_keys_sign(id, token);
}

/* A jsonb argument that must be an object. */
static Jsonb *
object_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	Jsonb	   *jb;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	jb = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", name)));
	return jb;
}

static Interval *
seconds_interval(int secs)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = (int64) secs * USECS_PER_SEC;
	return iv;
}

static TimestampTz
plus_interval(TimestampTz t, Interval *iv)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(t),
												   IntervalPGetDatum(iv)));
}

/*
 * A timeout argument, as the expiry it gives from now: NULL takes the
 * setting (which, for the absolute timeout, may be 0: *none set true).  An
 * explicit value must reach past now and at most 400 days beyond it,
 * counted as the calendar counts from now (months are not 30 days: a month
 * from January 31st is 28 or 29 days), in the session's time zone, as
 * every expiry is.
 */
static TimestampTz
timeout_arg(FunctionCallInfo fcinfo, int argno, const char *name,
			int setting, TimestampTz now, Interval **iv, bool *none)
{
	TimestampTz end;

	*none = false;
	if (PG_ARGISNULL(argno))
	{
		if (setting == 0)
		{
			*none = true;
			*iv = NULL;
			return 0;
		}
		*iv = seconds_interval(setting);
		return now + (int64) setting * USECS_PER_SEC;
	}

	*iv = PG_GETARG_INTERVAL_P(argno);
	end = plus_interval(now, *iv);
	if (end <= now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be greater than zero", name)));
	if (end - now > (int64) SESSION_MAX_TIMEOUT_SECS * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not exceed 400 days", name),
				 errdetail("Counted from now it spans %.1f days.",
						   (double) (end - now) / USECS_PER_DAY)));
	return end;
}

/*
 * Set up the tuplestore of a set-returning call.  The executor has already
 * worked out the result row type (expectedDesc): using it spares building
 * the descriptor again from pg_proc on every call.
 */
static void
init_result(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint32		flags = 0;

	if (rsinfo != NULL && IsA(rsinfo, ReturnSetInfo) &&
		rsinfo->expectedDesc != NULL)
		flags = MAT_SRF_USE_EXPECTED_DESC;
	InitMaterializedSRF(fcinfo, flags);
}

/* Emit rec as the one row of a session_touch/session_get result. */
static void
emit_record(FunctionCallInfo fcinfo, const SessionRecord *rec)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	values[0] = rec->user_id;
	nulls[0] = rec->user_id_null;
	values[1] = rec->data;
	values[2] = TimestampTzGetDatum(rec->created_at);
	values[3] = TimestampTzGetDatum(rec->expires_at);
	values[4] = TimestampTzGetDatum(rec->absolute_expires_at);
	nulls[4] = rec->absolute_null;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * session_touch, session_get and session_bind: zero rows or one.  With bind,
 * the session found (or none) becomes the transaction's bound session.
 */
static Datum
lookup(FunctionCallInfo fcinfo, bool extend, bool bind)
{
	uint8		hash[SESSION_HASH_BYTES];
	SessionRecord rec;
	SessionLookup result;
	bool		live;

	init_result(fcinfo);
	if (extend)
		session_count(SC_TOUCHES, 1);
	if (!verified_token(fcinfo, 0, hash))
	{
		if (bind)
			session_bind_set(NULL);
		return (Datum) 0;
	}

	if (extend)
		result = session_store_touch(hash, request_time(), &rec);
	else
		result = session_store_get(hash, request_time(), &rec);
	live = (result == LOOKUP_READ || result == LOOKUP_WROTE);
	if (live)
		emit_record(fcinfo, &rec);
	if (bind)
		session_bind_set(live ? &rec : NULL);

	if (result == LOOKUP_EXPIRED)
		session_count(SC_EXPIRED_TOKENS, 1);
	else if (extend && result == LOOKUP_WROTE)
		session_count(SC_TOUCH_WRITES, 1);
	else if (extend && result == LOOKUP_READ)
		session_count(SC_TOUCH_READS, 1);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(session_create);
Datum
session_create(PG_FUNCTION_ARGS)
{
	text	   *user_id = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	Jsonb	   *data = object_arg(fcinfo, 1, "data");
	SessionLimit limit;
	Interval   *idle;
	Interval   *absolute;
	bool		idle_none;
	bool		absolute_none;
	TimestampTz now = request_time();
	TimestampTz expires_at;
	TimestampTz absolute_at = 0;
	char		token[SESSION_TOKEN_CHARS + 1];
	uint8		hash[SESSION_HASH_BYTES];
	SessionKeyId key_id;

	expires_at = timeout_arg(fcinfo, 2, "idle_timeout", session_idle_timeout,
							 now, &idle, &idle_none);
	absolute_at = timeout_arg(fcinfo, 3, "absolute_timeout",
							  session_absolute_timeout, now, &absolute,
							  &absolute_none);
	if (!absolute_none && expires_at > absolute_at)
		expires_at = absolute_at;
	/* 1.6's session_create(..., max_sessions, on_limit) */
	session_limit_of_call(fcinfo, 4, &limit);

	key_id = new_token(token, hash);

	session_store_insert(hash, key_id, user_id, data, now, expires_at,
						 absolute_at, absolute_none, idle);
	session_limit_keep(&limit, user_id, hash, now);
	session_count(SC_CREATES, 1);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(token, SESSION_TOKEN_CHARS));
}

PG_FUNCTION_INFO_V1(session_touch);
Datum
session_touch(PG_FUNCTION_ARGS)
{
	return lookup(fcinfo, true, false);
}

PG_FUNCTION_INFO_V1(session_bind);
Datum
session_bind(PG_FUNCTION_ARGS)
{
	return lookup(fcinfo, true, true);
}

PG_FUNCTION_INFO_V1(session_get);
Datum
session_get(PG_FUNCTION_ARGS)
{
	return lookup(fcinfo, false, false);
}

PG_FUNCTION_INFO_V1(session_regenerate);
Datum
session_regenerate(PG_FUNCTION_ARGS)
{
	OwnerScope	scope;
	text	   *user_id = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	uint8		old_hash[SESSION_HASH_BYTES];
	uint8		new_hash[SESSION_HASH_BYTES];
	char		token[SESSION_TOKEN_CHARS + 1];
	SessionKeyId key_id;
	SessionLimit limit;
	bool		moved;

	/* 1.6's session_regenerate(token, user_id, max_sessions, on_limit) */
	session_limit_of_call(fcinfo, 2, &limit);
	if (!verified_token(fcinfo, 0, old_hash))
		PG_RETURN_NULL();

	key_id = new_token(token, new_hash);

	session_sql_begin(&scope);
	moved = session_store_regenerate(old_hash, new_hash, key_id, user_id,
									 request_time());
	session_sql_end(&scope);

	if (!moved)
		PG_RETURN_NULL();
	/* now the user's: keep them within the limit (one already theirs adds none) */
	session_limit_keep(&limit, user_id, new_hash, request_time());
	session_count(SC_REGENERATIONS, 1);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(token, SESSION_TOKEN_CHARS));
}

PG_FUNCTION_INFO_V1(session_set);
Datum
session_set(PG_FUNCTION_ARGS)
{
	OwnerScope	scope;
	Jsonb	   *data = object_arg(fcinfo, 1, "data");
	uint8		hash[SESSION_HASH_BYTES];
	bool		done;

	if (!verified_token(fcinfo, 0, hash))
		PG_RETURN_BOOL(false);

	session_sql_begin(&scope);
	done = session_store_set(hash, data, request_time());
	session_sql_end(&scope);
	PG_RETURN_BOOL(done);
}

/* The top-level keys of patch whose value is JSON null, as text[]. */
static Datum
null_valued_keys(Jsonb *patch)
{
	JsonbIterator *it = JsonbIteratorInit(&patch->root);
	JsonbValue	v;
	JsonbIteratorToken r;
	Datum	   *keys = palloc(sizeof(Datum) * Max(JB_ROOT_COUNT(patch), 1));
	int			nkeys = 0;
	text	   *key = NULL;

	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (r == WJB_KEY)
			key = cstring_to_text_with_len(v.val.string.val, v.val.string.len);
		else if (r == WJB_VALUE && v.type == jbvNull)
			keys[nkeys++] = PointerGetDatum(key);
	}
	return PointerGetDatum(construct_array(keys, nkeys, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/* A merge of patch, then removed_keys (text[]) taken out. */
static Datum
merge(FunctionCallInfo fcinfo, Jsonb *patch, Datum removed_keys)
{
	OwnerScope	scope;
	uint8		hash[SESSION_HASH_BYTES];
	Datum		result = (Datum) 0;
	bool		done;

	if (!verified_token(fcinfo, 0, hash))
		PG_RETURN_NULL();

	session_sql_begin(&scope);
	done = session_store_merge(hash, patch, removed_keys, request_time(),
							   &result);
	if (done)
		result = SPI_datumTransfer(result, false, -1);
	session_sql_end(&scope);

	if (!done)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* session_merge(token, patch): a key whose value is JSON null goes. */
PG_FUNCTION_INFO_V1(session_merge);
Datum
session_merge(PG_FUNCTION_ARGS)
{
	Jsonb	   *patch = object_arg(fcinfo, 1, "patch");

	return merge(fcinfo, patch, null_valued_keys(patch));
}

/*
 * session_merge(token, patch, remove): patch's values are kept as they are,
 * JSON nulls included, and the keys named in remove (NULL: none) go.
 */
PG_FUNCTION_INFO_V1(session_merge_remove);
Datum
session_merge_remove(PG_FUNCTION_ARGS)
{
	Jsonb	   *patch = object_arg(fcinfo, 1, "patch");
	Datum		remove;

	if (PG_ARGISNULL(2))
		remove = PointerGetDatum(construct_empty_array(TEXTOID));
	else
	{
		ArrayType  *a = PG_GETARG_ARRAYTYPE_P(2);

		if (ARR_NDIM(a) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("remove must be a one-dimensional array")));
		remove = PointerGetDatum(a);
	}
	return merge(fcinfo, patch, remove);
}

/*
 * session_set_idle_timeout(token, idle_timeout): the session's idle timeout
 * from now on (NULL: session.idle_timeout), its expiry moved to now plus
 * that, shorter or longer, still capped by the absolute expiry.  The new
 * expiry, or NULL for an invalid token.
 */
PG_FUNCTION_INFO_V1(session_set_idle_timeout);
Datum
session_set_idle_timeout(PG_FUNCTION_ARGS)
{
	OwnerScope	scope;
	uint8		hash[SESSION_HASH_BYTES];
	TimestampTz now = request_time();
	TimestampTz target;
	TimestampTz expires_at;
	Interval   *idle;
	bool		none;
	bool		done;

	target = timeout_arg(fcinfo, 1, "idle_timeout", session_idle_timeout,
						 now, &idle, &none);
	if (!verified_token(fcinfo, 0, hash))
		PG_RETURN_NULL();

	session_sql_begin(&scope);
	done = session_store_set_idle_timeout(hash, idle, target, now, &expires_at);
	session_sql_end(&scope);
	if (!done)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(expires_at);
}

PG_FUNCTION_INFO_V1(session_destroy);
Datum
session_destroy(PG_FUNCTION_ARGS)
{
	OwnerScope	scope;
	uint8		hash[SESSION_HASH_BYTES];
	bool		ended;

	if (!verified_token(fcinfo, 0, hash))
		PG_RETURN_BOOL(false);

	session_sql_begin(&scope);
	ended = session_store_destroy(hash, request_time());
	session_sql_end(&scope);
	if (ended)
		session_count(SC_DESTROYS, 1);
	PG_RETURN_BOOL(ended);
}

PG_FUNCTION_INFO_V1(session_destroy_user);
Datum
session_destroy_user(PG_FUNCTION_ARGS)
{
	OwnerScope	scope;
	uint8		except[SESSION_HASH_BYTES];
	bool		has_except;
	int64		ended;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT64(0);

	/* an invalid token to keep means there is nothing to keep */
	has_except = verified_token(fcinfo, 1, except);

	session_sql_begin(&scope);
	ended = session_store_destroy_user(PG_GETARG_TEXT_PP(0),
									   has_except ? except : NULL,
									   request_time());
	session_sql_end(&scope);
	session_count(SC_DESTROYS, (uint64) ended);
	PG_RETURN_INT64(ended);
}

/*
 * session_list(user_id): the user's live sessions, oldest first, and never
 * a token.  From 1.6 on each row starts with the session's handle (for
 * session_destroy_handle) and has when it was last used after created_at
 * (session_list_1_6); before, it was created_at, expires_at,
 * absolute_expires_at and data only (session_list, which a database not
 * updated yet still declares).
 */
static Datum
list_sessions(FunctionCallInfo fcinfo, bool devices)
{
	OwnerScope	scope;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	desc;
	uint64		n;
	uint64		i;

	init_result(fcinfo);
	if (PG_ARGISNULL(0))
		return (Datum) 0;

	session_sql_begin(&scope);
	n = session_store_list(PG_GETARG_TEXT_PP(0), request_time());
	desc = SPI_tuptable->tupdesc;
	for (i = 0; i < n; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		Datum		values[6];
		bool		nulls[6];
		int			c = 0;

		CHECK_FOR_INTERRUPTS();
		if (devices)
		{
			Datum		stored = SPI_getbinval(row, desc, LIST_ID_HASH, &nulls[c]);
			bytea	   *hash = DatumGetByteaPP(stored);
			char		handle[SESSION_HANDLE_CHARS];

			/* a row written by hand with a hash of another length has none */
			nulls[c] = VARSIZE_ANY_EXHDR(hash) != SESSION_HASH_BYTES;
			if (!nulls[c])
			{
				session_handle_encode((const uint8 *) VARDATA_ANY(hash), handle);
				values[c] = PointerGetDatum(cstring_to_text_with_len(handle,
																	 SESSION_HANDLE_CHARS));
			}
			c++;
		}
		values[c] = SPI_getbinval(row, desc, LIST_CREATED_AT, &nulls[c]);
		c++;
		if (devices)
		{
			values[c] = SPI_getbinval(row, desc, LIST_LAST_USED_AT, &nulls[c]);
			c++;
		}
		values[c] = SPI_getbinval(row, desc, LIST_EXPIRES_AT, &nulls[c]);
		c++;
		values[c] = SPI_getbinval(row, desc, LIST_ABSOLUTE_EXPIRES_AT, &nulls[c]);
		c++;
		values[c] = SPI_getbinval(row, desc, LIST_DATA, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	session_sql_end(&scope);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(session_list);
Datum
session_list(PG_FUNCTION_ARGS)
{
	return list_sessions(fcinfo, false);
}

PG_FUNCTION_INFO_V1(session_list_1_6);
Datum
session_list_1_6(PG_FUNCTION_ARGS)
{
	return list_sessions(fcinfo, true);
}

/*
 * session_destroy_handle(user_id, handle): end the user's session that
 * session_list gave that handle; true if it was live.  A handle of another
 * user's session, or anything that is not a handle, ends nothing.
 */
PG_FUNCTION_INFO_V1(session_destroy_handle);
Datum
session_destroy_handle(PG_FUNCTION_ARGS)
{
	OwnerScope	scope;
	uint8		hash[SESSION_HASH_BYTES];
	text	   *handle;
	bool		ended;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	/* a wrong length is known without detoasting a possibly huge value */
	if (toast_raw_datum_size(PG_GETARG_DATUM(1)) != VARHDRSZ + SESSION_HANDLE_CHARS)
		PG_RETURN_BOOL(false);
	handle = PG_GETARG_TEXT_PP(1);
	if (!session_handle_decode(VARDATA_ANY(handle), VARSIZE_ANY_EXHDR(handle), hash))
		PG_RETURN_BOOL(false);

	session_sql_begin(&scope);
	ended = session_store_destroy_handle(hash, PG_GETARG_TEXT_PP(0),
										 request_time());
	session_sql_end(&scope);
	if (ended)
		session_count(SC_DESTROYS, 1);
	PG_RETURN_BOOL(ended);
}

PG_FUNCTION_INFO_V1(session_rotate_key);
Datum
session_rotate_key(PG_FUNCTION_ARGS)
{
	session_keys_rotate();
	PG_RETURN_VOID();
}

/*
 * session_shard_hash(token): the token's route (token.c), 0 to 255, for
 * PL/Proxy's RUN ON.  Immutable and catalog-free; NULL and anything
 * malformed give 0.
 */
PG_FUNCTION_INFO_V1(session_shard_hash);
Datum
session_shard_hash(PG_FUNCTION_ARGS)
{
	Datum		arg;
	text	   *t;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT32(0);
	arg = PG_GETARG_DATUM(0);
	if (toast_raw_datum_size(arg) != VARHDRSZ + SESSION_TOKEN_CHARS)
		PG_RETURN_INT32(0);
	t = DatumGetTextPP(arg);
	PG_RETURN_INT32(session_token_route(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}

/*
 * CSRF tokens bound to a session: session_csrf_token and session_csrf_check.
 * A session's CSRF token is derived from its id with the key that signed
 * its token (token.c), so it is stored nowhere, is the same for every
 * request of the session, and changes with a regenerate.  Neither function
 * reads the sessions table: call them beside session_touch, which says
 * whether the session is live.  Anything that is not a token signed by one
 * of the keys has no CSRF token (NULL) and checks false, never an error,
 * and is not counted as an invalid token.
 */

/* The CSRF token of the token in argument argno, into csrf; false if none. */
static bool
csrf_of(FunctionCallInfo fcinfo, int argno, char *csrf)
{
	SessionToken tok;

	return token_arg(fcinfo, argno, &tok) && session_keys_csrf(&tok, csrf);
}

PG_FUNCTION_INFO_V1(session_csrf_token);
Datum
session_csrf_token(PG_FUNCTION_ARGS)
{
	char		csrf[SESSION_CSRF_CHARS];

	if (!csrf_of(fcinfo, 0, csrf))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(csrf, SESSION_CSRF_CHARS));
}

/* Is the second argument the CSRF token of the first?  In constant time. */
PG_FUNCTION_INFO_V1(session_csrf_check);
Datum
session_csrf_check(PG_FUNCTION_ARGS)
{
	char		expected[SESSION_CSRF_CHARS];
	text	   *given;
	bool		same;

	/* a wrong length says nothing about the token */
	if (PG_ARGISNULL(1) ||
		toast_raw_datum_size(PG_GETARG_DATUM(1)) != VARHDRSZ + SESSION_CSRF_CHARS ||
		!csrf_of(fcinfo, 0, expected))
		PG_RETURN_BOOL(false);
	given = PG_GETARG_TEXT_PP(1);
	same = session_ct_equal((const uint8 *) expected,
							(const uint8 *) VARDATA_ANY(given),
							SESSION_CSRF_CHARS);
	explicit_bzero(expected, sizeof(expected));
	PG_RETURN_BOOL(same);
}
