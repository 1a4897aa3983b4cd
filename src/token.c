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

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

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
	size_t		out = 0;
	size_t		i;
	int			a,
				b,
				c,
				d;

	if (len != base64url_encoded_len(dstlen))
		return false;

	/* four characters make three bytes (a token's id and signature: 43 each) */
	for (i = 0; i + 4 <= len; i += 4)
	{
		uint32		v;

		a = b64url_value((unsigned char) src[i]);
		b = b64url_value((unsigned char) src[i + 1]);
		c = b64url_value((unsigned char) src[i + 2]);
		d = b64url_value((unsigned char) src[i + 3]);
		if ((a | b | c | d) < 0)
			return false;
		v = ((uint32) a << 18) | ((uint32) b << 12) | ((uint32) c << 6) | (uint32) d;
		dst[out++] = (uint8) (v >> 16);
		dst[out++] = (uint8) (v >> 8);
		dst[out++] = (uint8) v;
	}

	/*
	 * Two or three characters left make one or two bytes; the bits of the
	 * last character past those bytes are padding and must be zero.
	 */
	if (i < len)
	{
		size_t		rest = len - i;
		uint32		v = 0;

		for (; i < len; i++)
		{
			a = b64url_value((unsigned char) src[i]);
			if (a < 0)
				return false;
			v = (v << 6) | (uint32) a;
		}
		v <<= 6 * (4 - rest);	/* as if a full group of four */
		if ((v & (0xFFFFFF >> (8 * (rest - 1)))) != 0)
			return false;
		dst[out++] = (uint8) (v >> 16);
		if (rest == 3)
			dst[out++] = (uint8) (v >> 8);
	}
	return out == dstlen;
}

/*
 * Compare two equal-length buffers in time that depends only on len.
 * (PostgreSQL 15 has no timingsafe_bcmp.)
 */
bool
session_ct_equal(const uint8 *a, const uint8 *b, size_t len)
{
	/* volatile reads: the compiler may not stop at the first difference */
	const volatile uint8 *va = a;
	const volatile uint8 *vb = b;
	uint8		diff = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		diff |= va[i] ^ vb[i];
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

/*
 * HMAC-SHA256 and SHA-256 go to OpenSSL directly, with the algorithms
 * fetched once per process and the contexts reused.  PostgreSQL 15's
 * pg_hmac_* and pg_cryptohash_* make a fresh context per call, and
 * OpenSSL 3 then looks the algorithm up by name on every initialisation
 * (an "implicit fetch"); on the token check of every request that cost
 * about 2 us, four times the hashing itself.  Every use starts a fresh
 * computation, so nothing of one token carries over to the next; when the
 * key is the one the HMAC context was last keyed with (nearly every token
 * is signed by the newest key) the context starts again from that key's
 * pads instead of hashing them anew.  The context and hmac_key keep the
 * last key, as the backend's key cache (keys.c) keeps the keys, until that
 * cache is discarded: session_token_forget_key() then wipes both.
 */
static EVP_MAC_CTX *hmac_ctx;
static EVP_MD_CTX *md_ctx;
static EVP_MD *sha256_md;
static uint8 hmac_key[SESSION_KEY_BYTES];
static bool hmac_keyed = false;

static bool
crypto_ready(void)
{
	EVP_MAC    *mac;
	OSSL_PARAM	params[2];

	if (hmac_ctx != NULL)
		return true;

	if (sha256_md == NULL)
		sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (md_ctx == NULL)
		md_ctx = EVP_MD_CTX_new();
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (sha256_md == NULL || md_ctx == NULL || mac == NULL)
	{
		EVP_MAC_free(mac);
		ERR_clear_error();
		return false;
	}

	params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	hmac_ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);			/* the context keeps its own reference */
	if (hmac_ctx == NULL || !EVP_MAC_CTX_set_params(hmac_ctx, params))
	{
		EVP_MAC_CTX_free(hmac_ctx);
		hmac_ctx = NULL;
		ERR_clear_error();
		return false;
	}
	return true;
}

/* HMAC-SHA256(key, id characters) into sig. */
static SessionTokenStatus
compute_signature(const char *id, const uint8 *key, uint8 *sig)
{
	size_t		len;
	bool		same_key;

	if (!crypto_ready())
		return TOKEN_CRYPTO_FAILURE;

	/* with a NULL key, OpenSSL reuses the context's current key */
	same_key = hmac_keyed &&
		session_ct_equal(hmac_key, key, SESSION_KEY_BYTES);
	hmac_keyed = false;
	if (!EVP_MAC_init(hmac_ctx, same_key ? NULL : key,
					  same_key ? 0 : SESSION_KEY_BYTES, NULL))
	{
		ERR_clear_error();
		return TOKEN_CRYPTO_FAILURE;
	}
	memcpy(hmac_key, key, SESSION_KEY_BYTES);
	hmac_keyed = true;

	if (!EVP_MAC_update(hmac_ctx, (const unsigned char *) id, SESSION_ID_CHARS) ||
		!EVP_MAC_final(hmac_ctx, sig, &len, SESSION_SIG_BYTES) ||
		len != SESSION_SIG_BYTES)
	{
		hmac_keyed = false;		/* key it afresh next time */
		ERR_clear_error();
		return TOKEN_CRYPTO_FAILURE;
	}
	return TOKEN_OK;
}

/*
 * Forget the key the HMAC context was last keyed with: the context is
 * keyed with zeros over it, and the copy wiped.
 */
void
session_token_forget_key(void)
{
	static const uint8 zeros[SESSION_KEY_BYTES];

	if (hmac_ctx != NULL &&
		!EVP_MAC_init(hmac_ctx, zeros, SESSION_KEY_BYTES, NULL))
		ERR_clear_error();
	explicit_bzero(hmac_key, sizeof(hmac_key));
	hmac_keyed = false;
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
	unsigned int len;

	if (!crypto_ready() ||
		!EVP_DigestInit_ex2(md_ctx, sha256_md, NULL) ||
		!EVP_DigestUpdate(md_ctx, id, SESSION_ID_CHARS) ||
		!EVP_DigestFinal_ex(md_ctx, hash, &len) ||
		len != SESSION_HASH_BYTES)
	{
		ERR_clear_error();
		return TOKEN_CRYPTO_FAILURE;
	}
	return TOKEN_OK;
}
