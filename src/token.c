/*
 * token.c
 *		The session token format, and nothing else: base64url, random ids,
 *		HMAC-SHA256 signatures, constant-time comparison and the at-rest hash.
 *
 * A token is "<id>.<sig>": id is SESSION_ID_BYTES from pg_strong_random as
 * unpadded base64url, sig is HMAC-SHA256(key, id characters) as unpadded
 * base64url.  Parsing is strict: exactly one encoding of each value is
 * accepted, so no two different strings verify as the same token.
 *
 * This file must stay free of catalog access and ereport so it can be built
 * into a frontend fuzzing harness (compile with -DFRONTEND).
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "common/cryptohash.h"
#include "common/hmac.h"

#include "token.h"

static const char b64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of each ASCII character in base64url, or -1 (a table: hot path). */
static const int8 b64url_lookup[128] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1
};

/* Value of a base64url character, or -1. */
static inline int
b64url_value(unsigned char c)
{
	return c < 128 ? b64url_lookup[c] : -1;
}

/* Length of the unpadded base64url encoding of nbytes bytes. */
size_t
base64url_encoded_len(size_t nbytes)
{
	return (nbytes / 3) * 4 + ((nbytes % 3) ? (nbytes % 3) + 1 : 0);
}

/*
 * Encode len bytes as unpadded base64url into dst, which must have room for
 * base64url_encoded_len(len) characters.  No terminator is written.
 */
void
base64url_encode(const uint8 *src, size_t len, char *dst)
{
	size_t		i = 0;

	while (i + 3 <= len)
	{
		uint32		v = ((uint32) src[i] << 16) | ((uint32) src[i + 1] << 8) | src[i + 2];

		*dst++ = b64url_alphabet[(v >> 18) & 0x3F];
		*dst++ = b64url_alphabet[(v >> 12) & 0x3F];
		*dst++ = b64url_alphabet[(v >> 6) & 0x3F];
		*dst++ = b64url_alphabet[v & 0x3F];
		i += 3;
	}
	if (len - i == 1)
	{
		uint32		v = (uint32) src[i] << 16;

		*dst++ = b64url_alphabet[(v >> 18) & 0x3F];
		*dst++ = b64url_alphabet[(v >> 12) & 0x3F];
	}
	else if (len - i == 2)
	{
		uint32		v = ((uint32) src[i] << 16) | ((uint32) src[i + 1] << 8);

		*dst++ = b64url_alphabet[(v >> 18) & 0x3F];
		*dst++ = b64url_alphabet[(v >> 12) & 0x3F];
		*dst++ = b64url_alphabet[(v >> 6) & 0x3F];
	}
}

/*
 * Decode exactly dstlen bytes from len characters of unpadded base64url.
 *
 * Returns false unless src is the canonical encoding of dstlen bytes: the
 * length must match, every character must be in the alphabet and the unused
 * low bits of the last character must be zero.  Without that last rule four
 * different strings would decode to the same signature.
 */
bool
base64url_decode(const char *src, size_t len, uint8 *dst, size_t dstlen)
{
	uint32		acc = 0;
	int			bits = 0;
	size_t		out = 0;
	size_t		i;

	if (len != base64url_encoded_len(dstlen))
		return false;

	for (i = 0; i < len; i++)
	{
		int			v = b64url_value((unsigned char) src[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			dst[out++] = (uint8) (acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}

	/* leftover bits must be zero padding of the last character */
	return out == dstlen && acc == 0;
}

/*
 * Compare two equal-length buffers in time that depends only on len.
 * (PostgreSQL 15 has no timingsafe_bcmp.)
 */
bool
session_ct_equal(const uint8 *a, const uint8 *b, size_t len)
{
	volatile uint8 diff = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/*
 * Fill id with SESSION_ID_CHARS characters of a fresh random id.
 * Returns false if the strong random source failed.
 */
bool
session_token_generate_id(char *id)
{
	uint8		raw[SESSION_ID_BYTES];

	if (!pg_strong_random(raw, sizeof(raw)))
		return false;
	base64url_encode(raw, sizeof(raw), id);
	explicit_bzero(raw, sizeof(raw));
	return true;
}

/* HMAC-SHA256(key, id characters) into sig. */
static SessionTokenStatus
compute_signature(const char *id, const uint8 *key, uint8 *sig)
{
	pg_hmac_ctx *ctx;
	SessionTokenStatus status = TOKEN_OK;

	/*
	 * With OpenSSL the context belongs to the current resource owner, so it
	 * is made and freed within this call rather than cached.
	 */
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
		return TOKEN_CRYPTO_FAILURE;
	if (pg_hmac_init(ctx, key, SESSION_KEY_BYTES) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) id, SESSION_ID_CHARS) < 0 ||
		pg_hmac_final(ctx, sig, SESSION_SIG_BYTES) < 0)
		status = TOKEN_CRYPTO_FAILURE;
	pg_hmac_free(ctx);
	return status;
}

/*
 * Build "<id>.<sig>" into token (SESSION_TOKEN_CHARS characters plus a
 * terminator).
 */
SessionTokenStatus
session_token_sign(const char *id, const uint8 *key, char *token)
{
	uint8		sig[SESSION_SIG_BYTES];
	SessionTokenStatus status;

	status = compute_signature(id, key, sig);
	if (status != TOKEN_OK)
		return status;

	memcpy(token, id, SESSION_ID_CHARS);
	token[SESSION_ID_CHARS] = '.';
	base64url_encode(sig, sizeof(sig), token + SESSION_ID_CHARS + 1);
	token[SESSION_TOKEN_CHARS] = '\0';
	return TOKEN_OK;
}

/*
 * Check the shape of a token of len bytes (not necessarily terminated) and
 * decode its signature.  Nothing is verified yet.
 */
SessionTokenStatus
session_token_parse(const char *src, size_t len, SessionToken *tok)
{
	uint8		scratch[SESSION_ID_BYTES];
	bool		id_ok;

	if (src == NULL || len != SESSION_TOKEN_CHARS ||
		src[SESSION_ID_CHARS] != '.')
		return TOKEN_MALFORMED;

	/* the id is only ever used as text, but must be canonical base64url */
	id_ok = base64url_decode(src, SESSION_ID_CHARS, scratch, sizeof(scratch));
	if (!id_ok ||
		!base64url_decode(src + SESSION_ID_CHARS + 1, SESSION_SIG_CHARS,
						  tok->sig, sizeof(tok->sig)))
		return TOKEN_MALFORMED;

	tok->id = src;
	return TOKEN_OK;
}

/* Does key sign tok->id to tok->sig?  Compared in constant time. */
SessionTokenStatus
session_token_verify(const SessionToken *tok, const uint8 *key)
{
	uint8		expected[SESSION_SIG_BYTES];
	SessionTokenStatus status;

	status = compute_signature(tok->id, key, expected);
	if (status != TOKEN_OK)
		return status;
	status = session_ct_equal(expected, tok->sig, SESSION_SIG_BYTES) ?
		TOKEN_OK : TOKEN_BAD_SIGNATURE;
	explicit_bzero(expected, sizeof(expected));
	return status;
}

/* The at-rest form of an id: SHA-256 of its SESSION_ID_CHARS characters. */
SessionTokenStatus
session_token_hash_id(const char *id, uint8 *hash)
{
	pg_cryptohash_ctx *ctx;
	SessionTokenStatus status = TOKEN_OK;

	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL)
		return TOKEN_CRYPTO_FAILURE;
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) id, SESSION_ID_CHARS) < 0 ||
		pg_cryptohash_final(ctx, hash, SESSION_HASH_BYTES) < 0)
		status = TOKEN_CRYPTO_FAILURE;
	pg_cryptohash_free(ctx);
	return status;
}
