/*
 * owner.c
 *		Acting as the extension's owner for the statements it issues, and
 *		the search_path those statements, and whatever someone added to our
 *		tables, run with.
 *
 * The API functions are not SECURITY DEFINER: what runs on every request
 * (the read, a touch's expiry write, the insert of a new session) goes
 * straight to the heap and indexes and needs no privilege, and paying for
 * a role and search_path switch on every request would cost more than the
 * rest of a touch.  Where SQL is issued (SPI), this switches to the owner
 * of the extension's tables the way PostgreSQL's own foreign-key triggers
 * do (SET ROLE is refused meanwhile), and every name in our SQL is
 * schema-qualified, operators included, so nothing planted in any schema
 * is ever used by it.  A transaction or subtransaction abort restores the
 * caller's identity and settings.
 *
 * A DBA's trigger, rule, default or check on our tables runs inside those
 * statements, as the owner.  It sees the search_path the owner's own
 * session in this database would start with (owner_search_path), the one
 * a DBA's psql test of the same trigger had: never the caller's, which the
 * caller can set, and so would choose what runs as the owner.  The context
 * is not a security-restricted one, so that a deferred trigger (a
 * DEFERRABLE foreign key to id_hash) is queued as for any statement and
 * fires at the caller's commit, as the caller.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_db_role_setting.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/varlena.h"
#include "utils/syscache.h"

#include "owner.h"
#include "relations.h"

/* PostgreSQL's own default for search_path */
#define DEFAULT_SEARCH_PATH "\"$user\", public"

/* owner_search_path's answer, for the rest of the transaction */
static char *cached_search_path = NULL;
static bool xact_callback_registered = false;

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

/*
 * The search_path stored by ALTER ROLE/DATABASE ... SET for one pair of
 * database and role (InvalidOid for "any"), or NULL.
 */
static char *
stored_search_path(Relation settings, Oid dbid, Oid roleid)
{
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *result = NULL;

	ScanKeyInit(&keys[0], Anum_pg_db_role_setting_setdatabase,
				BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(dbid));
	ScanKeyInit(&keys[1], Anum_pg_db_role_setting_setrole,
				BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(roleid));
	scan = systable_beginscan(settings, DbRoleSettingDatidRolidIndexId, true,
							  NULL, 2, keys);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		config = heap_getattr(tup, Anum_pg_db_role_setting_setconfig,
										  RelationGetDescr(settings), &isnull);

		if (!isnull)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			n;
			int			i;

			deconstruct_array(DatumGetArrayTypeP(config), TEXTOID, -1, false,
							  TYPALIGN_INT, &elems, &nulls, &n);
			for (i = 0; i < n; i++)
			{
				char	   *s;

				if (nulls[i])
					continue;
				s = TextDatumGetCString(elems[i]);
				if (pg_strncasecmp(s, "search_path=", 12) == 0)
					result = pstrdup(s + 12);
				pfree(s);
			}
		}
	}
	systable_endscan(scan);
	return result;
}

/* Does the search_path list pg_temp itself? */
static bool
names_pg_temp(const char *path)
{
	char	   *copy = pstrdup(path);
	List	   *names;
	ListCell   *lc;
	bool		found = false;

	if (SplitIdentifierString(copy, ',', &names))
		foreach(lc, names)
			if (strcmp((char *) lfirst(lc), "pg_temp") == 0)
				found = true;
	list_free(names);
	pfree(copy);
	return found;
}

static void
owner_xact_callback(XactEvent event, void *arg)
{
	if (cached_search_path != NULL)
	{
		pfree(cached_search_path);
		cached_search_path = NULL;
	}
}

/*
 * The search_path a new session of the owner in this database would have
 * from the catalogs, in PostgreSQL's own order of precedence (ALTER ROLE
 * ... IN DATABASE, ALTER ROLE, ALTER DATABASE, ALTER ROLE ALL), else
 * PostgreSQL's default, with pg_temp put last unless it is named: a
 * temporary table the caller made cannot stand in for a table a trigger
 * names.  A search_path set only in postgresql.conf is not seen (a backend
 * cannot tell it from the caller's own).  Read once a transaction.
 */
static const char *
owner_search_path(Oid owner)
{
	Relation	settings;
	char	   *path;

	if (cached_search_path != NULL)
		return cached_search_path;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(owner_xact_callback, NULL);
		xact_callback_registered = true;
	}

	settings = table_open(DbRoleSettingRelationId, AccessShareLock);
	path = stored_search_path(settings, MyDatabaseId, owner);
	if (path == NULL)
		path = stored_search_path(settings, InvalidOid, owner);
	if (path == NULL)
		path = stored_search_path(settings, MyDatabaseId, InvalidOid);
	if (path == NULL)
		path = stored_search_path(settings, InvalidOid, InvalidOid);
	table_close(settings, AccessShareLock);
	if (path == NULL)
		path = pstrdup(DEFAULT_SEARCH_PATH);

	cached_search_path = MemoryContextStrdup(TopMemoryContext,
											 names_pg_temp(path) ? path :
											 psprintf("%s, pg_temp", path));
	pfree(path);
	return cached_search_path;
}

void
session_owner_begin(OwnerScope *scope)
{
	Oid			owner = session_tables_owner();
	const char *path = owner_search_path(owner);

	GetUserIdAndSecContext(&scope->save_userid, &scope->save_sec_context);
	SetUserIdAndSecContext(owner, scope->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE);
	scope->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", path,
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
 * on first use, inside a session_sql_begin() scope.  cursor_options as
 * SPI_prepare_cursor takes them: CURSOR_OPT_GENERIC_PLAN for a statement
 * whose best plan does not depend on its arguments' values, so that it is
 * planned once rather than on every call.
 */
SPIPlanPtr
session_sql_prepare(const char *sql, int nargs, Oid *argtypes,
					int cursor_options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}
