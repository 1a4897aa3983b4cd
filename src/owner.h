/*
 * owner.h
 *		Running the extension's own statements as the extension's owner.
 */
#ifndef SESSION_OWNER_H
#define SESSION_OWNER_H

#include "executor/spi.h"

typedef struct OwnerScope
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} OwnerScope;

extern Oid	session_tables_owner(void);
extern void session_owner_begin(OwnerScope *scope);
extern void session_owner_end(OwnerScope *scope);
extern void session_sql_begin(OwnerScope *scope);
extern void session_sql_end(OwnerScope *scope);
extern SPIPlanPtr session_sql_prepare(const char *sql, int nargs,
									  Oid *argtypes, int cursor_options);

#endif							/* SESSION_OWNER_H */
