/*
 * token.h
 *		Session token format: generation, parsing, signing and verification.
 *
 * Pure code: no catalog access, no ereport, so it builds in frontend
 * programs (fuzzers, tests) as well as in the server.
 */
#ifndef SESSION_TOKEN_H
#define SESSION_TOKEN_H

#include <openssl/sha.h>

#include "common/sha2.h"

/* 24 random bytes of id: 192 bits */
#define SESSION_ID_BYTES		24
/* unpadded base64url of 24 bytes */
#define SESSION_ID_CHARS		32
/* HMAC-SHA256 */
#define SESSION_SIG_BYTES		PG_SHA256_DIGEST_LENGTH
/* unpadded base64url of 32 bytes */
#define SESSION_SIG_CHARS		43
/* "<id>.<sig>" */
#define SESSION_TOKEN_CHARS		(SESSION_ID_CHARS + 1 + SESSION_SIG_CHARS)
/* what is stored instead of the id */
#define SESSION_HASH_BYTES		PG_SHA256_DIGEST_LENGTH
#define SESSION_KEY_BYTES		32
/*
 * A session's handle, in lists of a user's sessions: the unpadded base64url
 * of its stored hash.  It names the session as a copy of the table does,
 * and like that copy it is not enough to make the token.
 */
#define SESSION_HANDLE_CHARS	43
/* a session's CSRF token: the unpadded base64url of an HMAC-SHA256 */
#define SESSION_CSRF_CHARS		43
/* routing: a token's route is one byte, so at most 256 shards */
#define SESSION_MAX_SHARDS		256

/* Results of token operations; never carry token text. */
typedef enum SessionTokenStatus
{
	TOKEN_OK = 0,
	TOKEN_MALFORMED,			/* wrong length, alphabet, padding, ... */
	TOKEN_BAD_SIGNATURE,		/* well-formed, but no key signed it */
	TOKEN_CRYPTO_FAILURE,		/* the hash library failed */
	TOKEN_RANDOM_FAILURE		/* the strong random source failed */
} SessionTokenStatus;

/* A parsed token: pointers into the caller's buffer, plus the signature. */
typedef struct SessionToken
{
	const char *id;				/* SESSION_ID_CHARS characters, not
								 * terminated */
	uint8		sig[SESSION_SIG_BYTES];
} SessionToken;

extern size_t base64url_encoded_len(size_t nbytes);
extern void base64url_encode(const uint8 *src, size_t len, char *dst);
extern bool base64url_decode(const char *src, size_t len, uint8 *dst,
							 size_t dstlen);

/*
 * A signing key, ready to use: the HMAC hash states after its inner and
 * outer pads, which depend only on the key.  Made once per key (the key's
 * bytes are not kept), wiped with session_token_key_wipe.
 */
typedef struct SessionKeyState
{
	SHA256_CTX	inner;
	SHA256_CTX	outer;
} SessionKeyState;

extern bool session_ct_equal(const uint8 *a, const uint8 *b, size_t len);

extern SessionTokenStatus session_token_generate_id(char *id, uint8 *hash,
													int shards, int shard);
extern uint8 session_token_route(const char *src, size_t len);
extern SessionTokenStatus session_token_key_init(SessionKeyState *state,
												 const uint8 *key);
extern void session_token_key_wipe(SessionKeyState *state);
extern SessionTokenStatus session_token_sign(const char *id,
											 const SessionKeyState *key,
											 char *token);
extern SessionTokenStatus session_token_parse(const char *src, size_t len,
											  SessionToken *tok);
extern SessionTokenStatus session_token_verify(const SessionToken *tok,
											   const SessionKeyState *key);
extern SessionTokenStatus session_token_hash_id(const char *id, uint8 *hash);
extern SessionTokenStatus session_token_csrf(const char *id,
											 const SessionKeyState *key,
											 char *csrf);
extern void session_handle_encode(const uint8 *hash, char *handle);
extern bool session_handle_decode(const char *src, size_t len, uint8 *hash);

#endif							/* SESSION_TOKEN_H */
