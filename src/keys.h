/*
 * keys.h
 *		Signing keys: the per-backend cache, verification and rotation.
 */
#ifndef SESSION_KEYS_H
#define SESSION_KEYS_H

#include "token.h"

/* Which key signed a token; 0 when none did. */
typedef int64 SessionKeyId;

extern SessionKeyId session_keys_verify(const SessionToken *tok);
extern bool session_keys_csrf(const SessionToken *tok, char *csrf);
extern SessionKeyId session_keys_sign(const char *id, char *token);
extern void session_keys_rotate(void);
extern uint64 session_keys_retire(void);

#endif							/* SESSION_KEYS_H */
