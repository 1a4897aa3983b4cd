/*
 * relations.h
 *		The extension's own tables, found by name in session_internal.
 */
#ifndef SESSION_RELATIONS_H
#define SESSION_RELATIONS_H

/* where the extension keeps its tables; created by the install script */
#define SESSION_INTERNAL_SCHEMA "session_internal"

extern Oid	session_internal_relid(const char *relname, bool missing_ok);
extern Oid	session_sessions_relid(void);

#endif							/* SESSION_RELATIONS_H */
