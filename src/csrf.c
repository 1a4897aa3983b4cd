/*
 * csrf.c
 *		CSRF tokens bound to a session: session_csrf_token and
 *		session_csrf_check.
 *
 * A session's CSRF token is derived from its id with the key that signed
 * its token (token.c), so it is stored nowhere, is the same for every
 * request of the session, and changes with a regenerate.  Neither function
 * reads the sessions table: call them beside session_touch, which says
 * whether the session is live.  Anything that is not a token signed by one
 * of the keys has no CSRF token (NULL) and checks false, never an error.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "fmgr.h"
#include "utils/builtins.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "keys.h"
#include "token.h"

/* The CSRF token of the token in argument argno, into csrf; false if none. */
static bool
csrf_of(FunctionCallInfo fcinfo, int argno, char *csrf)
{
	text	   *t;
	SessionToken tok;

	if (PG_ARGISNULL(argno) ||
		toast_raw_datum_size(PG_GETARG_DATUM(argno)) != VARHDRSZ + SESSION_TOKEN_CHARS)
		return false;
	t = PG_GETARG_TEXT_PP(argno);
	if (session_token_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &tok) != TOKEN_OK)
		return false;
	return session_keys_csrf(&tok, csrf);
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
