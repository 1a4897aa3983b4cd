/*
 * owner.c
 *		Acting as the extension's owner for the statements it issues.
 *
 * The API functions are not SECURITY DEFINER: what runs on every request
 * (the read, a touch's expiry write, the insert of a new session) goes
 * straight to the heap and indexes and needs no privilege, and paying for
 * a role and search_path switch on every request would cost more than the
 * rest of a touch.  Where SQL is issued (SPI), this switches to the owner
 * of the extension's tables the way PostgreSQL's own foreign-key triggers
 * do, with a restricted security context (no SET ROLE, no temp objects)
 * and search_path pinned to pg_catalog, pg_temp, and every name in the SQL
 * is schema-qualified as well.  A transaction or subtransaction abort
 * restores the caller's identity and settings.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "owner.h"
#include "relations.h"

/* The role that owns session_internal.sessions: the extension's owner. */
Oid
session_tables_owner(void)
{
	Oid			relid;
	HeapTuple	tup;
	Oid			owner;

	relid = session_sessions_relid();
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

void
session_owner_begin(OwnerScope *scope)
{
	Oid			owner = session_tables_owner();

	GetUserIdAndSecContext(&scope->save_userid, &scope->save_sec_context);
	SetUserIdAndSecContext(owner, scope->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	scope->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
session_owner_end(OwnerScope *scope)
{
	AtEOXact_GUC(false, scope->save_nestlevel);
	SetUserIdAndSecContext(scope->save_userid, scope->save_sec_context);
}

/* As the owner, with an SPI connection: around every statement we issue. */
void
session_sql_begin(OwnerScope *scope)
{
	int			rc;

	session_owner_begin(scope);
	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
}

void
session_sql_end(OwnerScope *scope)
{
	SPI_finish();
	session_owner_end(scope);
}

/*
 * One of our statements, prepared for the rest of the backend's life
 * (SPI_keepplan): each caller keeps the plan in a static and prepares it
 * on first use, inside a session_sql_begin() scope.
 */
SPIPlanPtr
session_sql_prepare(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}
