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
	/* volatile: the compiler may not stop at the first difference */
	volatile uint64 diff = 0;
	size_t		i = 0;

	/* eight bytes at a time: a request compares two 32-byte values */
	for (; i + sizeof(uint64) <= len; i += sizeof(uint64))
	{
		uint64		x;
		uint64		y;

		memcpy(&x, a + i, sizeof(x));
		memcpy(&y, b + i, sizeof(y));
		diff |= x ^ y;
	}
	for (; i < len; i++)
		diff |= (uint64) (a[i] ^ b[i]);
	return diff == 0;
}

/*
 * Routing, for a deployment sharded by session_proxy: a token's route is the
 * first byte of its id's SHA-256, which is the first byte of the stored
 * id_hash too, and a cluster of N shards (a power of two) sends a token to
 * shard route & (N - 1).  Because the route is in what is stored, a shard
 * can tell which of its sessions a resharding moves though it keeps no ids.
 *
 * A shard k of N makes only ids that route to itself: it draws ids until
 * one's hash has k in its low bits (N draws on average; with N = 1 the first
 * is taken).  A chosen id is uniform among the 2^192 / N that route to k, so
 * it keeps 192 - log2(N) bits of entropy, at least 184.
 */

/* at 256 shards, the chance that this many draws all miss is below 1e-28 */
#define SESSION_ID_DRAWS		16384
/* candidates drawn from the random source at once, at most */
#define SESSION_ID_BATCH		16

/*
 * Fill id with SESSION_ID_CHARS characters of a fresh random id that routes
 * to shard of shards, and hash with its stored form.  The random bytes of
 * min(shards, SESSION_ID_BATCH) candidates come from one call of the random
 * source, whose per-call cost is most of a draw's.
 */
SessionTokenStatus
session_token_generate_id(char *id, uint8 *hash, int shards, int shard)
{
	uint8		raw[SESSION_ID_BATCH][SESSION_ID_BYTES];
	int			batch = Min(shards, SESSION_ID_BATCH);
	SessionTokenStatus status = TOKEN_RANDOM_FAILURE;
	int			draw;

	Assert(shards >= 1 && shards <= SESSION_MAX_SHARDS &&
		   (shards & (shards - 1)) == 0 && shard >= 0 && shard < shards);

	for (draw = 0; draw < SESSION_ID_DRAWS; draw++)
	{
		int			slot = draw % batch;

		if (slot == 0 && !pg_strong_random(raw, batch * SESSION_ID_BYTES))
		{
			status = TOKEN_RANDOM_FAILURE;
			break;
		}
		base64url_encode(raw[slot], SESSION_ID_BYTES, id);
		status = session_token_hash_id(id, hash);
		if (status != TOKEN_OK)
			break;
		if ((hash[0] & (shards - 1)) == shard)
			break;
		status = TOKEN_RANDOM_FAILURE;
	}
	explicit_bzero(raw, sizeof(raw));
	return status;
}

/*
 * The route of the token in src (len bytes, not necessarily terminated).
 * Only the id's shape is checked, not the signature; anything malformed
 * routes to 0, where it is answered as invalid as on any shard.
 */
uint8
session_token_route(const char *src, size_t len)
{
	SessionToken tok;
	uint8		hash[SESSION_HASH_BYTES];
	uint8		route;

	if (session_token_parse(src, len, &tok) != TOKEN_OK ||
		session_token_hash_id(tok.id, hash) != TOKEN_OK)
		return 0;
	route = hash[0];
	explicit_bzero(hash, sizeof(hash));
	return route;
}

/*
 * HMAC-SHA256 (RFC 2104) and SHA-256 are built on OpenSSL's SHA-256 block
 * functions, the SHA256_* calls, which use the CPU's SHA instructions where
 * it has them.  PostgreSQL 15's pg_hmac_* and pg_cryptohash_* make a fresh
 * context per call, and through OpenSSL 3's EVP layer even a kept context
 * fetches, allocates and frees on every initialisation: on the token check
 * of every request that EVP bookkeeping cost several times the three
 * SHA-256 blocks it computes.  (OpenSSL 3 marks SHA256_* deprecated for new
 * code; the OPENSSL_API_COMPAT level PostgreSQL's pg_config.h sets keeps
 * them available.)
 *
 * The hash states after a key's inner and outer pads depend only on the
 * key, so a SessionKeyState keeps them: the caller makes one per key it
 * holds (keys.c, one per cached key) and signing or verifying with it then
 * costs the two blocks that depend on the id.
 */

/* Start ctx on the key padded to a block and XORed with padbyte. */
static bool
absorb_pad(SHA256_CTX *ctx, const uint8 *key, uint8 padbyte)
{
	uint8		pad[SHA256_CBLOCK];
	bool		ok;
	int			i;

	StaticAssertStmt(SESSION_KEY_BYTES <= SHA256_CBLOCK,
					 "an HMAC key longer than a block must be hashed first");
	for (i = 0; i < SHA256_CBLOCK; i++)
		pad[i] = (i < SESSION_KEY_BYTES ? key[i] : 0) ^ padbyte;
	ok = SHA256_Init(ctx) && SHA256_Update(ctx, pad, sizeof(pad));
	explicit_bzero(pad, sizeof(pad));
	return ok;
}

/* Make state from the SESSION_KEY_BYTES bytes of key. */
SessionTokenStatus
session_token_key_init(SessionKeyState *state, const uint8 *key)
{
	if (!absorb_pad(&state->inner, key, 0x36) ||
		!absorb_pad(&state->outer, key, 0x5c))
	{
		session_token_key_wipe(state);
		return TOKEN_CRYPTO_FAILURE;
	}
	return TOKEN_OK;
}

/* Forget a key: wipe the pad states made from it. */
void
session_token_key_wipe(SessionKeyState *state)
{
	explicit_bzero(state, sizeof(*state));
}

/*
 * HMAC-SHA256(key, prefix || id characters) into sig; the prefix (prefixlen
 * bytes, none for a token's signature) keeps what else is derived from a
 * key apart from every signature.
 */
static SessionTokenStatus
keyed_hash(const char *prefix, size_t prefixlen, const char *id,
		   const SessionKeyState *key, uint8 *sig)
{
	SHA256_CTX	ctx;
	uint8		inner[SHA256_DIGEST_LENGTH];
	bool		ok;

	ctx = key->inner;
	ok = SHA256_Update(&ctx, prefix, prefixlen) &&
		SHA256_Update(&ctx, id, SESSION_ID_CHARS) && SHA256_Final(inner, &ctx);
	ctx = key->outer;
	ok = ok && SHA256_Update(&ctx, inner, sizeof(inner)) && SHA256_Final(sig, &ctx);
	explicit_bzero(&ctx, sizeof(ctx));
	explicit_bzero(inner, sizeof(inner));
	return ok ? TOKEN_OK : TOKEN_CRYPTO_FAILURE;
}

/* HMAC-SHA256(key, id characters) into sig. */
static SessionTokenStatus
compute_signature(const char *id, const SessionKeyState *key, uint8 *sig)
{
	return keyed_hash("", 0, id, key, sig);
}

/*
 * Build "<id>.<sig>" into token (SESSION_TOKEN_CHARS characters plus a
 * terminator).
 */
SessionTokenStatus
session_token_sign(const char *id, const SessionKeyState *key, char *token)
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
session_token_verify(const SessionToken *tok, const SessionKeyState *key)
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
	SHA256_CTX	ctx;
	bool		ok;

	ok = SHA256_Init(&ctx) && SHA256_Update(&ctx, id, SESSION_ID_CHARS) &&
		SHA256_Final(hash, &ctx);
	explicit_bzero(&ctx, sizeof(ctx));
	return ok ? TOKEN_OK : TOKEN_CRYPTO_FAILURE;
}

/*
 * A session's handle from its stored hash: SESSION_HANDLE_CHARS characters,
 * not terminated.
 */
void
session_handle_encode(const uint8 *hash, char *handle)
{
	base64url_encode(hash, SESSION_HASH_BYTES, handle);
}

/*
 * The stored hash a handle names; false unless src is a handle's one
 * spelling.
 */
bool
session_handle_decode(const char *src, size_t len, uint8 *hash)
{
	return base64url_decode(src, len, hash, SESSION_HASH_BYTES);
}

/*
 * A session's CSRF token: the unpadded base64url of HMAC-SHA256(key,
 * "csrf:" || id), with the key that signed the session's token, into csrf
 * (SESSION_CSRF_CHARS characters, not terminated).  The prefix makes the
 * message 37 bytes, never the 32 of a token's id, so no CSRF token is a
 * token's signature.  It depends only on the id and the key: a regenerate
 * (a new id) gives a new one, and nothing needs storing.
 */
SessionTokenStatus
session_token_csrf(const char *id, const SessionKeyState *key, char *csrf)
{
	uint8		mac[SESSION_SIG_BYTES];
	SessionTokenStatus status;

	status = keyed_hash("csrf:", 5, id, key, mac);
	if (status == TOKEN_OK)
		base64url_encode(mac, sizeof(mac), csrf);
	explicit_bzero(mac, sizeof(mac));
	return status;
}
